"""FEM-in-the-loop coupled learning of strut widths (fem/finetune.py).

Physics: for one target and a small nudge eta, the coupled-learning update tends to a positive multiple
of -grad C (docs/core.md), so a small step along it lowers the FEM task error and a step against
it raises it. Learning runs through the one learning machine (mechclln.learner).
"""
import numpy as np
import pytest

pytestmark = pytest.mark.fem


def _lattice_part():
    from mechclln import lattices
    from mechclln.fem import fidelity
    from mechclln.geometry.part import build_part
    from mechclln.task import random_task

    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=1, seed=2, target_strain=0.01)
    gpart = build_part(net, task=task, x_print=net.x)
    return gpart, task, fidelity.mesh_part(gpart, elements_across=2)


def test_small_width_step_of_coupled_learning_descends_the_fem_task_error():
    """A small step along the coupled-learning width update lowers the FEM C; the same step back raises it."""
    from mechclln.fem.finetune import FemWidths
    from mechclln.learner import LearnConfig, local_update

    gpart, task, pt = _lattice_part()
    model = FemWidths(pt, gpart, task)
    w = np.asarray(gpart.width, float)
    C = lambda wv: model.task_error(model.free_states({"w": wv}))[0]  # noqa: E731
    states = model.free_states({"w": w})
    c0, _, grads = model.task_error(states)
    upd, _ = local_update(model, LearnConfig(rule="coupled", eta=0.05), {"w": w}, states, grads, False)
    step = 0.01 * w.mean() * upd["w"] / np.abs(upd["w"]).max()
    assert C(w + step) < c0 < C(w - step)


def test_learning_with_remeshing_lowers_the_fem_task_error():
    """Through the learning machine, also across re-meshes at the learned widths (the modulus-factor
    model of a width change and the re-meshed strut agree well enough to keep descending), C falls
    at every step and the widths stay in the printable range."""
    from mechclln.fem import finetune

    gpart, task, pt = _lattice_part()
    w, hist = finetune.learn_widths(pt, gpart, task, steps=6, eta=0.05, step_fraction=0.2, remesh_ratio=0.1)
    assert any(h["remeshed"] for h in hist)
    C = np.array([h["C"] for h in hist])
    assert np.all(np.diff(C) < 0) and C[-1] < 0.95 * C[0] and hist[-1]["rejections"] == 0
    lo, hi = gpart.spec.width_range(gpart.material)
    assert lo - 1e-12 <= w.min() and w.max() <= hi + 1e-12


def test_finetune_run_on_a_part_with_a_left_out_strut_reports_errors_at_the_same_mesh(tmp_path):
    """A run whose design leaves a strut out: the part has one strut less, learning on a coarser mesh
    (1 element across) still reports the starting and the re-exported part's C at the evaluation mesh
    (2 across): both equal an independent meshing and solve of those parts, and the learned widths stay
    under the hub-footprint cap of the printed struts."""
    from dataclasses import replace

    from mechclln import lattices
    from mechclln.fem import fidelity, finetune
    from mechclln.geometry.part import build_part, load_part
    from mechclln.network import save
    from mechclln.task import random_task, save_task, task_error

    net = lattices.triangular(4, 4)
    deg = net.coordination()
    inner = next(e for e, (i, j) in enumerate(net.edges) if deg[i] == 6 and deg[j] == 6)
    net = replace(net, meta={"left_out_edges": [inner]})
    task = random_task(net, n_targets=1, seed=2, target_strain=0.01)
    save(net, tmp_path / "network.json")
    save_task(task, tmp_path / "task.json")
    rep = finetune.finetune_run(tmp_path, steps=2, step_fraction=0.1, learn_elements_across=1, elements_across=2)
    start = build_part(net, task=task, x_print=net.x)
    assert start.n_struts == net.n_edges - 1
    tuned = load_part(tmp_path / "finetune" / "part.json")
    np.testing.assert_array_equal(tuned.edge_ids, start.edge_ids)

    def fem_c(part):
        pt = fidelity.mesh_part(part, 2)
        return task_error(fidelity.fem_responses(pt, part, task, finite_strain=False)[1]["linear"],
                          task.target_strains)

    # print positions are the network's relaxed positions (up to a rigid motion): strains agree closely
    assert rep.C_fem_before == pytest.approx(fem_c(start), rel=1e-4)
    assert rep.C_fem_reexported_part == pytest.approx(fem_c(tuned), rel=1e-4)
    assert np.abs(np.subtract(rep.widths_after_mm, rep.widths_before_mm)).max() > 1e-6   # learning moved
    assert len(rep.widths_after_mm) == net.n_edges - 1
