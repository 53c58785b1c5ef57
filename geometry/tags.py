"""Physical-group tags and names of the gmsh model (the contract with the FEM stage; keep it stable).

- strut of edge e: tag ``STRUT_BASE + e`` (= 1 + e), name ``strut_{e}``  (surfaces in 2D, volumes in 3D)
- hub of node n: tag ``HUB_BASE + n``, name ``hub_{n}``                   (surfaces in 2D, volumes in 3D)
- pin-hole boundary of node n: tag ``HOLE_BASE + n``, name ``hole_{n}``  (curves in 2D, surfaces in 3D)
- ``sources``, ``targets``, ``pinned``: the hole boundaries of those hubs (tags below), present when
  non-empty.
"""
STRUT_BASE = 1
HUB_BASE = 1_000_000
HOLE_BASE = 2_000_000
GROUP_TAGS = {"sources": 3_000_001, "targets": 3_000_002, "pinned": 3_000_003}


def strut_tag(e: int) -> int:
    return STRUT_BASE + int(e)


def hub_tag(n: int) -> int:
    return HUB_BASE + int(n)


def hole_tag(n: int) -> int:
    return HOLE_BASE + int(n)


def strut_name(e: int) -> str:
    return f"strut_{int(e)}"


def hub_name(n: int) -> str:
    return f"hub_{int(n)}"


def hole_name(n: int) -> str:
    return f"hole_{int(n)}"


def decode(tag: int) -> tuple[str, int]:
    """``("strut", e)``, ``("hub", n)``, ``("hole", n)`` or ``(group name, -1)`` for a physical tag."""
    for name, t in GROUP_TAGS.items():
        if tag == t:
            return name, -1
    if tag >= HOLE_BASE:
        return "hole", tag - HOLE_BASE
    if tag >= HUB_BASE:
        return "hub", tag - HUB_BASE
    return "strut", tag - STRUT_BASE
