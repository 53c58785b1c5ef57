"""The frame model (mechclln.frame) against beam theory and its own derivatives."""
import numpy as np
import pytest

from fixtures.frames import assert_corotational_tends_to_linear, error_and_adjoint
from mechclln.frame import Frame

E, NU, R, T = 26.0, 0.45, 2.4, 3.0        # TPU-like modulus [MPa], hub radius and sheet thickness [mm]


def one_strut(dim, L=20.0):
    x = np.zeros((2, dim))
    x[1, 0] = L
    return Frame(x, [[0, 1]], E, NU, R, T if dim == 2 else None)


def clamped_tip(fr, w, load_dof):
    """Displacements of hub 1 under a unit tip load on ``load_dof`` with hub 0 fully clamped."""
    K = fr.tangent(np.zeros(fr.ndof), np.array([w]), True).toarray()
    free = np.arange(fr.nd, 2 * fr.nd)
    f = np.zeros(fr.nd)
    f[load_dof] = 1.0
    return np.linalg.solve(K[np.ix_(free, free)], f)


@pytest.mark.parametrize("dim", [2, 3])
def test_axial_stiffness_is_EA_over_free_length(dim):
    """A strut pulled along its axis stretches P L_f / (E A), L_f = L - 2 sqrt(R^2 - w^2/4)."""
    fr, w = one_strut(dim), 1.3
    u = clamped_tip(fr, w, 0)
    A = w * T if dim == 2 else np.pi * w ** 2 / 4
    Lf = 20.0 - 2 * np.sqrt(R ** 2 - w ** 2 / 4)
    assert u[0] == pytest.approx(Lf / (E * A), rel=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_cantilever_tip_deflection_matches_timoshenko(dim):
    """Tip load P at the hub centre: the beam end carries P and M = P a; Timoshenko's closed form
    d = P L^3/(3EI) + P L/(kGA) + M L^2/(2EI), theta = P L^2/(2EI) + M L/EI, centre moves d + a theta."""
    fr, w = one_strut(dim), 1.1
    u = clamped_tip(fr, w, 1)
    G = E / (2 * (1 + NU))
    if dim == 2:
        A, I, k = w * T, T * w ** 3 / 12, 5 / 6
    else:
        A, I, k = np.pi * w ** 2 / 4, np.pi * w ** 4 / 64, 6 * (1 + NU) / (7 + 6 * NU)
    a = np.sqrt(R ** 2 - w ** 2 / 4)
    L = 20.0 - 2 * a
    M = a
    d = L ** 3 / (3 * E * I) + L / (k * G * A) + M * L ** 2 / (2 * E * I)
    th = L ** 2 / (2 * E * I) + M * L / (E * I)
    assert u[1] == pytest.approx(d + a * th, rel=1e-12)
    assert u[2 if dim == 2 else 5] == pytest.approx(th, rel=1e-12)


def random_frame(seed=0, n=14):
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 60, (n, 2))
    tri = Delaunay(x).simplices
    ed = np.unique(np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]]), axis=1), axis=0)
    ed = ed[np.linalg.norm(x[ed[:, 1]] - x[ed[:, 0]], axis=1) > 6]
    return Frame(x, ed, E, NU, R, T), rng.uniform(0.6, 2.0, len(ed)), rng


def test_rigid_motions_cost_nothing_and_tangent_is_symmetric():
    fr, w, _ = random_frame()
    K = fr.tangent(np.zeros(fr.ndof), w, True)
    assert abs(K @ fr.rigid_modes()).max() < 1e-12 * abs(K).max()
    assert abs(K - K.T).max() < 1e-14 * abs(K).max()


@pytest.mark.parametrize("linear", [True, False])
def test_forces_and_tangent_are_derivatives_of_the_energy(linear):
    """Central differences of the energy give the end forces, of the forces the tangent (finite q)."""
    fr, w, rng = random_frame(1)
    q = rng.normal(size=fr.ndof) * 0.2
    f, K = fr.internal_force(q, w, linear), fr.tangent(q, w, linear).toarray()
    h = 1e-6
    for i in rng.choice(fr.ndof, 6, replace=False):
        dq = np.zeros(fr.ndof)
        dq[i] = h
        fd = (fr.energies(q + dq, w, linear).sum() - fr.energies(q - dq, w, linear).sum()) / (2 * h)
        assert fd == pytest.approx(f[i], rel=1e-6, abs=1e-9)
        fdK = (fr.internal_force(q + dq, w, linear) - fr.internal_force(q - dq, w, linear)) / (2 * h)
        assert np.allclose(fdK, K[:, i], rtol=1e-5, atol=1e-7 * abs(K).max())


def test_corotational_tends_to_linear_as_the_input_vanishes():
    """Target strain per unit source strain: corotational -> linear, the gap shrinking like the input."""
    fr, w, _ = random_frame(2)
    assert_corotational_tends_to_linear(fr, w, np.array([[0, 5]]), np.array([[2, 7], [3, 9]]))


@pytest.mark.parametrize("linear", [True, False])
def test_adjoint_width_gradient_matches_finite_differences(linear):
    """dC/dw by the adjoint equals central differences of C(w), C = 1/2 sum (eps - 0.01)^2, at 5 % input."""
    fr, w, rng = random_frame(3)
    C, g = error_and_adjoint(fr, w, np.array([[0, 5]]), np.array([[2, 7], [3, 9]]), linear)
    for k in rng.choice(len(w), 4, replace=False):
        dw = np.zeros_like(w)
        dw[k] = 1e-4
        assert g[k] == pytest.approx((C(w + dw) - C(w - dw)) / 2e-4, rel=1e-6, abs=1e-14)


def test_energy_width_derivative_matches_finite_differences():
    fr, w, rng = random_frame(4)
    q = rng.normal(size=fr.ndof) * 0.1
    g = fr.energy_width_derivative(q, w, False)
    dw = 1e-6 * np.eye(len(w))[3]
    fd = (fr.energies(q, w + dw, False) - fr.energies(q, w - dw, False)) / 2e-6
    assert g[3] == pytest.approx(fd[3], rel=1e-6)
    assert np.all(fd[np.arange(len(w)) != 3] == 0)      # a width changes its own strut's energy only


def test_removed_strut_is_no_element():
    """Width 0 removes the strut: its energy is 0 and the stiffness equals the frame without that edge."""
    fr, w, _ = random_frame(5)
    w0 = w.copy()
    w0[2] = 0
    K = fr.tangent(np.zeros(fr.ndof), w0, True)
    keep = np.arange(len(w)) != 2
    fr2 = Frame(fr.x, fr.edges[keep], E, NU, R, T)
    K2 = fr2.tangent(np.zeros(fr.ndof), w[keep], True)
    assert abs(K - K2).max() < 1e-14 * abs(K).max()


def test_floppy_spring_network_is_rigid_as_a_frame():
    """A honeycomb without next-nearest bonds (Z = 3 < 4) is floppy as central springs; as a frame of the
    same nodes and edges its tangent has exactly the 3 rigid null modes."""
    from mechclln.lattices import honeycomb
    from mechclln.rigidity import floppy_modes

    net = honeycomb(3, 3, nnn=False)
    assert floppy_modes(net).n_floppy > 0
    fr = Frame(net.x * 12.0, net.edges, E, NU, R, T)
    K = fr.tangent(np.zeros(fr.ndof), np.full(net.n_edges, 1.2), True).toarray()
    ev = np.linalg.eigvalsh(K)
    assert np.sum(ev < 1e-9 * ev.max()) == 3
