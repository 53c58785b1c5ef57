"""Training a spring network on a task with a local rule (or exact gradient descent), with history,
early stopping, automatic learning rates and checkpoints that resume exactly.

Error (DESIGN.md): ``C = 1/2 mean_examples sum_targets (eps_F - eps_T)^2`` (node-displacement targets enter
as displacement / mean bond length). Every step also reports the alignment ``cos(dtheta_local, -grad C)``
with the exact (adjoint) gradient, over the parameters being learned.

Learning rates: ``alpha`` is given per parameter (``alpha_k``, ``alpha_l``) or chosen at step 0 so that the
first update's first-order predicted decrease of C, ``-grad C . dtheta``, is ``step_fraction * C`` (split
equally between k and l), capped so that no parameter moves by more than ``max_first_change`` (5 % of
mean k, 0.2 % of the mean bond length) in that step. Each group's rate is then scaled by ``adapt_up`` while
successive updates of that group agree in direction (positive cosine) and by ``adapt_down`` when they
reverse (a per-group delta-bar-delta schedule; the geometric mean of the scales is ``alpha_scale`` in the
history). An update after which C jumps by more than ``max_rise`` (or after which an equilibrium is lost:
an unstable design) is undone and all rates are halved, as an experimenter would on seeing the error jump;
such undone updates are counted as ``rejections``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .equilibrium import Equilibria, EquilibriumNotFound, State, free_states
from .errors import MechcllnError
from .fileio import read_npz, write_npz
from .learning import RULES, SpringElements, aging, contrastive, cosine, power_penalty
from .network import Network
from .task import Task


@dataclass
class TrainConfig:
    rule: str = "coupled"
    learn: tuple = ("k", "l")
    model: str = "nonlinear"
    eta: float = 0.1              # clamping (coupled learning)
    beta: float = 1e-3            # nudge of equilibrium propagation, in units of mean(k) * mean(r0)^2
    reg: float = 0.0              # power-efficient regulariser weight
    alpha_k: float | None = None  # None: automatic (see module docstring)
    alpha_l: float | None = None
    step_fraction: float = 0.2
    max_first_change: dict = field(default_factory=lambda: {"k": 0.05, "l": 0.002})  # of mean k / mean r0
    adapt_up: float = 1.1         # per-group rate growth while successive updates agree
    adapt_down: float = 0.9       # ... and cut when they reverse
    adapt_max: float = 1e4
    max_rise: float = 1.2         # an update that raises C by more than this factor is undone
    steps: int = 1000
    tol: float = 1e-3             # early stop when C/C0 <= tol
    k_bounds: tuple = (0.01, 100.0)  # (k_min, k_max): scalars, or per-edge arrays (printable ranges)
    l_bounds: tuple = (0.5, 1.5)  # relative to each edge's reference length
    report_cosine: bool = True
    checkpoint_every: int = 50

    def validate(self) -> "TrainConfig":
        if self.rule not in RULES:
            raise MechcllnError(f"rule {self.rule!r} is unknown; choose one of {', '.join(RULES)}")
        bad = [p for p in self.learn if p not in SpringElements.names]
        if bad or not self.learn:
            raise MechcllnError(f"learn={self.learn!r}: choose 'k', 'l' or both")
        for name in ("eta", "beta", "step_fraction"):
            if not getattr(self, name) > 0:
                raise MechcllnError(f"{name} must be > 0, got {getattr(self, name)}")
        lo, hi = (np.asarray(b, float) for b in self.k_bounds)
        if not (np.all(lo > 0) and np.all(lo <= hi) and np.any(lo < hi)):
            raise MechcllnError("k_bounds: need 0 < k_min <= k_max for every edge (equal bounds hold an edge "
                                "fixed) and k_min < k_max for at least one")
        if not 0 < self.l_bounds[0] < 1 < self.l_bounds[1]:
            raise MechcllnError(f"l_bounds {self.l_bounds}: need 0 < low < 1 < high (relative to r0)")
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


@dataclass
class TrainResult:
    network: Network
    history: History
    config: TrainConfig
    C0: float
    target_strains: np.ndarray     # (n_ex, T) free-state target strains of the returned network
    target_displacements: np.ndarray
    converged: bool
    seconds: float
    alphas: dict
    rejections: int = 0           # updates undone because C jumped (> max_rise) or equilibrium was lost


def task_error(eq: Equilibria, states: list[State]):
    """C and, per example, the target errors e = measured - desired and dC/dx (N, d) of each state."""
    task = eq.task
    n_ex = task.n_examples
    T = len(task.target_pairs)
    C, errs, grads = 0.0, [], []
    for ex, st in enumerate(states):
        rows = eq.target_rows(np.zeros(T), np.zeros(len(eq.tgt_dofs)))
        vals, geo = eq.measure_rows(st.x, rows)
        e = vals - task.targets_desired()[ex]
        w = np.concatenate([np.ones(T), np.full(len(eq.tgt_dofs), 1.0 / eq.rbar ** 2)])
        C += 0.5 * np.sum(w * e ** 2) / n_ex
        pairs, n, _, r0 = geo
        g = np.zeros_like(st.x)
        coef = (w[:T] * e[:T] / r0)[:, None] * n / n_ex
        np.add.at(g, pairs[:, 0], coef)
        np.subtract.at(g, pairs[:, 1], coef)
        g.ravel()[eq.tgt_dofs] += w[T:] * e[T:] / n_ex
        errs.append(e)
        grads.append(g)
    return C, errs, grads


class Trainer:
    """Holds the solver, the parameters and the warm-start states of one training run."""

    def __init__(self, net: Network, task: Task, config: TrainConfig, check_rigidity: bool = True):
        self.cfg = config.validate()
        task.validate(net)
        self.net0, self.task = net, task
        self.eq = Equilibria(net, task, config.model, check_rigidity)
        self.r0 = net.lengths()
        self.k = np.clip(net.k.astype(float), *config.k_bounds)
        self.l = np.clip(net.l.astype(float), config.l_bounds[0] * self.r0, config.l_bounds[1] * self.r0)
        self.states: list[State] | None = None
        self.step_index = 0
        self.history = History()
        self.alphas: dict | None = None
        self.alpha_scale = 1.0
        self.scales = {"k": 1.0, "l": 1.0}
        self.prev_update: dict = {}
        self.prev_params: tuple | None = None
        self.prev_C = np.inf
        self.rejections = 0
        self.C0: float | None = None
        self.elements = SpringElements()
        self._clamped: dict = {}      # example -> (x, lam, free x) of its last other (clamped/nudged) state

    # ------------------------------------------------------------------------------- one step
    def _other_state(self, ex: int, free: State, eta: float, soft: float = 0.0) -> State:
        T = len(self.task.target_pairs)
        vals, _ = self.eq.measure_rows(free.x, self.eq.target_rows(np.zeros(T), np.zeros(len(self.eq.tgt_dofs))))
        desired = self.task.targets_desired()[ex]
        if soft:
            tv = desired
        else:
            tv = vals + eta * (desired - vals)
        rows = self.eq.join(free.rows, self.eq.target_rows(tv[:T], tv[T:], soft))
        x0, lam0 = free.x, np.concatenate([free.lam, np.zeros(len(tv))])
        prev = self._clamped.get(ex)
        if prev is not None and prev[1].shape == lam0.shape:
            # warm start: last step's clamped state, moved as the free state moved since then
            x0, lam0 = prev[0] + (free.x - prev[2]), prev[1]
        other = self.eq.solve(self.k, self.l, rows, x0, lam0, slot=ex)
        self._clamped[ex] = (other.x, other.lam, free.x)
        return other

    def raw_update(self, states: list[State], grads_x: list[np.ndarray]):
        """Unscaled local update (alpha = 1) averaged over examples, and the exact dC/dtheta."""
        cfg, params = self.cfg, {"k": self.k, "l": self.l}
        n_ex = len(states)
        upd = {name: np.zeros_like(self.k) for name in self.elements.names}
        grad = {name: np.zeros_like(self.k) for name in self.elements.names}
        need_grad = cfg.report_cosine or cfg.rule == "gradient" or self.alphas is None
        kbar, rbar = float(np.mean(self.k)), self.eq.rbar
        for ex, st in enumerate(states):
            if need_grad:
                gk, gl = self.eq.adjoint(st, self.k, self.l, grads_x[ex], slot=ex)
                grad["k"] += gk
                grad["l"] += gl
            if cfg.rule in ("coupled", "power_efficient"):
                other = self._other_state(ex, st, cfg.eta)
                u = contrastive(self.elements, st.p, other.p, params, 1.0 / cfg.eta)
                if cfg.rule == "power_efficient" and cfg.reg:
                    pen = power_penalty(self.elements, st.p, params, cfg.reg)
                    u = {n: u[n] + pen[n] for n in u}
            elif cfg.rule == "equilibrium_propagation":
                beta = cfg.beta * kbar * rbar ** 2 * n_ex   # so that U + beta*C is the nudged energy
                other = self._other_state(ex, st, 0.0, soft=1.0 / beta)
                u = contrastive(self.elements, st.p, other.p, params, 1.0 / beta)
            elif cfg.rule == "directed_aging":
                other = self._other_state(ex, st, 1.0)
                u = aging(self.elements, other.p, params)
            else:
                u = {name: np.zeros_like(self.k) for name in self.elements.names}
            for name in upd:
                upd[name] += u[name] / n_ex
        if cfg.rule == "gradient":
            upd = {name: -grad[name] for name in grad}
        return upd, grad, need_grad

    def _calibrate(self, C, upd, grad):
        cfg = self.cfg
        alphas = {}
        groups = [n for n in cfg.learn]
        given = {"k": cfg.alpha_k, "l": cfg.alpha_l}
        for name in groups:
            if given[name] is not None:
                alphas[name] = float(given[name])
                continue
            biggest = float(np.abs(upd[name]).max())
            if biggest == 0:
                alphas[name] = 0.0
                continue
            cap = cfg.max_first_change[name] * (np.mean(self.k) if name == "k" else self.eq.rbar) / biggest
            pred = -float(grad[name] @ upd[name])
            alphas[name] = min(cap, cfg.step_fraction * C / (len(groups) * pred)) if pred > 0 else cap
        return alphas

    def _evaluate(self):
        """Free states of the current parameters (warm-started from the last accepted ones), C, the raw
        local update and the exact gradient."""
        states = free_states(self.eq, self.k, self.l, self.states)
        C, _, grads_x = task_error(self.eq, states)
        upd, grad, have_grad = self.raw_update(states, grads_x)
        return states, C, upd, grad, have_grad

    def step(self) -> float:
        """One learning step; returns C (of the free states before the update)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        if cfg.checkpoint_every and self.step_index % cfg.checkpoint_every == 0:
            self.eq.reset_solvers()   # refactor at checkpoint steps, as a resumed run does
            self._clamped = {}        # and start the clamped states from the free ones
        try:
            states, C, upd, grad, have_grad = self._evaluate()
            failed = False
        except EquilibriumNotFound:
            if self.prev_params is None:
                raise
            failed = True
        if self.prev_params is not None and (failed or C > cfg.max_rise * self.prev_C):
            # the last update overshot (C jumped) or made the network unstable: undo it, halve the rates
            self.k, self.l = self.prev_params
            self.scales = {n: 0.5 * v for n, v in self.scales.items()}
            self.rejections += 1
            states, C, upd, grad, have_grad = self._evaluate()
        self.states = states
        if self.C0 is None:
            self.C0 = C
        if self.alphas is None:
            self.alphas = self._calibrate(C, upd, grad)
        h = self.history
        lo = {"k": np.broadcast_to(cfg.k_bounds[0], self.k.shape), "l": cfg.l_bounds[0] * self.r0}
        hi = {"k": np.broadcast_to(cfg.k_bounds[1], self.k.shape), "l": cfg.l_bounds[1] * self.r0}
        value = {"k": self.k, "l": self.l}
        for name in cfg.learn:   # per-group rate: grow while successive updates agree, cut when they flip
            prev = self.prev_update.get(name)
            if prev is not None:   # parameters held at a bound by their update do not count
                u = upd[name]
                held = ((value[name] <= lo[name]) & (u < 0)) | ((value[name] >= hi[name]) & (u > 0))
                c = cosine(np.where(held, 0.0, u), np.where(held, 0.0, prev))
                if c > 0:
                    self.scales[name] = min(self.scales[name] * cfg.adapt_up, cfg.adapt_max)
                elif c < 0:
                    self.scales[name] *= cfg.adapt_down
            self.prev_update[name] = upd[name].copy()
        self.alpha_scale = float(np.exp(np.mean(np.log([self.scales[n] for n in cfg.learn]))))
        delta = np.concatenate([upd[n] for n in cfg.learn])   # raw local direction (alpha = 1)
        g = np.concatenate([grad[n] for n in cfg.learn])
        h.step.append(self.step_index)
        h.C.append(C)
        h.C_rel.append(C / self.C0 if self.C0 > 0 else 0.0)
        h.cosine.append(cosine(delta, -g) if have_grad else float("nan"))
        h.alpha_scale.append(self.alpha_scale)
        h.factorizations.append(self.eq.n_factorizations)
        if h.C_rel[-1] > cfg.tol:
            self.prev_params, self.prev_C = (self.k.copy(), self.l.copy()), C
            if "k" in cfg.learn:
                self.k = np.clip(self.k + self.scales["k"] * self.alphas["k"] * upd["k"], *cfg.k_bounds)
            if "l" in cfg.learn:
                self.l = np.clip(self.l + self.scales["l"] * self.alphas["l"] * upd["l"],
                                 cfg.l_bounds[0] * self.r0, cfg.l_bounds[1] * self.r0)
        h.seconds.append(time.perf_counter() - t0)
        self.step_index += 1
        return C

    @property
    def converged(self) -> bool:
        return bool(self.history.C_rel) and self.history.C_rel[-1] <= self.cfg.tol

    def network(self) -> Network:
        return self.net0.with_params(k=self.k, l=self.l)

    # ------------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, path) -> Path:
        from .rundir import fingerprint

        h = {f"history_{k}": np.array(v, dtype=float) for k, v in asdict(self.history).items()}
        fp = {f"fingerprint_{k}": np.array(v) for k, v in fingerprint(self.net0, self.task, self.cfg).items()}
        st = self.states or []
        return write_npz(path, k=self.k, l=self.l, step=np.array(self.step_index), C0=np.array(self.C0),
                         alpha_scale=np.array(self.alpha_scale),
                         scale_k=np.array(self.scales["k"]), scale_l=np.array(self.scales["l"]),
                         prev_k=self.prev_update.get("k", np.zeros(0)), prev_l=self.prev_update.get("l", np.zeros(0)),
                         prev_params=np.array(self.prev_params) if self.prev_params else np.zeros(0),
                         prev_C=np.array(self.prev_C), rejections=np.array(self.rejections),
                         alpha_names=np.array(list(self.alphas)), alpha_values=np.array(list(self.alphas.values())),
                         states_x=np.array([s.x for s in st]), states_lam=np.array([s.lam for s in st]),
                         states_p=np.array([s.p for s in st]), **h, **fp)

    def load_checkpoint(self, path) -> None:
        from .rundir import check_fingerprint

        z = read_npz(path)
        check_fingerprint(path, z, self.net0, self.task, self.cfg)
        self.k, self.l = z["k"].copy(), z["l"].copy()
        self.step_index = int(z["step"])
        self.C0 = float(z["C0"])
        self.alpha_scale = float(z["alpha_scale"])
        self.scales = {"k": float(z["scale_k"]), "l": float(z["scale_l"])}
        self.prev_update = {n: z[f"prev_{n}"].copy() for n in ("k", "l") if z[f"prev_{n}"].size}
        self.prev_params = (z["prev_params"][0].copy(), z["prev_params"][1].copy()) if z["prev_params"].size else None
        self.prev_C, self.rejections = float(z["prev_C"]), int(z["rejections"])
        self.alphas = dict(zip(z["alpha_names"].tolist(), z["alpha_values"].tolist()))
        self.history = History(**{k: [int(v) if k in ("step", "factorizations") else float(v)
                                       for v in z[f"history_{k}"]] for k in asdict(History())})
        self.states = None
        if z["states_x"].size:
            rows = [self.eq.source_rows(ex) for ex in range(self.task.n_examples)]
            self.states = [State(x.copy(), lam.copy(), r, p.copy(), 0.0, 0)
                           for x, lam, r, p in zip(z["states_x"], z["states_lam"], rows, z["states_p"])]


