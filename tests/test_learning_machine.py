"""One learning machine (mechclln.learner) for every element model: springs (k, l), the frame (widths,
linear and corotational) and linear FEM struts (widths), every rule.

Physics checked on each model: the exact gradient (adjoint) matches central differences of C; equilibrium
propagation with a small nudge gives -grad C itself (cosine > 0.999); for one target, coupled learning
with a small clamp is parallel to -grad C (cosine > 0.99); power-efficient learning without its
regulariser is coupled learning; and the first calibrated step of every rule but directed aging (which is no descent rule) through the
same Learner lowers C (coupled learning with a small clamp: at eta = 0.1 its O(eta) term can point uphill).
"""
import numpy as np
import pytest

from mechclln import lattices
from mechclln.design import FrameWidths, PairTask
from mechclln.frame import Frame
from mechclln.learner import LearnConfig, Learner, local_update
from mechclln.learning import RULES, cosine
from mechclln.task import random_task
from mechclln.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def lattice():
    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=1, seed=2, target_strain=0.01, source_strain=0.02)
    return net, task


def spring_case(net, task):
    tr = Trainer(net, task, TrainConfig(model="nonlinear"))
    bounds = {"k": tr.bounds["k"], "l": tr.bounds["l"]}
    return tr.model, {"k": tr.k.copy(), "l": tr.l.copy()}, bounds


def frame_case(net, task, linear):
    from mechclln.geometry.part import build_part

    gp = build_part(net, task=task, x_print=net.x)
    fr = Frame.of_part(gp)
    w = np.asarray(gp.width, float)
    return FrameWidths(fr, PairTask.of(task), linear), {"w": w}, {"w": (0.5 * w, 2.0 * w)}


def fem_case(net, task):
    from mechclln.fem import fidelity
    from mechclln.fem.finetune import FemWidths
    from mechclln.geometry.part import build_part

    gp = build_part(net, task=task, x_print=net.x)
    pt = fidelity.mesh_part(gp, elements_across=1)
    w = np.asarray(gp.width, float)
    return FemWidths(pt, gp, task), {"w": w}, {"w": (0.5 * w, 2.0 * w)}


CASES = ["springs", "frame_linear", "frame_corotational", pytest.param("fem", marks=pytest.mark.fem)]


def make(name, net, task):
    if name == "springs":
        return spring_case(net, task)
    if name == "fem":
        return fem_case(net, task)
    return frame_case(net, task, name == "frame_linear")


def C_of(model, params):
    return model.task_error(model.free_states(params))[0]


@pytest.mark.parametrize("name", CASES)
def test_rules_on_every_model(name, lattice):
    net, task = lattice
    model, params, bounds = make(name, net, task)
    states = model.free_states(params)
    _, _, grads = model.task_error(states)
    upd = {}
    for rule in RULES:
        cfg = LearnConfig(rule=rule, eta=1e-3, beta=1e-6, reg=0.0)
        upd[rule], grad = local_update(model, cfg, params, states, grads, True)
    g = np.concatenate([grad[n] for n in model.names])
    flat = lambda u: np.concatenate([u[n] for n in model.names])  # noqa: E731
    # the adjoint gradient vs central differences of C, for the parameter it weighs most
    n0 = model.names[0]
    e = int(np.argmax(np.abs(grad[n0])))
    h = 1e-6 * float(np.mean(params[n0]))
    plus, minus = ({**params, n0: params[n0] + s * h * (np.arange(len(params[n0])) == e)} for s in (1, -1))
    fd = (C_of(model, plus) - C_of(model, minus)) / (2 * h)
    assert grad[n0][e] == pytest.approx(fd, rel=2e-4)
    assert cosine(flat(upd["equilibrium_propagation"]), -g) > 0.999
    assert cosine(flat(upd["coupled"]), -g) > 0.99
    assert np.allclose(flat(upd["power_efficient"]), flat(upd["coupled"]))
    assert np.allclose(flat(upd["gradient"]), -g)
    assert np.all(np.isfinite(flat(upd["directed_aging"]))) and np.any(flat(upd["directed_aging"]))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", CASES)
def test_every_rule_lowers_C_through_the_same_learner(name, rule, lattice):
    net, task = lattice
    model, params, bounds = make(name, net, task)
    learn = ("k",) if name == "springs" else None
    L = Learner(model, params, bounds, LearnConfig(rule=rule, steps=2, tol=1e-12, checkpoint_every=0, eta=1e-3,
                                                   reg=1e-3, step_fraction=0.05), learn)
    L.run()
    assert len(L.history.C) == 2 and L.rejections == 0
    if rule != "directed_aging":   # aging relaxes the clamped state's energy: not a descent rule of C
        assert L.history.C[1] < L.history.C[0]      # the calibrated first step descends
