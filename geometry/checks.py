"""Printability checks of a :class:`~mechclln.geometry.part.Part` (all distances in mm). The checks read
only the part's arrays, so this module imports no part module (:mod:`.part` imports it).

Errors (the part cannot be built as designed): struts that cross or touch, a strut running through a hub
that is not its own, hubs that overlap, struts that overlap inside their common hub's footprint (hub too
small for the angle between them), a pin-hole ring thinner than the printable minimum. Warnings (the part
prints, but not exactly as designed): gaps between struts narrower than the nozzle (they fuse), and struts
whose stiffness asked for a width outside the printable range (clipped; their spring is then off).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from mechclln.errors import MechcllnError


@dataclass
class CheckReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    min_gap: float = float("inf")          # narrowest gap between non-adjacent struts, mm
    min_width: float = float("inf")        # narrowest printed feature (strut, neck or hub ring), mm
    clipped_thin: list[int] = field(default_factory=list)
    clipped_wide: list[int] = field(default_factory=list)

    def raise_first(self) -> "CheckReport":
        if self.errors:
            more = f" (and {len(self.errors) - 1} more problems)" if len(self.errors) > 1 else ""
            raise MechcllnError(self.errors[0] + more)
        return self

    def to_dict(self) -> dict:
        return {"errors": self.errors, "warnings": self.warnings, "min_gap_mm": self.min_gap,
                "min_feature_mm": self.min_width, "clipped_thin_struts": self.clipped_thin,
                "clipped_wide_struts": self.clipped_wide}


def segment_distances(p1, q1, p2, q2) -> np.ndarray:
    """Shortest distances between segments [p1, q1] and [p2, q2] (arrays (M, d), any d; non-degenerate).

    Closest points s, t in [0, 1] of p1 + s d1 and p2 + t d2 minimise |r + s d1 - t d2|^2 (r = p1 - p2);
    the unconstrained optimum is clamped to the square and the other parameter re-optimised.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e = (d1 * d1).sum(1), (d2 * d2).sum(1)
    b, c, f = (d1 * d2).sum(1), (d1 * r).sum(1), (d2 * r).sum(1)
    denom = a * e - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12 * a * e, np.clip((b * f - c * e) / denom, 0, 1), 0.0)
        t = (b * s + f) / e
        s = np.where(t < 0, np.clip(-c / a, 0, 1), np.where(t > 1, np.clip((b - c) / a, 0, 1), s))
        t = np.clip(t, 0, 1)
    return np.linalg.norm(r + s[:, None] * d1 - t[:, None] * d2, axis=1)


def point_segment_distances(pts, p, q) -> np.ndarray:
    d = q - p
    s = np.clip(((pts - p) * d).sum(1) / (d * d).sum(1), 0, 1)
    return np.linalg.norm(pts - p - s[:, None] * d, axis=1)


def _strut_pairs(part, reach: float) -> np.ndarray:
    """Candidate pairs of struts sharing no node whose axes may come within ``reach``."""
    x, ed = part.nodes, part.edges
    mid = (x[ed[:, 0]] + x[ed[:, 1]]) / 2
    half = part.axis_lengths().max() / 2
    pairs = cKDTree(mid).query_pairs(2 * half + reach, output_type="ndarray")
    if not len(pairs):
        return pairs.reshape(0, 2)
    a, b = ed[pairs[:, 0]], ed[pairs[:, 1]]
    share = (a[:, :1] == b).any(1) | (a[:, 1:] == b).any(1)
    return pairs[~share]


def _hub_footprints(part, report: CheckReport) -> None:
    """2D: at each hub the struts' footprints (angular intervals) on the hub circle must not overlap."""
    x, ed, R = part.nodes, part.edges, part.hub_radius
    h = part.half_widths()
    ends = np.concatenate([ed[:, 0], ed[:, 1]])
    other = np.concatenate([ed[:, 1], ed[:, 0]])
    eid = np.tile(np.arange(len(ed)), 2)
    d = x[other] - x[ends]
    phi = np.arctan2(d[:, 1], d[:, 0])
    alpha = np.arcsin(h[eid] / R)
    order = np.lexsort((phi, ends))
    ends, phi, alpha, eid = ends[order], phi[order], alpha[order], eid[order]
    nxt = np.arange(len(ends)) + 1
    start = np.r_[True, ends[1:] != ends[:-1]]
    last = np.r_[ends[1:] != ends[:-1], True]
    first_idx = np.maximum.accumulate(np.where(start, np.arange(len(ends)), 0))
    nxt[last] = first_idx[last]
    gap = np.mod(phi[nxt] - phi, 2 * np.pi) - alpha - alpha[nxt]
    single = start & last
    bad = np.flatnonzero((gap <= 1e-3) & ~single)
    for i in bad[:20]:
        n, a, b = ends[i], eid[i], eid[nxt[i]]
        report.errors.append(
            f"part: field 'hub_radius': struts {a} and {b} overlap at hub {n} (too close in angle for a hub of "
            f"radius {R} mm); raise hub_radius or lower max_width")


