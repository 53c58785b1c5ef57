"""Training a spring network on a task with a local rule (or exact gradient descent), with history,
early stopping, automatic learning rates and checkpoints that resume exactly.

The learning itself is the one learning machine of :mod:`mechclln.learner` (rules, rate calibration and
adaptation, rejection, bounds); this module gives it the spring element model (:class:`SpringModel`:
central springs with stiffness k and rest length l, their equilibria by :mod:`mechclln.equilibrium`) and
the spring specifics: k and l bounds, checkpoints, the trained network.

Error (docs/core.md): ``C = 1/2 mean_examples sum_targets (eps_F - eps_T)^2`` (node-displacement targets enter
as displacement / mean bond length). Every step also reports the alignment ``cos(dtheta_local, -grad C)``
with the exact (adjoint) gradient, over the parameters being learned. First-step caps: 5 % of mean k,
0.2 % of the mean bond length.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .equilibrium import Equilibria, State, free_states
from .errors import MechcllnError
from .fileio import read_npz, write_npz
from .learner import History, LearnConfig, Learner
from .learning import SpringElements
from .network import Network
from .task import Task, task_error as strain_task_error


@dataclass
class TrainConfig(LearnConfig):
    learn: tuple = ("k", "l")
    model: str = "nonlinear"
    alpha_k: float | None = None  # None: automatic (see mechclln.learner)
    alpha_l: float | None = None
    k_bounds: tuple = (0.01, 100.0)  # (k_min, k_max): scalars, or per-edge arrays (printable ranges)
    l_bounds: tuple = (0.5, 1.5)  # relative to each edge's reference length
    tether: float = 0.0           # weak tether of every node to its reference position (below isostatic)

    def given_rates(self) -> dict:
        return {"k": self.alpha_k, "l": self.alpha_l}

    def validate(self) -> "TrainConfig":
        super().validate()
        bad = [p for p in self.learn if p not in SpringElements.names]
        if bad or not self.learn:
            raise MechcllnError(f"learn={self.learn!r}: choose 'k', 'l' or both")
        lo, hi = (np.asarray(b, float) for b in self.k_bounds)
        if not (np.all(lo > 0) and np.all(lo <= hi) and np.any(lo < hi)):
            raise MechcllnError("k_bounds: need 0 < k_min <= k_max for every edge (equal bounds hold an edge "
                                "fixed) and k_min < k_max for at least one")
        if not 0 < self.l_bounds[0] < 1 < self.l_bounds[1]:
            raise MechcllnError(f"l_bounds {self.l_bounds}: need 0 < low < 1 < high (relative to r0)")
        return self


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
    tether: dict | None = None    # Equilibria.tether_share of the final free states (cfg.tether > 0)


class TargetError:
    """The task error of ``eq``'s states: the target rows, weights and desired values, built once.

    ``C`` is :func:`mechclln.task.task_error` of the pair strains, with node-terminal displacement errors
    counted as strains of the mean bond length (``e / rbar``)."""

    def __init__(self, eq: Equilibria):
        task = eq.task
        self.eq, self.n_ex, self.T = eq, task.n_examples, len(task.target_pairs)
        Tn = len(eq.tgt_dofs)
        self.rows = eq.target_rows(np.zeros(self.T), np.zeros(Tn))
        self.w = np.concatenate([np.ones(self.T), np.full(Tn, 1.0 / eq.rbar ** 2)])
        self.sqrt_w = np.sqrt(self.w)
        self.desired = task.targets_desired()

    def measure(self, x: np.ndarray):
        """Target values (pair strains, then displacements) of positions ``x``, with their pair geometry."""
        return self.eq.measure_rows(x, self.rows)

    def __call__(self, states: list[State]):
        """C and, per example, the target errors e = measured - desired and dC/dx (N, d) of each state."""
        T, n_ex, eq = self.T, self.n_ex, self.eq
        errs, grads = [], []
        for ex, st in enumerate(states):
            vals, (pairs, n, _, r0) = self.measure(st.x)
            e = vals - self.desired[ex]
            g = np.zeros_like(st.x)
            coef = (self.w[:T] * e[:T] / r0)[:, None] * n / n_ex
            np.add.at(g, pairs[:, 0], coef)
            np.subtract.at(g, pairs[:, 1], coef)
            g.ravel()[eq.tgt_dofs] += self.w[T:] * e[T:] / n_ex
            errs.append(e)
            grads.append(g)
        C = strain_task_error(np.reshape(errs, (n_ex, -1)) * self.sqrt_w, 0.0)
        return C, errs, grads


def task_error(eq: Equilibria, states: list[State]):
    """C, the target errors and dC/dx of ``states`` (see :class:`TargetError`)."""
    return TargetError(eq)(states)


class SpringModel:
    """Central springs as an element model of the learning machine (:mod:`mechclln.learner`):
    parameters k and l per edge, physical state the edge lengths ``p``."""

    names = SpringElements.names
    elements = SpringElements

    def __init__(self, eq: Equilibria):
        self.eq, self.task = eq, eq.task
        self.target = TargetError(eq)
        self._clamped: dict = {}      # slot -> (x, lam, free x) of its last other (clamped/nudged) state

    @staticmethod
    def physical(state: State) -> np.ndarray:
        return state.p

    def free_states(self, params, warm=None):
        return free_states(self.eq, params["k"], params["l"], warm)

    def task_error(self, states):
        return self.target(states)

    def other_state(self, ex: int, free: State, params, eta: float, soft: float = 0.0) -> State:
        T = self.target.T
        vals, _ = self.target.measure(free.x)
        desired = self.target.desired[ex]
        tv = desired if soft else vals + eta * (desired - vals)
        rows = self.eq.join(free.rows, self.eq.target_rows(tv[:T], tv[T:], soft))
        x0, lam0 = free.x, np.concatenate([free.lam, np.zeros(len(tv))])
        slot = ex if eta >= 0 else self.task.n_examples + ex    # the -eta state of a symmetric rule
        prev = self._clamped.get(slot)
        if prev is not None and prev[1].shape == lam0.shape:
            # warm start: last step's clamped state, moved as the free state moved since then
            x0, lam0 = prev[0] + (free.x - prev[2]), prev[1]
        other = self.eq.solve(params["k"], params["l"], rows, x0, lam0, slot=slot)
        self._clamped[slot] = (other.x, other.lam, free.x)
        return other

    def adjoint(self, ex, state, params, dC_dx) -> dict:
        gk, gl = self.eq.adjoint(state, params["k"], params["l"], dC_dx, slot=ex)
        return {"k": gk, "l": gl}

    def beta_unit(self, params) -> float:
        return float(np.mean(params["k"])) * self.eq.rbar ** 2 * self.task.n_examples

    def typical(self, name, params) -> float:
        return float(np.mean(params["k"])) if name == "k" else self.eq.rbar

    def reset(self) -> None:
        self.eq.reset_solvers()   # refactor, and start the clamped states from the free ones
        self._clamped = {}

    @property
    def n_factorizations(self) -> int:
        return self.eq.n_factorizations


class Trainer(Learner):
    """The learning machine on a spring network: solver, parameters and warm-start states of one run."""

    def __init__(self, net: Network, task: Task, config: TrainConfig, check_rigidity: bool = True):
        cfg = config.validate()
        task.validate(net)
        self.net0, self.task = net, task
        self.eq = Equilibria(net, task, cfg.model, check_rigidity, tether=cfg.tether)
        self.r0 = net.lengths()
        bounds = {"k": cfg.k_bounds, "l": (cfg.l_bounds[0] * self.r0, cfg.l_bounds[1] * self.r0)}
        super().__init__(SpringModel(self.eq), {"k": net.k.astype(float), "l": net.l.astype(float)}, bounds,
                         cfg, cfg.learn)

    k = property(lambda self: self.params["k"], lambda self, v: self.params.__setitem__("k", v))
    l = property(lambda self: self.params["l"], lambda self, v: self.params.__setitem__("l", v))

    def network(self) -> Network:
        return self.net0.with_params(k=self.k, l=self.l)

    # ------------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, path) -> Path:
        from .rundir import config_fields, fingerprint

        h = {f"history_{k}": np.array(v, dtype=float) for k, v in asdict(self.history).items()}
        fp = {f"fingerprint_{k}": np.array(v) for k, v in fingerprint(self.net0, self.task, self.cfg).items()}
        fp["fingerprint_config_fields"] = np.array(config_fields(self.cfg))
        st = self.states or []
        return write_npz(path, k=self.k, l=self.l, step=np.array(self.step_index), C0=np.array(self.C0),
                         alpha_scale=np.array(self.alpha_scale),
                         scale_k=np.array(self.scales["k"]), scale_l=np.array(self.scales["l"]),
                         prev_k=self.prev_update.get("k", np.zeros(0)), prev_l=self.prev_update.get("l", np.zeros(0)),
                         prev_params=np.array([self.prev_params['k'], self.prev_params['l']]) if self.prev_params else np.zeros(0),
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
        self.prev_params = {"k": z["prev_params"][0].copy(), "l": z["prev_params"][1].copy()} \
            if z["prev_params"].size else None
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
                       tr.rejections, tr.eq.tether_share(list(tr.states), tr.k, tr.l) if cfg.tether else None)
