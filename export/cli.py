"""``mechclln export``, ``printable`` and ``design``: the export stage and the printable-run hand-offs (parse and
print; the work is in :mod:`.pipeline`, :mod:`mechclln.geometry`; heavy imports deferred)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .printer import fitting_spec       # light (no numpy at module level)


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="printable part (STL/3MF), laser-cut outline (DXF/SVG), lab sheet",
                              description="Export a trained run to RUN_DIR/export/: STL, 3MF, DXF, SVG, "
                              "calibration coupon, part.json for FEM, report.json and a lab sheet.")
    p.add_argument("run_dir", type=Path, help="run directory written by `mechclln train` or `mechclln demo`")
    p.add_argument("--formats", default="stl,3mf,dxf,svg", help="comma-separated subset of stl,3mf,dxf,svg")
    p.add_argument("--material", default=None, help="tpu95a (default), pla or petg")
    p.add_argument("--printer", default="generic", help="printer profile: generic, prusa-mk4, bambu-x1, ender-3")
    _spec_arguments(p)
    p.add_argument("--part", type=Path, default=None,
                   help="export this saved part of the run as it is (e.g. RUN/finetune/part.json, the FEM "
                        "fine-tuned widths) into an export/ folder beside it")
    p.add_argument("--gcode", action="store_true", help="also slice part.stl to part.gcode with prusa-slicer")
    p.add_argument("--force", action="store_true", help="replace an existing RUN_DIR/export/")
    p.set_defaults(func=run)

    q = subparsers.add_parser("printable", help="refine a trained run into a printable design (every strut "
                              "printed within its width range or left out); writes a new run directory",
                              description="Re-base the trained network at its print positions (stress-free), "
                              "then learn k within {left out} U [k_min, k_max] of the part spec's printable "
                              "widths (docs/fem.md). Export the new run with `mechclln export OUT` (it reuses "
                              "the spec recorded in OUT/printable.json).")
    q.add_argument("run_dir", type=Path, help="trained run directory")
    q.add_argument("--out", type=Path, required=True, help="run directory to create")
    q.add_argument("--floor", type=float, default=None,
                   help="spring stiffness standing in for a left-out strut's frame bending (default 0.1)")
    _design_arguments(q)
    q.set_defaults(func=run_printable)

    q = subparsers.add_parser("design", help="design the strut widths in the frame model of the printed part "
                              "(train what you print); writes a new run directory",
                              description="Learn every strut's width in the frame model (rigid hubs, Timoshenko "
                              "struts, docs/frame.md) within the printable range or remove the strut, for the "
                              "run's task. A trained spring run is re-based at its print positions first. "
                              "Correct the design against FEM with `mechclln correct OUT`, export with "
                              "`mechclln export OUT`.")
    q.add_argument("run_dir", type=Path, help="run directory (trained, or a network + task run)")
    q.add_argument("--out", type=Path, required=True, help="run directory to create")
    q.add_argument("--model", default=None, choices=("corotational", "linear"),
                   help="frame model of the design (default corotational: the task's actuation at finite rotation)")
    q.add_argument("--robust", type=int, default=0, metavar="N",
                   help="also minimise the mean error over N samples of print errors (widths +-0.1 mm, E +-10 %%)")
    _design_arguments(q)
    q.set_defaults(func=run_design)


def _design_arguments(q) -> None:
    """Options shared by the commands that write a new, printable run directory."""
    q.add_argument("--material", default=None, help="tpu95a (default), pla or petg")
    q.add_argument("--printer", default="generic", help="printer profile whose bed the part must fit")
    _spec_arguments(q)
    q.add_argument("--force", action="store_true", help="replace an existing OUT")
    q.add_argument("--quiet", action="store_true")


SPEC_OPTIONS = {"scale": "mm per lattice unit", "thickness": "sheet thickness, mm", "hub_radius": "hub radius, mm",
                "hole_diameter": "pin-hole diameter, mm", "nominal_width": "width of a k = 1 strut, mm",
                "neck_fraction": "hinge-neck width / strut width", "neck_length": "hinge-neck length, mm"}


def _spec_arguments(p) -> None:
    """The part-spec options (defaults: PartSpec's; not given: the base spec's value)."""
    from mechclln.geometry.spec import PartSpec

    for name, text in SPEC_OPTIONS.items():
        note = ": no necks" if name == "neck_fraction" else ""
        p.add_argument(f"--{name.replace('_', '-')}", type=float,
                       help=f"{text} (default {getattr(PartSpec, name):g}{note})")


def spec_changes(args) -> dict:
    """The part-spec fields given on the command line (None: not given)."""
    return {name: getattr(args, name) for name in SPEC_OPTIONS}


def run(args: argparse.Namespace) -> int:
    from .pipeline import export_dir, export_run

    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    rep = export_run(args.run_dir, None, args.material, args.printer, formats, args.gcode, args.force,
                     part_file=args.part, spec_changes=spec_changes(args))
    m, fid = rep.mesh, rep.fidelity
    print(f"wrote {export_dir(args.run_dir, args.part)}: {', '.join(rep.files)}")
    print(f"part {' x '.join(f'{v:.1f}' for v in m['bbox_mm'])} mm, {m['bodies']} body, watertight {m['watertight']}, "
          f"volume {m['volume_mm3']:.0f} mm^3; task error C trained {fid['C_trained']:.3g}, "
          f"as-printed {fid['C_as_printed']:.3g} ({fid['model']} springs); {rep.timings['total_s']:.1f} s")
    for w in rep.checks["warnings"]:
        print(f"warning: {w}")
    return 0


def _new_run_spec(args):
    """The spec of a new printable run: the default, fitted to the printer's bed, with the given fields;
    after refusing an existing OUT (before any work)."""
    from mechclln.fileio import refuse_existing

    refuse_existing(args.out, args.force)
    return fitting_spec(args.run_dir, args.printer).with_(**spec_changes(args))


def run_printable(args: argparse.Namespace) -> int:
    from mechclln.geometry.printable import refine_run
    from mechclln.printable import RefineConfig
    from mechclln.progress import refine_bar

    spec = _new_run_spec(args)
    cfg = RefineConfig() if args.floor is None else RefineConfig(k_floor=args.floor)
    with refine_bar(args.quiet) as tick:
        rep = refine_run(args.run_dir, args.out, spec, args.material or "tpu95a", cfg, force=args.force,
                         progress=tick)
    print(f"wrote {args.out}: {rep.n_edges - rep.n_left_out} struts printed, {rep.n_left_out} left out; "
          f"spring C/C0 {rep.C_rel_as_printed:.3g} as printed -> {rep.C_rel_refined:.3g} refined "
          f"({rep.seconds['total']:.1f} s); export it with `mechclln export {args.out}`")
    return 0


def run_design(args: argparse.Namespace) -> int:
    from mechclln.design import DesignConfig
    from mechclln.geometry.design_run import design_run
    from mechclln.progress import design_bar

    spec = _new_run_spec(args)
    cfg = DesignConfig() if args.model is None else DesignConfig(model=args.model)
    with design_bar(args.quiet) as tick:
        rep = design_run(args.run_dir, args.out, spec, args.material or "tpu95a", cfg, args.force, tick,
                         robust=args.robust)
    print(f"wrote {args.out}: {rep.n_edges - rep.n_removed} struts printed, {rep.n_removed} removed; "
          f"frame C/C0 {rep.C_rel_frame[cfg.model]:.3g} ({cfg.model}), {rep.C_rel_frame['linear']:.3g} "
          f"(linear) in {rep.extra['seconds_total']:.1f} s; next: `mechclln correct {args.out}`")
    if rep.extra["robust"]:
        r = rep.extra["robust"]
        print(f"robust design ({r['train_samples']} print-error samples): 95th percentile of C/C0 over "
              f"{r['check_samples']} fresh samples {r['C_rel_q95_before']:.3g} -> {r['C_rel_q95_after']:.3g}, "
              f"nominal {r['C_rel_nominal_before']:.3g} -> {r['C_rel_nominal_after']:.3g} ({r['model']} frame)")
    return 0
