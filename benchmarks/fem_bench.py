"""FEM performance of a 500-strut 2D part (issue 5; ``mechclln fem-bench``, which runs this file from a
source checkout, or ``python benchmarks/fem_bench.py`` with the same options): meshing, assembly and solve
times separately, direct (MUMPS) against CG + GAMG, serial against ``mpirun -n 2``.

The part: a triangular lattice of 14 x 14 nodes (533 struts) with every node displaced by a Gaussian of
0.08 bond lengths, stiffnesses ``k = exp(U(-0.7, 0.7))`` (so the strut widths vary as in a trained part),
unstressed (l = r), node 0 pinned, one source and three target pairs (``mechclln.task.random_task``),
turned into a TPU sheet by the geometry stage (``build_part``) and meshed as the fidelity check does
(:func:`mechclln.fem.outline_mesh`): P2 plane stress with ``elements_across`` elements across the narrowest
strut section. Each size runs in a fresh process (this file run by path with ``python`` for 1 rank,
under ``mpirun -n P`` otherwise) that meshes once and then solves with each method; every phase is timed
between MPI barriers (wall seconds on rank 0):

* ``mesh_gmsh``: gmsh meshes the outline (rank 0); ``mesh_import``: DOLFINx reads and distributes it;
  ``mesh_tags``: cell/facet classification, the P2 space and the hole-mean operator;
* per method: ``assemble`` (form + matrix, :class:`mechclln.fem.linear.LinearModel`), ``setup`` (the MUMPS
  LDL^T factorisation, or the GAMG hierarchy), ``prepare`` (the rest of the model's set-up: rigid modes,
  determinate dofs, pin penalty), ``solve_free`` / ``solve_clamped``: the actuated example's free state
  (one column of Y = K^-1 C^T per pin row and source) and its clamped state (sources and targets imposed),
  each a Schur-complement solve; ``iterations``: CG iterations of each column (GAMG);
* ``agreement``: max |eps_gamg - eps_direct| / max |eps_direct| of the free state's target strains, and
  the same for the clamped state's source tensions.

Threads: the workers run with ``OPENBLAS_NUM_THREADS=1`` and ``OMP_NUM_THREADS=1`` (one core per rank), so
the serial-vs-2-rank ratio is the MPI speed-up on a 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mechclln.fem.cli import BENCH_METHODS as METHODS, BENCH_SIZES as SIZES, bench_arguments

RESULTS_JSON, RESULTS_MD, PLOT = "results.json", "RESULTS.md", "fem_phases.png"
MESH_PHASES = ("mesh_gmsh", "mesh_import", "mesh_tags")


# ------------------------------------------------------------------------------------------ the part
def bench_part(nx: int = 14, ny: int = 14, seed: int = 0, jitter: float = 0.08):
    """(network, task, geometry part) of the benchmark (module docstring)."""
    from mechclln import lattices
    from mechclln.geometry.part import build_part
    from mechclln.network import make_network
    from mechclln.task import random_task

    rng = np.random.default_rng(seed)
    base = lattices.triangular(nx, ny)
    x = base.x + jitter * rng.standard_normal(base.x.shape)
    k = np.exp(rng.uniform(-0.7, 0.7, base.n_edges))
    net = make_network(x, base.edges, k=k, pinned=[0], meta={"benchmark": "fem-bench", "seed": seed})
    task = random_task(net, n_targets=3, seed=seed)
    return net, task, build_part(net, task=task, x_print=net.x)


# ------------------------------------------------------------------------------------------ one process
class _Clock:
    """Wall time of phases between MPI barriers (every rank waits, rank 0's clock counts)."""

    def __init__(self, comm):
        self.comm = comm
        self.t = {}

    def start(self):
        self.comm.Barrier()
        self._t0 = time.perf_counter()

    def stop(self, name: str):
        self.comm.Barrier()
        self.t[name] = time.perf_counter() - self._t0


def _rss_mib(comm) -> float:
    """Sum over ranks of each process's peak resident memory so far [MiB]."""
    return comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(gpart, task, elements_across: int, methods=METHODS) -> dict:
    """Mesh ``gpart`` once and solve the actuated example of ``task`` with each method (module docstring).

    Runs on ``MPI.COMM_WORLD``; every rank returns the same dict.
    """
    from mechclln.fem import linear, outline_mesh, part as fempart, stack

    dfx = stack.dolfinx()
    comm = stack.mpi().COMM_WORLD
    clock = _Clock(comm)
    clock.start()
    gmsh = outline_mesh.build_outline_model(gpart, elements_across) if comm.rank == 0 else stack.gmsh()
    clock.stop("mesh_gmsh")
    clock.start()
    mesh = dfx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=2).mesh
    clock.stop("mesh_import")
    if comm.rank == 0:
        gmsh.clear()
    clock.start()
    cell_tags, facet_tags = outline_mesh.classify(mesh, gpart)
    mat = gpart.material
    pt = fempart.from_mesh(mesh, cell_tags, facet_tags, E=mat.youngs_modulus, nu=mat.poisson_ratio,
                           thickness=gpart.thickness, source="fem-bench part")
    clock.stop("mesh_tags")
    out = {"ranks": comm.size, "elements_across": elements_across, "dofs": comm.allreduce(pt.n_owned),
           "cells": comm.allreduce(mesh.topology.index_map(2).size_local), "phases": dict(clock.t),
           "methods": {}}
    act = int(np.argmax(np.abs(task.source_strains).max(axis=1)))
    src, tgt = task.source_pairs, task.target_pairs
    both = np.vstack([src, tgt])
    clamped = np.concatenate([task.source_strains[act], task.target_strains[act]])
    for method in methods:
        os.environ["MECHCLLN_FEM_SOLVER"] = method
        clock = _Clock(comm)
        clock.start()
        lin = linear.LinearModel(pt, pinned=gpart.pinned)
        clock.stop("model")
        clock.start()
        free = lin.solve(src, task.source_strains[act])
        clock.stop("solve_free")
        eps = lin.strains(free, tgt)
        clock.start()
        cl = lin.solve(both, clamped)
        clock.stop("solve_clamped")
        fac = lin.fac
        assert fac.method == method, (fac.method, method)
        t = clock.t
        out["methods"][method] = {
            "assemble": lin.timings_s["assemble"], "setup": fac.setup_s,
            "prepare": t["model"] - lin.timings_s["assemble"] - fac.setup_s,
            "solve_free": t["solve_free"], "solve_clamped": t["solve_clamped"],
            "columns": len(fac.iterations) if method == "gamg" else None,
            "iterations": list(fac.iterations) if method == "gamg" else None,
            "target_strains": eps.tolist(), "clamped_source_tension": cl.tension[:len(src)].tolist(),
            "peak_rss_mib_all_ranks": _rss_mib(comm)}
        lin.destroy()
    os.environ.pop("MECHCLLN_FEM_SOLVER", None)
    if {"gamg", "direct"} <= set(out["methods"]):
        g, d = out["methods"]["gamg"], out["methods"]["direct"]
        out["agreement"] = {key: _rel(g[key], d[key]) for key in ("target_strains", "clamped_source_tension")}
    return out


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / np.abs(b).max())


