"""Calibration coupon: one strut of the part's thickness and median width between two holed hubs.

Print it beside the part, pin one hub, pull the other, and read the force-extension slope ``k_meas``
(N/mm). The printed material's effective modulus is ``E_eff = k_meas L_eff / A`` (A = w t for a sheet,
pi w^2 / 4 for a round strut, L_eff the strut's effective free length); compare with the material table's
E used for the design (the predicted slope is ``E A / L_eff``), and rescale forces on the lab sheet by
``E_eff / E`` (strains are unaffected when the whole part has the same modulus).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mechclln.geometry.part import Part
from mechclln.geometry.sections import effective_lengths, section_area


def coupon_part(part: Part) -> Part:
    """A two-hub, one-strut part with the median strut width and median hub-centre distance of ``part``."""
    w = float(np.median(part.width))
    d = float(np.median(part.axis_lengths()))
    nodes = np.zeros((2, part.dim))
    nodes[1, 0] = d
    lf = np.array([d - 2 * part.hub_radius])
    both = np.array([0, 1])
    return replace(part, nodes=nodes, edges=np.array([[0, 1]]), width=np.array([w]), hole_nodes=both,
                   sources=both, targets=np.zeros(0, np.int64), pinned=np.zeros(0, np.int64), free_length=lf,
                   width_raw=np.array([w]))


def coupon_stiffness(coupon: Part) -> float:
    """Predicted axial stiffness (N/mm) of the coupon's strut, ``E A / L_eff``."""
    leff = effective_lengths(coupon.free_length, coupon.spec, coupon.dim)[0]
    area = float(section_area(coupon.width[0], coupon.spec, coupon.dim))
    return coupon.material.youngs_modulus * area / leff
