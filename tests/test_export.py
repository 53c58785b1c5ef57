"""Printable export: one watertight body whose volume is the outline area x thickness, 3D lattices too,
laser-cut outlines, the run-directory pipeline, headless slicing, and clear errors on bad input."""
import json
from dataclasses import replace

import numpy as np
import pytest

from mechclln import lattices, network
from mechclln.errors import MechcllnError
from mechclln.fileio import write_json
from mechclln.task import random_task, save_task
from mechclln.geometry.outline import exact_area, outline_polygons
from mechclln.geometry.part import build_part
from mechclln.geometry.spec import PartSpec
from mechclln.export.formats import dxf_text, stl_bytes, svg_text
from mechclln.export.mesh_checks import mesh_report
from mechclln.export.pipeline import export_run
from mechclln.export.printer import get_printer
from mechclln.export.solid import solid_mesh


def _trained_like(n=6, seed=1):
    """A triangular sheet with varied k and slightly incompatible rest lengths (as training leaves it)."""
    net = lattices.triangular(n, n)
    rng = np.random.default_rng(seed)
    return net.with_params(k=rng.uniform(0.7, 1.6, net.n_edges), l=net.l * rng.uniform(0.99, 1.01, net.n_edges))


@pytest.fixture
def run_dir(tmp_path):
    net = _trained_like()
    run = tmp_path / "run"
    run.mkdir()
    network.save(net, run / "network.json")
    save_task(random_task(net, n_targets=2, seed=2), run / "task.json")
    write_json(run / "metrics.json", {"model": "nonlinear"})
    return run


def test_sheet_is_one_watertight_body_with_volume_area_times_thickness():
    import trimesh

    net = _trained_like()
    part = build_part(net, PartSpec(thickness=2.5), x_print=net.x)
    part = replace(part, hole_nodes=np.array([0, 10, 20]))
    mesh = trimesh.load_mesh(trimesh.util.wrap_as_stream(stl_bytes(solid_mesh(part))), file_type="stl")
    rep = mesh_report(mesh, get_printer("generic"))
    assert rep["bodies"] == 1 and rep["watertight"] and rep["winding_consistent"]
    # exact_area uses true circles and the strut/hub formula, not the mesh (48-gon circles: < 0.3 % off)
    assert rep["volume_mm3"] == pytest.approx(exact_area(part) * 2.5, rel=0.01)
    assert rep["bbox_mm"][2] == pytest.approx(2.5)


def test_3d_lattice_exports_as_one_watertight_body():
    net = lattices.cubic_diagonal(3, 3, 2)
    part = build_part(net, x_print=net.x)
    part = replace(part, hole_nodes=np.array([0, 5]))
    mesh = solid_mesh(part)
    rep = mesh_report(mesh, get_printer("generic"))
    assert rep["bodies"] == 1 and rep["watertight"] and rep["winding_consistent"]
    # volume lies between the hubs alone and hubs plus full-length struts
    hubs = 4 / 3 * np.pi * part.hub_radius ** 3 * len(part.nodes)
    struts = (np.pi * part.width ** 2 / 4 * part.axis_lengths()).sum()
    assert hubs < rep["volume_mm3"] < hubs + struts


def _read_dxf_polylines(text: str) -> tuple[dict, list[np.ndarray]]:
    """Header variables and the closed POLYLINE vertex lists of a DXF R12 file, read from its group-code pairs."""
    lines = text.splitlines()
    assert len(lines) % 2 == 0, "DXF is a sequence of (group code, value) pairs"
    pairs = [(int(lines[i]), lines[i + 1].strip()) for i in range(0, len(lines), 2)]
    header, polys, cur, var = {}, [], None, None
    for code, value in pairs:
        if code == 9:
            var = value
        elif var is not None and code in (1, 70) and cur is None and not polys:
            header[var], var = value, None
        elif code == 0 and value == "POLYLINE":
            cur, closed = [], None
        elif code == 70 and cur is not None and not cur:
            closed = int(value) & 1
        elif code == 0 and value == "VERTEX":
            cur.append([None, None])
        elif code in (10, 20) and cur:
            cur[-1][code // 10 - 1] = float(value)
        elif code == 0 and value == "SEQEND":
            assert closed == 1
            polys.append(np.array(cur, float))
            cur = None
    return header, polys


def _area(poly: np.ndarray) -> float:
    x, y = poly.T
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def test_laser_cut_outlines_hold_every_contour():
    """The DXF read back from its text: mm units, every contour closed with its vertices, the two pin holes
    of the part's hole radius and a cut area of outline minus voids and holes."""
    from lxml import etree

    net = lattices.triangular(4, 4)
    part = replace(build_part(net, x_print=net.x), hole_nodes=np.array([0, 5]))
    contours = outline_polygons(part)
    assert len(contours) == 1 + 2 * 3 * 3 + 2     # outer, 18 triangular voids, 2 pin holes
    header, polys = _read_dxf_polylines(dxf_text(contours))
    assert header["$INSUNITS"] == "4" and len(polys) == len(contours)
    for got, c in zip(polys, contours):
        np.testing.assert_allclose(got, c, atol=1e-6)
    areas = np.array([_area(p) for p in polys])
    outer = int(np.argmax(areas))
    holes = np.sort(areas)[:2]
    np.testing.assert_allclose(holes, np.pi * part.hole_radius ** 2, rtol=0.02)
    lo, hi = polys[outer].min(0), polys[outer].max(0)
    span = np.ptp(part.nodes, axis=0)
    assert np.all(hi - lo >= span) and np.all(hi - lo <= span + 2 * part.hub_radius + 1e-6)
    svg = etree.fromstring(svg_text(contours).encode())
    d = svg.find("{http://www.w3.org/2000/svg}path").get("d")
    assert d.count("M ") == len(contours) and svg.get("width").endswith("mm")


def test_export_run_writes_everything_and_slices(run_dir):
    rep = export_run(run_dir, gcode=True)
    out = run_dir / "export"
    for name in ("part.stl", "part.3mf", "part.dxf", "part.svg", "coupon.stl", "part.json", "report.json",
                 "lab_sheet.md", "lab_sheet.png", "part.gcode"):
        assert (out / name).stat().st_size > 0, name
    assert rep.mesh["ok"]
    assert "G1" in (out / "part.gcode").read_text()[:200000]
    assert json.loads((out / "report.json").read_text())["mesh"]["bodies"] == 1
    sheet = (out / "lab_sheet.md").read_text()
    assert "Actuation" in sheet and "as-printed strain" in sheet
    with pytest.raises(MechcllnError, match="--force"):
        export_run(run_dir)


def test_part_larger_than_bed_is_refused_and_nothing_written(run_dir):
    with pytest.raises(MechcllnError, match="bed"):
        export_run(run_dir, spec=PartSpec(scale=60.0))
    assert not (run_dir / "export").exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".export")]


def test_unreadable_run_directory_is_a_clear_error(run_dir, tmp_path):
    (run_dir / "network.json").write_text("{not json")
    with pytest.raises(MechcllnError, match="network.json"):
        export_run(run_dir)
    with pytest.raises(MechcllnError, match="not a run directory"):
        export_run(tmp_path / "missing")
