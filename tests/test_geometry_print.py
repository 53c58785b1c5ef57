"""Print positions and the as-printed spring model (docs/export.md: conventions)."""
import numpy as np

from mechclln import lattices
from mechclln.network import make_network
from mechclln.task import random_task
from mechclln.geometry.print_state import as_printed_network, compare_printed, lost_prestress, print_positions


def test_as_printed_equals_trained_when_rest_lengths_were_never_trained():
    net = lattices.triangular(6, 6)
    rng = np.random.default_rng(3)
    net = make_network(net.x, net.edges, k=rng.uniform(0.5, 2.0, net.n_edges), pinned=[0])   # l = r
    task = random_task(net, n_targets=2, seed=4)
    cmp = compare_printed(net, task)
    # an unstressed network relaxes to its reference shape (up to a rigid motion) and loses no prestress
    np.testing.assert_allclose(net.lengths(cmp.x_print), net.l, rtol=1e-9)
    np.testing.assert_allclose(cmp.lost_tension, 0, atol=1e-9)
    np.testing.assert_allclose(cmp.printed.target_strains, cmp.trained.target_strains, atol=1e-9)
    np.testing.assert_allclose(cmp.printed.source_forces, cmp.trained.source_forces, rtol=1e-7, atol=1e-9)


def test_trained_rest_lengths_are_printed_stress_free():
    net = lattices.triangular(5, 5)
    rng = np.random.default_rng(5)
    net = net.with_params(l=net.l * rng.uniform(0.97, 1.03, net.n_edges))
    xp = print_positions(net)
    tension = lost_prestress(net, xp)
    # the relaxed network is in force balance: the edge tensions sum to zero at every node
    f = np.zeros_like(xp)
    b = xp[net.edges[:, 1]] - xp[net.edges[:, 0]]
    b /= np.linalg.norm(b, axis=1)[:, None]
    np.add.at(f, net.edges[:, 0], tension[:, None] * b)
    np.add.at(f, net.edges[:, 1], -tension[:, None] * b)
    assert np.abs(f).max() < 1e-8
    assert np.abs(tension).max() > 1e-3          # incompatible rest lengths leave self-stress, lost in print
    printed = as_printed_network(net, xp)
    np.testing.assert_allclose(printed.l, printed.lengths())
    np.testing.assert_allclose(printed.k, net.k)
