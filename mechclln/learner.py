"""The one learning machine: rules, learning rates, rejection and bounds, written once for every model.

An *element model* (springs: :class:`mechclln.training.SpringModel`; the frame of a printed part:
:class:`mechclln.design.FrameWidths`; FEM struts: :class:`mechclln.fem.finetune.FemWidths`) provides

- ``names``: its learning-parameter groups (``("k", "l")``, ``("w",)``) and ``elements``, whose
  ``param_grad(p, params)`` is each element's ``du_e/dL_e`` at fixed physical state ``p = physical(state)``;
- ``free_states(params, warm)``, ``task_error(states) -> (C, errors, dC/dstate)``;
- ``other_state(ex, free, params, eta, soft=0)``: the clamped state (targets at ``eps_F + eta (eps_T -
  eps_F)``) or, with ``soft = 1/beta``, the nudged state minimising ``U + beta C``;
- ``adjoint(ex, state, params, dC) -> {name: dC/dL}`` (exact gradient), ``beta_unit(params)`` (the energy
  scale of ``beta``), ``typical(name, params)`` (the size of a parameter for the first-step cap),
  ``reset()`` and ``n_factorizations``.

The rules (docs/core.md: conventions) are then one function of those: coupled learning, equilibrium
propagation, directed aging, power-efficient coupled learning, and exact gradient descent. With
``symmetric`` coupled learning contrasts the states clamped at ``+eta`` and ``-eta`` (scale ``1/(2 eta)``)
instead of the clamped and the free state, which cancels the O(eta) term of the one-sided rule (docs/core.md,
"A trap").

Learning rates: ``alpha`` per group is given or chosen at step 0 so that the first update's first-order
predicted decrease of C, ``-grad C . dtheta``, is ``step_fraction * C`` (split equally between groups),
capped so that no parameter moves by more than ``max_first_change[name]`` of its typical size. Each
group's rate is then scaled by ``adapt_up`` while successive updates agree in direction and by
``adapt_down`` when they reverse (delta-bar-delta; the geometric mean of the scales is ``alpha_scale``).
An update after which C jumps by more than ``max_rise`` (or an equilibrium is lost) is undone and all rates
are halved; such updates are counted as ``rejections``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .errors import MechcllnError
from .learning import RULES, aging, contrastive, cosine, power_penalty


@dataclass
class LearnConfig:
    """Settings of the learning machine (model independent)."""

    rule: str = "coupled"
    eta: float = 0.1              # clamping (coupled learning)
    symmetric: bool = False       # coupled learning between the states clamped at +eta and -eta
    beta: float = 1e-3            # nudge of equilibrium propagation, in units of the model's beta_unit
    reg: float = 0.0              # power-efficient regulariser weight
    step_fraction: float = 0.2
    adapt_up: float = 1.1
    adapt_down: float = 0.9
    adapt_max: float = 1e4
    max_rise: float = 1.2
    steps: int = 1000
    tol: float = 1e-3             # early stop when C/C0 <= tol
    report_cosine: bool = True
    checkpoint_every: int = 50
    max_first_change: dict = field(default_factory=lambda: {"k": 0.05, "l": 0.002, "w": 0.05})
    alphas: dict | None = None    # given rates per group (None or a missing group: automatic)

    def given_rates(self) -> dict:
        return dict(self.alphas or {})

    def validate(self) -> "LearnConfig":
        if self.rule not in RULES:
            raise MechcllnError(f"rule {self.rule!r} is unknown; choose one of {', '.join(RULES)}")
        if self.symmetric and self.rule not in ("coupled", "power_efficient"):
            raise MechcllnError(f"symmetric applies to coupled learning only, not to rule {self.rule!r}")
        for name in ("eta", "beta", "step_fraction"):
            if not getattr(self, name) > 0:
                raise MechcllnError(f"{name} must be > 0, got {getattr(self, name)}")
        return self


@dataclass
class History:
    step: list = field(default_factory=list)
    C: list = field(default_factory=list)
    C_rel: list = field(default_factory=list)
    cosine: list = field(default_factory=list)
    alpha_scale: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    factorizations: list = field(default_factory=list)


def local_update(model, cfg: LearnConfig, params: dict, states: list, grads: list, need_grad: bool):
    """The rule's raw update (alpha = 1), averaged over examples, and the exact dC/dtheta (zeros when not
    ``need_grad``); one function for every model and rule."""
    n_ex = len(states)
    upd = {n: np.zeros_like(params[n]) for n in model.names}
    grad = {n: np.zeros_like(params[n]) for n in model.names}
    el, phys = model.elements, model.physical
    for ex, st in enumerate(states):
        if need_grad:
            g = model.adjoint(ex, st, params, grads[ex])
            for n in grad:
                grad[n] += g[n]
        if cfg.rule in ("coupled", "power_efficient"):
            other = model.other_state(ex, st, params, cfg.eta)
            if cfg.symmetric:
                minus = model.other_state(ex, st, params, -cfg.eta)
                u = contrastive(el, phys(minus), phys(other), params, 0.5 / cfg.eta)
            else:
                u = contrastive(el, phys(st), phys(other), params, 1.0 / cfg.eta)
            if cfg.rule == "power_efficient" and cfg.reg:
                pen = power_penalty(el, phys(st), params, cfg.reg)
                u = {n: u[n] + pen[n] for n in u}
        elif cfg.rule == "equilibrium_propagation":
            beta = cfg.beta * model.beta_unit(params)     # so that U + beta*C is the nudged energy
            other = model.other_state(ex, st, params, 0.0, soft=1.0 / beta)
            u = contrastive(el, phys(st), phys(other), params, 1.0 / beta)
        elif cfg.rule == "directed_aging":
            u = aging(el, phys(model.other_state(ex, st, params, 1.0)), params)
        else:
            u = {n: np.zeros_like(params[n]) for n in model.names}
        for n in upd:
            upd[n] += u[n] / n_ex
    if cfg.rule == "gradient":
        upd = {n: -grad[n] for n in grad}
    return upd, grad


class Learner:
    """One learning run of ``model`` from ``params`` (dict of arrays) with ``bounds`` {name: (lo, hi)}
    over the groups in ``learn``."""

    def __init__(self, model, params: dict, bounds: dict, cfg: LearnConfig, learn: tuple | None = None):
        self.model, self.cfg = model, cfg.validate()
        self.learn = tuple(learn or model.names)
        bad = [n for n in self.learn if n not in model.names]
        if bad or not self.learn:
            raise MechcllnError(f"learn={self.learn!r}: choose from {', '.join(model.names)}")
        self.bounds = {n: tuple(np.broadcast_to(np.asarray(b, float), params[n].shape) for b in bounds[n])
                       for n in model.names}
        self.params = {n: np.clip(np.asarray(params[n], float), *self.bounds[n]) for n in model.names}
        self.states = None
        self.step_index = 0
        self.history = History()
        self.alphas: dict | None = None
        self.alpha_scale = 1.0
        self.scales = {n: 1.0 for n in model.names}
        self.prev_update: dict = {}
        self.prev_params: dict | None = None
        self.prev_C = np.inf
        self.rejections = 0
        self.C0: float | None = None

    def raw_update(self, states, grads):
        need = self.cfg.report_cosine or self.cfg.rule == "gradient" or self.alphas is None
        upd, grad = local_update(self.model, self.cfg, self.params, states, grads, need)
        return upd, grad, need

    def _calibrate(self, C, upd, grad) -> dict:
        cfg, alphas = self.cfg, {}
        given = cfg.given_rates()
        for n in self.learn:
            if given.get(n) is not None:
                alphas[n] = float(given[n])
                continue
            biggest = float(np.abs(upd[n]).max())
            if biggest == 0:
                alphas[n] = 0.0
                continue
            cap = cfg.max_first_change[n] * self.model.typical(n, self.params) / biggest
            pred = -float(grad[n] @ upd[n])
            alphas[n] = min(cap, cfg.step_fraction * C / (len(self.learn) * pred)) if pred > 0 else cap
        return alphas

    def _evaluate(self):
        states = self.model.free_states(self.params, self.states)
        C, _, grads = self.model.task_error(states)
        upd, grad, have = self.raw_update(states, grads)
        return states, C, upd, grad, have

    def step(self) -> float:
        """One learning step; returns C (of the free states before the update)."""
        from .equilibrium import EquilibriumNotFound

        cfg = self.cfg
        t0 = time.perf_counter()
        if cfg.checkpoint_every and self.step_index % cfg.checkpoint_every == 0:
            self.model.reset()        # refactor at checkpoint steps, as a resumed run does
        try:
            states, C, upd, grad, have = self._evaluate()
            failed = False
        except (EquilibriumNotFound, MechcllnError):
            if self.prev_params is None:
                raise
            failed = True
        if self.prev_params is not None and (failed or C > cfg.max_rise * self.prev_C):
            # the last update overshot (C jumped) or lost the equilibrium: undo it, halve the rates
            self.params = {n: v.copy() for n, v in self.prev_params.items()}
            self.scales = {n: 0.5 * v for n, v in self.scales.items()}
            self.rejections += 1
            states, C, upd, grad, have = self._evaluate()
        self.states = states
        if self.C0 is None:
            self.C0 = C
        if self.alphas is None:
            self.alphas = self._calibrate(C, upd, grad)
        for n in self.learn:   # per-group rate: grow while successive updates agree, cut when they flip
            prev = self.prev_update.get(n)
            if prev is not None:   # parameters held at a bound by their update do not count
                u, (lo, hi), v = upd[n], self.bounds[n], self.params[n]
                held = ((v <= lo) & (u < 0)) | ((v >= hi) & (u > 0))
                c = cosine(np.where(held, 0.0, u), np.where(held, 0.0, prev))
                if c > 0:
                    self.scales[n] = min(self.scales[n] * cfg.adapt_up, cfg.adapt_max)
                elif c < 0:
                    self.scales[n] *= cfg.adapt_down
            self.prev_update[n] = upd[n].copy()
        self.alpha_scale = float(np.exp(np.mean(np.log([self.scales[n] for n in self.learn]))))
        h = self.history
        h.step.append(self.step_index)
        h.C.append(C)
        h.C_rel.append(C / self.C0 if self.C0 > 0 else 0.0)
        h.cosine.append(cosine(np.concatenate([upd[n] for n in self.learn]),
                               -np.concatenate([grad[n] for n in self.learn])) if have else float("nan"))
        h.alpha_scale.append(self.alpha_scale)
        h.factorizations.append(self.model.n_factorizations)
        if h.C_rel[-1] > cfg.tol:
            self.prev_params, self.prev_C = {n: v.copy() for n, v in self.params.items()}, C
            for n in self.learn:
                self.params[n] = np.clip(self.params[n] + self.scales[n] * self.alphas[n] * upd[n], *self.bounds[n])
        h.seconds.append(time.perf_counter() - t0)
        self.step_index += 1
        return C

    @property
    def converged(self) -> bool:
        return bool(self.history.C_rel) and self.history.C_rel[-1] <= self.cfg.tol

    def run(self, steps: int | None = None, progress=None) -> "Learner":
        """Step until converged or ``steps`` (default ``cfg.steps``) in total; ``progress(learner)`` after each."""
        steps = self.cfg.steps if steps is None else steps
        while self.step_index < steps and not self.converged:
            self.step()
            if progress:
                progress(self)
        return self
