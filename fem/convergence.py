"""Mesh convergence of the FEM target strains (``mechclln fem RUN_DIR --convergence 1,2,3,4``).

The part is meshed at several resolutions (``elements_across``: P2 elements across the narrowest strut
section) and solved with the linear model; each level's target strains are compared with the finest
level's: ``max_t |eps_t - eps_t(finest)| / |eps_t(finest)|`` over the actuated examples' targets (the rest
example's strains are zero). The coarsest level within ``tol`` (default 1 %) is the one to use.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mechclln.rundir import CONVERGENCE, FEM, Run, StageReport

from . import fidelity, stack


@dataclass
class ConvergenceReport(StageReport):
    """``fem/convergence.json``: ``tol``; per level its elements across, dofs, linear target strains
    (n_ex, T), seconds (meshing, total) and max relative change to the finest level; the coarsest level
    within ``tol`` (None: none)."""

    FILE: ClassVar[str] = f"{FEM}/{CONVERGENCE}"
    run: str
    tol: float
    levels: list
    coarsest_within_tol: int | None
    note: str


def study(run_dir, levels=(1, 2, 3, 4), tol: float = 0.01, write: bool = True, log=print) -> ConvergenceReport:
    """Mesh and solve ``run_dir``'s part at each level; writes ``RUN/fem/convergence.json`` (rank 0)."""
    from mechclln.geometry.print_state import as_printed_task, print_positions

    run = Run(run_dir)
    net, task = run.network_and_task()
    x_print = print_positions(net)
    gpart = fidelity.load_geometry_part(run, net, task, x_print)
    ptask = as_printed_task(task, x_print)
    actuated = np.abs(task.source_strains).max(axis=1) > 0
    rows = []
    for n in sorted(levels):
        t0 = time.perf_counter()
        pt = fidelity.mesh_part(gpart, n)
        t_mesh = time.perf_counter() - t0
        lin, res = fidelity.fem_responses(pt, gpart, ptask, finite_strain=False)
        dofs = pt.comm.allreduce(pt.n_owned)
        lin.destroy()
        rows.append({"elements_across": n, "dofs": dofs, "target_strains": res["linear"],
                     "seconds_mesh": t_mesh, "seconds_total": time.perf_counter() - t0})
        log(f"  {n} across: {dofs} dofs, {rows[-1]['seconds_total']:.1f} s "
            f"(meshing {t_mesh:.1f} s), actuated target strains {res['linear'][actuated].ravel()}")
    finest = rows[-1]["target_strains"][actuated]
    for r in rows:
        r["max_relative_change_to_finest"] = float(np.max(np.abs(r["target_strains"][actuated] - finest)
                                                          / np.abs(finest)))
    ok = [r["elements_across"] for r in rows[:-1] if r["max_relative_change_to_finest"] <= tol]
    report = ConvergenceReport(run=str(run.path), tol=tol, levels=rows, coarsest_within_tol=min(ok) if ok else None,
                               note="linear FEM; relative change of each actuated target strain to the finest level")
    if write and stack.mpi().COMM_WORLD.rank == 0:
        run.write_report(report)
    return report
