"""Shared pieces of the science examples: cached jammed networks, argument parsing, result writing.

Jammed networks take minutes to pack on a laptop (a 500-node sheet about 1-2 min on 2 cores), so each
one is generated once by :func:`mechclln.packing.jammed_network` and stored in ``examples/networks/`` as
a network JSON file; a missing file is regenerated with the same seed (identical arrays).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from mechclln.fileio import jsonable, write_bytes, write_json
from mechclln.network import Network, load, save
from mechclln.packing import jammed_network

HERE = Path(__file__).resolve().parent
NETWORKS = HERE / "networks"
RESULTS = HERE / "results"


def jammed(n_nodes: int, seed: int = 0) -> Network:
    """The 2D jammed network of about ``n_nodes`` nodes for ``seed`` (cached in examples/networks/)."""
    path = NETWORKS / f"jammed_{n_nodes}_s{seed}.json"
    if path.exists():
        return load(path)
    net = jammed_network(n_nodes, dim=2, seed=seed)
    save(net, path)
    return net


def parse(description: str, argv=None) -> argparse.Namespace:
    """``--quick`` (a small, fast version) and ``--out`` (folder for the PNG and JSON)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="small, fast version (used by the tests)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the figure and numbers")
    return ap.parse_args(argv)


def run_script(name: str, doc: str, run, figure, argv=None, run_takes_out: bool = False) -> dict:
    """The command line of every example: parse ``--quick``/``--out``, compute ``run(quick)`` (also given the
    output folder when ``run_takes_out``), draw ``figure(data)``, write ``<name>[_quick].png/.json``."""
    args = parse(doc.splitlines()[0], argv)
    data = run(args.quick, None if args.quick else args.out) if run_takes_out else run(args.quick)
    return write_results(args.out, name + ("_quick" if args.quick else ""), data, figure(data))


def write_results(out: Path, name: str, numbers: dict, fig=None) -> dict:
    """Write ``out/name.json`` (and ``out/name.png`` from ``fig``); returns the plain-JSON numbers."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = jsonable(numbers)
    write_json(out / f"{name}.json", data)
    if fig is not None:
        import io

        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
        plt.close(fig)
        write_bytes(out / f"{name}.png", buf.getvalue())
    print(json.dumps(data.get("summary", {}), indent=1), file=sys.stderr)
    return data


def allosteric_task(net: Network, n_targets: int, seed: int = 0, source_strain: float = 0.05,
                    target_strain: float = 0.01, rest: bool = True):
    """A random allosteric task as in Rocks et al. (PNAS 2017) and Stern et al. (PRX 2021).

    One source edge chosen at random; ``n_targets`` target edges chosen uniformly among the edges that
    share no node with the source; the actuated example strains the source by ``source_strain`` and asks
    each target for ``+-target_strain`` (random sign). ``rest`` adds the rest example (zero in, zero out),
    as docs/core.md (conventions) requires for allosteric tasks.
    """
    from mechclln.task import make_task

    rng = np.random.default_rng(seed)
    src = net.edges[rng.integers(net.n_edges)]
    candidates = np.flatnonzero(~np.isin(net.edges, src).any(axis=1))
    tgt = net.edges[rng.choice(candidates, size=n_targets, replace=False)]
    signs = rng.choice([-1.0, 1.0], size=n_targets)
    return make_task(net, [src], tgt, [source_strain], signs * target_strain, rest=rest,
                     meta={"generator": "examples.common.allosteric_task", "seed": seed,
                           "n_targets": n_targets, "source_strain": source_strain,
                           "target_strain": target_strain})
