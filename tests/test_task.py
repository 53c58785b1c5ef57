"""Task files (JSON and TOML), validation, and node-displacement terminals."""
from dataclasses import replace

import numpy as np
import pytest

from mechclln import lattices, springs
from mechclln.equilibrium import Equilibria, free_states, respond
from mechclln.errors import MechcllnError
from mechclln.task import Task, load_task, random_task, save_task
from mechclln.training import TrainConfig, train


def test_json_round_trip_and_rest_example(tmp_path):
    net = lattices.triangular(8, 8)
    task = random_task(net, n_targets=3, seed=2)
    assert np.all(task.source_strains[0] == 0) and np.all(task.target_strains[0] == 0)
    save_task(task, tmp_path / "t.json")
    back = load_task(tmp_path / "t.json", net)
    for f in ("source_pairs", "target_pairs", "source_r0", "target_r0", "source_strains", "target_strains"):
        assert np.array_equal(getattr(task, f), getattr(back, f))


def test_random_task_targets_are_far_from_source():
    net = lattices.triangular(12, 12)
    task = random_task(net, n_targets=3, seed=4)
    mid = lambda p: net.x[p].mean(0)
    d = [np.linalg.norm(mid(t) - mid(task.source_pairs[0])) for t in task.target_pairs]
    size = np.ptp(net.x, axis=0).max()
    assert min(d) > 0.3 * size



def test_random_task_within_keeps_the_task_size_as_the_network_grows():
    """Targets drawn ``within`` R of the source lie in the outer part of that disc (the farther half of its
    bonds: beyond about R / sqrt(2) in 2D) in a 12 x 12 and in a 40 x 40 lattice; without ``within`` they move
    out with the network. Too small an R is a clear error."""
    mid = lambda net, p: net.x[p].mean(0)
    for m in (12, 40):
        net = lattices.triangular(m, m)
        task = random_task(net, n_targets=3, seed=4, within=5.0)
        d = [np.linalg.norm(mid(net, t) - mid(net, task.source_pairs[0])) for t in task.target_pairs]
        assert max(d) <= 5.0 + 1e-9 and min(d) >= 5.0 / 2 ** 0.5 - 1.0, d
        assert task.meta["within"] == 5.0
    far = random_task(net, n_targets=3, seed=4)
    assert min(np.linalg.norm(mid(net, t) - mid(net, far.source_pairs[0])) for t in far.target_pairs) > 5.0
    assert "within" not in far.meta
    with pytest.raises(MechcllnError, match="within 0.5 of the source.*larger within"):
        random_task(net, n_targets=3, seed=4, within=0.5)
    with pytest.raises(MechcllnError, match="positive distance"):
        random_task(net, n_targets=3, seed=4, within=-1.0)

def test_toml_task_with_missing_r0_filled_from_network(tmp_path):
    net = lattices.triangular(6, 6)
    (tmp_path / "t.toml").write_text(
        '[[sources]]\nnodes = [0, 1]\n[[targets]]\nnodes = [30, 31]\n'
        '[[examples]]\nsources = [0.0]\ntargets = [0.0]\n[[examples]]\nsources = [0.05]\ntargets = [-0.02]\n')
    task = load_task(tmp_path / "t.toml", net)
    assert task.source_r0[0] == pytest.approx(1.0) and task.target_strains[1, 0] == -0.02


def test_task_errors_name_field_and_fix(tmp_path):
    net = lattices.triangular(6, 6)
    (tmp_path / "t.json").write_text('{"sources": [{"nodes": [0, 99]}], "targets": [{"nodes": [3, 4]}],'
                                     ' "examples": [{"sources": [0.1], "targets": [0.0]}]}')
    with pytest.raises(MechcllnError, match=r"sources\[0\]\.nodes.*out of range"):
        load_task(tmp_path / "t.json", net)
    (tmp_path / "t.json").write_text('{"sources": [{"nodes": [0, 1]}], "targets": [{"nodes": [3, 4]}],'
                                     ' "examples": [{"sources": [0.1, 0.2], "targets": [0.0]}]}')
    with pytest.raises(MechcllnError, match=r"examples\[0\]\.sources.*expected 1"):
        load_task(tmp_path / "t.json", net)


def test_node_displacement_terminals_with_pins():
    """A pinned sheet driven by a node displacement: the source dof takes its value exactly, forces balance
    on every free dof, and learning a node-displacement target lowers the error."""
    net = replace(lattices.triangular(7, 7), pinned=np.array([0, 1, 2, 3, 4, 5, 6]))
    top = net.n_nodes - 4
    task = Task(np.zeros((0, 2), int), np.zeros(0), np.zeros((0, 2), int), np.zeros(0),
                np.zeros((2, 0)), np.zeros((2, 0)), source_nodes=np.array([[top, 0]]),
                target_nodes=np.array([[24, 1]]), source_displacements=np.array([[0.0], [0.1]]),
                target_displacements=np.array([[0.0], [0.02]]))
    task.validate(net)
    r = respond(net, task, "nonlinear")
    assert r.x[1][top, 0] - net.x[top, 0] == pytest.approx(0.1, abs=1e-14)
    eq = Equilibria(net, task, "nonlinear")
    st = free_states(eq, net.k, net.l)[1]
    g = springs.gradient("nonlinear", st.x, net.x, net.edges, net.k, net.l).ravel()
    assert np.abs(g[eq.free]).max() < 1e-10
    res = train(net, task, TrainConfig(steps=200, tol=1e-2))
    assert res.history.C_rel[-1] < 0.1