def train(net: Network, task: Task, config: TrainConfig | None = None, progress: bool = False,
          checkpoint: str | Path | None = None, resume: bool = False, stop_after: int | None = None,
          check_rigidity: bool = True) -> TrainResult:
    """Train ``net`` on ``task``; checkpoints every ``config.checkpoint_every`` steps to ``checkpoint``.

    ``resume`` continues from ``checkpoint``; ``stop_after`` ends the run after that many steps in total
    (an interruption, for testing resumption).
    """
    cfg = (config or TrainConfig()).validate()
    tr = Trainer(net, task, cfg, check_rigidity)
    if resume:
        if checkpoint is None or not Path(checkpoint).exists():
            raise MechcllnError(f"{checkpoint}: no checkpoint to resume from; run without --resume")
        tr.load_checkpoint(checkpoint)
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=tr.step_index, desc=f"training ({cfg.rule}, {cfg.model})",
                   unit="step", dynamic_ncols=True)
    try:
        while tr.step_index < cfg.steps and not tr.converged:
            if stop_after is not None and tr.step_index >= stop_after:
                break
            if checkpoint and cfg.checkpoint_every and tr.step_index % cfg.checkpoint_every == 0 \
                    and tr.step_index > 0 and tr.alphas is not None:
                tr.save_checkpoint(checkpoint)
            tr.step()
            if bar:
                bar.update(1)
                bar.set_postfix(C_rel=f"{tr.history.C_rel[-1]:.2e}", cos=f"{tr.history.cosine[-1]:+.3f}")
    finally:
        if bar:
            bar.close()
    net_out = tr.network()
    if not tr.converged:   # evaluate the final parameters (the last update was applied after measuring)
        tr.states = free_states(tr.eq, tr.k, tr.l, tr.states)
    C, errs, _ = task_error(tr.eq, tr.states)
    desired = task.targets_desired()
    T = len(task.target_pairs)
    meas = np.array([e + d for e, d in zip(errs, desired)])
    if checkpoint and tr.alphas is not None:
        tr.save_checkpoint(checkpoint)
    return TrainResult(net_out, tr.history, cfg, tr.C0 or 0.0, meas[:, :T], meas[:, T:],
                       tr.converged or (tr.C0 and C / tr.C0 <= cfg.tol), time.perf_counter() - t0, tr.alphas,
                       tr.rejections)
