"""Strut sections from spring stiffness (docs/export.md: conventions), and the k bounds they imply.

A spring of relative stiffness ``k`` (lattice units) has the physical stiffness ``kappa * k`` in N/mm, with
one global stiffness scale ``kappa`` (N/mm per unit k). A strut of Young's modulus E, section area A and
free length ``L_free`` (hub edge to hub edge, ``L_free = |x_i - x_j| * scale - 2 * hub_radius``) has axial
stiffness ``E A / L_free``; matching the two gives

    sheet (thickness t, width w):   w = kappa k L_eff / (E t)
    round strut (diameter d):       d = 2 sqrt(kappa k L_eff / (pi E))

with ``L_eff = L_free + 2 L_n (1/a - 1)`` when hinge necks of length ``L_n`` and area fraction ``a``
(``neck_fraction`` in 2D, its square in 3D) sit in series at both ends (``L_eff = L_free`` without necks).
``kappa`` is chosen so that a ``k = 1`` strut of the median effective length gets ``nominal_width``:
``kappa = E A(nominal_width) / median(L_eff)``, measured on the network's reference positions, so the
same kappa serves training (k bounds) and export. The printable width range mapped back through the
same formula gives per-edge bounds ``k_min <= k <= k_max`` for training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechclln.errors import fail
from mechclln.network import Network

from .materials import Material, get_material
from .spec import PartSpec


def length_scale(net: Network, spec: PartSpec) -> float:
    """mm per network length unit: ``spec.scale`` for lattice units ("1"), 1 for networks already in mm."""
    unit = str(net.units.get("length", "1"))
    if unit == "1":
        return spec.scale
    if unit == "mm":
        return 1.0
    raise fail("network", "units.length", f"unsupported length unit {unit!r}", "use \"1\" (lattice) or \"mm\"")


def free_lengths(net: Network, spec: PartSpec, x: np.ndarray | None = None) -> np.ndarray:
    """Hub-edge-to-hub-edge strut lengths in mm at positions ``x`` (network units; default reference)."""
    lf = net.lengths(x) * length_scale(net, spec) - 2 * spec.hub_radius
    bad = np.flatnonzero(lf <= 0)
    if bad.size:
        raise fail("part spec", "hub_radius", f"hubs of radius {spec.hub_radius} mm overlap along edge "
                   f"{bad[0]} ({bad.size} edges in all)", "lower hub_radius or raise scale")
    return lf


def effective_lengths(lf: np.ndarray, spec: PartSpec, dim: int) -> np.ndarray:
    """Axial-stiffness length ``L_eff`` (mm) of struts with free length ``lf`` and the spec's necks."""
    area_fraction = spec.neck_fraction if dim == 2 else spec.neck_fraction ** 2
    neck = np.minimum(spec.neck_length, lf / 2)
    return lf + 2 * neck * (1 / area_fraction - 1)


def section_area(width, spec: PartSpec, dim: int):
    """Section area (mm^2) of a strut of ``width`` (2D: width x thickness; 3D: round, width = diameter)."""
    width = np.asarray(width, float)
    return width * spec.thickness if dim == 2 else np.pi * width ** 2 / 4


def width_from_area(area, spec: PartSpec, dim: int):
    area = np.asarray(area, float)
    return area / spec.thickness if dim == 2 else 2 * np.sqrt(area / np.pi)


def stiffness_scale(net: Network, spec: PartSpec, material: "str | Material") -> float:
    """kappa in N/mm per unit k (see module docstring); 1 for networks whose stiffness is already N/mm."""
    if spec.stiffness_scale is not None:
        return float(spec.stiffness_scale)
    if str(net.units.get("stiffness", "1")) == "N/mm":
        return 1.0
    mat = get_material(material)
    leff = effective_lengths(free_lengths(net, spec), spec, net.dim)
    return float(mat.youngs_modulus * section_area(spec.nominal_width, spec, net.dim) / np.median(leff))


def hub_width_limit(net: Network, spec: PartSpec, x: np.ndarray | None = None) -> np.ndarray:
    """Widest each strut may be (mm) so that its footprint fits on both of its hubs (2D sheets).

    On a hub circle of radius R a strut of half-width h spans ``asin(h/R)`` on each side of its axis. Giving
    every strut at most (95 % of) half the angle to its angular neighbours on each hub keeps footprints
    apart: ``w <= 2 R sin(theta/2) * 0.95`` with theta the smaller neighbour angle (at most pi). Jammed
    networks have bonds meeting at small angles, where this bound is well below ``spec.max_width``.
    3D lattices: no such bound (inf).
    """
    ed = net.edges
    if net.dim != 2:
        return np.full(len(ed), np.inf)
    x = net.x if x is None else x
    ends = np.concatenate([ed[:, 0], ed[:, 1]])
    d = x[np.concatenate([ed[:, 1], ed[:, 0]])] - x[ends]
    phi = np.arctan2(d[:, 1], d[:, 0])
    order = np.lexsort((phi, ends))
    e_sorted, phi_s = ends[order], phi[order]
    first = np.r_[True, e_sorted[1:] != e_sorted[:-1]]
    last = np.r_[e_sorted[1:] != e_sorted[:-1], True]
    idx = np.arange(len(order))
    start = np.maximum.accumulate(np.where(first, idx, 0))
    stop = np.minimum.accumulate(np.where(last, idx, len(idx))[::-1])[::-1]
    nxt = np.where(last, start, idx + 1)
    prv = np.where(first, stop, idx - 1)
    gap_next = np.mod(phi_s[nxt] - phi_s, 2 * np.pi)
    gap_prev = np.mod(phi_s - phi_s[prv], 2 * np.pi)
    theta = np.minimum(np.minimum(gap_next, gap_prev), np.pi)
    theta[first & last] = np.pi                      # a hub with a single strut
    cap = np.empty(len(order))
    cap[order] = 0.95 * 2 * spec.hub_radius * np.sin(theta / 2)
    return np.minimum(cap[: len(ed)], cap[len(ed):])


