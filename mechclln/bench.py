"""The benchmark networks and the ``mechclln bench`` command.

The networks (:func:`bench_network`, :func:`peer_network`) are used by the benchmarks, the sweeps and the
tests. The harness itself (what is timed, the baselines it is compared with, the result files) lives
outside the package in ``benchmarks/step_bench.py`` (its docstring defines every column); ``mechclln bench``
parses the options here and runs it from a source checkout. :func:`load_benchmark` loads any script of
``benchmarks/`` (this harness, the FEM one of ``mechclln fem-bench``); :func:`machine` describes the machine
for both.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
from pathlib import Path

import numpy as np

from .errors import MechcllnError

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SIZES = {2: (100, 1000, 10000, 100000), 3: (1000, 10000, 30000)}
VARIANTS = {"harmonic_kl": ("harmonic", ("k", "l")), "harmonic_l": ("harmonic", ("l",)),
            "nonlinear_kl": ("nonlinear", ("k", "l"))}


# ------------------------------------------------------------------------------------------ networks
def bench_network(n_nodes: int, dim: int, seed: int = 0, jitter: float = 0.08):
    """A rigid, unstressed disordered lattice of about ``n_nodes`` nodes (see module docstring)."""
    from . import lattices
    from .network import make_network

    rng = np.random.default_rng(seed)
    if dim == 2:
        m = max(4, int(round(np.sqrt(n_nodes))))
        base = lattices.triangular(m, m)
    else:
        m = max(3, int(round(n_nodes ** (1 / 3))))
        base = lattices.cubic_diagonal(m, m, m)
    x = base.x + jitter * rng.standard_normal(base.x.shape)
    return make_network(x, base.edges, meta={"kind": f"perturbed {base.meta['lattice']}", "jitter": jitter,
                                             "seed": seed})


def peer_network(n_edges: int = 123, seed: int = 0):
    """The peers' below-isostatic case (issue 14): a 2D jammed network of 64 nodes (141 bonds at Z = 4.4)
    pruned at random to ``n_edges`` bonds (123: Z = 3.84 < 4, floppy as springs), removing only bonds whose
    nodes both keep >= 3 bonds; and its task: one source and one target bond, +20 % strain, no rest
    example."""
    from .network import make_network
    from .packing import jammed_network
    from .task import make_task, random_task

    base = jammed_network(66, dim=2, z_target=4.4, seed=16)      # these arguments give 64 nodes
    rng = np.random.default_rng(seed)
    keep = np.ones(base.n_edges, bool)
    deg = np.bincount(base.edges.ravel(), minlength=base.n_nodes)
    for e in rng.permutation(base.n_edges):
        i, j = base.edges[e]
        if keep.sum() > n_edges and deg[i] > 3 and deg[j] > 3:
            keep[e], deg[i], deg[j] = False, deg[i] - 1, deg[j] - 1
    net = make_network(base.x, base.edges[keep], meta={"kind": "jammed, pruned below isostatic", "seed": seed})
    t = random_task(net, n_targets=1, seed=seed, rest=False)
    return net, make_task(net, t.source_pairs, t.target_pairs, [0.2], [0.2], rest=False,
                          meta={"generator": "peer_network", "seed": seed})


# ------------------------------------------------------------------------------------------ the command
def machine() -> dict:
    """What the figures were measured on."""
    import scipy

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "load_average_at_start": list(os.getloadavg()),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")}
    try:
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2 ** 20, 1)
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        if names:
            info["processor"] = names[0]
    except OSError:
        pass
    return info


def load_benchmark(name: str):
    """The module of the script ``benchmarks/<name>.py`` (loaded once, as ``mechclln_<name>``); the
    benchmarks are not installed with the package, so this needs a source checkout."""
    key = f"mechclln_{name}"
    if key not in sys.modules:
        path = BENCHMARKS / f"{name}.py"
        if not path.is_file():
            raise MechcllnError(f"{path} not found; the benchmarks run from a source checkout of the repository "
                                "(git clone), not from an installed package")
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def main(args) -> int:
    """``mechclln bench``: run the harness with the parsed options (:func:`add_arguments`)."""
    return load_benchmark("step_bench").main(args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default=None,
                   help="cases as dim:n,n;dim:n (default 2:1e2,1e3,1e4,1e5;3:1e3,1e4,3e4)")
    p.add_argument("--steps", type=int, default=8, help="timed learning steps per variant (after step 0)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}")
    p.add_argument("--fire-max-nodes", type=int, default=10000, help="run FIRE only up to this size")
    p.add_argument("--fire-tol", type=float, default=1e-8, help="FIRE relative force tolerance")
    p.add_argument("--samples", type=int, default=5,
                   help="steps of the run at which the baselines (fresh KKT, FIRE) are timed and averaged")
    p.add_argument("--out", default="benchmarks", help="folder for results.json, RESULTS.md, step_time.png")
    p.add_argument("--merge", action="store_true", help="keep results of other sizes already in --out")
    p.add_argument("--tts", default=None, metavar="CASES",
                   help="time to C/C0 <= 1e-3 instead: cases as dim:n;dim:n;peer (time_to_solution.json in --out)")
    p.add_argument("--tts-model", default="harmonic", help="model for --tts (harmonic or nonlinear)")
    p.add_argument("--tts-steps", type=int, default=3000, help="step limit for --tts")
    p.add_argument("--tts-symmetric", action="store_true",
                   help="--tts with the two-sided nudge of coupled learning (TrainConfig.symmetric)")
    p.add_argument("--tts-within", type=float, default=None, metavar="R",
                   help="--tts task with its targets within R length units (lattice spacings) of the source "
                        "(the same task size at every network size); default: the farther half of the whole network")
    p.add_argument("--crossover", action="store_true",
                   help="only time steps with the dense and the sparse factoriser (crossover.json in --out)")


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="measure learning-step cost vs factorisation, fresh solves, FIRE")
    add_arguments(p)
    p.set_defaults(func=main)
