"""FEM-in-the-loop coupled learning of strut widths (fem/finetune.py).

Physics: for one target and a small nudge eta, the coupled-learning update tends to a positive multiple
of -grad C (DESIGN.md section 3), so a small step along it lowers the FEM task error and a step against
it raises it.
"""
import numpy as np
import pytest

pytestmark = pytest.mark.fem


def test_small_width_step_of_coupled_learning_descends_the_fem_task_error():
    from mechclln import lattices
    from mechclln.fem import fidelity, finetune
    from mechclln.geometry.part import build_part
    from mechclln.task import random_task

    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=1, seed=2, target_strain=0.01)
    gpart = build_part(net, task=task, x_print=net.x)
    pt = fidelity.mesh_part(gpart, elements_across=2)
    _, down = finetune.learn_widths(pt, gpart, task, steps=1, eta=0.05, step_fraction=0.01)
    _, up = finetune.learn_widths(pt, gpart, task, steps=1, eta=0.05, step_fraction=-0.01)
    assert down[1]["C"] < down[0]["C"] < up[1]["C"]
    assert down[1]["accepted"] and not up[1]["accepted"]      # the adaptive step undoes an ascent


def test_adaptive_steps_with_remeshing_keep_lowering_the_fem_task_error():
    """Accepted designs have strictly decreasing C, also across re-meshes at the learned widths (the
    modulus-factor model of a width change and the re-meshed strut agree well enough to keep descending),
    and the widths stay in the printable range."""
    from mechclln import lattices
    from mechclln.fem import fidelity, finetune
    from mechclln.geometry.part import build_part
    from mechclln.task import random_task

    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=1, seed=2, target_strain=0.01)
    gpart = build_part(net, task=task, x_print=net.x)
    pt = fidelity.mesh_part(gpart, elements_across=2)
    w, hist = finetune.learn_widths(pt, gpart, task, steps=5, eta=0.05, step_fraction=0.1, remesh_ratio=0.2)
    kept = [h["C"] for h in hist if h["accepted"]]
    assert any(h["remeshed"] for h in hist)
    assert len(kept) >= 4 and np.all(np.diff(kept) < 0)
    lo, hi = gpart.spec.width_range(gpart.material)
    assert lo - 1e-12 <= w.min() and w.max() <= hi + 1e-12
