"""``mechclln export RUN_DIR``: the export stage's subcommand and demo step (heavy imports deferred)."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="printable part (STL/3MF), laser-cut outline (DXF/SVG), lab sheet",
                              description="Export a trained run to RUN_DIR/export/: STL, 3MF, DXF, SVG, "
                              "calibration coupon, part.json for FEM, report.json and a lab sheet.")
    p.add_argument("run_dir", type=Path, help="run directory written by `mechclln train` or `mechclln demo`")
    p.add_argument("--formats", default="stl,3mf,dxf,svg", help="comma-separated subset of stl,3mf,dxf,svg")
    p.add_argument("--material", default="tpu95a", help="tpu95a (default), pla or petg")
    p.add_argument("--printer", default="generic", help="printer profile: generic, prusa-mk4, bambu-x1, ender-3")
    p.add_argument("--scale", type=float, help="mm per lattice unit (default 12)")
    p.add_argument("--thickness", type=float, help="sheet thickness, mm (default 3)")
    p.add_argument("--hub-radius", type=float, help="hub radius, mm (default 2.4)")
    p.add_argument("--hole-diameter", type=float, help="pin-hole diameter, mm (default 1.5)")
    p.add_argument("--nominal-width", type=float, help="width of a k = 1 strut, mm (default 1.2)")
    p.add_argument("--neck-fraction", type=float, help="hinge-neck width / strut width (default 1: no necks)")
    p.add_argument("--neck-length", type=float, help="hinge-neck length, mm (default 0)")
    p.add_argument("--gcode", action="store_true", help="also slice part.stl to part.gcode with prusa-slicer")
    p.add_argument("--force", action="store_true", help="replace an existing RUN_DIR/export/")
    p.set_defaults(func=run)


def spec_from_args(args):
    from mechclln.geometry.spec import PartSpec

    return PartSpec().with_(scale=args.scale, thickness=args.thickness, hub_radius=args.hub_radius,
                            hole_diameter=args.hole_diameter, nominal_width=args.nominal_width,
                            neck_fraction=args.neck_fraction, neck_length=args.neck_length)


def run(args: argparse.Namespace) -> int:
    from .pipeline import export_run

    formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    rep = export_run(args.run_dir, spec_from_args(args), args.material, args.printer, formats, args.gcode, args.force)
    m, fid = rep["mesh"], rep["fidelity"]
    print(f"wrote {args.run_dir / 'export'}: {', '.join(rep['files'])}")
    print(f"part {' x '.join(f'{v:.1f}' for v in m['bbox_mm'])} mm, {m['bodies']} body, watertight {m['watertight']}, "
          f"volume {m['volume_mm3']:.0f} mm^3; task error C trained {fid['C_trained']:.3g}, "
          f"as-printed {fid['C_as_printed']:.3g} ({fid['model']} springs); {rep['timings']['total_s']:.1f} s")
    for w in rep["checks"]["warnings"]:
        print(f"warning: {w}")
    return 0


def fitting_spec(run_dir: Path, printer: str = "generic"):
    """The default part spec, with the scale lowered (never raised) so the part fits the printer's bed."""
    import numpy as np

    from mechclln import network as netio
    from mechclln.geometry.spec import PartSpec

    from .printer import get_printer

    spec = PartSpec()
    net = netio.load(Path(run_dir) / "network.json")
    extent = float(np.ptp(net.x[:, :2], axis=0).max())
    room = 0.95 * min(get_printer(printer).bed[:2]) - 2 * spec.hub_radius
    return spec.with_(scale=min(spec.scale, np.floor(10 * room / extent) / 10))


def demo_step(run_dir: Path) -> dict:
    """Export the demo run (default part, scaled to fit the generic bed; replacing a previous export)."""
    from .pipeline import export_run

    spec = fitting_spec(run_dir)
    rep = export_run(run_dir, spec, force=True)
    return {"export_dir": str(Path(run_dir) / "export"), "scale_mm": spec.scale, "files": rep["files"],
            "bodies": rep["mesh"]["bodies"],
            "watertight": rep["mesh"]["watertight"], "volume_mm3": rep["mesh"]["volume_mm3"],
            "C_trained": rep["fidelity"]["C_trained"], "C_as_printed": rep["fidelity"]["C_as_printed"],
            "seconds": rep["timings"]["total_s"]}
