"""The part specification: how a network in lattice units becomes a solid part in mm.

All lengths in mm. ``scale`` maps one lattice unit (nearest-neighbour bond length 1) to mm; a network whose
``units["length"]`` is already ``"mm"`` is used as is. For a sheet (2D network) struts have rectangular
section ``width x thickness``; for a 3D lattice struts are round and ``width`` means their diameter, and
hubs are spheres. ``nominal_width`` is the width of a ``k = 1`` strut of the network's median free length:
it fixes the global stiffness scale (N/mm per unit k, see :mod:`mechclln.geometry.sections`) unless
``stiffness_scale`` is given. Optional hinge necks narrow both ends of every strut to ``neck_fraction`` of
its width over ``neck_length``, which lowers the struts' bending stiffness so the part acts more like
the spring model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from mechclln.errors import fail
from mechclln.schema import Fields

from .materials import Material, get_material


MIN_SEGMENTS, MAX_SEGMENTS = 12, 720


@dataclass(frozen=True)
class PartSpec:
    scale: float = 12.0                 # mm per lattice unit
    thickness: float = 3.0              # sheet thickness (2D parts), mm
    hub_radius: float = 2.4             # mm
    hole_diameter: float = 1.5          # pin-hole diameter in source, target and pinned hubs, mm
    nominal_width: float = 1.2          # width (2D) or diameter (3D) of a k = 1 strut, mm
    min_width: float | None = None      # mm; None: the material's printable minimum feature
    max_width: float = 3.2              # mm; must stay below the hub diameter
    neck_fraction: float = 1.0          # hinge-neck width / strut width (1: no necks)
    neck_length: float = 0.0            # length of each hinge neck, mm
    stiffness_scale: float | None = None  # N/mm per unit k; None: from nominal_width
    segments: int = 48                  # polygon segments per full circle in exported meshes

    def with_(self, **changes) -> "PartSpec":
        """A copy with some fields changed (``None`` values are ignored), validated."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None}).validate()

    def width_range(self, material: "str | Material") -> tuple[float, float]:
        """Printable (min, max) strut width in mm; the minimum is never below the material's."""
        mat = get_material(material)
        lo = mat.min_feature if self.min_width is None else max(self.min_width, mat.min_feature)
        return lo, self.max_width

    def validate(self, source: str | None = "part spec", prefix: str = "") -> "PartSpec":
        """Check ranges and consistency; ``prefix`` names the spec inside a file (e.g. ``"spec."``)."""
        def bad(name, problem, fix):
            return fail(source, prefix + name, problem, fix)

        for name, value in asdict(self).items():
            if value is not None and not math.isfinite(value):
                raise bad(name, f"must be finite, got {value}", "give a finite number")
        positive = ("scale", "thickness", "hub_radius", "hole_diameter", "nominal_width", "max_width")
        for name in positive:
            if not getattr(self, name) > 0:
                raise bad(name, f"must be > 0 mm, got {getattr(self, name)}", "give a positive length")
        if self.max_width >= 2 * self.hub_radius:
            raise bad("max_width", f"{self.max_width} mm is not below the hub diameter {2 * self.hub_radius} mm",
                      "raise hub_radius or lower max_width")
        if self.min_width is not None and not 0 < self.min_width < self.max_width:
            raise bad("min_width", f"must be in (0, max_width = {self.max_width}) mm, got {self.min_width}",
                      "give a smaller positive width or leave it unset")
        if self.hole_diameter >= 2 * self.hub_radius:
            raise bad("hole_diameter", f"{self.hole_diameter} mm does not fit in a hub of radius "
                      f"{self.hub_radius} mm", "lower hole_diameter or raise hub_radius")
        if not 0 < self.neck_fraction <= 1:
            raise bad("neck_fraction", f"must be in (0, 1], got {self.neck_fraction}", "use 1 for no necks")
        if self.neck_length < 0:
            raise bad("neck_length", f"must be >= 0, got {self.neck_length}", "give 0 for no necks")
        if self.stiffness_scale is not None and not self.stiffness_scale > 0:
            raise bad("stiffness_scale", f"must be > 0 N/mm, got {self.stiffness_scale}",
                      "give a positive value or leave it unset")
        if not MIN_SEGMENTS <= self.segments <= MAX_SEGMENTS:
            raise bad("segments", f"{self.segments} is outside {MIN_SEGMENTS}..{MAX_SEGMENTS}",
                      f"use {MIN_SEGMENTS} to {MAX_SEGMENTS} segments per circle")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_fields(cls, f: Fields) -> "PartSpec":
        """The spec a :meth:`to_dict` wrote, read from a file's object ``f`` (e.g. ``printable.json``'s
        ``spec``): every field present, typed and in range."""
        f.known(tuple(cls.__dataclass_fields__))
        optional = {"min_width", "stiffness_scale"}
        values = {name: f.number(name, nullable=name in optional) for name in asdict(cls()) if name != "segments"}
        values["segments"] = f.integer("segments")
        return cls(**values).validate(f.source, f"{f.prefix}." if f.prefix else "")
