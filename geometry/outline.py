"""The 2D outline of a sheet part: strut strips and hub discs unioned with manifold3d, pin holes cut.

One all-at-once polygon union (manifold3d's ``CrossSection``, Clipper underneath) instead of an OCC fuse
of every strut: the 2D union of a 1000-strut sheet takes well under a second and extrudes into one clean
body (docs/core.md). Circles are polygons of ``spec.segments`` sides with vertices on the circle.

The union puts a vertex wherever a strut side crosses a hub polygon or another strut's side, and such a
crossing can fall arbitrarily close to an existing vertex (a strut side meeting its hub circle next to a
polygon corner: 3.5e-7 mm in a 120-node jammed sheet). Written in single precision (STL, manifold3d's
float32 meshes) the two vertices become one point and the side wall between them two zero-area triangles,
so the file is no longer one watertight body. The outline is therefore simplified at :data:`RESOLUTION`:
no vertex lies closer than that to the line through its neighbours.

Strut geometry (shared with the gmsh model): strut e runs from hub centre A to hub centre B (axis t,
length d, left normal n). Its side is a polyline of (axial position, half-width) stations; without necks
the side meets the hub circle (radius R) at axial position ``s = sqrt(R^2 - h^2)`` and runs straight to
``d - s``; with hinge necks the half-width is ``f h`` out to ``R + L_n`` from each hub centre.
"""
from __future__ import annotations

import numpy as np

from .part import Part

RESOLUTION = 1e-3
"""mm: outline detail below this is removed; far below a nozzle (0.4 mm) or a laser kerf (0.1 mm) and far
above the float32 spacing of coordinates up to 1 m (6e-5 mm)."""


def side_stations(part: Part, e: int) -> np.ndarray:
    """(K, 2) array of (axial position from hub A's centre, half-width) along strut e's side, mm."""
    R, d = part.hub_radius, part.axis_lengths()[e]
    h, hn = part.width[e] / 2, part.neck_half_widths()[e]
    sn = np.sqrt(R * R - hn * hn)
    a, b = R + part.spec.neck_length, d - R - part.spec.neck_length
    if part.spec.neck_fraction == 1.0 or part.spec.neck_length == 0.0:
        return np.array([[np.sqrt(R * R - h * h), h], [d - np.sqrt(R * R - h * h), h]])
    if a >= b:  # the necks meet: the whole strut is one neck
        return np.array([[sn, hn], [d - sn, hn]])
    return np.array([[sn, hn], [a, hn], [a, h], [b, h], [b, hn], [d - sn, hn]])


def strut_frame(part: Part, e: int):
    """(origin A, unit axis t, left normal n) of strut e in 2D."""
    i, j = part.edges[e]
    t = part.nodes[j] - part.nodes[i]
    t = t / np.linalg.norm(t)
    return part.nodes[i], t, np.array([-t[1], t[0]])


def strut_polygon(part: Part, e: int) -> np.ndarray:
    """Counter-clockwise polygon (K, 2) of strut e, extended to both hub centres (so it overlaps the hubs)."""
    st = side_stations(part, e)
    d = part.axis_lengths()[e]
    st = np.vstack([[0.0, st[0, 1]], st, [d, st[-1, 1]]])
    o, t, n = strut_frame(part, e)
    right = o + st[:, :1] * t - st[:, 1:] * n
    left = o + st[::-1, :1] * t + st[::-1, 1:] * n
    return np.vstack([right, left])


def circle(center, radius: float, segments: int) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    return center + radius * np.column_stack([np.cos(ang), np.sin(ang)])


def outline(part: Part):
    """The part's 2D outline as a manifold3d ``CrossSection`` (struts and hubs unioned, pin holes cut,
    simplified at :data:`RESOLUTION`)."""
    from .deps import manifold3d

    m3 = manifold3d()
    seg = part.spec.segments
    contours = [strut_polygon(part, e) for e in range(part.n_struts)]
    contours += [circle(c, part.hub_radius, seg) for c in part.nodes]
    solid = m3.CrossSection(contours, m3.FillRule.Positive)
    if len(part.hole_nodes):
        holes = m3.CrossSection([circle(part.nodes[n], part.hole_radius, seg) for n in part.hole_nodes],
                                m3.FillRule.Positive)
        solid = solid - holes
    return solid.simplify(RESOLUTION)


def outline_polygons(part: Part) -> list[np.ndarray]:
    """Closed contours (outer boundaries counter-clockwise, holes clockwise) of the outline, mm."""
    return [np.asarray(c, float) for c in outline(part).to_polygons()]


def exact_area(part: Part) -> float:
    """Area (mm^2) of the ideal outline (true circles), computed from the geometry, not from a mesh.

    Valid for parts that pass the checks and have no hinge necks: hub discs minus pin holes plus, for each
    strut, its strip between the hub circles, ``w (d - 2 s) - 2 (R^2 asin(h/R) - h s)`` (strip of width
    w from s to d - s, less the two circular segments of the hubs that reach into it).
    """
    R, h = part.hub_radius, part.width / 2
    s = np.sqrt(R * R - h * h)
    struts = part.width * (part.axis_lengths() - 2 * s) - 2 * (R * R * np.arcsin(h / R) - h * s)
    return float(np.pi * R * R * len(part.nodes) - np.pi * part.hole_radius ** 2 * len(part.hole_nodes)
                 + struts.sum())
