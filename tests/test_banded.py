"""The small-system band path (issue 14): pair blocks assembled in LAPACK band storage give the CSR
Hessian, and the band factor solves with it (Cholesky; LU when indefinite; singular refused)."""
import numpy as np
import pytest

from mechclln import linalg
from mechclln.banded import BandAssembler
from mechclln.bench import bench_network, peer_network
from mechclln.equilibrium import Equilibria
from mechclln.springs import PairAssembler
from mechclln.task import random_task


def _blocks(eq, seed=1):
    """Random unit directions and block coefficients (a along, b across) for every edge and terminal pair."""
    rng = np.random.default_rng(seed)
    m = len(eq.net.edges) + len(eq.term_pairs)
    n = rng.standard_normal((m, eq.net.dim))
    return n / np.linalg.norm(n, axis=1)[:, None], rng.random(m), 0.1 * rng.standard_normal(m)


@pytest.mark.parametrize("case", ["peer", "2d", "3d"])
def test_band_assembly_is_the_csr_hessian(case):
    """Same matrix as PairAssembler + tether I (fixed dofs removed, reordered by reverse Cuthill-McKee),
    its products and its max row sum; the bandwidth is far below the size."""
    if case == "peer":
        net, task, tether = *peer_network(), 1e-2
    else:
        net = bench_network(64, 2 if case == "2d" else 3)
        task, tether = random_task(net, n_targets=2, seed=0), 0.0
    eq = Equilibria(net, task, "nonlinear", tether=tether)
    pairs = np.vstack([net.edges, eq.term_pairs])
    n, a, b = _blocks(eq)
    H = PairAssembler(pairs, net.dim, eq.dof_map).assemble(n, a, b).toarray() + tether * np.eye(len(eq.free))
    asm = BandAssembler(pairs, net.dim, eq.dof_map, tether)
    B = asm.assemble(n, a, b)
    assert asm.width < len(eq.free) // 2
    assert np.abs(B.toarray() - H).max() < 1e-14
    X = np.random.default_rng(2).standard_normal((len(eq.free), 3))
    assert np.abs(B @ X - H @ X).max() < 1e-13 and np.abs(B @ X[:, 0] - H @ X[:, 0]).max() < 1e-13
    assert B.norm_inf() == pytest.approx(np.abs(H).sum(1).max(), rel=1e-14)


def test_band_factor_cholesky_lu_and_singular():
    net, task = peer_network()
    eq = Equilibria(net, task, "nonlinear", tether=1e-2)
    pairs = np.vstack([net.edges, eq.term_pairs])
    n, a, b = _blocks(eq)
    asm = BandAssembler(pairs, net.dim, eq.dof_map)
    rhs = np.random.default_rng(3).standard_normal((len(eq.free), 2))
    for shift, cholesky in ((5.0, True), (-0.5, False)):     # positive definite; indefinite
        B = asm.assemble(n, a, b)
        B.ab[0] += shift
        F = linalg.BandFactor(B)
        assert F.cholesky is cholesky
        H = B.toarray()
        assert np.abs(H @ F.solve(rhs) - rhs).max() < 1e-11
        assert np.abs(H @ F.solve(rhs[:, 0]) - rhs[:, 0]).max() < 1e-11
    floppy = asm.assemble(n, np.zeros_like(a), np.zeros_like(b))     # the zero matrix
    with pytest.raises(linalg.SingularMatrixError):
        linalg.BandFactor(floppy)


def test_small_equilibria_use_the_band_factor_and_reach_the_tolerances():
    """The peer network's states are solved on the band path to the Newton tolerances."""
    from mechclln.equilibrium import free_states
    from mechclln.newton import FORCE_TOL

    net, task = peer_network()
    eq = Equilibria(net, task, "nonlinear", tether=1e-2)
    st = free_states(eq, net.k, net.l)[0]
    assert eq.band is not None and all(isinstance(s.lu, linalg.BandFactor) for s in eq.solvers)
    assert st.residual <= FORCE_TOL
    assert abs(eq.measure_rows(st.x, st.rows)[0][0] - 0.2) < 1e-12


def test_dependent_rows_are_a_one_line_error():
    """Two hard rows on the same pair make the Schur complement singular: refused, not solved."""
    from mechclln.errors import MechcllnError
    from mechclln.rows import Rows

    net, task = peer_network()
    eq = Equilibria(net, task, "nonlinear", tether=1e-2)
    rows = Rows(np.array([0, 0]), np.array([0.1, 0.1]), np.zeros(2))
    with pytest.raises(MechcllnError, match="constraint rows are dependent"):
        eq.solve(net.k, net.l, rows, eq.initial_x(0))
