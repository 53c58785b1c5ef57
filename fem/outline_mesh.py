"""Mesh a sheet part from its unioned 2D outline and tag the cells afterwards (docs/fem.md).

The geometry stage's outline (manifold3d union of strut strips and hub discs, pin holes cut) is handed to
gmsh as plane surfaces, meshed with a per-vertex size of ``strut width / elements_across``, and each cell
is then classified by its midpoint: inside a hub disc -> ``hub_n``, else the strut with the nearest axis
-> ``strut_e``; boundary facets on a pin-hole circle -> ``hole_n`` (tags of :mod:`mechclln.geometry.tags`).
No boolean in gmsh, so any outline that unions cleanly meshes, including struts whose footprints
overlap on a hub circle.
"""
from __future__ import annotations

import numpy as np

from mechclln.errors import MechcllnError
from mechclln.geometry.tags import HOLE_BASE, HUB_BASE, STRUT_BASE

from . import part as fempart, stack


def _nearest_strut(p, a, b, candidates: int = 12) -> np.ndarray:
    """Index of the nearest strut axis (segment a-b) to each point: exact distance over the
    ``candidates`` struts whose midpoints are nearest (a k-d tree), which always contain the answer for
    points inside the part (struts are much shorter than the part)."""
    from scipy.spatial import cKDTree

    if not len(p):
        return np.zeros(0, int)
    k = min(candidates, len(a))
    _, near = cKDTree(0.5 * (a + b)).query(p, k=k)
    near = near.reshape(len(p), k)
    ab = b[near] - a[near]
    s = np.clip(((p[:, None, :] - a[near]) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    dist = np.linalg.norm(a[near] + s[..., None] * ab - p[:, None, :], axis=-1)
    return near[np.arange(len(p)), np.argmin(dist, axis=1)]


def build_outline_model(gpart, elements_across: int = 2, mesh_size: float | None = None):
    """Create and mesh the gmsh model of ``gpart``'s outline (2D sheet); returns the gmsh module."""
    from mechclln.geometry.outline import outline

    gmsh = stack.gmsh()
    polys = [np.asarray(c, float) for c in outline(gpart).simplify(1e-3).to_polygons()]
    a, b = gpart.nodes[gpart.edges[:, 0]], gpart.nodes[gpart.edges[:, 1]]
    size_e = gpart.neck_half_widths() * 2 / elements_across
    if mesh_size is not None:
        size_e = np.minimum(size_e, mesh_size)
    gmsh.clear()
    gmsh.model.add("outline")
    geo = gmsh.model.geo
    loops, areas, firsts = [], [], []
    for c in polys:
        h = size_e[_nearest_strut(c, a, b)]
        pts = [geo.addPoint(x, y, 0.0, float(s)) for (x, y), s in zip(c, h)]
        lines = [geo.addLine(pts[k], pts[(k + 1) % len(pts)]) for k in range(len(pts))]
        area = 0.5 * float(np.sum(c[:, 0] * np.roll(c[:, 1], -1) - np.roll(c[:, 0], -1) * c[:, 1]))
        loops.append(geo.addCurveLoop(lines if area > 0 else [-ln for ln in lines[::-1]]))
        areas.append(area)
        firsts.append(c[0])
    outer = [k for k, A in enumerate(areas) if A > 0]
    inner = [k for k, A in enumerate(areas) if A < 0]
    surfaces = []
    for k in outer:
        holes = [loops[m] for m in inner if _inside(firsts[m], polys[k])]
        surfaces.append(geo.addPlaneSurface([loops[k], *holes]))
    geo.synchronize()
    gmsh.model.addPhysicalGroup(2, surfaces, 1, name="part")
    gmsh.model.mesh.generate(2)
    return gmsh


def _inside(p, poly) -> bool:
    """Even-odd point-in-polygon test."""
    x, y = poly[:, 0], poly[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = (y > p[1]) != (yn > p[1])
    xs = x + (p[1] - y) * (xn - x) / np.where(yn == y, 1.0, yn - y)
    return bool(np.sum(cross & (p[0] < xs)) % 2)


def mesh_sheet(gpart, elements_across: int = 2, mesh_size: float | None = None, comm=None):
    """Mesh ``gpart`` (a sheet) and return a :class:`mechclln.fem.part.MeshedPart` with classified tags."""
    dfx = stack.dolfinx()
    MPI = stack.mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    if gpart.dim != 2:
        raise MechcllnError("part: field 'dim': outline meshing is for 2D sheets; use the geometry stage's "
                            "3D gmsh model for solid lattices")
    if comm.rank == 0:
        gmsh = build_outline_model(gpart, elements_across, mesh_size)
    else:
        gmsh = stack.gmsh()
    mesh = dfx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=2).mesh
    if comm.rank == 0:
        gmsh.clear()
    cell_tags, facet_tags = classify(mesh, gpart)
    mat = gpart.material
    return fempart.from_mesh(mesh, cell_tags, facet_tags, E=mat.youngs_modulus, nu=mat.poisson_ratio,
                             thickness=gpart.thickness, source="part")


def classify(mesh, gpart):
    """Cell tags (hub_n within the hub radius of node n, else strut_e of the nearest axis) and facet tags
    (boundary facets whose midpoint lies on the pin-hole circle of a hole node -> hole_n)."""
    from scipy.spatial import cKDTree

    dfx = stack.dolfinx()
    tdim = mesh.topology.dim
    n_cells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    cells = np.arange(n_cells, dtype=np.int32)
    mid = dfx.mesh.compute_midpoints(mesh, tdim, cells)[:, :2]
    x = gpart.nodes
    dist, near_node = cKDTree(x).query(mid) if len(mid) else (np.zeros(0), np.zeros(0, int))
    in_hub = dist < gpart.hub_radius
    a, b = x[gpart.edges[:, 0]], x[gpart.edges[:, 1]]
    values = np.where(in_hub, HUB_BASE + near_node, 0)
    values[~in_hub] = STRUT_BASE + _nearest_strut(mid[~in_hub], a, b)
    cell_tags = dfx.mesh.meshtags(mesh, tdim, cells, values.astype(np.int32))
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facets = dfx.mesh.exterior_facet_indices(mesh.topology)
    fmid = dfx.mesh.compute_midpoints(mesh, tdim - 1, facets)[:, :2]
    hole_nodes = np.asarray(gpart.hole_nodes, int)
    tags_f = np.full(len(facets), -1)
    for n in hole_nodes:
        on = np.abs(np.linalg.norm(fmid - x[n], axis=1) - gpart.hole_radius) < 0.05 * gpart.hole_radius
        tags_f[on] = HOLE_BASE + n
    keep = tags_f >= 0
    order = np.argsort(facets[keep])
    facet_tags = dfx.mesh.meshtags(mesh, tdim - 1, facets[keep][order], tags_f[keep][order].astype(np.int32))
    return cell_tags, facet_tags
