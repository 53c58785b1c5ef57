"""Printable refinement of a trained run: the network re-based at its print positions, its stiffness
refined to ``{left out} U [k_min_e, k_max_e]`` (:mod:`mechclln.printable`) with the bounds of the part
spec (:func:`mechclln.geometry.sections.k_bounds`), written as a new run directory.

The new run is stress-free by construction: its network sits at the trained network's print positions
with ``l = r`` (what a stress-free print realises), its task has every ``r0`` re-measured there, and its
``meta["left_out_edges"]`` lists the struts :func:`mechclln.geometry.part.build_part` leaves out. Export it
with the same part spec (``printable.json`` records it): the k bounds hold for that spec only.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from mechclln.rundir import PRINTABLE, Run, StageMetrics, StageReport

from .materials import get_material
from .spec import PartSpec


@dataclass
class PrintableReport(StageReport):
    """``printable.json``: the source run, the part spec (dict) and material the k bounds hold for, model
    and rule, the left-out strut's stand-in stiffness and the per-edge k bounds, the left-out edges, task
    errors C (C0 of the source run, as printed, refined, and relative to C0), phase history, refinement
    config and seconds (refine, total)."""

    FILE: ClassVar[str] = PRINTABLE
    FORMAT: ClassVar[str] = "mechclln.printable"
    source_run: str
    spec: dict
    material: str
    model: str
    rule: str
    k_floor: float
    k_min: Any
    k_max: Any
    left_out_edges: Any
    n_left_out: int
    n_edges: int
    C0: float
    C_as_printed: float
    C_refined: float
    C_rel_as_printed: float
    C_rel_refined: float
    history: list
    config: dict
    seconds: dict


def refine_run(run_dir, out_dir, spec: PartSpec | None = None, material: str = "tpu95a", config=None,
               force: bool = False, progress=None) -> PrintableReport:
    """Refine ``run_dir``'s trained network into a printable design in the run directory ``out_dir``.

    Writes ``network_initial.json`` (the as-printed network), ``network.json`` (refined), ``task.json``
    (re-referenced), ``metrics.json`` (C0 of the original run, C before and after) and ``printable.json``
    (spec, material, bounds, left-out edges, phase history, timings). Returns its report.
    """
    from mechclln import printable

    from .print_state import as_printed_network, as_printed_task, print_positions
    from .sections import k_bounds

    t0 = time.perf_counter()
    spec = (spec or PartSpec()).validate()
    mat = get_material(material)
    _, net, task, metrics = Run(run_dir).load()
    x_print = print_positions(net)
    start = as_printed_network(net, x_print)
    ptask = as_printed_task(task, x_print)
    kmin, kmax = k_bounds(start, spec, mat)
    cfg = config or printable.RefineConfig()
    res = printable.refine(start, ptask, kmin, kmax, cfg, progress)
    c0 = float(metrics.get("C0") or res.C_start)
    report = PrintableReport(
        source_run=str(run_dir), spec=spec.to_dict(), material=mat.name, model=cfg.train.model,
        rule=cfg.train.rule, k_floor=cfg.k_floor, k_min=kmin, k_max=kmax, left_out_edges=res.left_out,
        n_left_out=int(res.left_out.size), n_edges=net.n_edges, C0=c0, C_as_printed=res.C_start, C_refined=res.C,
        C_rel_as_printed=res.C_start / c0, C_rel_refined=res.C / c0, history=res.history,
        config={k: v for k, v in asdict(cfg).items() if k != "train"},
        seconds={"refine": res.seconds, "total": time.perf_counter() - t0})
    with Run(out_dir).staged(force=force) as tmp:
        tmp.save(start, res.network, ptask, StageMetrics(
            model=cfg.train.model, rule=cfg.train.rule, learn=["k"], C0=c0, C_final=res.C, C_rel_final=res.C / c0,
            note=f"printable refinement of {run_dir}; see printable.json"))
        tmp.write_report(report)
    return report