def _worker(args) -> int:
    from mechclln.fem import stack

    _, task, gpart = bench_part(*args.lattice)
    result = measure(gpart, task, args.elements_across, tuple(args.methods))
    result["struts"], result["nodes"] = int(gpart.n_struts), int(len(gpart.nodes))
    if stack.mpi().COMM_WORLD.rank == 0:
        from mechclln.fileio import write_json
        write_json(args.worker, result)
    return 0


# ------------------------------------------------------------------------------------------ driver
def run_case(elements_across: int, ranks: int, lattice=(14, 14), methods=METHODS, timeout: float = 1800) -> dict:
    """One (size, ranks) measurement in a fresh process; returns its result dict."""
    py = Path(sys.executable)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "case.json"
        cmd = [str(py), str(Path(__file__).resolve()), "--worker", str(out), "--elements-across",
               str(elements_across), "--lattice", *map(str, lattice), "--methods", *methods]
        if ranks > 1:
            cmd = [str(py.parent / "mpirun"), "-n", str(ranks), *cmd]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            from mechclln.errors import MechcllnError
            raise MechcllnError(f"fem-bench: the {ranks}-rank case at {elements_across} elements across "
                                f"failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        return json.loads(out.read_text())


def run(sizes=SIZES, ranks=(1, 2), out_dir=None, lattices=((14, 14),), methods=METHODS,
        command: str | None = None, log=print) -> dict:
    """Measure every lattice at every size and rank count; write results.json, RESULTS.md and the PNG to
    ``out_dir``."""
    from mechclln.bench import machine

    results = {"machine": machine(), "command": command, "cases": []}
    for lattice in lattices:
        for ea in sizes:
            for p in ranks:
                t0 = time.perf_counter()
                case = run_case(ea, p, lattice, methods)
                case["lattice"] = list(lattice)
                results["cases"].append(case)
                totals = ", ".join(f"{m} {_total(case, m):.2f} s" for m in case["methods"])
                log(f"fem-bench: {case['struts']} struts, {ea} across, {p} rank(s), {case['dofs']} dofs: "
                    f"{totals} ({time.perf_counter() - t0:.0f} s)")
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    if out_dir is not None:
        from mechclln.fileio import write_json, write_text
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / RESULTS_JSON, results)
        write_text(out_dir / RESULTS_MD, markdown(results))
        plot(results, out_dir / PLOT)
    return results


