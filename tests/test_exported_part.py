"""The demo's exported part checked from its STL alone (slow, fem: runs the demo).

The mesh is read back with trimesh and sliced at mid-thickness; from that outline, and nothing in
``part.json``, come the hub centres (circle centres of the hub arcs: consecutive corners of the outline
on one circle), the hub radius, the pin holes, and each strut's width (the chord of the outline across the
strut's midpoint, perpendicular to its axis; no material there: no strut). The network file gives only the
node ids (hubs are matched to its nodes by a fitted scale and offset) and the candidate edges. Checked:
the STL prints exactly the designed struts (none of the removed ones) at the designed widths, the source
and target hubs have pin holes, and a frame model built from the measured geometry (with the joints a design's
frame has, :func:`mechclln.frame.default_joints`) gives the frame target strains ``design.json`` recorded. Both slicers (PrusaSlicer and Slic3r) turn the STL into G-code."""
import json

import numpy as np
import pytest

from mechclln import network as netio
from mechclln.task import load_task

pytestmark = [pytest.mark.slow, pytest.mark.fem]


def mid_outline(stl):
    """Closed loops (list of (n, 2) arrays, corners only) of the STL cut at mid-thickness, and the
    thickness (z extent)."""
    import trimesh

    mesh = trimesh.load(stl)
    (z0, z1) = mesh.bounds[:, 2]
    section = mesh.section(plane_origin=[0, 0, (z0 + z1) / 2], plane_normal=[0, 0, 1])
    loops = []
    for line in section.discrete:
        p = np.asarray(line)[:, :2]
        p = p[:-1] if np.allclose(p[0], p[-1]) else p
        a, b = np.roll(p, 1, axis=0) - p, np.roll(p, -1, axis=0) - p      # drop the points that lie on
        cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]                    # a straight edge (the cut of a
        keep = np.abs(cross) > 1e-9 * np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)  # facet diagonal)
        loops.append(p[keep])
    return loops, float(z1 - z0)


def circle_fits(loops):
    """Centres (m, 2) and radii (m,) of the circles through each three consecutive corners."""
    cs, rs = [], []
    for p in loops:
        a, b, c = p, np.roll(p, -1, axis=0), np.roll(p, -2, axis=0)
        ba, ca = b - a, c - a
        d = 2 * (ba[:, 0] * ca[:, 1] - ba[:, 1] * ca[:, 0])
        ok = np.abs(d) > 1e-9
        nb, nc = (ba ** 2).sum(1), (ca ** 2).sum(1)
        u = np.stack([ca[:, 1] * nb - ba[:, 1] * nc, ba[:, 0] * nc - ca[:, 0] * nb], axis=1) / np.where(ok, d, 1)[:, None]
        cs.append((a + u)[ok])
        rs.append(np.linalg.norm(u, axis=1)[ok])
    return np.concatenate(cs), np.concatenate(rs)


def clusters(points, tol):
    """Means of the groups of ``points`` that lie within ``tol`` of each other (greedy)."""
    from scipy.spatial import cKDTree

    tree, seen, out = cKDTree(points), np.zeros(len(points), bool), []
    for i in range(len(points)):
        if not seen[i]:
            group = [j for j in tree.query_ball_point(points[i], tol) if not seen[j]]
            seen[group] = True
            out.append(points[group].mean(axis=0))
    return np.array(out)


def chord_across(segments, mid, normal):
    """Length of the piece of the line ``mid + s normal`` inside the outline (``segments``: start points
    and edge vectors of every loop) around s = 0; 0 if ``mid`` is outside (even crossings on one side)."""
    a, e = segments
    den = e[:, 0] * normal[1] - e[:, 1] * normal[0]
    ok = np.abs(den) > 1e-14
    am = a - mid
    t = (am[:, 0] * normal[1] - am[:, 1] * normal[0]) / np.where(ok, -den, 1)    # position along the edge
    s = (am[:, 0] * e[:, 1] - am[:, 1] * e[:, 0]) / np.where(ok, -den, 1)        # position along the line
    s = s[ok & (t >= 0) & (t < 1)]
    pos, neg = s[s > 0], s[s < 0]
    if len(pos) % 2 == 0:
        return 0.0
    return float(pos.min() - neg.max())


def reconstruct(stl, net):
    """Hub centres (N, 2) by node id, hub radius, thickness, pin-hole hubs and widths (E,) of every
    network edge (0: no strut) measured on the STL of a sheet part."""
    loops, thickness = mid_outline(stl)
    centres, radii = circle_fits(loops)
    big = radii > 1.0                                       # hub arcs (pin holes are the small circles)
    R = float(np.median(radii[big]))
    on_hub = np.abs(radii - R) < 1e-3 * R
    hubs = clusters(centres[on_hub], 0.05)
    r_hole = float(np.median(radii[~big]))
    holes = clusters(centres[np.abs(radii - r_hole) < 1e-3], 0.05)
    # node ids: scale and offset from the bounding boxes, then nearest hubs, then least squares
    x = net.x
    scale = np.ptp(hubs, axis=0).max() / np.ptp(x, axis=0).max()
    guess = (x - x.min(axis=0)) * scale + hubs.min(axis=0)
    from scipy.spatial import cKDTree

    dist, idx = cKDTree(guess).query(hubs)
    found = dist < 0.25 * R
    xs, m = x[idx[found]], int(found.sum())
    M = np.vstack([np.c_[xs[:, 0], np.ones(m), np.zeros(m)], np.c_[xs[:, 1], np.zeros(m), np.ones(m)]])
    coef = np.linalg.lstsq(M, np.concatenate([hubs[found, 0], hubs[found, 1]]), rcond=None)[0]   # s, tx, ty
    nodes = x * coef[0] + coef[1:]
    misfit = np.linalg.norm(nodes[idx[found]] - hubs[found], axis=1).max()
    hole_nodes = np.unique(cKDTree(nodes).query(holes)[1])
    segments = (np.vstack(loops), np.vstack([np.roll(p, -1, axis=0) - p for p in loops]))
    widths = np.zeros(net.n_edges)
    for e, (i, j) in enumerate(net.edges):
        d = nodes[j] - nodes[i]
        widths[e] = chord_across(segments, (nodes[i] + nodes[j]) / 2, np.array([-d[1], d[0]]) / np.linalg.norm(d))
    return {"nodes": nodes, "hub_radius": R, "thickness": thickness, "hole_radius": r_hole,
            "hole_nodes": hole_nodes, "widths": widths, "hubs_found": int(found.sum()), "hub_misfit": float(misfit)}


