"""Run directories: what `mechclln train` writes and the later stages read.

Layout: ``network_initial.json``, ``network.json`` (trained), ``task.json``, ``metrics.json`` (history of
C, final free-state target strains of every example in the trained model, timings, which model and rule),
``checkpoint.npz`` (to resume), ``plots/*.png``; stages add ``export/`` and ``fem/``.

A run directory is built in a temporary sibling folder and renamed into place when complete, so a failed
run leaves nothing half-written; an existing directory is replaced only with ``force``.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from . import network as netio
from . import task as taskio
from .errors import MechcllnError
from .fileio import read_data


@contextmanager
def staged_directory(path, force: bool = False):
    """Yield a temporary folder that becomes ``path`` on success (replacing it only if ``force``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MechcllnError(f"{path}: exists and is not a folder; choose another --out")
    if path.exists() and any(path.iterdir()) and not force:
        raise MechcllnError(f"{path}: folder exists and is not empty; pass --force to replace it or choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def metrics_dict(result, task, timings: dict) -> dict:
    h = result.history
    return {
        "format": "mechclln.metrics", "version": 1,
        "model": result.config.model, "rule": result.config.rule, "learn": list(result.config.learn),
        "config": asdict(result.config),
        "network": {"nodes": result.network.n_nodes, "edges": result.network.n_edges, "dim": result.network.dim,
                    "mean_coordination": result.network.mean_coordination()},
        "C0": result.C0, "C_final": h.C[-1] if h.C else None,
        "C_rel_final": h.C_rel[-1] if h.C_rel else None, "converged": bool(result.converged),
        "steps": len(h.step), "alphas": result.alphas, "rejections": result.rejections,
        "history": asdict(h),
        "final": {"model": result.config.model,
                  "note": "free-state target strains of every example, in the trained model, of network.json",
                  "target_strains": result.target_strains, "desired_target_strains": task.target_strains,
                  "target_displacements": result.target_displacements,
                  "desired_target_displacements": task.target_displacements},
        "timings": timings,
    }


def load_run(path):
    """(initial network, trained network, task, metrics dict) of a run directory, validated."""
    path = Path(path)
    if not path.is_dir():
        raise MechcllnError(f"{path}: not a run directory (not a folder); give the folder `mechclln train` wrote")
    for name in ("network.json", "task.json", "metrics.json"):
        if not (path / name).exists():
            raise MechcllnError(f"{path / name}: missing; {path} is not a complete run directory, rerun `mechclln train`")
    net = netio.load(path / "network.json")
    net0 = netio.load(path / "network_initial.json") if (path / "network_initial.json").exists() else net
    task = taskio.load_task(path / "task.json", net)
    metrics = read_data(path / "metrics.json")
    return net0, net, task, metrics
