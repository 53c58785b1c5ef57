"""Frame design of a part: widths learned in the model of what is printed (:mod:`mechclln.design`).

The part is stress-free by construction: its hubs sit at the network's print positions (a fresh network's
own positions; a trained spring run's relaxed positions, where its rest lengths are realised) and the task
is re-referenced there. The frame is built in mm from the part spec and material: every network edge is a
candidate strut, starting at the width the network's k maps to (clipped to the printable range), each
ending within ``[w_min, w_cap_e]`` (``w_cap``: the hub-footprint limit) or removed. Sheets get the
calibrated semi-rigid joints (:func:`mechclln.frame.default_joints`, docs/frame_joints.md).

A design is written as a run directory like any other: ``network.json`` holds the k that
:func:`mechclln.geometry.sections.sections` maps back to exactly the designed widths, and lists the
removed struts in ``meta["left_out_edges"]`` (for the spring models only, a removed edge keeps a tiny
stand-in stiffness, 1e-3 of the median, so the spring network stays a valid file; the frame and the part
have no such strut). ``design.json`` records the spec, the material, the widths, the frame's target
strains (linear and corotational) and the history.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

import numpy as np

from mechclln.design import DesignConfig, PairTask, PrintErrors, design, gauss_newton, respond, sampled_errors
from mechclln.frame import Frame, default_joints
from mechclln.network import Network
from mechclln.rundir import (DESIGN, NETWORK, NETWORK_INITIAL, TASK, Run, StageMetrics, StageReport, flattened,
                             staged_directory)
from mechclln.task import task_error

from .materials import get_material
from .sections import sections, stiffness_for_widths
from .spec import PartSpec

FORMAT = "mechclln.design"
VERSION = 1
STAND_IN = 1e-3        # k of a removed edge in the spring file, relative to the median k


@dataclass
class DesignReport(StageReport):
    """``design.json``: source run, spec (dict) and material, frame model and config; widths (E,) [mm] (0:
    removed), removed edges, width bounds [mm]; C0 and, per frame model (linear, corotational), C, C/C0 and
    the target strains (n_ex, T) at the widths; wanted strains; the design's step history; seconds; the
    corotational hub displacements [mm]; then ``extra``, keys the caller adds (``design_run``:
    ``seconds_total``, ``robust``; the FEM correction: ``frame_target_strains_wanted``, ``fem_correction``)."""

    FILE: ClassVar[str] = DESIGN
    FORMAT: ClassVar[str] = FORMAT
    VERSION: ClassVar[int] = VERSION
    source: str
    spec: dict
    material: str
    model: str
    config: dict
    widths_mm: Any
    removed_edges: Any
    n_removed: int
    n_edges: int
    width_min_mm: float
    width_cap_mm: Any
    C0: float
    C_frame: dict
    C_rel_frame: dict
    frame_target_strains: dict
    wanted_target_strains: Any
    history: list
    seconds: float
    frame_response: dict
    extra: dict = flattened()


@dataclass(frozen=True, eq=False)
class FramePart:
    """The frame of a part-to-be: positions in mm and the width bounds of every candidate strut."""

    frame: Frame
    lo: float                 # printable minimum width, mm
    hi: np.ndarray            # (E,) per-strut cap (printable maximum and hub footprint), mm
    w0: np.ndarray            # (E,) starting widths, mm
    net: Network              # the stress-free network at the print positions (network units)
    spec: PartSpec
    material: str


def frame_part(net: Network, spec: PartSpec, material: str = "tpu95a") -> FramePart:
    """Frame of ``net`` (stress-free, at its own positions) built with ``spec`` and ``material``."""
    from .sections import length_scale

    mat = get_material(material)
    sec = sections(net, spec, mat)
    frame = Frame(net.x * length_scale(net, spec), net.edges, mat.youngs_modulus, mat.poisson_ratio,
                  spec.hub_radius, spec.thickness if net.dim == 2 else None, net.pinned, default_joints(net.dim))
    return FramePart(frame, sec.width_range[0], sec.width_max, sec.width, net, spec, mat.name)


def designed_network(fp: FramePart, widths: np.ndarray) -> Network:
    """The network file of a width design (k mapping back to the widths; removed struts listed)."""
    w = np.asarray(widths, float)
    gone = np.flatnonzero(w == 0)
    k = stiffness_for_widths(fp.net, fp.spec, fp.material, w)
    k[gone] = STAND_IN * np.median(k[w > 0])
    meta = {key: v for key, v in fp.net.meta.items() if key != "left_out_edges"}
    if gone.size:
        meta["left_out_edges"] = gone.tolist()
    return replace(fp.net.with_params(k=k), meta=dict(meta, frame_design=True))


def frame_strains(frame: Frame, widths, ptask: PairTask) -> dict:
    """Target strains (n_ex, T) of the linear and the corotational frame."""
    return {name: respond(frame, widths, ptask, name == "linear")[1] for name in ("linear", "corotational")}


def frame_response(frame: Frame, widths, ptask: PairTask) -> dict:
    """Hub displacements [mm] of the most actuated example in the corotational frame (for reports)."""
    ex = int(np.argmax(np.abs(ptask.source_strains).sum(1)))
    q = respond(frame, widths, ptask, False)[0][ex].q
    return {"example": ex, "model": "corotational", "hub_displacements_mm": q[:, : frame.dim]}


def design_network(net: Network, task, spec: PartSpec, material: str = "tpu95a",
                   config: DesignConfig | None = None, progress=None, robust: int = 0):
    """Design the widths of ``net`` (stress-free at its positions) for ``task``; with ``robust`` = N > 0,
    then minimise the mean error over N samples of print errors (:class:`mechclln.design.PrintErrors`).

    Returns (FramePart, DesignResult, robust report or None)."""
    cfg = (config or DesignConfig()).validate()
    fp = frame_part(net, spec, material)
    ptask = PairTask.of(task)
    res = design(fp.frame, ptask, fp.w0, fp.lo, fp.hi, cfg, progress)
    return (fp, res, None) if not robust else (fp, *robust_design(fp, ptask, res, cfg, robust, progress))


def robust_design(fp: FramePart, ptask: PairTask, res, cfg: DesignConfig, n: int, progress=None,
                  n_check: int = 200):
    """Re-design ``res`` for the mean C over ``n`` print-error samples; the 95th percentile of C/C0 over
    ``n_check`` fresh samples (another seed) before and after is the report."""
    linear = cfg.model == "linear"
    train, check = PrintErrors.draw(len(res.widths), n, seed=1), PrintErrors.draw(len(res.widths), n_check, seed=2)
    before = sampled_errors(fp.frame, res.widths, ptask, linear, check, fp.lo) / res.C_start
    w, C, eps = gauss_newton(fp.frame, ptask, res.widths, fp.lo, fp.hi, cfg, linear, errors=train,
                             progress=progress, phase="robust", history=res.history)
    after = sampled_errors(fp.frame, w, ptask, linear, check, fp.lo) / res.C_start
    report = {"train_samples": n, "check_samples": n_check, "width_error_95_mm": 0.1, "modulus_error_95": 0.1,
              "C_rel_q95_before": float(np.quantile(before, 0.95)), "C_rel_q95_after": float(np.quantile(after, 0.95)),
              "C_rel_median_before": float(np.median(before)), "C_rel_median_after": float(np.median(after)),
              "C_rel_nominal_before": res.C / res.C_start,
              "C_rel_nominal_after": task_error(eps, ptask.wanted) / res.C_start, "model": cfg.model}
    return replace(res, widths=w, C=task_error(eps, ptask.wanted), strains=eps), report


def write_design_run(out_dir, fp: FramePart, res, task, config: DesignConfig, force: bool = False,
                     source: str = "", C0: float | None = None, extra: dict | None = None) -> DesignReport:
    """Write the design as a run directory ``out_dir``; returns its ``design.json`` report."""
    from mechclln import network as netio
    from mechclln.task import save_task

    ptask = PairTask.of(task)
    strains = frame_strains(fp.frame, res.widths, ptask)
    model = config.model
    c0 = float(res.C_start if C0 is None else C0)
    c = {name: task_error(s, task.target_strains) for name, s in strains.items()}
    report = DesignReport(
        source=source, spec=fp.spec.to_dict(), material=fp.material, model=model, config=asdict(config),
        widths_mm=res.widths, removed_edges=res.removed, n_removed=int(res.removed.size),
        n_edges=int(len(res.widths)), width_min_mm=fp.lo, width_cap_mm=fp.hi,
        C0=c0, C_frame=c, C_rel_frame={k: v / c0 for k, v in c.items()},
        frame_target_strains=strains, wanted_target_strains=task.target_strains,
        history=res.history, seconds=res.seconds,
        frame_response=frame_response(fp.frame, res.widths, ptask), extra=dict(extra or {}))
    steps = [h for h in res.history if h["accepted"]]
    history = {"step": list(range(len(steps))), "C": [h["C"] for h in steps],
               "C_rel": [h["C"] / c0 for h in steps], "cosine": None,
               "phase": [h["phase"] for h in steps]}
    with staged_directory(out_dir, force=force) as tmp:
        netio.save(fp.net, tmp / NETWORK_INITIAL)
        netio.save(designed_network(fp, res.widths), tmp / NETWORK)
        save_task(task, tmp / TASK)
        Run(tmp).write_report(StageMetrics(
            model="nonlinear", rule="gauss_newton", learn=["width"], C0=c0, C_final=c[model],
            C_rel_final=c[model] / c0,
            note="frame width design (C: frame model); model: that of the spring comparisons; see design.json",
            extra={"frame_model": model, "history": history}))
        Run(tmp).write_report(report)
    return report


def design_run(run_dir, out_dir, spec: PartSpec | None = None, material: str = "tpu95a",
               config: DesignConfig | None = None, force: bool = False, progress=None,
               robust: int = 0) -> DesignReport:
    """`mechclln design RUN --out OUT`: the frame design of a run's network (a trained spring run is
    re-based at its print positions, stress-free) for its task, written as the run ``out_dir``."""
    from mechclln.fileio import refuse_existing
    from .print_state import as_printed_network, as_printed_task, print_positions

    refuse_existing(out_dir, force)
    t0 = time.perf_counter()
    spec = (spec or PartSpec()).validate()
    cfg = (config or DesignConfig()).validate()
    _, net, task, metrics = Run(run_dir).load()
    x_print = print_positions(net)
    start, ptask = as_printed_network(net, x_print), as_printed_task(task, x_print)
    fp, res, rob = design_network(start, ptask, spec, material, cfg, progress, robust)
    return write_design_run(out_dir, fp, res, ptask, cfg, force, source=str(run_dir),
                            extra={"seconds_total": time.perf_counter() - t0, "robust": rob})


def recorded_spec(run_dir):
    """(spec, material) a design run (``design.json``) or a printable run (``printable.json``) recorded,
    else (None, None): the part of such a run must be built with its own spec (its k bounds or widths
    hold for that spec only; :meth:`mechclln.rundir.Run.spec_record` says which file records it)."""
    from .materials import MATERIALS

    f = Run(run_dir).spec_record()
    if f is None:
        return None, None
    return PartSpec.from_fields(f.obj("spec")), f.string("material", choices=tuple(MATERIALS))


def load_design(run_dir, n_edges: int | None = None, targets_shape: tuple | None = None):
    """``design.json`` of a design run, validated (header, spec, material, and, given the network's edge
    count and the task's target shape, the fields a correction reads back: widths, C0, config, shifted
    frame targets), or None if absent."""
    from mechclln.fileio import read_data
    from mechclln.schema import Fields, header

    from .materials import MATERIALS

    path = Run(run_dir).design_file
    if not path.exists():
        return None
    data = read_data(path)
    f = Fields(data, str(path))
    header(f, FORMAT, VERSION, required=True)
    spec = PartSpec.from_fields(f.obj("spec"))
    out = dict(data, spec=spec, material=f.string("material", choices=tuple(MATERIALS)))
    if n_edges is None:
        return out
    c = f.obj("config")
    ints = {"steps": 1, "rounds": 0, "min_struts_per_hub": 1}
    moves = {"moves": 0, "move_trials": 1, "move_steps": 1}     # absent in designs written before the moves
    config = DesignConfig(model=c.string("model", choices=("corotational", "linear")),
                          **{k: c.integer(k, ge=lo) for k, lo in ints.items()},
                          **{k: c.integer(k, getattr(DesignConfig, k), ge=lo) for k, lo in moves.items()},
                          **{k: c.number(k, gt=0) for k in ("tol", "damping", "max_step", "floor")})
    wanted = f.array("frame_target_strains_wanted", None, shape=(targets_shape[0], targets_shape[1]), gt=-1) \
        if "frame_target_strains_wanted" in data else None
    return dict(out, config=config, C0=f.number("C0", gt=0),
                widths_mm=f.array("widths_mm", shape=(n_edges,), ge=0, lt=2 * spec.hub_radius, unit="mm"),
                frame_target_strains_wanted=wanted)