def test_stl_prints_the_designed_struts_and_its_frame_gives_the_recorded_strains(demo_run):
    from mechclln.design import PairTask, respond
    from mechclln.frame import Frame, default_joints
    from mechclln.geometry.materials import get_material

    d = json.loads((demo_run / "design.json").read_text())
    net = netio.load(demo_run / "network_initial.json")
    task = load_task(demo_run / "task.json")
    got = reconstruct(demo_run / "export" / "part.stl", net)
    assert got["hubs_found"] == net.n_nodes and got["hub_misfit"] < 1e-3
    assert got["hub_radius"] == pytest.approx(d["spec"]["hub_radius"], abs=1e-3)
    assert got["thickness"] == pytest.approx(d["spec"]["thickness"], abs=1e-4)
    terminals = np.unique(np.concatenate([task.source_pairs.ravel(), task.target_pairs.ravel()]))
    assert set(terminals) <= set(got["hole_nodes"].tolist())
    want_w = np.asarray(d["widths_mm"])
    assert np.array_equal(got["widths"] > 0, want_w > 0)            # removed struts are not printed
    assert np.abs(got["widths"] - want_w).max() < 1e-3               # mm
    on = got["widths"] > 0
    mat = get_material(d["material"])
    frame = Frame(got["nodes"], net.edges[on], mat.youngs_modulus, mat.poisson_ratio, got["hub_radius"],
                  got["thickness"], net.pinned, default_joints(2))       # the joints a design's frame has
    ptask = PairTask.of(task)
    for model in ("corotational", "linear"):
        eps = respond(frame, got["widths"][on], ptask, model == "linear")[1]
        recorded = np.asarray(d["frame_target_strains"][model])
        assert np.abs(eps - recorded).max() < 1e-4 * np.abs(recorded).max(), model


@pytest.mark.parametrize("slicer", ["slic3r"])      # the first slicer, PrusaSlicer: tests/test_demo.py
def test_stl_slices_with_a_second_slicer(demo_run, slicer, tmp_path):
    import shutil

    from mechclln.export.printer import get_printer
    from mechclln.export.slicer import slice_to_gcode

    if shutil.which(slicer) is None:
        pytest.skip(f"{slicer} is not installed (Debian: apt-get install {slicer})")
    gcode = slice_to_gcode(demo_run / "export" / "part.stl", tmp_path / "part.gcode", get_printer("generic"),
                           timeout=3600.0, slicer=slicer)      # Slic3r: 20 min on 2 busy cores
    text = gcode.read_text()
    layers = {line.split()[1] for line in text.splitlines() if line.startswith("G1 Z")}
    assert text.count("\nG1 ") > 1000 and len(layers) >= 3 / get_printer("generic").layer_height - 1


def test_fem_of_the_geometry_read_from_the_stl_gives_the_recorded_fem_strains(demo_run):
    """Linear FEM of a part whose hubs, holes, widths and thickness are those measured on the STL (only the
    material and the task come from the run) reproduces fem/fidelity.json's linear FEM target strains
    (measured: 4.5e-5 of the largest target strain apart; the tolerance 5e-3 leaves room for re-meshing)."""
    from dataclasses import replace

    from mechclln.fem import fidelity
    from mechclln.geometry.part import load_part

    net = netio.load(demo_run / "network_initial.json")
    task = load_task(demo_run / "task.json")
    got = reconstruct(demo_run / "export" / "part.stl", net)
    on = got["widths"] > 0
    part = replace(load_part(demo_run / "export" / "part.json"), nodes=got["nodes"], edges=net.edges[on],
                   width=got["widths"][on], width_raw=got["widths"][on], edge_ids=np.flatnonzero(on),
                   hub_radius=got["hub_radius"], hole_radius=got["hole_radius"], hole_nodes=got["hole_nodes"],
                   thickness=got["thickness"], free_length=None)
    pt = fidelity.mesh_part(part, 2)
    eps = fidelity.fem_responses(pt, part, task, finite_strain=False)[1]["linear"]
    recorded = np.asarray(json.loads((demo_run / "fem" / "fidelity.json").read_text())
                          ["models"]["fem_linear"]["target_strains"])
    gap = np.abs(eps - recorded).max() / np.abs(recorded).max()
    assert gap < 5e-3, gap
