"""The printable solid of a part as one manifold body (mm).

Sheets: the 2D outline (:func:`mechclln.geometry.outline.outline`) extruded once by the thickness, which
gives one watertight body with volume = outline area x thickness (a 3D union of extruded struts and hub
cylinders that share top and bottom faces leaves slivers instead, docs/core.md). 3D lattices: one
all-at-once manifold3d union of round struts and spherical hubs, minus the pin holes.
"""
from __future__ import annotations

import numpy as np

from mechclln.geometry.deps import manifold3d, trimesh
from mechclln.geometry.outline import outline
from mechclln.geometry.part import Part, hole_axes


def _rotation_to(axis: np.ndarray) -> np.ndarray:
    """3x3 rotation taking +z onto the unit vector ``axis`` (Rodrigues)."""
    z = np.array([0.0, 0.0, 1.0])
    v, c = np.cross(z, axis), float(z @ axis)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _cylinder(m3, p0, p1, radius: float, segments: int):
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    rot = _rotation_to(axis / length)
    cyl = m3.Manifold.cylinder(length, radius, radius, segments)
    return cyl.transform(np.hstack([rot, p0[:, None]]))


def solid(part: Part):
    """manifold3d ``Manifold`` of the part."""
    m3 = manifold3d()
    if part.dim == 2:
        return m3.Manifold.extrude(outline(part), part.thickness)
    seg = part.spec.segments
    x, ed = part.nodes, part.edges
    bodies = [m3.Manifold.sphere(part.hub_radius, seg).translate(p) for p in x]
    bodies += [_cylinder(m3, x[i], x[j], part.width[e] / 2, seg) for e, (i, j) in enumerate(ed)]
    body = m3.Manifold.batch_boolean(bodies, m3.OpType.Add)
    if len(part.hole_nodes):
        R = part.hub_radius
        holes = [_cylinder(m3, x[n] - 1.2 * R * a, x[n] + 1.2 * R * a, part.hole_radius, seg)
                 for n, a in zip(part.hole_nodes, hole_axes(part))]
        body = body - m3.Manifold.batch_boolean(holes, m3.OpType.Add)
    return body


def to_trimesh(body):
    """trimesh ``Trimesh`` of a manifold (float64 vertices in mm, as manifold3d computed them)."""
    tm = trimesh()
    mesh = body.to_mesh64()
    return tm.Trimesh(vertices=np.asarray(mesh.vert_properties)[:, :3], faces=np.asarray(mesh.tri_verts),
                      process=False)


def solid_mesh(part: Part):
    """The part as one trimesh body."""
    return to_trimesh(solid(part))
