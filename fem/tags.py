"""The physical-group contract shared with the geometry stage (mm, one group per strut, hub and pin hole).

strut of edge e: tag ``STRUT + e`` (name ``strut_{e}``); hub of node n: ``HUB + n`` (``hub_{n}``);
pin-hole boundary of node n (curves in 2D, surfaces in 3D): ``HOLE + n`` (``hole_{n}``).
"""
from __future__ import annotations

STRUT = 1
HUB = 1_000_000
HOLE = 2_000_000


def split(tags):
    """Map a collection of physical tags to (strut edge ids, hub node ids, hole node ids), each sorted."""
    tags = sorted(int(t) for t in tags)
    struts = [t - STRUT for t in tags if STRUT <= t < HUB]
    hubs = [t - HUB for t in tags if HUB <= t < HOLE]
    holes = [t - HOLE for t in tags if t >= HOLE]
    return struts, hubs, holes