def check_part(part, nozzle: float = 0.4) -> CheckReport:
    """Run all checks; ``nozzle`` (mm) is the printer's nozzle width, the narrowest gap it can leave open."""
    rep = CheckReport()
    x, ed, R = part.nodes, part.edges, part.hub_radius
    h = part.half_widths()
    lo, hi = part.spec.width_range(part.material)
    # features: struts, necks, pin-hole rings
    necks = part.neck_half_widths() * 2
    rep.min_width = float(min(part.width.min(), necks.min()))
    if len(part.hole_nodes):
        ring = R - part.hole_radius
        rep.min_width = min(rep.min_width, ring)
        if ring < lo:
            rep.errors.append(f"part spec: field 'hole_diameter': the ring around each pin hole is {ring:.3g} mm, "
                              f"thinner than the printable minimum {lo} mm; lower hole_diameter or raise hub_radius")
    if necks.min() < lo * (1 - 1e-9):
        rep.warnings.append(f"hinge necks down to {necks.min():.3g} mm are thinner than the printable minimum "
                            f"{lo} mm; raise neck_fraction or the strut widths")
    if part.width_raw is not None:
        rep.clipped_thin = np.flatnonzero(part.width_raw < part.width * (1 - 1e-9)).tolist()
        rep.clipped_wide = np.flatnonzero(part.width_raw > part.width * (1 + 1e-9)).tolist()
        for name, ids, lim in (("thinner than the printable", rep.clipped_thin, f"{lo} mm"),
                               ("wider than the printable", rep.clipped_wide, f"{hi} mm (or what their hubs allow)")):
            if ids:
                rep.warnings.append(f"{len(ids)} struts would be {name} {lim} and were "
                                    f"clipped (edges {ids[:10]}{' ...' if len(ids) > 10 else ''}); "
                                    "train with the k bounds from mechclln.geometry.sections.k_bounds")
    # hubs that overlap each other
    close = cKDTree(x).query_pairs(2 * R * (1 - 1e-9), output_type="ndarray")
    for i, j in close[:20]:
        rep.errors.append(f"part: field 'hub_radius': hubs {i} and {j} overlap ({np.linalg.norm(x[i] - x[j]):.3g} "
                          f"mm apart, hub radius {R} mm); lower hub_radius or raise scale")
    # struts that cross, touch or nearly touch
    pairs = _strut_pairs(part, 2 * h.max() + nozzle)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        gap = segment_distances(x[ed[a, 0]], x[ed[a, 1]], x[ed[b, 0]], x[ed[b, 1]]) - h[a] - h[b]
        rep.min_gap = float(gap.min())
        for k in np.flatnonzero(gap <= 0)[:20]:
            what = "cross" if gap[k] <= -(h[a[k]] + h[b[k]]) + 1e-9 else "overlap"
            rep.errors.append(f"part: field 'edges': struts {a[k]} {ed[a[k]].tolist()} and {b[k]} {ed[b[k]].tolist()} "
                              f"{what}; remove one of them (e.g. next-nearest-neighbour bonds) or move the nodes")
        narrow = np.flatnonzero((gap > 0) & (gap < nozzle))
        if narrow.size:
            rep.warnings.append(f"{narrow.size} gaps between struts are narrower than the {nozzle} mm nozzle "
                                f"(narrowest {gap[narrow].min():.3g} mm) and will fuse; raise scale")
    # struts that run through a hub that is not one of their ends
    mid = (x[ed[:, 0]] + x[ed[:, 1]]) / 2
    reach = part.axis_lengths() / 2 + R + h
    hits = cKDTree(x).query_ball_point(mid, reach)
    ee = np.repeat(np.arange(len(ed)), [len(v) for v in hits])
    nn = np.fromiter((n for v in hits for n in v), np.int64, count=len(ee))
    keep = (nn != ed[ee, 0]) & (nn != ed[ee, 1])
    ee, nn = ee[keep], nn[keep]
    if len(ee):
        dist = point_segment_distances(x[nn], x[ed[ee, 0]], x[ed[ee, 1]]) - R - h[ee]
        for k in np.flatnonzero(dist <= 0)[:20]:
            rep.errors.append(f"part: field 'edges': strut {ee[k]} {ed[ee[k]].tolist()} runs through hub {nn[k]}; "
                              "remove the strut or move the node")
    if part.dim == 2:
        _hub_footprints(part, rep)
    return rep
