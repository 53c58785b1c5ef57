"""Printable materials, in the project's units: mm, N, MPa (= N/mm^2).

Values are typical data-sheet figures for fused-filament prints (measure your own with the calibration
coupon, :mod:`mechclln.export.coupon`): ``youngs_modulus`` in MPa, ``density`` in g/cm^3,
``allowable_strain`` the strain the part may see in service without yielding or fatiguing (PLA yields at a
few percent, so bench strains of 10-20 % need TPU), ``min_feature`` the narrowest strut (mm) that prints
reliably with a 0.4 mm nozzle.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from mechclln.errors import fail


@dataclass(frozen=True)
class Material:
    name: str
    youngs_modulus: float     # MPa
    poisson_ratio: float
    density: float            # g/cm^3
    allowable_strain: float   # dimensionless
    min_feature: float        # mm
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


MATERIALS = {
    m.name: m
    for m in (
        Material("tpu95a", 26.0, 0.48, 1.22, 0.30, 0.8, "thermoplastic polyurethane, shore 95A (flexible)"),
        Material("pla", 3000.0, 0.36, 1.24, 0.02, 0.6, "polylactic acid (stiff, yields at a few percent)"),
        Material("petg", 2100.0, 0.38, 1.27, 0.03, 0.6, "PET-G (stiff, tougher than PLA)"),
    )
}


def get_material(material: "str | Material") -> Material:
    """Look a material up by name (case-insensitive); a :class:`Material` is returned unchanged."""
    if isinstance(material, Material):
        return material
    key = str(material).lower().replace(" ", "").replace("-", "")
    if key not in MATERIALS:
        raise fail(None, "material", f"unknown material {material!r}",
                   f"choose one of {', '.join(sorted(MATERIALS))}")
    return MATERIALS[key]
