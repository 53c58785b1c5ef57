"""The tagged gmsh model of a 3D lattice part, meshed: the FEM stage's contract (tags in :mod:`.tags`).

Round struts and spherical hubs use the OpenCASCADE kernel: cylinders and spheres are fragmented (struts
end inside the spheres, off their centres), pin holes (along :func:`.part.hole_axes`) are cut, and each
volume is assigned to the hub whose sphere holds its centre of mass, otherwise to the strut whose axis is
nearest (fine for small lattices; OCC booleans grow expensive beyond a few hundred struts, docs/core.md).
2D sheets are meshed from their unioned outline instead (:mod:`mechclln.fem.outline_mesh`).

Mesh size: ``elements_across`` (>= 3) elements across each strut's narrowest section; ``mesh_size`` (mm)
caps it everywhere. One meshing thread, so meshes are repeatable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mechclln.errors import fail

from . import tags
from .deps import gmsh as _gmsh
from .part import Part, hole_axes

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


def session():
    """The gmsh module, initialised if needed (the caller finalises it), quiet, one meshing thread."""
    gmsh = _gmsh()
    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    for dim in (1, 2, 3):
        gmsh.option.setNumber(f"Mesh.MaxNumThreads{dim}D", 1)
    return gmsh


def strut_sizes(part: Part, elements_across: int, mesh_size: float | None) -> np.ndarray:
    """Element size per strut [mm]: ``elements_across`` (>= 3) across its narrowest section, capped by
    ``mesh_size``."""
    if elements_across < 3:
        raise fail("gmsh model", "elements_across", f"{elements_across} is too coarse", "use at least 3")
    size = part.neck_half_widths() * 2 / elements_across
    return size if mesh_size is None else np.minimum(size, mesh_size)


def build(part: Part, mesh_size: float | None = None, elements_across: int = 3, order: int = 1,
          mesh: bool = True, name: str = "mechclln_part") -> TaggedModel:
    """Build (and by default mesh) the tagged model of the 3D lattice ``part`` in the current gmsh session.

    Initialises gmsh if needed (the caller finalises it). Physical groups: ``strut_{e}`` (tag 1 + e) and
    ``hub_{n}`` (1_000_000 + n) on the cells, ``hole_{n}`` (2_000_000 + n) on pin-hole boundaries, and
    ``sources``/``targets``/``pinned`` on the hole boundaries of those hubs.
    """
    if part.dim != 3:
        raise fail("gmsh model", "dim", f"{part.dim}: the tagged gmsh model is built for 3D lattices",
                   "mesh a sheet from its outline (mechclln.fem.outline_mesh)")
    gmsh = session()
    gmsh.model.add(name)
    return finish(gmsh, part, _build_3d(gmsh, part, strut_sizes(part, elements_across, mesh_size)), mesh, order)


def finish(gmsh, part: Part, model: TaggedModel, mesh: bool = True, order: int = 1) -> TaggedModel:
    """Add the physical groups of ``model`` (the built geometry of ``part``) and, if ``mesh``, mesh it at
    element ``order``; returns ``model`` with its element and mesh-node counts."""
    _physical_groups(gmsh, part, model)
    if mesh:
        gmsh.model.mesh.generate(model.dim)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
        types, elems, _ = gmsh.model.mesh.getElements(model.dim)
        model.n_elements = int(sum(len(e) for e in elems))
        model.n_mesh_nodes = len(gmsh.model.mesh.getNodes()[0])
    return model


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
