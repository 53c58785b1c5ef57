"""Floppy-mode diagnosis: Maxwell counting and its exceptions, checked against an independent dense rank.

Physics: the zero modes of the unit-stiffness harmonic matrix K = C^T C are dN - rank(C); the rigid-body
motions that pins do not fix are d(d+1)/2 with no pins and fewer with pins; the rest are floppy modes.
"""
from dataclasses import replace

import numpy as np
import pytest

from mechclln import lattices
from mechclln.network import make_network
from mechclln.rigidity import compatibility_matrix, floppy_modes, is_rigid


def exact_floppy(net, n_rigid):
    """Independent count: dense SVD rank of the compatibility matrix."""
    C = compatibility_matrix(net.x, net.edges).toarray()
    return net.x.size - np.linalg.matrix_rank(C) - n_rigid


def minimally_rigid(dim):
    """Networks with exactly dN - d(d+1)/2 bonds, all needed (no redundancy).

    2D: a 12 x 10 square grid braced by one diagonal in every cell of the first row and first column:
    the braced rows and columns form a spanning tree of the row-column graph, the Bolker-Crapo condition
    for a rigid grid with the fewest braces. 3D: a Boerdijk-Coxeter tetrahelix, each node bonded to the
    three before it (all bonds of length 1).
    """
    if dim == 2:
        nx, ny = 12, 10
        idx = np.arange(nx * ny).reshape(nx, ny)
        x = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"), -1).reshape(-1, 2).astype(float)
        edges = [(idx[i, j], idx[i + 1, j]) for i in range(nx - 1) for j in range(ny)]
        edges += [(idx[i, j], idx[i, j + 1]) for i in range(nx) for j in range(ny - 1)]
        cells = {(0, j) for j in range(ny - 1)} | {(i, 0) for i in range(nx - 1)}
        edges += [(idx[i, j], idx[i + 1, j + 1]) for i, j in sorted(cells)]
        return make_network(x, edges)
    n = 40
    t = np.arange(n)
    theta, radius, rise = np.arccos(-2 / 3), 3 * np.sqrt(3) / 10, 1 / np.sqrt(10)
    x = np.column_stack([radius * np.cos(t * theta), radius * np.sin(t * theta), rise * t])
    edges = [(i, i - k) for i in range(1, n) for k in (1, 2, 3) if i - k >= 0]
    return make_network(x, edges)


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_triangular_is_rigid(method):
    r = floppy_modes(lattices.triangular(8, 8), method=method)
    assert r.n_floppy == 0 and r.n_rigid_body == 3 and r.rigid
    assert r.nodes.size == 0 and r.message.startswith("rigid")


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_honeycomb_floppy_without_nnn_rigid_with(method):
    floppy = lattices.honeycomb(6, 6, nnn=False)
    r = floppy_modes(floppy, method=method)
    # Z = 3 < 4: Maxwell's count dN - E - 3 is a lower bound, the exact rank decides
    assert r.n_floppy >= floppy.x.size - floppy.n_edges - 3
    assert r.n_floppy == exact_floppy(floppy, 3) > 20
    assert "floppy modes" in r.message and r.nodes.size > 0
    assert is_rigid(lattices.honeycomb(6, 6, nnn=True))


def test_kagome_edge_modes_scale_with_perimeter():
    counts = {}
    for n in (4, 8):
        net = lattices.kagome(n, n, nnn=False)
        r = floppy_modes(net)
        assert r.n_floppy == exact_floppy(net, 3) > 0
        counts[n] = (r.n_floppy, net.n_nodes)
    # bulk kagome is isostatic (Z = 4): the missing constraints sit at the free edges, so doubling the
    # side doubles the floppy count (perimeter) while the node count grows four-fold (area)
    assert counts[8][1] / counts[4][1] > 3.5
    assert counts[8][0] / counts[4][0] < 2.5
    assert is_rigid(lattices.kagome(6, 6, nnn=True))


@pytest.mark.parametrize("method", ["dense", "sparse"])
@pytest.mark.parametrize("dim", [2, 3])
def test_removing_a_bond_from_minimally_rigid_gives_one_floppy_mode(dim, method):
    net = minimally_rigid(dim)
    assert net.n_edges == dim * net.n_nodes - dim * (dim + 1) // 2
    assert floppy_modes(net, method=method).n_floppy == 0
    for drop in (0, net.n_edges // 2, net.n_edges - 1):
        r = floppy_modes(make_network(net.x, np.delete(net.edges, drop, axis=0)), method=method)
        assert r.n_floppy == 1, (drop, r.message)
        assert r.nodes.size > 0


def test_pins_remove_rigid_body_modes():
    net = lattices.triangular(6, 6)
    one = floppy_modes(net, pinned=[0])
    assert (one.n_rigid_body, one.n_floppy) == (1, 0)   # rotation about the pin is left
    two = floppy_modes(net, pinned=[0, 35])
    assert (two.n_rigid_body, two.n_floppy) == (0, 0)
    net3 = lattices.fcc(2, 2, 2)
    assert floppy_modes(net3, pinned=[0, 1]).n_rigid_body == 1  # rotation about the line through two pins
    r = floppy_modes(net3, pinned=[0, 1, 5])
    assert (r.n_rigid_body, r.n_floppy) == (0, 0)
    assert floppy_modes(replace(net, pinned=np.array([0, 35]))).n_rigid_body == 0  # default: net.pinned


@pytest.mark.parametrize("net", [lattices.fcc(3, 3, 3), lattices.cubic_diagonal(4, 4, 4)], ids=["fcc", "cubic_diagonal"])
def test_3d_lattices_rigid(net):
    r = floppy_modes(net)
    assert (r.n_floppy, r.n_rigid_body) == (0, 6)


def test_dangling_node_reported_without_eigensolve_and_counted():
    net = lattices.triangular(5, 5)
    x = np.vstack([net.x, [[-1.0, -0.3]]])
    edges = np.vstack([net.edges, [[0, 25]]])
    r = floppy_modes(make_network(x, edges))
    assert r.n_floppy == 1 and r.dangling.tolist() == [25] and 25 in r.nodes
    assert "dangling" in r.message


def test_disconnected_piece_counts_its_rigid_motions_as_floppy():
    tri = np.array([[0, 0], [1, 0], [0.5, 0.8]])
    x = np.vstack([tri, tri + [5, 0]])
    r = floppy_modes(make_network(x, [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)]))
    assert r.n_floppy == 3   # the second triangle moves freely against the first
