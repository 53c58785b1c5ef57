"""``mechclln demo``: the whole flow on the built-in default problem, into one run directory.

Design in the frame model of the printed part, correct against finite-strain FEM, check in FEM, export
(docs/architecture.md). The one core module that reaches up to the stages: it imports them lazily, inside
:func:`run_demo`, so the core still installs and trains without them.
"""
from __future__ import annotations

import time
from pathlib import Path

DEMO = {"nodes": 300, "seed": 3, "targets": 3, "source_strain": 0.05, "target_strain": 0.05}


def demo_problem():
    """(network, task) of the demo: a jammed 2D network and a random allosteric task of :data:`DEMO`, with
    the rest example."""
    from .packing import jammed_network
    from .task import random_task

    net = jammed_network(DEMO["nodes"], dim=2, seed=DEMO["seed"])
    task = random_task(net, n_targets=DEMO["targets"], source_strain=DEMO["source_strain"],
                       target_strain=DEMO["target_strain"], seed=DEMO["seed"], rest=True)
    return net, task


def run_demo(out, steps: int | None = None, force: bool = False, quiet: bool = False, log=print) -> Path:
    """Run the demo into ``out`` (refused before any work when it exists without ``force``), with ``steps``
    Gauss-Newton steps per design phase (default: :class:`~mechclln.design.DesignConfig`'s); one ``log``
    line per stage and per correction round."""
    import numpy as np

    from .design import DesignConfig
    from .export.pipeline import export_run
    from .export.printer import fitting_spec
    from .fem.correct import correct_run
    from .fem.fidelity import check_run
    from .fileio import refuse_existing
    from .geometry.design_run import design_network, write_design_run
    from .progress import design_bar

    out = Path(out)
    refuse_existing(out, force)
    t0 = time.perf_counter()
    net, task = demo_problem()
    log(f"demo: jammed 2D network, {net.n_nodes} nodes, {net.n_edges} edges, Z = {net.mean_coordination():.2f}; "
        f"1 source, {task.n_targets} targets, rest + actuated example")
    spec = fitting_spec(net)
    cfg = DesignConfig() if steps is None else DesignConfig(steps=steps)
    with design_bar(quiet) as tick:
        fp, res, _ = design_network(net, task, spec, "tpu95a", cfg, tick)
    rep = write_design_run(out, fp, res, task, cfg, force=True, source="mechclln demo")
    log(f"demo: design: {rep.n_edges - rep.n_removed} struts printed, {rep.n_removed} removed, frame "
        f"C/C0 {rep.C_rel_frame[cfg.model]:.3g} ({res.seconds:.1f} s)")
    rec = correct_run(out, progress=lambda r, c: log(f"demo: correct: round {r}: finite-strain FEM C/C0 {c:.3g}",
                                                     flush=True))
    fem = check_run(out, finite_strain=True, solution=rec.solution)   # reused when it is the same part
    rec.solution = None               # the mesh and its factorisation are not needed by the export
    C0 = rep.C0
    for key, label in (("frame_corotational", "frame"), ("fem_linear", "linear FEM"), ("fem_finite", "finite-strain FEM")):
        m = fem.models[key]
        log(f"demo: {label}: target strains {np.round(m['target_strains'][-1], 4).tolist()} (wanted "
            f"{task.target_strains[-1].tolist()}), C/C0 {m['C'] / C0:.3g}")
    ex = export_run(out, spec, force=True)
    log(f"demo: export: {', '.join(ex.files)}; {ex.mesh['bodies']} body, watertight {ex.mesh['watertight']}")
    reused = ", on the correction's last FEM solve" if fem.reused_solution else ""
    log(f"demo finished in {time.perf_counter() - t0:.1f} s (FEM correction {rec.seconds:.0f} s, FEM check "
        f"{fem.timings_s['total']:.0f} s{reused}); results in {out}")
    return out
