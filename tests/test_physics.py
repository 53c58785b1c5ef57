"""Spring physics and exact equilibria: finite-difference derivatives, force balance, small-strain limit."""
import numpy as np
import pytest

from conftest import perturbed
from mechclln import lattices, springs
from mechclln.equilibrium import Equilibria, free_states, respond
from mechclln.task import make_task, random_task


def _nets():
    return {2: lattices.triangular(5, 5), 3: lattices.cubic_diagonal(3, 3, 3)}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("model", ["nonlinear", "harmonic"])
def test_gradient_and_hessian_match_finite_differences(dim, model):
    """dU/dx and d2U/dx2 (assembled sparse) agree with central differences of U."""
    net = perturbed(_nets()[dim], seed=1)
    rng = np.random.default_rng(0)
    x = net.x + 0.05 * rng.standard_normal(net.x.shape)
    g = springs.gradient(model, x, net.x, net.edges, net.k, net.l).ravel()
    h = 1e-6
    fd = np.zeros(x.size)
    for a in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.ravel()[a] += h
        xm.ravel()[a] -= h
        fd[a] = (springs.energy(model, xp, net.x, net.edges, net.k, net.l)
                 - springs.energy(model, xm, net.x, net.edges, net.k, net.l)) / (2 * h)
    assert np.allclose(g, fd, atol=1e-7 * np.abs(g).max())
    p, n, c = springs.pair_measure(model, x, net.x, net.edges)
    asm = springs.PairAssembler(net.edges, dim, np.arange(x.size))
    H = asm.assemble(n, net.k, net.k * (p - net.l) * c).toarray()
    Hfd = np.zeros_like(H)
    for a in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.ravel()[a] += h
        xm.ravel()[a] -= h
        Hfd[:, a] = (springs.gradient(model, xp, net.x, net.edges, net.k, net.l)
                     - springs.gradient(model, xm, net.x, net.edges, net.k, net.l)).ravel() / (2 * h)
    assert np.allclose(H, Hfd, atol=1e-6 * np.abs(H).max())
    assert np.allclose(H, H.T)


@pytest.mark.parametrize("model", ["nonlinear", "harmonic"])
@pytest.mark.parametrize("pinned", [False, True])
def test_force_balance_at_equilibrium(model, pinned):
    """At a returned state, internal forces balance the constraint forces on every dof that is not pinned
    (including the dofs held to remove rigid motion: they carry no reaction), to 1e-9 relative."""
    net = perturbed(lattices.triangular(9, 9), seed=2)
    if pinned:
        from dataclasses import replace

        net = replace(net, pinned=np.array([0, 8]))
    task = random_task(net, n_targets=2, source_strain=0.08, seed=4)
    eq = Equilibria(net, task, model)
    for st in free_states(eq, net.k, net.l):
        g = springs.gradient(model, st.x, net.x, net.edges, net.k, net.l)
        vals, (pairs, n, _, r0) = eq.measure_rows(st.x, st.rows)
        g += springs.scatter_pair_vectors(net.n_nodes, pairs, (st.lam / r0)[:, None] * n)
        g[net.pinned] = 0.0
        tension = np.abs(net.k * (st.p - net.l)).max()
        assert np.abs(g).max() <= 1e-9 * max(tension, 1e-3 * net.k.mean())
        assert np.allclose(vals, st.rows.pair_value, atol=1e-12)
    if pinned:
        r = respond(net, task, model)
        assert np.allclose(r.x[:, net.pinned], net.x[net.pinned], atol=1e-14)


def test_zero_mean_gauge_without_pins():
    """Without pins the reported free state has no net translation or rotation relative to the reference."""
    net = perturbed(lattices.triangular(7, 7), seed=3)
    task = random_task(net, n_targets=1, source_strain=0.1, seed=0)
    r = respond(net, task, "nonlinear")
    u = r.x[1] - net.x
    assert np.abs(u.mean(0)).max() < 1e-12
    y = net.x - net.x.mean(0)
    assert abs(np.sum(y[:, 0] * r.x[1][:, 1] - y[:, 1] * r.x[1][:, 0])) < 1e-10


