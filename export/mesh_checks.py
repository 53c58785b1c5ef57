"""Printability report of an exported mesh against a printer profile (all lengths mm, volumes mm^3).

The export checks its files as written: :func:`file_report` reads the STL or 3MF bytes back the way a
slicer or mesh tool does (vertices matched by their written coordinates), so a mesh whose topology holds
only through vertex indices of the in-memory mesh (vertices that coincide once written in float32) is
caught, not the in-memory mesh vouched for.
"""
from __future__ import annotations

import numpy as np

from mechclln.errors import fail
from mechclln.geometry.checks import CheckReport

from .printer import Printer

FILE_KINDS = {"stl": "binary STL, float32 coordinates in mm", "3mf": "3MF, decimal coordinates in mm"}


def mesh_report(mesh, printer: Printer, geometry: CheckReport | None = None, min_feature: float | None = None) -> dict:
    """Body count, watertightness, winding, volume, bounding box, fit on the bed, minimum feature.

    ``geometry`` is the part's :class:`~mechclln.geometry.checks.CheckReport` (narrowest strut and gap);
    the printable minimum feature is ``max(min_feature, nozzle)``.
    """
    lo, hi = mesh.bounds
    size = hi - lo
    bodies = len(mesh.split(only_watertight=False))
    rep = {
        "bodies": int(bodies),
        "watertight": bool(mesh.is_watertight),
        "winding_consistent": bool(mesh.is_winding_consistent),
        "volume_mm3": float(mesh.volume),
        "bbox_mm": size.tolist(),
        "bed_mm": list(printer.bed),
        "fits_bed": bool(np.all(np.sort(size[:2]) <= np.sort(printer.bed[:2])) and size[2] <= printer.bed[2]),
        "nozzle_mm": printer.nozzle,
        "triangles": int(len(mesh.faces)),
    }
    if geometry is not None:
        need = max(min_feature or 0.0, printer.nozzle)
        rep.update(min_feature_mm=geometry.min_width, min_gap_mm=geometry.min_gap, required_feature_mm=need,
                   features_printable=bool(geometry.min_width >= need * (1 - 1e-9)))
    rep["ok"] = bool(rep["bodies"] == 1 and rep["watertight"] and rep["winding_consistent"] and rep["fits_bed"]
                     and rep.get("features_printable", True))
    return rep


def one_clean_body(rep: dict) -> bool:
    """One watertight, consistently wound body of positive volume (a :func:`mesh_report`)."""
    return rep["bodies"] == 1 and rep["watertight"] and rep["winding_consistent"] and rep["volume_mm3"] > 0


def read_back(name: str, data: bytes):
    """The mesh of the file ``name`` (``.stl`` or ``.3mf``) with contents ``data``, as trimesh reads it."""
    from mechclln.geometry.deps import trimesh

    tm = trimesh()
    return tm.load(tm.util.wrap_as_stream(data), file_type=name.rsplit(".", 1)[-1], force="mesh")


def file_report(name: str, data: bytes, printer: Printer, geometry: CheckReport | None = None,
                min_feature: float | None = None) -> dict:
    """:func:`mesh_report` of the file ``name`` read back from its bytes, with ``file`` saying what it is."""
    rep = mesh_report(read_back(name, data), printer, geometry, min_feature)
    kind = FILE_KINDS[name.rsplit(".", 1)[-1]]
    return {"file": f"{name}: {kind}, {len(data):,} bytes, read back", **rep}


def require_fits(size, printer: Printer, source: str = "part") -> None:
    """Raise before anything is written when a part of ``size`` (mm, x y z) does not fit the bed."""
    size = np.asarray(size, float)
    if np.any(np.sort(size[:2]) > np.sort(printer.bed[:2])) or size[2] > printer.bed[2]:
        raise fail(source, "scale", f"the part is {size[0]:.0f} x {size[1]:.0f} x {size[2]:.0f} mm, larger than the "
                   f"{printer.name} bed {printer.bed[0]:.0f} x {printer.bed[1]:.0f} x {printer.bed[2]:.0f} mm",
                   "lower --scale or choose a larger --printer")
