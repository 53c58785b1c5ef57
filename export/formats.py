"""File formats for the lab, rendered to bytes (written atomically by the caller): STL (binary, mm),
3MF (mm), and DXF (R12) and SVG outlines of sheets for laser cutting.

Outline contours come from :func:`mechclln.geometry.outline.outline_polygons`: outer boundaries run
counter-clockwise, holes (lattice voids and pin holes) clockwise; every contour is a cut line.
"""
from __future__ import annotations

import numpy as np


def stl_bytes(mesh) -> bytes:
    """Binary STL of a trimesh (coordinates in mm)."""
    return mesh.export(file_type="stl")


def threemf_bytes(mesh) -> bytes:
    """3MF of a trimesh (3MF's unit is mm)."""
    return mesh.export(file_type="3mf")


def dxf_text(contours: list[np.ndarray]) -> str:
    """DXF R12 (AC1009) with one closed POLYLINE per contour on layer CUT, units mm ($INSUNITS 4)."""
    out = ["0", "SECTION", "2", "HEADER", "9", "$ACADVER", "1", "AC1009", "9", "$INSUNITS", "70", "4",
           "0", "ENDSEC", "0", "SECTION", "2", "ENTITIES"]
    for c in contours:
        out += ["0", "POLYLINE", "8", "CUT", "66", "1", "70", "1"]
        for px, py in c:
            out += ["0", "VERTEX", "8", "CUT", "10", f"{px:.6f}", "20", f"{py:.6f}"]
        out += ["0", "SEQEND", "8", "CUT"]
    out += ["0", "ENDSEC", "0", "EOF"]
    return "\n".join(out) + "\n"


def svg_text(contours: list[np.ndarray], margin: float = 2.0) -> str:
    """SVG in mm (1 user unit = 1 mm, y up in the part becomes y down in SVG), hairline red cut paths."""
    pts = np.vstack(contours)
    lo, hi = pts.min(0) - margin, pts.max(0) + margin
    w, h = hi - lo
    paths = []
    for c in contours:
        xy = np.column_stack([c[:, 0] - lo[0], hi[1] - c[:, 1]])
        paths.append("M " + " L ".join(f"{a:.4f},{b:.4f}" for a, b in xy) + " Z")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.3f}mm" height="{h:.3f}mm" '
            f'viewBox="0 0 {w:.4f} {h:.4f}">\n'
            f'<path fill="none" stroke="#ff0000" stroke-width="0.01" fill-rule="evenodd" d="{" ".join(paths)}"/>\n'
            f'</svg>\n')
