"""Regular lattices (2D: triangular, square with diagonals, kagome, honeycomb; 3D: cubic with face
diagonals, FCC), in lattice units (nearest-neighbour spacing 1), unstressed (l = r, k = 1).

Central-force rigidity: triangular, square-with-diagonals, cubic-with-face-diagonals and FCC are rigid.
Honeycomb (Z = 3) is floppy and finite kagome sheets have edge floppy modes; ``nnn=True`` adds the
next-nearest-neighbour bonds that make them rigid (those bonds cross others in the plane, which the
geometry stage reports when such a sheet is printed).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .network import Network, make_network


def _bonds_at(x: np.ndarray, dist: float, tol: float = 1e-6) -> np.ndarray:
    """All node pairs at distance ``dist`` (within a relative ``tol``)."""
    pairs = cKDTree(x).query_pairs(dist * (1 + tol), output_type="ndarray")
    r = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1)
    return pairs[np.abs(r - dist) < dist * tol]


def _grid(*counts) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1).reshape(-1, len(counts))


def triangular(nx: int = 10, ny: int = 10) -> Network:
    """Triangular lattice of nx x ny nodes (rows offset by 1/2), Z = 6 in the bulk."""
    ij = _grid(nx, ny).astype(float)
    x = np.column_stack([ij[:, 0] + 0.5 * (ij[:, 1] % 2), ij[:, 1] * np.sqrt(3) / 2])
    return make_network(x, _bonds_at(x, 1.0), meta={"lattice": "triangular", "size": [nx, ny]})


def square_diagonal(nx: int = 10, ny: int = 10) -> Network:
    """Square lattice with one diagonal per cell (no crossing struts), Z = 6 in the bulk."""
    x = _grid(nx, ny).astype(float)
    diag = _bonds_at(x, np.sqrt(2))
    d = x[diag[:, 1]] - x[diag[:, 0]]
    keep = np.sign(d[:, 0]) == np.sign(d[:, 1])  # only the (+1, +1) diagonal of each cell
    edges = np.vstack([_bonds_at(x, 1.0), diag[keep]])
    return make_network(x, edges, meta={"lattice": "square_diagonal", "size": [nx, ny]})


def kagome(nx: int = 6, ny: int = 6, nnn: bool = True) -> Network:
    """Kagome lattice of nx x ny unit cells (3 nodes each), bond length 1; ``nnn`` adds sqrt(3) bonds."""
    a1, a2 = np.array([2.0, 0.0]), np.array([1.0, np.sqrt(3)])
    basis = np.array([[0.0, 0.0], a1 / 2, a2 / 2])
    cells = _grid(nx, ny)
    x = (cells[:, :1] * a1 + cells[:, 1:] * a2)[:, None, :] + basis[None]
    x = x.reshape(-1, 2)
    edges = _bonds_at(x, 1.0)
    if nnn:
        edges = np.vstack([edges, _bonds_at(x, np.sqrt(3))])
    return make_network(x, edges, meta={"lattice": "kagome", "size": [nx, ny], "nnn": nnn})


def honeycomb(nx: int = 6, ny: int = 6, nnn: bool = True) -> Network:
    """Honeycomb of nx x ny unit cells (2 nodes each), bond length 1; ``nnn`` adds sqrt(3) bonds."""
    a1, a2 = np.array([np.sqrt(3), 0.0]), np.array([np.sqrt(3) / 2, 1.5])
    basis = np.array([[0.0, 0.0], [0.0, 1.0]])
    cells = _grid(nx, ny)
    x = ((cells[:, :1] * a1 + cells[:, 1:] * a2)[:, None, :] + basis[None]).reshape(-1, 2)
    edges = _bonds_at(x, 1.0)
    if nnn:
        edges = np.vstack([edges, _bonds_at(x, np.sqrt(3))])
    net = make_network(x, edges, meta={"lattice": "honeycomb", "size": [nx, ny], "nnn": nnn})
    return _drop_dangling(net)


def cubic_diagonal(nx: int = 4, ny: int = 4, nz: int = 4) -> Network:
    """Simple cubic lattice with one diagonal on every face (the (+,+) one), rigid."""
    x = _grid(nx, ny, nz).astype(float)
    diag = _bonds_at(x, np.sqrt(2))
    d = x[diag[:, 1]] - x[diag[:, 0]]
    nz_ = d[np.abs(d) > 0.5].reshape(-1, 2)
    keep = np.sign(nz_[:, 0]) == np.sign(nz_[:, 1])
    edges = np.vstack([_bonds_at(x, 1.0), diag[keep]])
    return make_network(x, edges, meta={"lattice": "cubic_diagonal", "size": [nx, ny, nz]})


def fcc(nx: int = 3, ny: int = 3, nz: int = 3) -> Network:
    """Face-centred cubic lattice of nx x ny x nz conventional cells, nearest-neighbour bonds of length 1."""
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    cells = _grid(nx + 1, ny + 1, nz + 1).astype(float)
    x = (cells[:, None, :] + basis[None]).reshape(-1, 3)
    x = x[(x[:, 0] <= nx + 1e-9) & (x[:, 1] <= ny + 1e-9) & (x[:, 2] <= nz + 1e-9)]
    x = x * np.sqrt(2)
    return make_network(x, _bonds_at(x, 1.0), meta={"lattice": "fcc", "size": [nx, ny, nz]})


def _drop_dangling(net: Network) -> Network:
    """Remove nodes with fewer than 2 bonds (sheet corners of a honeycomb), re-indexing edges."""
    z = net.coordination()
    keep = z >= 2
    if keep.all():
        return net
    new = -np.ones(net.n_nodes, dtype=np.int64)
    new[keep] = np.arange(keep.sum())
    e = net.edges[keep[net.edges].all(1)]
    return make_network(net.x[keep], new[e], meta=net.meta)


LATTICES = {
    "triangular": triangular,
    "square_diagonal": square_diagonal,
    "kagome": kagome,
    "honeycomb": honeycomb,
    "cubic_diagonal": cubic_diagonal,
    "fcc": fcc,
}