def test_nonlinear_response_tends_to_harmonic_at_small_strain():
    """For an unstressed network the nonlinear target strains converge to the harmonic ones, with an
    error that falls linearly with the input strain (second-order terms)."""
    net = lattices.triangular(9, 9)
    errs = []
    for s in (1e-2, 1e-3, 1e-4):
        task = random_task(net, n_targets=3, source_strain=s, seed=5)
        nl = respond(net, task, "nonlinear").target_strains[1]
        h = respond(net, task, "harmonic").target_strains[1]
        errs.append(np.abs(nl - h).max() / np.abs(h).max())
    assert errs[2] < 1e-3
    assert 5 < errs[0] / errs[1] < 20 and 5 < errs[1] / errs[2] < 20


def test_relax_of_unstressed_network_is_reference():
    from mechclln.equilibrium import relax

    net = lattices.triangular(6, 6)
    assert np.abs(relax(net) - net.x).max() < 1e-12


def test_floppy_network_is_diagnosed():
    from mechclln.errors import MechcllnError

    net = lattices.honeycomb(4, 4, nnn=False)
    task = make_task(net, [net.edges[0]], [net.edges[-1]], [0.05], [0.05])
    with pytest.raises(MechcllnError, match="floppy"):
        respond(net, task)


@pytest.mark.parametrize("model", ["nonlinear", "harmonic"])
def test_public_kkt_pieces_are_derivatives_of_each_other(model):
    """Away from equilibrium, with the multipliers of a strained state: the public Hessian H_L (springs plus
    the constraint curvature lam d2eps/dx2) is the Jacobian of the force residual r1 = dU/dx + A^T lam, and the
    row Jacobian A is the derivative of the row values, both over the free dofs (central differences)."""
    net = perturbed(lattices.triangular(5, 5), seed=1)
    task = random_task(net, n_targets=2, source_strain=0.1, seed=2)
    eq = Equilibria(net, task, model)
    st = free_states(eq, net.k, net.l)[1]
    r1, r2, _, _, _ = eq.residual(st.x, st.lam, net.k, net.l, st.rows)
    assert np.abs(r1).max() < 1e-9 * net.k.mean() * eq.rbar and np.abs(r2).max() < 1e-12
    x = st.x.copy()
    x.ravel()[eq.free] += 0.02 * np.random.default_rng(0).standard_normal(len(eq.free))
    _, _, egeo, rgeo, _ = eq.residual(x, st.lam, net.k, net.l, st.rows)
    H = eq.hessian(net.k, net.l, st.lam, egeo, rgeo, st.rows.pair).toarray()
    A = eq.jacobian(st.rows, rgeo).toarray()
    h = 1e-6
    Hfd, Afd = np.zeros_like(H), np.zeros_like(A)
    for a, dof in enumerate(eq.free):
        xp, xm = x.copy(), x.copy()
        xp.ravel()[dof] += h
        xm.ravel()[dof] -= h
        Hfd[:, a] = (eq.residual(xp, st.lam, net.k, net.l, st.rows)[0]
                     - eq.residual(xm, st.lam, net.k, net.l, st.rows)[0]) / (2 * h)
        Afd[:, a] = (eq.measure_rows(xp, st.rows)[0] - eq.measure_rows(xm, st.rows)[0]) / (2 * h)
    assert np.allclose(H, Hfd, atol=1e-6 * np.abs(H).max())
    assert np.allclose(A, Afd, atol=1e-7 * np.abs(A).max())


@pytest.mark.parametrize("dim", [2, 3])
def test_rigid_modes_stretch_no_bond_and_free_modes_keep_held_dofs_still(dim):
    """Infinitesimal rigid motions (about the centroid or any other centre) stretch no bond to first order
    (C R = 0) and span d(d+1)/2 motions; of them, two pinned nodes leave none still in 2D and one in 3D (the
    rotation about the axis through both), and that one moves neither pinned node."""
    from mechclln.gauge import free_modes, rigid_basis, rigid_modes
    from mechclln.rigidity import compatibility_matrix

    net = perturbed(_nets()[dim], seed=4)
    C = compatibility_matrix(net.x, net.edges)
    for R in (rigid_modes(net.x), rigid_modes(net.x, centre=net.x[3]), rigid_basis(net.x)):
        assert np.abs(C @ R).max() < 1e-12 * np.abs(R).max()
        assert np.linalg.matrix_rank(R) == dim * (dim + 1) // 2
    R = rigid_basis(net.x)
    held = np.r_[0 * dim + np.arange(dim), 5 * dim + np.arange(dim)]
    W = free_modes(R, held, rcond=1e-10)
    assert W.shape[1] == (0 if dim == 2 else 1)
    assert np.abs((R @ W)[held]).max(initial=0.0) < 1e-12
