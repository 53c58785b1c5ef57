"""``mechclln export RUN_DIR``: from a trained run to the files a lab needs, in ``RUN_DIR/export/``.

Order: read the run; print positions and the as-printed spring response; build and check the part
(crossing struts, hubs, printable widths); check it fits the printer's bed; build the solid; render every
file in memory and read each STL and 3MF back from its bytes (one watertight, consistently wound body of
positive volume, as a slicer sees the file); then write them all into a temporary folder that replaces
``export/`` in one rename. A failure at any step writes nothing.

Files: ``part.stl`` (binary, mm), ``part.3mf``, ``part.dxf`` and ``part.svg`` (sheets), ``coupon.stl``,
``part.json`` (the part description for the FEM stage), ``report.json`` (checks, mesh report, fidelity,
lost prestress, timings), ``lab_sheet.md`` + ``lab_sheet.png``, and ``part.gcode`` when slicing is asked for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mechclln.errors import MechcllnError
from mechclln.fileio import refuse_existing, write_bytes
from mechclln.geometry.checks import check_part
from mechclln.geometry.part import build_part
from mechclln.geometry.print_state import compare_printed
from mechclln.geometry.spec import PartSpec
from mechclln.rundir import EXPORT_REPORT, StageReport, carried

from .coupon import coupon_part, coupon_stiffness
from .formats import dxf_text, stl_bytes, svg_text, threemf_bytes
from .labsheet import figure_png, lab_sheet_markdown
from .mesh_checks import file_report, one_clean_body, require_fits
from .printer import get_printer
from .solid import solid_mesh

FORMATS = ("stl", "3mf", "dxf", "svg")


@dataclass
class ExportReport(StageReport):
    """``export/report.json``: printer, material and spec (dicts), stiffness scale (N/mm per unit k) and
    scale (mm per lattice unit), part checks, mesh report of the files read back, calibration coupon,
    spring fidelity (trained vs as printed), lost prestress (N), timings (s). Carried, not written: the
    exported ``part`` and the ``files`` written (names, once written by :func:`export_run`)."""

    FILE: ClassVar[str] = EXPORT_REPORT
    FORMAT: ClassVar[str] = "mechclln.export_report"
    model: str
    printer: dict
    material: dict
    spec: dict
    stiffness_scale_N_per_mm: float
    scale_mm: float
    checks: dict
    mesh: dict
    coupon: dict
    fidelity: dict
    lost_prestress_N: dict
    timings: dict = field(default_factory=dict)
    part: Any = carried()
    files: list = carried()


def render_export(net, task, spec: PartSpec | None = None, material="tpu95a", printer="generic",
                  formats=FORMATS, model: str = "nonlinear", title: str = "mechclln part",
                  part=None, predictions=None, notes=None) -> tuple[dict, ExportReport]:
    """All export files of a trained network, in memory: ``({file name: bytes}, report)``.

    ``part``: a part already designed for ``net`` (e.g. the FEM fine-tuned widths, ``RUN/finetune/
    part.json``), exported as it is (its spec and material replace ``spec`` and ``material``); by default
    the part is built from the network. ``predictions`` {label: (n_ex, T)}: target strains of this part
    in the models that know its widths (frame, FEM), for the report and the lab sheet; ``notes``: lines
    for the sheet (tolerance spread)."""
    timings, t0 = {}, time.perf_counter()
    bad = sorted(set(formats) - set(FORMATS))
    if bad:
        raise MechcllnError(f"export: field 'formats': unknown {bad}; choose from {', '.join(FORMATS)}")
    printer = get_printer(printer)
    spec = (part.spec if part is not None else spec or PartSpec()).validate()
    cmp = compare_printed(net, task, model=model)
    timings["relax_and_respond_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    if part is None:
        part = build_part(net, spec, material, task=task, x_print=cmp.x_print, nozzle=printer.nozzle, check=False)
    checks = check_part(part, nozzle=printer.nozzle).raise_first()
    lo, hi = part.bounds()
    require_fits(hi - lo, printer)
    timings["part_and_checks_s"] = time.perf_counter() - t
    t = time.perf_counter()
    coupon = coupon_part(part)
    files = mesh_files(part, coupon, formats)
    timings["solid_s"] = time.perf_counter() - t
    t = time.perf_counter()
    mrep = check_mesh_files(files, printer, checks, spec.width_range(part.material)[0])
    timings["read_back_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if "stl" not in formats:
        del files["part.stl"]
        for rep in (mrep, mrep["read_back"]["part.stl"]):
            rep["file"] += " (checked, not written: stl is not in the formats)"
    if part.dim == 2 and ({"dxf", "svg"} & set(formats)):
        from mechclln.geometry.outline import outline_polygons

        contours = outline_polygons(part)
        if "dxf" in formats:
            files["part.dxf"] = dxf_text(contours).encode()
        if "svg" in formats:
            files["part.svg"] = svg_text(contours).encode()
    timings["files_s"] = time.perf_counter() - t
    c_trained, c_printed = cmp.errors()
    lost_N = cmp.lost_tension * part.kappa * part.scale
    report = ExportReport(
        model=model, printer=printer.to_dict(), material=part.material.to_dict(), spec=spec.to_dict(),
        stiffness_scale_N_per_mm=part.kappa, scale_mm=part.scale, checks=checks.to_dict(), mesh=mrep,
        coupon={"width_mm": float(coupon.width[0]), "free_length_mm": float(coupon.free_length[0]),
                "stiffness_N_per_mm": coupon_stiffness(coupon)},
        fidelity={"model": model, "C_trained": c_trained, "C_as_printed": c_printed,
                  "target_strains_trained": cmp.trained.target_strains,
                  "target_strains_as_printed": cmp.printed.target_strains,
                  "target_strains_desired": task.target_strains},
        lost_prestress_N={"per_edge": lost_N, "max_abs": float(np.abs(lost_N).max()),
                          "rms": float(np.sqrt(np.mean(lost_N ** 2)))},
        part=part)
    t = time.perf_counter()
    files["lab_sheet.png"] = figure_png(part)
    if predictions:
        report.fidelity["target_strains_this_part"] = {k: np.asarray(v) for k, v in predictions.items()}
    files["lab_sheet.md"] = lab_sheet_markdown(part, cmp, report.to_json(), "lab_sheet.png", title, predictions,
                                               notes).encode()
    timings["lab_sheet_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    report.timings = timings
    return files, report


def mesh_files(part, coupon=None, formats=FORMATS) -> dict[str, bytes]:
    """The mesh files of ``part``, rendered: ``part.stl`` (always: it is what the mesh report reads back),
    ``part.3mf`` when asked for, and ``coupon.stl`` of ``coupon`` when given."""
    mesh = solid_mesh(part)
    files = {"part.stl": stl_bytes(mesh)}
    if coupon is not None:
        files["coupon.stl"] = stl_bytes(solid_mesh(coupon))
    if "3mf" in formats:
        files["part.3mf"] = threemf_bytes(mesh)
    return files


def check_mesh_files(files: dict[str, bytes], printer, checks=None, min_feature=None) -> dict:
    """Read every STL and 3MF file back from its bytes and raise unless each is one clean body.

    Returns the :func:`~.mesh_checks.file_report` of ``part.stl``, with ``read_back`` holding the body
    count, watertightness, winding and volume of every mesh file as read back."""
    reps = {name: file_report(name, data, printer, checks if name.startswith("part.") else None, min_feature)
            for name, data in files.items() if name.endswith((".stl", ".3mf"))}
    bad = [f"{n}: {r['bodies']} bodies, watertight {r['watertight']}, winding {r['winding_consistent']}, "
           f"volume {r['volume_mm3']:.3g} mm^3" for n, r in reps.items() if not one_clean_body(r)]
    if bad:
        raise MechcllnError(f"export: written files are not one clean body ({'; '.join(bad)}); report this as a bug")
    keys = ("bodies", "watertight", "winding_consistent", "volume_mm3", "triangles")
    return reps["part.stl"] | {"read_back": {n: {"file": r["file"]} | {k: r[k] for k in keys}
                                             for n, r in reps.items()}}


def part_predictions(run_dir: Path, part_file, task):
    """Target strains of the part in the models that know its widths, and notes, for the lab sheet:
    a fine-tuned part's FEM strains (``finetune.json`` beside ``part_file``); a design run's frame strains
    (``design.json``) and, once `mechclln fem` has run on it, its linear and finite-strain FEM strains and
    their spread under print errors (``fem/fidelity.json``). (None, None) for other runs."""
    from mechclln.fileio import read_data
    from mechclln.rundir import FINETUNE_REPORT, Run

    run = Run(run_dir)
    shape = task.target_strains.shape
    got = lambda v: v is not None and np.shape(v) == shape  # noqa: E731
    if part_file is not None:
        tuned = Path(part_file).parent / FINETUNE_REPORT
        fem = read_data(tuned).get("target_strains_reexported") if tuned.exists() else None
        return ({"linear FEM strain (this part)": np.asarray(fem)}, None) if got(fem) else (None, None)
    design = run.design_file
    if not design.exists():
        return None, None
    d = read_data(design)
    model = d.get("model", "corotational")
    pred = {f"frame strain ({model})": np.asarray(d["frame_target_strains"][model])}
    notes = []
    fid = run.fidelity_file
    if fid.exists():
        f = read_data(fid)
        for key, label in (("fem_linear", "linear FEM strain"), ("fem_finite", "finite-strain FEM strain")):
            v = f["models"].get(key, {}).get("target_strains")
            if got(v):
                pred[label] = np.asarray(v)
        tol = f.get("tolerances", {})
        for case, what in (("widths", f"widths +-{tol.get('width_error_mm', 0.1):g} mm"),
                           ("modulus_per_strut", f"modulus per strut +-{100 * tol.get('modulus_error_rel', 0.1):g} %")):
            if case in tol:
                t = tol[case]
                notes.append(f"- print tolerance ({what}, {tol.get('n_samples')} samples, linear FEM): target "
                             f"strains 5-95 % {np.round(np.asarray(t['target_strains_q05'])[-1], 4).tolist()} to "
                             f"{np.round(np.asarray(t['target_strains_q95'])[-1], 4).tolist()} (actuated example); "
                             f"C 95th percentile {t['C_q95']:.3g}")
    return pred, notes


def export_dir(run_dir, part_file=None) -> Path:
    """Where :func:`export_run` writes: ``RUN_DIR/export/``, or ``export/`` beside a saved ``part_file``."""
    from mechclln.rundir import EXPORT, Run

    return Run(run_dir).export_dir if part_file is None else Path(part_file).parent / EXPORT


def export_run(run_dir, spec: PartSpec | None = None, material: str | None = None, printer="generic",
               formats=FORMATS, gcode: bool = False, force: bool = False, part_file=None,
               spec_changes: dict | None = None) -> ExportReport:
    """Export a run directory into ``RUN_DIR/export/`` (refused, before any work, when it exists without
    ``force``); returns the report, its ``files`` the names written.

    ``spec`` (default: the spec a design or printable run recorded, whose widths or k bounds hold for it,
    else the default spec) with the fields of ``spec_changes`` that are not None; ``material`` (default:
    the recorded one, else tpu95a). ``part_file``: export that saved part of the run instead (e.g.
    ``RUN/finetune/part.json``), into an ``export/`` folder beside it."""
    from mechclln.geometry.design_run import recorded_spec
    from mechclln.geometry.part import load_part, save_part
    from mechclln.rundir import PART, Run

    run_dir = Path(run_dir)
    dest = export_dir(run_dir, part_file)
    refuse_existing(dest, force)       # before the seconds of relaxing, meshing and rendering
    rec_spec, rec_material = recorded_spec(run_dir)
    spec = (spec or rec_spec or PartSpec()).with_(**(spec_changes or {}))
    _, net, task, metrics = Run(run_dir).load()
    model = str(metrics.get("model", "nonlinear"))
    given = None if part_file is None else load_part(part_file)
    if given is not None and len(given.nodes) != net.n_nodes:
        raise MechcllnError(f"{part_file}: field 'nodes': {len(given.nodes)} hubs, but {Run(run_dir).network_file} "
                            f"has {net.n_nodes} nodes; give a part made for this run")
    predictions, notes = part_predictions(run_dir, part_file, task)
    files, report = render_export(net, task, spec, material or rec_material or "tpu95a", printer, formats, model,
                                  title=run_dir.name, part=given, predictions=predictions, notes=notes)
    with Run(dest).staged(force=force) as tmp:
        for name, data in files.items():
            write_bytes(tmp / name, data)
        save_part(report.part, tmp / PART)
        if gcode:
            from .slicer import slice_to_gcode

            t = time.perf_counter()
            slice_to_gcode(tmp / "part.stl", tmp / "part.gcode", get_printer(printer))
            report.timings["slice_s"] = time.perf_counter() - t
        tmp.write_report(report)
    report.files = sorted([*files, PART, EXPORT_REPORT, *(["part.gcode"] if gcode else [])])
    return report
