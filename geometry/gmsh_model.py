"""The tagged gmsh model of a part, meshed: the FEM stage's contract (tags in :mod:`.tags`).

2D sheets (plane stress, thickness ``part.thickness``) are built with gmsh's built-in kernel from exact
circle arcs and straight strut sides that share their curves, so hub and strut surfaces are conformal
without any boolean operation: each hub circle is split at the points where strut sides meet it; the arc
inside a strut's footprint is the interface between that strut and the hub (the hub runs it
counter-clockwise, the strut backwards), so every loop is counter-clockwise and every curve is shared.
Pin holes are circles of ``part.hole_radius`` inside their hub surface.

3D lattices (round struts, spherical hubs) use the OpenCASCADE kernel: cylinders and spheres are
fragmented (struts end inside the spheres, off their centres), pin holes (along :func:`.part.hole_axes`) are cut, and each volume is assigned to the hub whose
sphere holds its centre of mass, otherwise to the strut whose axis is nearest (fine for small lattices;
OCC booleans grow expensive beyond a few hundred struts, docs/core.md).

Mesh size: ``elements_across`` (>= 3) elements across each strut's narrowest section (neck included),
set per point in 2D; ``mesh_size`` (mm) caps it everywhere. One meshing thread, so meshes are repeatable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mechclln.errors import fail

from . import tags
from .deps import gmsh as _gmsh
from .outline import side_stations, strut_frame
from .part import Part, hole_axes

MAX_ARC = 2 * np.pi / 3   # geo circle arcs must stay below pi


@dataclass
class TaggedModel:
    """Entity tags of the built model: surfaces (2D) or volumes (3D) of each strut and hub, hole boundaries."""

    dim: int
    strut_entities: dict[int, list[int]] = field(default_factory=dict)
    hub_entities: dict[int, list[int]] = field(default_factory=dict)
    hole_entities: dict[int, list[int]] = field(default_factory=dict)
    mesh_size_min: float = 0.0
    n_elements: int = 0
    n_mesh_nodes: int = 0


def _session():
    gmsh = _gmsh()
    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    for dim in (1, 2, 3):
        gmsh.option.setNumber(f"Mesh.MaxNumThreads{dim}D", 1)
    return gmsh


def _strut_sizes(part: Part, elements_across: int, mesh_size: float | None) -> np.ndarray:
    size = part.neck_half_widths() * 2 / elements_across
    return size if mesh_size is None else np.minimum(size, mesh_size)


def build(part: Part, mesh_size: float | None = None, elements_across: int = 3, order: int = 1,
          mesh: bool = True, name: str = "mechclln_part") -> TaggedModel:
    """Build (and by default mesh) the tagged model of ``part`` in the current gmsh session.

    Initialises gmsh if needed (the caller finalises it). Physical groups: ``strut_{e}`` (tag 1 + e) and
    ``hub_{n}`` (1_000_000 + n) on the cells, ``hole_{n}`` (2_000_000 + n) on pin-hole boundaries, and
    ``sources``/``targets``/``pinned`` on the hole boundaries of those hubs.
    """
    if elements_across < 3:
        raise fail("gmsh model", "elements_across", f"{elements_across} is too coarse", "use at least 3")
    gmsh = _session()
    gmsh.model.add(name)
    model = _build_2d(gmsh, part, _strut_sizes(part, elements_across, mesh_size)) if part.dim == 2 else \
        _build_3d(gmsh, part, _strut_sizes(part, elements_across, mesh_size))
    _physical_groups(gmsh, part, model)
    if mesh:
        gmsh.model.mesh.generate(model.dim)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
        types, elems, _ = gmsh.model.mesh.getElements(model.dim)
        model.n_elements = int(sum(len(e) for e in elems))
        model.n_mesh_nodes = len(gmsh.model.mesh.getNodes()[0])
    return model


def _build_2d(gmsh, part: Part, size: np.ndarray) -> TaggedModel:
    geo = gmsh.model.geo
    x, ed, R = part.nodes, part.edges, part.hub_radius
    hn = part.neck_half_widths()
    n_nodes = len(x)
    hub_size = np.full(n_nodes, np.inf)
    np.minimum.at(hub_size, ed[:, 0], size)
    np.minimum.at(hub_size, ed[:, 1], size)
    hub_size[~np.isfinite(hub_size)] = size.min()
    centre = [geo.addPoint(*p, 0.0, float(s)) for p, s in zip(x, hub_size)]
    # attachment angles on each hub circle: (angle, kind, edge, end) with kind -1 = P_minus, +1 = P_plus
    marks: list[list[tuple[float, int, int, int]]] = [[] for _ in range(n_nodes)]
    for e, (i, j) in enumerate(ed):
        d = x[j] - x[i]
        phi = np.arctan2(d[1], d[0])
        alpha = np.arcsin(hn[e] / R)
        for end, (node, ang) in enumerate(((i, phi), (j, phi + np.pi))):
            marks[node] += [(ang - alpha, -1, e, end), (ang + alpha, +1, e, end)]
    on_circle: dict[tuple[int, int, int], int] = {}    # (edge, end, kind) -> point tag
    interface: dict[tuple[int, int], int] = {}         # (edge, end) -> CCW arc tag
    model = TaggedModel(dim=2, mesh_size_min=float(size.min()))
    hub_loops = []
    for n in range(n_nodes):
        pts = sorted(marks[n], key=lambda m: m[0])
        if not pts:
            pts = [(0.0, 0, -1, -1)]
        angles = [m[0] for m in pts]
        tags_ = []
        for ang, kind, e, end in pts:
            t = geo.addPoint(x[n, 0] + R * np.cos(ang), x[n, 1] + R * np.sin(ang), 0.0, float(hub_size[n]))
            tags_.append(t)
            if e >= 0:
                on_circle[(e, end, kind)] = t
        arcs = []
        for k in range(len(pts)):
            a0, p0 = angles[k], tags_[k]
            a1 = angles[k + 1] if k + 1 < len(pts) else angles[0] + 2 * np.pi
            p1 = tags_[(k + 1) % len(pts)]
            pieces = max(1, int(np.ceil((a1 - a0) / MAX_ARC - 1e-9)))
            prev = p0
            for q in range(1, pieces + 1):
                if q < pieces:
                    a = a0 + (a1 - a0) * q / pieces
                    nxt = geo.addPoint(x[n, 0] + R * np.cos(a), x[n, 1] + R * np.sin(a), 0.0, float(hub_size[n]))
                else:
                    nxt = p1
                arc = geo.addCircleArc(prev, centre[n], nxt)
                arcs.append(arc)
                prev = nxt
            if pts[k][1] == -1 and pieces == 1:
                nk = pts[(k + 1) % len(pts)]
                if nk[1] == +1 and nk[2] == pts[k][2] and nk[3] == pts[k][3]:
                    interface[(pts[k][2], pts[k][3])] = arcs[-1]
        hub_loops.append(geo.addCurveLoop(arcs))
    for n in range(n_nodes):
        loops = [hub_loops[n]]
        if n in set(part.hole_nodes.tolist()):
            hole_arcs = _circle_arcs(geo, x[n], part.hole_radius, centre[n], float(hub_size[n]))
            model.hole_entities[n] = hole_arcs
            loops.append(geo.addCurveLoop(hole_arcs))
        model.hub_entities[n] = [geo.addPlaneSurface(loops)]
    for e in range(len(ed)):
        if (e, 0) not in interface or (e, 1) not in interface:
            raise fail("part", "hub_radius", f"strut {e} has no clean footprint on its hubs", "run check_part")
        o, t, nrm = strut_frame(part, e)
        st = side_stations(part, e)[1:-1]
        right_mid = [geo.addPoint(*(o + a * t - w * nrm), 0.0, float(size[e])) for a, w in st]
        left_mid = [geo.addPoint(*(o + a * t + w * nrm), 0.0, float(size[e])) for a, w in st[::-1]]
        right = [on_circle[(e, 0, -1)], *right_mid, on_circle[(e, 1, +1)]]
        left = [on_circle[(e, 1, -1)], *left_mid, on_circle[(e, 0, +1)]]
        lines = [geo.addLine(a, b) for a, b in zip(right[:-1], right[1:])]
        lines.append(-interface[(e, 1)])
        lines += [geo.addLine(a, b) for a, b in zip(left[:-1], left[1:])]
        lines.append(-interface[(e, 0)])
        model.strut_entities[e] = [geo.addPlaneSurface([geo.addCurveLoop(lines)])]
    geo.synchronize()
    return model


def _circle_arcs(geo, c, r, centre_tag, size) -> list[int]:
    pts = [geo.addPoint(c[0] + r * np.cos(a), c[1] + r * np.sin(a), 0.0, size) for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)]
    return [geo.addCircleArc(pts[k], centre_tag, pts[(k + 1) % 3]) for k in range(3)]


def _build_3d(gmsh, part: Part, size: np.ndarray) -> TaggedModel:
    occ = gmsh.model.occ
    x, ed, R = part.nodes, part.edges, part.hub_radius
    spheres = [(3, occ.addSphere(*p, R)) for p in x]
    r = part.width / 2
    start = np.sqrt(R * R - r * r) - 0.5 * r          # cylinder ends sit inside the spheres, off their centres
    t = (x[ed[:, 1]] - x[ed[:, 0]]) / part.axis_lengths()[:, None]
    p0 = x[ed[:, 0]] + start[:, None] * t
    axis = (part.axis_lengths() - 2 * start)[:, None] * t
    cyl = [(3, occ.addCylinder(*p0[e], *axis[e], r[e])) for e in range(len(ed))]
    vols, _ = occ.fragment(spheres, cyl)
    if len(part.hole_nodes):
        holes = [(3, occ.addCylinder(*(x[n] - 1.2 * R * a), *(2.4 * R * a), part.hole_radius))
                 for n, a in zip(part.hole_nodes, hole_axes(part))]
        vols, _ = occ.cut(vols, holes)
        vols, _ = occ.fragment(vols, [])
    occ.synchronize()
    model = TaggedModel(dim=3, mesh_size_min=float(size.min()))
    a, b = x[ed[:, 0]], x[ed[:, 1]]
    from .checks import point_segment_distances

    for _, v in vols:
        com = np.array(gmsh.model.occ.getCenterOfMass(3, v))
        dn = np.linalg.norm(x - com, axis=1)
        n = int(np.argmin(dn))
        if dn[n] < R:
            model.hub_entities.setdefault(n, []).append(v)
        else:
            e = int(np.argmin(point_segment_distances(np.broadcast_to(com, a.shape), a, b)))
            model.strut_entities.setdefault(e, []).append(v)
    for n in part.hole_nodes:
        bnd = gmsh.model.getBoundary([(3, v) for v in model.hub_entities.get(int(n), [])], oriented=False)
        model.hole_entities[int(n)] = [s for _, s in bnd if gmsh.model.getType(2, s) == "Cylinder"
                                       and np.linalg.norm(np.array(occ.getCenterOfMass(2, s)) - x[n]) < 0.5 * R]
    gmsh.option.setNumber("Mesh.MeshSizeMax", float(size.min()))
    return model


def _physical_groups(gmsh, part: Part, model: TaggedModel) -> None:
    d = model.dim
    for e in range(part.n_struts):
        gmsh.model.addPhysicalGroup(d, model.strut_entities.get(e, []), tags.strut_tag(e), tags.strut_name(e))
    for n in range(len(part.nodes)):
        gmsh.model.addPhysicalGroup(d, model.hub_entities.get(n, []), tags.hub_tag(n), tags.hub_name(n))
    for n, ents in model.hole_entities.items():
        gmsh.model.addPhysicalGroup(d - 1, ents, tags.hole_tag(n), tags.hole_name(n))
    for group, ids in (("sources", part.sources), ("targets", part.targets), ("pinned", part.pinned)):
        ents = [c for n in ids for c in model.hole_entities.get(int(n), [])]
        if ents:
            gmsh.model.addPhysicalGroup(d - 1, ents, tags.GROUP_TAGS[group], group)
