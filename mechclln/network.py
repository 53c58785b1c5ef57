"""A central-force spring network as plain arrays, its validation and its JSON file format.

Conventions (docs/core.md): positions ``x`` (N x d, d = 2 or 3) are the *reference configuration*;
edge e joins nodes ``edges[e] = (i, j)`` with stiffness ``k[e] > 0`` and rest length ``l[e] > 0``;
``U = sum_e k_e/2 (r_e - l_e)^2`` with ``r_e = |x_i - x_j|``. A fresh network has ``l = r`` and ``k = 1``.
Lengths are in ``units["length"]`` ("1" = dimensionless lattice units, bond length about 1; or "mm"),
stiffness in ``units["stiffness"]`` ("1" = relative, or "N/mm"). ``pinned`` lists nodes whose position is
fixed (translation fixed, rotation free: a pin through a hub's hole).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import fail
from .fileio import read_data, write_json
from .schema import Fields, header

FORMAT = "mechclln.network"
VERSION = 1
DEFAULT_UNITS = {"length": "1", "stiffness": "1"}


@dataclass(frozen=True, eq=False)
class Network:
    """Spring network: ``x`` (N, d) float, ``edges`` (E, 2) int, ``k`` (E,), ``l`` (E,), ``pinned`` (P,) int."""

    x: np.ndarray
    edges: np.ndarray
    k: np.ndarray
    l: np.ndarray
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    units: dict = field(default_factory=lambda: dict(DEFAULT_UNITS))
    meta: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def n_edges(self) -> int:
        return self.edges.shape[0]

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    def lengths(self, x: np.ndarray | None = None) -> np.ndarray:
        """Edge lengths r_e at positions ``x`` (default: the reference configuration)."""
        x = self.x if x is None else x
        return np.linalg.norm(x[self.edges[:, 0]] - x[self.edges[:, 1]], axis=1)

    def coordination(self) -> np.ndarray:
        """Number of edges at each node."""
        return np.bincount(self.edges.ravel(), minlength=self.n_nodes)

    def mean_coordination(self) -> float:
        return 2.0 * self.n_edges / self.n_nodes

    def with_params(self, k=None, l=None) -> "Network":
        """A copy with new stiffness and/or rest length (arrays are copied)."""
        return replace(self, k=self.k.copy() if k is None else np.asarray(k, float).copy(),
                       l=self.l.copy() if l is None else np.asarray(l, float).copy())

    def validate(self, source: str | None = None) -> "Network":
        """Check shapes, ranges and finiteness; raise :class:`MechcllnError` naming the field and the fix."""
        validate_arrays(self.x, self.edges, self.k, self.l, self.pinned, source)
        return self


def make_network(x, edges, k=None, l=None, pinned=(), units=None, meta=None) -> Network:
    """Build and validate a network; ``k`` defaults to 1 and ``l`` to the reference lengths (unstressed)."""
    x = np.array(x, dtype=float)
    edges = np.array(edges, dtype=np.int64).reshape(-1, 2)
    edges = np.sort(edges, axis=1)
    r = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1) if len(edges) and edges.max() < len(x) else None
    k = np.ones(len(edges)) if k is None else np.array(k, dtype=float)
    l = (r.copy() if r is not None else np.ones(len(edges))) if l is None else np.array(l, dtype=float)
    net = Network(x=x, edges=edges, k=k, l=l, pinned=np.array(pinned, dtype=np.int64).ravel(),
                  units=dict(units or DEFAULT_UNITS), meta=dict(meta or {}))
    return net.validate()


def validate_arrays(x, edges, k, l, pinned, source=None) -> None:
    if x.ndim != 2 or x.shape[1] not in (2, 3):
        raise fail(source, "nodes", f"expected a list of [x, y] or [x, y, z] points, got shape {x.shape}",
                   "give every node 2 or 3 coordinates")
    if x.shape[0] < 2:
        raise fail(source, "nodes", "a network needs at least 2 nodes", "add nodes")
    if not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise fail(source, f"nodes[{bad}]", "coordinate is NaN or infinite", "give finite coordinates")
    n = x.shape[0]
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.shape[0] == 0:
        raise fail(source, "edges", f"expected a non-empty list of [i, j] node pairs, got shape {edges.shape}",
                   "list each edge as two node ids")
    bad = np.flatnonzero((edges < 0).any(1) | (edges >= n).any(1))
    if bad.size:
        raise fail(source, f"edges[{bad[0]}]", f"node id {edges[bad[0]].tolist()} out of range 0..{n - 1}",
                   "use ids of existing nodes")
    bad = np.flatnonzero(edges[:, 0] == edges[:, 1])
    if bad.size:
        raise fail(source, f"edges[{bad[0]}]", f"edge joins node {edges[bad[0], 0]} to itself", "remove it")
    key = np.sort(edges, axis=1)
    _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = key[first[np.argmax(counts > 1)]].tolist()
        raise fail(source, "edges", f"duplicate edge {dup}", "list each node pair once")
    r = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1)
    bad = np.flatnonzero(r <= 1e-12 * max(1.0, float(np.abs(x).max())))
    if bad.size:
        raise fail(source, f"edges[{bad[0]}]", "zero-length edge (its two nodes coincide)",
                   "merge the coincident nodes or move one")
    for name, arr in (("stiffness", k), ("rest_length", l)):
        if arr.shape != (edges.shape[0],):
            raise fail(source, name, f"expected {edges.shape[0]} values (one per edge), got shape {arr.shape}",
                       "give one value per edge")
        if not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise fail(source, f"{name}[{i}]", "value is NaN or infinite", "give a finite positive value")
        if np.any(arr <= 0):
            i = int(np.flatnonzero(arr <= 0)[0])
            raise fail(source, f"{name}[{i}]", f"must be > 0, got {arr[i]}", "give a positive value")
    if pinned.size and ((pinned < 0) | (pinned >= n)).any():
        raise fail(source, "pinned", f"node id out of range 0..{n - 1}", "pin existing nodes only")


# ----------------------------------------------------------------------------------------------- JSON


def to_dict(net: Network) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "dim": net.dim,
        "units": net.units,
        "nodes": net.x.tolist(),
        "edges": net.edges.tolist(),
        "stiffness": net.k.tolist(),
        "rest_length": net.l.tolist(),
        "pinned": net.pinned.tolist(),
        "meta": net.meta,
    }


FIELDS = ("format", "version", "dim", "units", "nodes", "edges", "stiffness", "rest_length", "pinned", "meta")
UNITS = {"length": ("1", "mm"), "stiffness": ("1", "N/mm")}
MAX_COORDINATE = 1e9     # beyond this, squared distances lose all precision (and overflow near 1e154)


def from_dict(data: dict, source: str | None = None) -> Network:
    """Parse and validate a network dict (the JSON file's content): every field's type, shape, range and
    ids (:mod:`mechclln.schema`), then the geometry (:func:`validate_arrays`)."""
    f = Fields(data, source).known(FIELDS)
    header(f, FORMAT, VERSION)
    x = f.array("nodes", shape=(None, (2, 3)), ge=-MAX_COORDINATE, le=MAX_COORDINATE)
    if "dim" in f.data:
        dim = f.integer("dim", choices=(2, 3))
        if len(x) and dim != x.shape[1]:
            raise f.fail("dim", f"says {dim} but nodes have {x.shape[1]} coordinates", "make them agree")
    edges = f.ids("edges", len(x), shape=(None, 2), unique=False)
    n_e = len(edges)
    k = f.array("stiffness", np.ones(n_e), shape=(n_e,))
    l = f.array("rest_length", None, shape=(n_e,))
    pinned = f.ids("pinned", len(x), np.zeros(0, np.int64))
    u = f.obj("units", dict(DEFAULT_UNITS)).known(tuple(UNITS))
    units = {key: u.string(key, DEFAULT_UNITS[key], choices=choices) for key, choices in UNITS.items()}
    meta = f.obj("meta", {})
    if "left_out_edges" in meta.data:
        meta.ids("left_out_edges", n_e, what="edge")
    if l is None and n_e:
        l = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1)
    net = Network(x=x, edges=edges, k=k, l=np.ones(0) if l is None else l, pinned=pinned, units=units,
                  meta=dict(meta.data))
    return net.validate(source)


def save(net: Network, path) -> Path:
    """Write the network JSON atomically."""
    return write_json(path, to_dict(net))


def load(path) -> Network:
    """Read and validate a network JSON file."""
    return from_dict(read_data(path), str(path))
