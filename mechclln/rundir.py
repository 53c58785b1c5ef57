"""Run directories: what `mechclln train` (or `design`, `printable`) writes and the later stages read.

Layout (:class:`Run` owns it; no other module spells these names): ``network_initial.json``,
``network.json`` (trained), ``task.json``, ``metrics.json`` (history of C, final free-state target strains
of every example in the trained model, timings, which model and rule), ``checkpoint.npz`` (to resume),
``plots/*.png``; a design run adds ``design.json``, a printable run ``printable.json`` (each records the part
spec its widths or k bounds hold for); stages add ``export/`` (``part.json``, ...), ``fem/``
(``fidelity.json``, ...), ``finetune/`` (``part.json``, ``finetune.json``) and ``lab/``. A lab-train folder
holds the same core files.

Every such folder is complete or absent: it is written into the staging folder ``.NAME.partial`` beside it
(:func:`staged_directory`), which is swapped in as a whole when complete. The writer holds an advisory
lock (``flock``) on the staging folder, released by the kernel however the process ends, so the next writer
tells the debris of a killed run (unlocked) from a run still going (locked): debris is cleaned, or, for
`mechclln train --resume`, continued from its checkpoint.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import network as netio
from . import task as taskio
from .errors import MechcllnError
from .fileio import jsonable, read_data, refuse_existing, write_json
from .schema import Fields

NETWORK = "network.json"
NETWORK_INITIAL = "network_initial.json"
TASK = "task.json"
METRICS = "metrics.json"
METRICS_FORMAT = "mechclln.metrics"   # the header of every run's metrics.json (TrainReport, StageMetrics)
CHECKPOINT = "checkpoint.npz"
PLOTS = "plots"
DESIGN = "design.json"          # design run: widths, frame strains, the part spec
PRINTABLE = "printable.json"    # printable run: k bounds, left-out struts, the part spec
EXPORT, FEM, FINETUNE, LAB = "export", "fem", "finetune", "lab"
PART = "part.json"              # the part description in export/ and finetune/
FIDELITY = "fidelity.json"      # in fem/
CONVERGENCE = "convergence.json"    # in fem/
FINETUNE_REPORT = "finetune.json"   # in finetune/
EXPORT_REPORT = "report.json"       # in export/
LAB_COMPARE = "compare.json"        # in lab/


class Run:
    """A run directory: its file layout, validated loading and the staged writer of its core files.
    A path-like (``os.fspath``), so it can be given wherever a run directory path is asked for."""

    def __init__(self, path):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __truediv__(self, name) -> Path:
        return self.path / name

    network_file = property(lambda self: self.path / NETWORK)
    initial_file = property(lambda self: self.path / NETWORK_INITIAL)
    task_file = property(lambda self: self.path / TASK)
    metrics_file = property(lambda self: self.path / METRICS)
    checkpoint_file = property(lambda self: self.path / CHECKPOINT)
    design_file = property(lambda self: self.path / DESIGN)
    printable_file = property(lambda self: self.path / PRINTABLE)
    export_dir = property(lambda self: self.path / EXPORT)
    fem_dir = property(lambda self: self.path / FEM)
    finetune_dir = property(lambda self: self.path / FINETUNE)
    lab_dir = property(lambda self: self.path / LAB)
    export_part = property(lambda self: self.path / EXPORT / PART)
    fidelity_file = property(lambda self: self.path / FEM / FIDELITY)
    convergence_file = property(lambda self: self.path / FEM / CONVERGENCE)
    finetune_part = property(lambda self: self.path / FINETUNE / PART)
    finetune_report = property(lambda self: self.path / FINETUNE / FINETUNE_REPORT)

    def require(self, *names: str) -> "Run":
        """Refuse a run directory that lacks one of the files ``names`` (default: network and task)."""
        for name in names or (NETWORK, TASK):
            if not (self.path / name).exists():
                raise MechcllnError(f"{self.path / name}: file not found; give a run directory written by "
                                    "`mechclln train` or `mechclln demo`")
        return self

    def network_and_task(self):
        """(trained network, task) of the run, validated (the task's r0 against the network)."""
        self.require()
        net = netio.load(self.network_file)
        return net, taskio.load_task(self.task_file, net)

    def load(self):
        """(initial network, trained network, task, metrics dict) of a complete run directory, validated."""
        if not self.path.is_dir():
            raise MechcllnError(f"{self.path}: not a run directory (not a folder); give the folder "
                                "`mechclln train` wrote")
        for name in (NETWORK, TASK, METRICS):
            if not (self.path / name).exists():
                raise MechcllnError(f"{self.path / name}: missing; {self.path} is not a complete run directory, "
                                    "rerun `mechclln train`")
        net, task = self.network_and_task()
        net0 = netio.load(self.initial_file) if self.initial_file.exists() else net
        return net0, net, task, read_data(self.metrics_file)

    def spec_record(self) -> Fields | None:
        """The fields of the file that records the part spec of the run's widths or k bounds
        (``design.json``, else ``printable.json``; keys ``spec`` and ``material``), or None."""
        for path in (self.design_file, self.printable_file):
            if path.exists():
                return Fields(read_data(path), str(path))
        return None

    @contextmanager
    def staged(self, force: bool = False, **kw):
        """The :class:`Run` of this directory's staging folder (:func:`staged_directory`), swapped in on
        success."""
        with staged_directory(self.path, force=force, **kw) as tmp:
            yield Run(tmp)

    def save(self, initial, trained, task, metrics: "TrainReport | StageMetrics") -> None:
        """Write the core files: initial and trained network, task and metrics (a training's report, or the
        :class:`StageMetrics` of a run made otherwise: printable refinement), each atomically."""
        netio.save(initial, self.initial_file)
        netio.save(trained, self.network_file)
        taskio.save_task(task, self.task_file)
        write_json(self.metrics_file, metrics.to_json())

    def write_report(self, report: "StageReport") -> Path:
        """Write the typed stage ``report`` to its file (``report.FILE`` in this directory); returns the path."""
        path = self.path / report.FILE
        write_json(path, report.to_json())
        return path

    def refuse(self, output: str, force: bool) -> Path:
        """The path of the output ``output`` (an attribute, e.g. ``"fidelity_file"``), refused when it exists
        without ``force``: called before any work."""
        path = getattr(self, output)
        refuse_existing(path, force)
        return path


def staging_folder(path) -> Path:
    """The staging folder of the run or stage folder ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def _lock(stage: Path) -> int | None:
    """An fd holding the exclusive lock of ``stage``, or None when another live process holds it."""
    fd = os.open(stage, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def _claim(path: Path) -> tuple[Path, int, bool]:
    """Create and lock the staging folder of ``path``, or take over the one a dead writer left; returns
    (staging folder, lock fd, whether it is such debris). Refuses while a live writer holds it."""
    stage = staging_folder(path)
    try:
        stage.mkdir()
        debris = False
    except FileExistsError:
        debris = True
    if not stage.is_dir():
        raise MechcllnError(f"{stage}: exists and is not a folder; remove it")
    fd = _lock(stage)
    if fd is None:
        raise MechcllnError(f"{path}: another mechclln process is writing it (its staging folder {stage} is "
                            "locked); wait for it to finish or stop it")
    old = path.with_name(f".{path.name}.old")
    if old.is_dir():     # a writer killed between its two renames: put the previous complete folder back
        if path.exists():
            shutil.rmtree(old)
        else:
            old.rename(path)
    return stage, fd, debris


def interrupted(path) -> Path | None:
    """The staging folder a killed writer of ``path`` left behind (unlocked), else None; refuses while a
    live writer holds it."""
    stage = staging_folder(path)
    if not stage.is_dir():
        return None
    fd = _lock(stage)
    if fd is None:
        raise MechcllnError(f"{path}: another mechclln process is writing it (its staging folder {stage} is "
                            "locked); wait for it to finish or stop it")
    os.close(fd)
    return stage


@contextmanager
def staged_directory(path, force: bool = False, keep: tuple = (), resumable: bool = False, reuse: bool = False):
    """Yield the locked staging folder of ``path``, swapped in as ``path`` on success (an existing ``path``
    is replaced only if ``force``). Debris of a killed writer is emptied first, unless ``reuse`` (its files
    are then the starting content). A failure removes the staging folder, unless ``resumable`` (it is
    kept to resume from). ``keep``: names of files in the old ``path`` carried into the
    new one (another command's output in the same folder) unless the new one has them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage, fd, debris = _claim(path)
    try:
        if path.exists() and (not path.is_dir() or any(path.iterdir()) and not force):
            if not debris:
                stage.rmdir()
            raise MechcllnError(f"{path}: exists and is not a folder; choose another --out" if not path.is_dir() else
                                f"{path}: folder exists and is not empty; pass --force to replace it or choose "
                                "another --out")
        if debris and not reuse:
            for p in stage.iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        try:
            yield stage
        except BaseException:
            if not resumable:
                shutil.rmtree(stage, ignore_errors=True)
            raise
        for name in keep:
            if (path / name).is_file() and not (stage / name).exists():
                shutil.copy2(path / name, stage / name)
        old = path.with_name(f".{path.name}.old")
        if path.exists():
            path.rename(old)
        stage.rename(path)
        if old.exists():
            shutil.rmtree(old)
    finally:
        os.close(fd)


# TrainConfig fields added after checkpoints existed and before checkpoints listed their config fields
# (``fingerprint_config_fields``), newest first: a checkpoint without the list was made without some of them.
LATER_CONFIG_FIELDS = ("symmetric", "tether")


def config_fields(config) -> list[str]:
    """The training config fields a checkpoint's fingerprint covers: all but ``steps`` and ``tol`` (which only
    say where to stop)."""
    return [k for k in asdict(config) if k not in ("steps", "tol")]


def fingerprint(net, task, config, fields: list[str] | None = None) -> dict:
    """SHA-256 digests of what a training run depends on: the initial network, the task and the training
    config (its ``fields``, default :func:`config_fields`), for checkpoints."""
    values = asdict(config)
    cfg = {k: values[k] for k in (config_fields(config) if fields is None else fields)}
    parts = {"network": netio.to_dict(net), "task": taskio.to_dict(task), "config": cfg}
    return {k: hashlib.sha256(json.dumps(jsonable(v), sort_keys=True).encode()).hexdigest()
            for k, v in parts.items()}


def _config_matches(stored: dict, net, task, config) -> bool:
    """Whether the checkpoint's config digest is that of ``config``: over the fields the checkpoint lists
    (a field added to the config since, at its default, does not count), or, for a checkpoint without the
    list, over today's fields less the newest ones of :data:`LATER_CONFIG_FIELDS` at their defaults."""
    values, defaults = asdict(config), asdict(type(config)())
    if "fingerprint_config_fields" in stored:
        listed = [str(n) for n in stored["fingerprint_config_fields"]]
        candidates = [listed] if set(listed) <= set(values) else []
    else:
        now = config_fields(config)
        candidates = [[n for n in now if n not in LATER_CONFIG_FIELDS[:i]]
                      for i in range(len(LATER_CONFIG_FIELDS) + 1)]
    for names in candidates:
        later_at_default = all(np.array_equal(values[n], defaults[n]) for n in config_fields(config)
                               if n not in names)
        if later_at_default and fingerprint(net, task, config, names)["config"] == str(stored["fingerprint_config"]):
            return True
    return False


@dataclass
class StageReport:
    """Base of the typed stage reports: a dataclass whose fields, in order, are the keys of the JSON file the
    stage writes (``FILE``, relative to the :class:`Run` it is written into), after the header keys
    ``format`` and ``version`` when ``FORMAT`` is set; fields whose metadata says ``json=False`` are
    carried to the caller, not written."""

    FILE: ClassVar[str] = ""
    FORMAT: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def to_json(self) -> dict:
        """The dict written to ``FILE`` (key order = field order; a :func:`flattened` field's keys in its place)."""
        out = {"format": self.FORMAT, "version": self.VERSION} if self.FORMAT else {}
        for f in fields(self):
            if f.metadata.get("flatten"):
                out |= getattr(self, f.name)
            elif f.metadata.get("json", True):
                out[f.name] = getattr(self, f.name)
        return out


def carried(default=None) -> Any:
    """A :class:`StageReport` field given to the caller but not written to the JSON file."""
    return field(default=default, metadata={"json": False})


def flattened() -> Any:
    """A :class:`StageReport` dict field (default empty) whose keys are written in its place, at the top
    level of the JSON file: keys a caller adds to a stage's report."""
    return field(default_factory=dict, metadata={"flatten": True})


@dataclass
class TrainReport(StageReport):
    """``metrics.json`` of a trained run: history of C, the final free-state target strains of every example
    in the trained model, timings (seconds), which model and rule."""

    FILE: ClassVar[str] = METRICS
    FORMAT: ClassVar[str] = METRICS_FORMAT
    model: str
    rule: str
    learn: list
    config: dict
    network: dict
    C0: float
    C_final: float | None
    C_rel_final: float | None
    converged: bool
    steps: int
    alphas: Any
    rejections: Any
    tether: dict | None           # the tether regularisation and its share (TrainResult.tether); None: none
    history: dict
    final: dict
    timings: dict

    @classmethod
    def of(cls, result, task, timings: dict) -> "TrainReport":
        """The report of a training ``result`` (:class:`~mechclln.training.TrainResult`) on ``task``."""
        h, cfg, net = result.history, result.config, result.network
        return cls(
            model=cfg.model, rule=cfg.rule, learn=list(cfg.learn), config=asdict(cfg),
            network={"nodes": net.n_nodes, "edges": net.n_edges, "dim": net.dim,
                     "mean_coordination": net.mean_coordination()},
            C0=result.C0, C_final=h.C[-1] if h.C else None, C_rel_final=h.C_rel[-1] if h.C_rel else None,
            converged=bool(result.converged), steps=len(h.step), alphas=result.alphas,
            rejections=result.rejections, tether=result.tether, history=asdict(h),
            final={"model": cfg.model,
                   "note": "free-state target strains of every example, in the trained model, of network.json",
                   "target_strains": result.target_strains, "desired_target_strains": task.target_strains,
                   "target_displacements": result.target_displacements,
                   "desired_target_displacements": task.target_displacements},
            timings=timings)


@dataclass
class StageMetrics(StageReport):
    """``metrics.json`` of a run made by a stage other than training (frame design, printable refinement), in
    the train stage's format and common keys (:class:`TrainReport`), so the run reads as any run: the spring
    model of its comparisons, the rule and what it changed, C0, final C and C/C0, a note on where the rest
    is; then ``extra``, keys the stage adds (the design: ``frame_model``, ``history``)."""

    FILE: ClassVar[str] = METRICS
    FORMAT: ClassVar[str] = METRICS_FORMAT
    model: str
    rule: str
    learn: list
    C0: float
    C_final: float
    C_rel_final: float
    note: str
    extra: dict = flattened()


def check_fingerprint(path, stored: dict, net, task, config) -> None:
    """Refuse the checkpoint ``path`` (its arrays ``stored``) unless it was made with this network, task
    and config (:func:`fingerprint`; config options added to mechclln since the checkpoint was written
    count as the same config while they are at their defaults)."""
    for what, digest in fingerprint(net, task, config).items():
        key = f"fingerprint_{what}"
        if key not in stored:
            raise MechcllnError(f"{path}: field '{key}': missing (written by an older mechclln); start the run "
                                "over with --force instead of --resume")
        same = _config_matches(stored, net, task, config) if what == "config" else str(stored[key]) == digest
        if not same:
            raise MechcllnError(f"{path}: field '{key}': the checkpoint was made with another {what}; resume "
                                f"with the {what} it was made for, or start over with --force")
