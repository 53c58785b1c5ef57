"""FEM correction of a frame design: a few finite-strain FEM solves close the frame-to-FEM gap.

The frame model of a part lands a few percent off FEM per target (hub joints are not perfectly rigid,
struts meeting at small angles share material near the hubs). That gap changes little when the widths
change a little, so each correction round solves the part in finite-strain FEM at the task's actuation
and re-designs the widths in the corotational frame against shifted targets,

    frame target <- frame target + (wanted - eps_FEM),

by the printable phase of the design continued from the current widths, with its topology moves
(:func:`mechclln.design.design`): a strut may be removed, or a removed one come back at the printable
minimum ``w_min``; every width stays within its printable range. Rounds stop when the FEM error reaches
``tol`` (C / C0) or after ``rounds``. A robust design (``design.json["robust"]``) misses its targets at the
nominal widths on purpose, so it keeps its objective (the mean C over its print-error samples, by
Gauss-Newton from the current widths, no topology change) against the wanted strains plus the frame-to-FEM
gap at the current widths, ``want + (eps_frame - eps_FEM)``, for all ``rounds`` (its nominal FEM error is
neither the stopping rule nor the improvement check). The run's ``network.json`` and ``design.json`` are
replaced by the corrected design; ``design.json["fem_correction"]`` (:class:`CorrectionReport`) records
every round.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from mechclln.errors import MechcllnError
from mechclln.rundir import StageReport, carried

from . import fidelity


@dataclass
class CorrectionReport(StageReport):
    """``design.json["fem_correction"]``: per round (0: the design as it came) its finite-strain FEM C and
    C/C0, FEM target strains (n_ex, T), the frame targets it was designed for and its FEM seconds; elements
    across a strut; ``tol``; the robust design's print-error samples (0: not robust); seconds in all; the
    last round's C/C0. Carried to the caller, not written: the last round's FEM solution
    (:class:`~mechclln.fem.fidelity.PartSolution`, the corrected design's: the widths are not changed after
    it), which ``check_run(run, solution=...)`` reuses instead of solving the same part again."""

    rounds: list
    elements_across: int
    tol: float
    robust_samples: int
    seconds: float
    C_rel_fem_finite: float
    solution: "fidelity.PartSolution | None" = carried()


def correct_run(run_dir, rounds: int = 2, tol: float = 2e-4, elements_across: int = 2,
                progress=None) -> CorrectionReport:
    """Correct the frame design in ``run_dir`` against finite-strain FEM; returns the correction report."""
    from dataclasses import asdict

    from mechclln import network as netio
    from mechclln.design import PairTask, PrintErrors, design, gauss_newton, respond
    from mechclln.fileio import write_json
    from mechclln.geometry.design_run import designed_network, frame_part, frame_response, frame_strains, load_design
    from mechclln.geometry.part import build_part
    from mechclln.rundir import Run
    from mechclln.task import load_task, task_error

    run = Run(run_dir)
    if not run.design_file.exists():
        raise MechcllnError(f"{run.design_file}: missing; correct a run written by `mechclln design`")
    t0 = time.perf_counter()
    start = netio.load(run.initial_file)
    task = load_task(run.task_file, start)
    rec = load_design(run.path, start.n_edges, task.target_strains.shape)
    fp = frame_part(start, rec["spec"], rec["material"])
    cfg, widths = rec["config"], rec["widths_mm"].copy()
    want, C0 = task.target_strains, rec["C0"]
    target = want.copy() if rec["frame_target_strains_wanted"] is None else rec["frame_target_strains_wanted"]
    robust = (rec.get("robust") or {}).get("train_samples", 0)
    errors = PrintErrors.draw(len(widths), robust, seed=1) if robust else None   # robust_design's samples
    history = []
    for rnd in range(rounds + 1):
        # at the designed network's relaxed print positions, as check_run builds the part: within round-off
        # of start.x, but gmsh's mesh is not continuous in them, and the check reuses the last round's mesh
        gpart = build_part(designed_network(fp, widths), fp.spec, fp.material, task=task)
        t_fem = time.perf_counter()
        solution = None     # the previous round's mesh and factors go before this round's are made
        solution = fidelity.solve_part(gpart, task, elements_across)
        eps = solution.res["finite"]
        c = task_error(eps, want)
        history.append({"round": rnd, "C_fem_finite": c, "C_rel_fem_finite": c / C0, "fem_target_strains": eps,
                        "frame_targets": target.copy(), "fem_seconds": time.perf_counter() - t_fem})
        if progress:
            progress(rnd, c / C0)
        if rnd == rounds or (not robust and c / C0 <= tol):
            break
        if robust:
            target = want + respond(fp.frame, widths, PairTask.of(task), cfg.model == "linear")[1] - eps
            widths = gauss_newton(fp.frame, PairTask.of(task, target), widths, fp.lo, fp.hi, cfg, errors=errors)[0]
        else:
            target = target + (want - eps)
            widths = design(fp.frame, PairTask.of(task, target), widths, fp.lo, fp.hi, cfg, relax=False).widths
    best = min(range(len(history)), key=lambda i: history[i]["C_fem_finite"])
    if not robust and best != len(history) - 1:
        raise MechcllnError(f"{run_dir}: FEM correction did not improve the design (C/C0 per round "
                            f"{[h['C_rel_fem_finite'] for h in history]}); the frame-to-FEM gap is not stable")
    strains = frame_strains(fp.frame, widths, PairTask.of(task))
    record = CorrectionReport(history, elements_across, tol, robust, time.perf_counter() - t0,
                              history[-1]["C_rel_fem_finite"], solution)
    rec = {k: v for k, v in rec.items() if k not in ("spec",)}
    c_frame = {k: task_error(s, want) for k, s in strains.items()}
    rec.update(spec=fp.spec.to_dict(), widths_mm=widths, frame_target_strains=strains,
               frame_target_strains_wanted=target, fem_correction=record.to_json(), config=asdict(cfg),
               C_frame=c_frame, C_rel_frame={k: v / C0 for k, v in c_frame.items()},
               frame_response=frame_response(fp.frame, widths, PairTask.of(task)))
    netio.save(designed_network(fp, widths), run.network_file)
    write_json(run.design_file, rec)
    return record
