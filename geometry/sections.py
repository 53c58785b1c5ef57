"""Strut sections from spring stiffness (DESIGN.md section 4), and the k bounds they imply.

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


@dataclass(frozen=True, eq=False)
class Sections:
    """Per-edge strut sections (mm): ``width`` clipped to the printable range, ``width_raw`` before."""

    width: np.ndarray
    width_raw: np.ndarray
    free_length: np.ndarray
    effective_length: np.ndarray
    kappa: float                 # N/mm per unit k
    width_range: tuple[float, float]

    @property
    def too_thin(self) -> np.ndarray:
        return np.flatnonzero(self.width_raw < self.width_range[0] * (1 - 1e-9))

    @property
    def too_wide(self) -> np.ndarray:
        return np.flatnonzero(self.width_raw > self.width_range[1] * (1 + 1e-9))


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
    return Sections(np.clip(raw, lo, hi), raw, lf, leff, kappa, (lo, hi))


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
    return to_k(lo), to_k(hi)