def _solves(m: dict) -> float:
    """Both states' solves of one method's record."""
    return m["solve_free"] + m["solve_clamped"]


def _total(case: dict, method: str) -> float:
    """Assembly + set-up + both solves of one method (meshing excluded: shared by both)."""
    m = case["methods"][method]
    return m["assemble"] + m["setup"] + m["prepare"] + _solves(m)


# ------------------------------------------------------------------------------------------ report
def _g(x, fmt="{:.3g}") -> str:
    return "-" if x is None else fmt.format(x)


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = ["# FEM check of a 500-strut 2D part (`mechclln fem-bench`)", "",
             f"- command: `{results.get('command')}`",
             f"- {m.get('processor')}, {m.get('cpus')} CPUs, {m.get('memory_gib')} GiB; {m.get('platform')}",
             f"- load average at start {m.get('load_average_at_start')}, at end {m.get('load_average_at_end')} "
             "(shared machine: other jobs were running)",
             "- one BLAS/OpenMP thread per rank; wall seconds of rank 0 between barriers; definitions in the "
             "docstring of `benchmarks/fem_bench.py`", "",
             "| struts | across | ranks | dofs | gmsh | import | tags | assemble | MUMPS factor | direct solves | "
             "GAMG setup | GAMG solves | CG its (mean/max) | direct total | GAMG total | strain agreement | "
             "peak RSS MiB (GAMG / +MUMPS) |",
             "|" + "---|" * 17]
    for c in results["cases"]:
        ph, d, g = c["phases"], c["methods"].get("direct"), c["methods"].get("gamg")
        its = g["iterations"] if g else None
        lines.append("| " + " | ".join([
            str(c["struts"]), str(c["elements_across"]), str(c["ranks"]), f"{c['dofs']:,}", _g(ph["mesh_gmsh"]),
            _g(ph["mesh_import"]), _g(ph["mesh_tags"]), _g((d or g)["assemble"]),
            _g(d and d["setup"]), _g(d and _solves(d)), _g(g and g["setup"]), _g(g and _solves(g)),
            f"{np.mean(its):.0f}/{max(its)}" if its else "-",
            _g(d and _total(c, "direct")), _g(g and _total(c, "gamg")),
            _g(c.get("agreement", {}).get("target_strains"), "{:.1e}"),
            " / ".join(_g(m and m["peak_rss_mib_all_ranks"], "{:.0f}") for m in (g, d))]) + " |")
    lines += ["", "Speed-up of `mpirun -n 2` over one process (same size, ratio of wall times):", "",
              "| struts | across | dofs | meshing (all three) | assemble | MUMPS factor | direct solves | GAMG setup | "
              "GAMG solves |", "|" + "---|" * 9]
    for c1 in results["cases"]:
        c2 = next((c for c in results["cases"] if c["ranks"] == 2 and c["lattice"] == c1["lattice"]
                   and c["elements_across"] == c1["elements_across"]), None)
        if c1["ranks"] != 1 or c2 is None:
            continue
        row = [str(c1["struts"]), str(c1["elements_across"]), f"{c1['dofs']:,}",
               _g(sum(c1["phases"].values()) / sum(c2["phases"].values()), "{:.2f}")]
        for method, key in (("direct", "assemble"), ("direct", "setup"), ("direct", "solves"),
                            ("gamg", "setup"), ("gamg", "solves")):
            a, b = c1["methods"].get(method), c2["methods"].get(method)
            if a is None or b is None:
                row.append("-")
                continue
            val = _solves if key == "solves" else (lambda m: m[key])
            row.append(f"{val(a) / val(b):.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path) -> None:
    """Time per phase against dofs, log-log; solid 1 rank, dashed 2 ranks."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {"meshing (gmsh+import+tags)": lambda c: sum(c["phases"].values()),
              "assembly": lambda c: c["methods"]["direct"]["assemble"],
              "MUMPS factorisation": lambda c: c["methods"]["direct"]["setup"],
              "direct solves": lambda c: _solves(c["methods"]["direct"]),
              "GAMG setup": lambda c: c["methods"]["gamg"]["setup"],
              "GAMG-CG solves": lambda c: _solves(c["methods"]["gamg"])}
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    for i, (label, f) in enumerate(series.items()):
        for p, style in ((1, "-o"), (2, "--s")):
            cs = sorted((c for c in results["cases"] if c["ranks"] == p), key=lambda c: c["dofs"])
            try:
                pts = [(c["dofs"], f(c)) for c in cs]
            except KeyError:
                continue
            if pts:
                ax.loglog(*zip(*pts), style, color=f"C{i}", label=f"{label}" if p == 1 else None, ms=4)
    ax.plot([], [], "k-", label="1 process")
    ax.plot([], [], "k--", label="mpirun -n 2")
    ax.set_xlabel("degrees of freedom (P2 plane stress)")
    ax.set_ylabel("wall time [s]")
    ax.set_title("FEM check of 2D strut parts: time per phase")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ CLI
def main(args: argparse.Namespace) -> int:
    """``mechclln fem-bench``: run every case of the parsed options (:func:`mechclln.fem.cli.bench_arguments`)."""
    from mechclln.errors import fail

    try:
        sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
        ranks = [int(s) for s in str(args.ranks).split(",") if s.strip()]
        lattices = [tuple(int(v) for v in s.lower().split("x")) for s in str(args.lattices).split(",") if s.strip()]
    except ValueError:
        raise fail("command line", "--sizes/--ranks/--lattices", "not a comma-separated list of integers "
                   "(lattices: NXxNY)", "write e.g. --sizes 1,2,3 --ranks 1,2 --lattices 5x5,14x14") from None
    if (not sizes or min(sizes) < 1 or not ranks or min(ranks) < 1 or not lattices
            or any(len(lt) != 2 or min(lt) < 3 for lt in lattices)):
        raise fail("command line", "--sizes/--ranks/--lattices", "sizes and ranks must be integers >= 1, "
                   "lattices NXxNY with NX, NY >= 3", "write e.g. --sizes 1,2 --lattices 14x14")
    run(sizes, ranks, args.out, lattices, tuple(args.methods), command=" ".join(sys.argv))
    print(f"fem-bench: wrote {args.out / RESULTS_MD}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--elements-across", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--lattice", nargs=2, type=int, default=[14, 14], help=argparse.SUPPRESS)
    ns = parser.parse_args()
    sys.exit(_worker(ns) if ns.worker else main(ns))