@dataclass(frozen=True, eq=False)
class Sections:
    """Per-edge strut sections (mm): ``width`` clipped to the printable range, ``width_raw`` before.

    ``width_range`` is the material/spec range; ``width_max`` the per-edge maximum (``max_width`` or less where
    the strut's hubs limit it, see :func:`hub_width_limit`)."""

    width: np.ndarray
    width_raw: np.ndarray
    free_length: np.ndarray
    effective_length: np.ndarray
    kappa: float                 # N/mm per unit k
    width_range: tuple[float, float]
    width_max: np.ndarray

    @property
    def too_thin(self) -> np.ndarray:
        return np.flatnonzero(self.width_raw < self.width_range[0] * (1 - 1e-9))

    @property
    def too_wide(self) -> np.ndarray:
        return np.flatnonzero(self.width_raw > self.width_max * (1 + 1e-9))


def _max_widths(net, spec, lo, hi, x) -> np.ndarray:
    """Per-edge maximum width; a hub too crowded for even the thinnest printable strut is an error."""
    cap = np.minimum(hi, hub_width_limit(net, spec, x))
    bad = np.flatnonzero(cap < lo)
    if bad.size:
        raise fail("part spec", "hub_radius", f"struts meet at so small an angle at the hubs of edge {bad[0]} "
                   f"({bad.size} edges in all) that even a {lo} mm strut does not fit on a hub of radius "
                   f"{spec.hub_radius} mm", "raise hub_radius (and scale)")
    return cap


def sections(net: Network, spec: PartSpec, material: "str | Material", x: np.ndarray | None = None,
             kappa: float | None = None) -> Sections:
    """Strut widths for ``net.k`` at positions ``x`` (network units; default the reference positions).

    Raises when every strut falls below the printable minimum (the part would be all clamped struts).
    """
    mat = get_material(material)
    kappa = stiffness_scale(net, spec, mat) if kappa is None else kappa
    lf = free_lengths(net, spec, x)
    leff = effective_lengths(lf, spec, net.dim)
    raw = width_from_area(kappa * net.k * leff / mat.youngs_modulus, spec, net.dim)
    lo, hi = spec.width_range(mat)
    if np.all(raw < lo):
        raise fail("part spec", "nominal_width", f"every strut is thinner than the printable minimum {lo} mm "
                   f"(widest {raw.max():.3g} mm)", "raise nominal_width or stiffness_scale, or lower thickness")
    wmax = _max_widths(net, spec, lo, hi, x)
    return Sections(np.clip(raw, lo, wmax), raw, lf, leff, kappa, (lo, hi), wmax)


def k_bounds(net: Network, spec: PartSpec | None = None, material: "str | Material" = "tpu95a"):
    """Per-edge ``(k_min, k_max)`` arrays: the printable width range mapped back to relative stiffness.

    Give these to training as the stiffness bounds so the trained network stays printable.
    """
    spec = (spec or PartSpec()).validate()
    mat = get_material(material)
    kappa = stiffness_scale(net, spec, mat)
    leff = effective_lengths(free_lengths(net, spec), spec, net.dim)
    lo, hi = spec.width_range(mat)
    to_k = lambda w: mat.youngs_modulus * section_area(w, spec, net.dim) / (kappa * leff)  # noqa: E731
    return to_k(lo), to_k(_max_widths(net, spec, lo, hi, None))


def stiffness_for_widths(net: Network, spec: PartSpec, material: "str | Material", width,
                         x: np.ndarray | None = None) -> np.ndarray:
    """Relative stiffness k (E,) that :func:`sections` maps back to ``width`` [mm] (the inverse map, with
    the same kappa): how a width design is stored in a network file. Width 0 gives k = 0."""
    mat = get_material(material)
    leff = effective_lengths(free_lengths(net, spec, x), spec, net.dim)
    return mat.youngs_modulus * section_area(width, spec, net.dim) / (stiffness_scale(net, spec, mat) * leff)
