"""Print-error spread of FEM target strains (fem/tolerance.py).

Physics: the adjoint sensitivity d eps_t / d theta_e = -t int_e sigma(u) : eps(v_t) is the exact first
derivative of the linear FEM target strain with respect to strut e's modulus factor, so it must match a
re-factored solve with the perturbed modulus field to first order; a uniform modulus change leaves the
strains of the strain-driven linear model unchanged (the sensitivities of all cells sum to zero).
"""
import numpy as np
import pytest

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def lattice_model():
    from mechclln import lattices
    from mechclln.fem import fidelity, linear
    from mechclln.geometry.part import build_part
    from mechclln.task import random_task

    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=2, seed=1)
    gpart = build_part(net, task=task, x_print=net.x)
    pt = fidelity.mesh_part(gpart, elements_across=2)
    lin = linear.LinearModel(pt, pinned=gpart.pinned)
    return pt, gpart, task, lin


def _strains_with_factor(pt, gpart, task, theta):
    """Target strains of the actuated example with strut e's modulus scaled by theta_e (refactored)."""
    from mechclln.fem import linear, stack
    dfx = stack.dolfinx()
    factor = dfx.fem.Function(dfx.fem.functionspace(pt.mesh, ("DG", 0)))
    factor.x.array[:] = 1.0
    cells, edge = pt.strut_cells()
    factor.x.array[cells] = theta[edge]
    model = linear.LinearModel(pt, pinned=gpart.pinned, factor=factor)
    eps = model.strains(model.solve(task.source_pairs, task.source_strains[1]), task.target_pairs)
    model.destroy()
    return eps


def test_adjoint_sensitivity_matches_a_refactored_solve(lattice_model):
    from mechclln.fem import tolerance
    pt, gpart, task, lin = lattice_model
    E = len(gpart.width)
    sens = tolerance.modulus_sensitivity(lin, task, E)
    assert np.all(sens[0] == 0)                                  # rest example: no load, no sensitivity
    eps0 = lin.strains(lin.solve(task.source_pairs, task.source_strains[1]), task.target_pairs)
    rng = np.random.default_rng(3)
    dtheta = rng.uniform(-0.02, 0.02, E)
    exact = _strains_with_factor(pt, gpart, task, 1 + dtheta) - eps0
    predicted = sens[1] @ dtheta
    assert np.abs(exact).max() > 1e-6                             # the perturbation does move the targets
    assert np.abs(predicted - exact).max() < 0.05 * np.abs(exact).max()


def test_spread_matches_the_uniform_error_propagation_and_is_centred(lattice_model):
    """Sampled spread equals the first-order propagation of independent uniform width errors,
    std_t = sqrt(sum_e (S_te a / w_e)^2 / 3), and is centred on the nominal strains."""
    from mechclln.fem import tolerance
    pt, gpart, task, lin = lattice_model
    sens = tolerance.modulus_sensitivity(lin, task, len(gpart.width))
    eps0 = np.array([lin.strains(lin.solve(task.source_pairs, s), task.target_pairs)
                     for s in task.source_strains])
    w = np.asarray(gpart.width, float)
    big = tolerance.sample_spread(eps0, sens, w, task.target_strains, width_error=0.1)["widths"]
    std_big = big["target_strains_std"][1]
    expected = np.sqrt(np.sum((sens[1] * 0.1 / w) ** 2, axis=1) / 3)
    assert np.all(expected > 0)
    np.testing.assert_allclose(std_big, expected, rtol=0.05)     # 2000 samples: ~2 % sampling error
    assert np.all(big["target_strains_q05"][1] < eps0[1]) and np.all(eps0[1] < big["target_strains_q95"][1])
