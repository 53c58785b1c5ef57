"""Networks to start from: a jammed packing (:mod:`.packing`) or a regular lattice (:mod:`.lattices`)."""
from __future__ import annotations

from .errors import MechcllnError

# lattice size per axis when none is given: cells (or nodes) of a part of a few hundred nodes
DEFAULT_SIZE = {"triangular": [12, 12], "square_diagonal": [12, 12], "kagome": [6, 6], "honeycomb": [6, 6],
                "cubic_diagonal": [4, 4, 4]}
NNN_LATTICES = ("kagome", "honeycomb")     # the lattices with optional next-nearest-neighbour bonds


def make_network(kind: str = "jammed", nodes: int = 300, dim: int = 2, z: float | None = None,
                 size=None, nnn: bool = True, seed: int = 0, progress=None):
    """A jammed ``dim``-D network of about ``nodes`` nodes pruned to mean coordination ``z`` (default: as
    jammed), or the lattice ``kind`` of ``size`` cells per axis (default :data:`DEFAULT_SIZE`, else 3 per
    axis); ``nnn``: kagome/honeycomb with next-nearest-neighbour bonds; ``progress``: the jammed packing's
    ``progress(stage, fraction)`` callback (:func:`mechclln.packing.jammed_network`)."""
    from . import lattices

    if kind == "jammed":
        from .packing import jammed_network

        return jammed_network(nodes, dim=dim, z_target=z, seed=seed, progress=progress)
    if kind not in lattices.LATTICES:
        raise MechcllnError(f"--kind {kind!r} is unknown; choose jammed or one of {', '.join(lattices.LATTICES)}")
    kw = {"nnn": nnn} if kind in NNN_LATTICES else {}
    return lattices.LATTICES[kind](*(size or DEFAULT_SIZE.get(kind, [3, 3, 3])), **kw)
