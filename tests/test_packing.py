"""Disordered networks from jammed packings: reproducible, rigid, at the requested mean coordination.

Physics: a contact network of a jammed packing with rattlers removed has every node at Z >= d + 1; pruning
to z_target >= 2d (isostatic) while keeping every node at d + 1 and checking floppy modes gives a rigid
network (no zero modes of the harmonic stiffness matrix beyond the rigid-body ones).
"""
import numpy as np
import pytest

from mechclln.errors import MechcllnError
from mechclln.network import make_network
from mechclln.packing import restore_rigidity, default_z_target, jammed_network
from mechclln.rigidity import floppy_modes


@pytest.fixture(scope="module")
def sheet():
    return jammed_network(300, dim=2, seed=3)


def test_same_seed_gives_identical_arrays(sheet):
    again = jammed_network(300, dim=2, seed=3)
    assert np.array_equal(sheet.x, again.x) and np.array_equal(sheet.edges, again.edges)
    other = jammed_network(300, dim=2, seed=4)
    assert other.n_nodes != sheet.n_nodes or not np.allclose(other.x, sheet.x)


def test_progress_reports_every_stage_without_changing_the_network():
    """The progress callback sees the quench (fractions in [0, 1]), pruning and the rigidity check, in that
    order, and the network is the same array for array as without it."""
    seen = []
    net = jammed_network(120, dim=2, seed=0, progress=lambda stage, f: seen.append((stage, f)))
    stages = list(dict.fromkeys(s for s, _ in seen))
    assert stages[0].startswith("quench at phi=") and stages[-3:] == ["pruning", "rigidity check", "done"]
    assert all(0.0 <= f <= 1.0 for _, f in seen)
    plain = jammed_network(120, dim=2, seed=0)
    assert np.array_equal(net.x, plain.x) and np.array_equal(net.edges, plain.edges)


@pytest.mark.parametrize("dim", [2, 3])
def test_rigid_every_node_above_d_and_z_on_target(dim, sheet):
    net = sheet if dim == 2 else jammed_network(400, dim=3, seed=1)
    z = net.coordination()
    assert z.min() >= dim + 1
    assert abs(net.mean_coordination() - default_z_target(dim)) < 0.05
    report = floppy_modes(net)
    assert report.n_floppy == 0, report.message
    assert 0.85 * (300 if dim == 2 else 400) < net.n_nodes < 1.15 * (300 if dim == 2 else 400)
    assert net.meta["kind"] == "jammed" and net.meta["z_before_pruning"] >= net.meta["z_after_pruning"]


def test_contact_network_geometry(sheet):
    # no duplicate edges, mean bond length 1, and bonds are contacts of a bidisperse (1 : 1.4) packing:
    # their lengths lie within the sphere-sum range (1 to 1.4 diameters, less the overlaps), never across the box
    key = np.sort(sheet.edges, axis=1)
    assert len(np.unique(key, axis=0)) == len(key)
    r = sheet.lengths()
    assert abs(r.mean() - 1) < 1e-12
    assert r.max() / r.min() < 1.4 / (1 - 0.15)
    assert np.allclose(sheet.l, r) and np.all(sheet.k == 1)


def test_custom_target_and_bad_target():
    net = jammed_network(300, dim=2, z_target=4.8, seed=0)
    assert abs(net.mean_coordination() - 4.8) < 0.05
    assert floppy_modes(net).rigid
    with pytest.raises(MechcllnError, match="z_target"):
        jammed_network(200, dim=2, z_target=3.5)


def test_pruned_to_isostatic_still_rigid_and_repair_closes_floppy_pockets():
    net = jammed_network(300, dim=2, z_target=4.0, seed=1)
    assert floppy_modes(net).rigid
    assert abs(net.mean_coordination() - 4.0) < 0.05
    # at Z = 4 (E = 2N, 3 bonds above the minimum 2N - 3) cutting 5 bonds must leave >= 2 floppy modes;
    # the repair step of the pruning puts back cut bonds at the reported nodes until none is left
    cut = np.arange(0, 250, 50)
    kept = np.delete(net.edges, cut, axis=0)
    assert floppy_modes(make_network(net.x, kept)).n_floppy >= 2
    repaired, restored = restore_rigidity(net.x, kept, net.edges[cut])
    assert 2 <= restored <= 5
    assert floppy_modes(make_network(net.x, repaired)).rigid


@pytest.mark.parametrize("variant", ["fire", "fire2"])
def test_fire_reaches_the_minimum_of_a_stiff_quadratic_bowl(variant):
    """The one FIRE minimiser (packing quench, benchmark baseline), in both variants, relaxes
    U = 1/2 sum_i s_i x_i^2 with stiffnesses from 1 to 100 to its minimum x = 0 within the force tolerance;
    an unknown variant is a one-line error."""
    from mechclln.minimise import fire

    s = np.geomspace(1.0, 100.0, 40)
    x0 = np.random.default_rng(0).standard_normal(40)
    x, steps, ok = fire(x0.copy(), lambda x: -s * x, lambda x, f: np.abs(f).max() < 1e-10, 0.01, 0.1, 20000,
                        variant=variant)
    assert ok and 10 < steps < 20000
    assert np.abs(s * x).max() < 1e-10 and np.abs(x).max() < 1e-10
    with pytest.raises(ValueError, match="variant 'fire3' is unknown"):
        fire(x0.copy(), lambda x: -s * x, lambda x, f: True, 0.01, 0.1, 10, variant="fire3")
