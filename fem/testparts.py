"""Small tagged gmsh parts for validation: holed hubs joined by straight struts (2D sheet or extruded solid).

They follow the geometry stage's tag contract, so every FEM routine runs on them unchanged:
strut of edge e -> physical tag ``1 + e`` (name ``strut_{e}``), hub of node n -> ``1_000_000 + n``
(``hub_{n}``), pin-hole boundary of node n (curves in 2D, surfaces in 3D) -> ``2_000_000 + n``
(``hole_{n}``). Units are mm. The real parts come from ``mechclln.geometry``; these builders exist so the
FEM machinery and its theory checks do not depend on that stage.
"""
from __future__ import annotations

import numpy as np

from . import stack
from mechclln.geometry.tags import HOLE_BASE as HOLE, HUB_BASE as HUB, STRUT_BASE as STRUT


def build_sheet(x, edges, widths, hub_radius: float, hole_radius: float, h: float,
                thickness: float | None = None, hole_nodes=None, name: str = "part"):
    """Create the gmsh model of a holed-hub sheet and mesh it; return the ``gmsh`` module.

    ``x`` (N, 2) hub centres [mm], ``edges`` (E, 2), ``widths`` (E,) strut widths [mm], ``h`` target
    element size [mm]. With ``thickness`` the sheet is extruded to a 3D solid of that thickness (z from 0
    to t) and volumes/surfaces are tagged instead of surfaces/curves. ``hole_nodes`` (default all) are
    the nodes that get a pin hole.
    """
    gmsh = stack.gmsh()
    x = np.asarray(x, float)
    edges = np.asarray(edges, int).reshape(-1, 2)
    widths = np.broadcast_to(np.asarray(widths, float), (len(edges),))
    gmsh.clear()
    gmsh.model.add(name)
    occ = gmsh.model.occ
    discs = [(2, occ.addDisk(px, py, 0, hub_radius, hub_radius)) for px, py in x]
    struts = []
    for (i, j), w in zip(edges, widths):
        d = x[j] - x[i]
        r = float(np.hypot(*d))
        tag = occ.addRectangle(x[i, 0], x[i, 1] - w / 2, 0, r, w)
        occ.rotate([(2, tag)], x[i, 0], x[i, 1], 0, 0, 0, 1, float(np.arctan2(d[1], d[0])))
        struts.append((2, tag))
    pieces, _ = occ.fragment(discs, struts)
    hole_nodes = range(len(x)) if hole_nodes is None else hole_nodes
    holes = [(2, occ.addDisk(x[n, 0], x[n, 1], 0, hole_radius, hole_radius)) for n in hole_nodes]
    pieces, _ = occ.cut(pieces, holes)
    if thickness is not None:
        occ.extrude(pieces, 0, 0, thickness)
    occ.synchronize()
    dim = 3 if thickness is not None else 2
    _tag_by_position(gmsh, x, edges, hub_radius, hole_radius, dim, hole_nodes)
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
    gmsh.option.setNumber("Mesh.CharacteristicLengthMin", 0.0)
    gmsh.model.mesh.generate(dim)
    return gmsh


def _tag_by_position(gmsh, x, edges, hub_radius, hole_radius, dim, hole_nodes):
    """Physical groups by where each entity lies: inside a hub disc -> hub, else the nearest strut axis."""
    model = gmsh.model
    hubs, struts = {}, {}
    for _, tag in model.getEntities(dim):
        c = np.array(model.occ.getCenterOfMass(dim, tag))[:2]
        dist = np.linalg.norm(x - c, axis=1)
        n = int(np.argmin(dist))
        if dist[n] < hub_radius * (1 - 1e-9):
            hubs.setdefault(n, []).append(tag)
        else:
            struts.setdefault(_nearest_segment(c, x, edges), []).append(tag)
    for n, tags in hubs.items():
        model.addPhysicalGroup(dim, tags, HUB + n, name=f"hub_{n}")
    for e, tags in struts.items():
        model.addPhysicalGroup(dim, tags, STRUT + e, name=f"strut_{e}")
    holes = {}
    for _, tag in model.getEntities(dim - 1):
        lo = np.array(model.getBoundingBox(dim - 1, tag))
        box_min, box_max = lo[:2], lo[3:5]
        for n in hole_nodes:
            p = x[n]
            if np.all(box_min >= p - hole_radius * 1.001) and np.all(box_max <= p + hole_radius * 1.001):
                holes.setdefault(n, []).append(tag)
                break
    for n, tags in holes.items():
        model.addPhysicalGroup(dim - 1, tags, HOLE + n, name=f"hole_{n}")


def _nearest_segment(c, x, edges) -> int:
    a, b = x[edges[:, 0]], x[edges[:, 1]]
    ab = b - a
    s = np.clip(np.einsum("ij,ij->i", c - a, ab) / np.einsum("ij,ij->i", ab, ab), 0, 1)
    return int(np.argmin(np.linalg.norm(a + s[:, None] * ab - c, axis=1)))


def build_rectangle(length: float, height: float, h: float, name: str = "beam"):
    """A plain rectangle [0, L] x [0, H] tagged as strut 0, with its left edge tagged ``1`` and right ``2``.

    Used for the textbook checks (cantilever, Euler column) where the ends are clamped or loaded directly.
    """
    gmsh = stack.gmsh()
    gmsh.clear()
    gmsh.model.add(name)
    tag = gmsh.model.occ.addRectangle(0, 0, 0, length, height)
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(2, [tag], STRUT + 0, name="strut_0")
    for _, c in gmsh.model.getBoundary([(2, tag)], oriented=False):
        cx = gmsh.model.occ.getCenterOfMass(1, c)[0]
        if abs(cx) < 1e-9 * length:
            gmsh.model.addPhysicalGroup(1, [c], 1, name="left")
        elif abs(cx - length) < 1e-9 * length:
            gmsh.model.addPhysicalGroup(1, [c], 2, name="right")
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
    gmsh.option.setNumber("Mesh.CharacteristicLengthMin", 0.0)
    gmsh.model.mesh.generate(2)
    return gmsh
