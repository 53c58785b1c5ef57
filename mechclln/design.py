"""Design of strut widths in the frame model (:mod:`mechclln.frame`): what is printed is what is trained.

The learning parameters are the widths ``w_e`` [mm], each within ``[lo, hi_e]`` (the printable minimum and
the hub-footprint cap) or 0 (strut removed: no element). The task error is the project's
``C = 1/2 mean_examples sum_targets (eps - eps_T)^2`` of hub-pair strains in the frame model (linear or
corotational), against ``wanted`` target strains (the task's, or shifted ones in an FEM correction).

:func:`gauss_newton` is the exact-gradient design: damped (Levenberg-Marquardt) Gauss-Newton steps with
the bounds enforced in each step's bounded least-squares problem, the Jacobian ``d eps / dw`` exact by the
adjoint (one back-substitution per target and example). Given ``samples`` of print errors (width offsets
and per-strut modulus factors) it minimises the mean C over them instead (robust design: the expected
error under those errors, sample average with common random numbers). The local rule (coupled learning of
widths) runs through the one learning machine, :mod:`mechclln.learner`, on :class:`FrameWidths`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from .errors import MechcllnError
from .frame import Frame, FrameState
from .task import task_error


@dataclass(frozen=True, eq=False)
class PairTask:
    """Pair terminals of a task for the frame: ``source_strains`` (n_ex, S), ``wanted`` (n_ex, T)."""

    source_pairs: np.ndarray
    target_pairs: np.ndarray
    source_strains: np.ndarray
    wanted: np.ndarray

    @classmethod
    def of(cls, task, wanted=None) -> "PairTask":
        if len(task.source_nodes) or len(task.target_nodes):
            raise MechcllnError("frame design: node-displacement terminals are not supported; use pair "
                                "sources and targets")
        return cls(task.source_pairs, task.target_pairs, task.source_strains,
                   task.target_strains if wanted is None else np.asarray(wanted, float))

    @property
    def n_examples(self) -> int:
        return len(self.source_strains)


def respond(frame: Frame, w, ptask: PairTask, linear: bool, warm: list | None = None):
    """Free states (one per example) and target strains (n_ex, T) of the frame with widths ``w``."""
    states = []
    for ex in range(ptask.n_examples):
        if not np.any(ptask.source_strains[ex]):       # a stress-free print at rest: no solve needed
            states.append(FrameState(np.zeros((frame.n, frame.nd)), np.zeros(0), ptask.source_pairs,
                                     ptask.source_strains[ex], linear))
            continue
        q0 = None if warm is None else warm[ex].q
        lam0 = None if warm is None else warm[ex].lam
        states.append(frame.solve(w, ptask.source_pairs, ptask.source_strains[ex], linear, q0, lam0))
    strains = np.array([frame.pair_strains(s.q, ptask.target_pairs, linear) for s in states])
    return states, strains


def jacobian(frame: Frame, w, states: list[FrameState], ptask: PairTask) -> np.ndarray:
    """d(target strain)/dw (n_ex * T, E), examples stacked, by one adjoint per target."""
    rows = []
    for st in states:
        G = frame.pair_gradient(st.q, ptask.target_pairs, st.linear).toarray()
        rows.append(frame.adjoint(st, w, G) if np.any(st.q) else np.zeros((len(G), len(w))))
    return np.vstack(rows)


@dataclass(frozen=True, eq=False)
class PrintErrors:
    """Samples of print errors: width offsets ``dw`` (n, E) [mm] and modulus factors ``factor`` (n, E)."""

    dw: np.ndarray
    factor: np.ndarray

    @classmethod
    def draw(cls, n_struts: int, n: int, width_sd: float = 0.1 / 1.96, modulus_sd: float = 0.1 / 1.96,
             seed: int = 0) -> "PrintErrors":
        """Gaussian errors whose 95 % range is +-0.1 mm (width) and +-10 % (modulus) by default."""
        rng = np.random.default_rng(seed)
        return cls(rng.normal(0, width_sd, (n, n_struts)), 1 + rng.normal(0, modulus_sd, (n, n_struts)))

    def __len__(self) -> int:
        return len(self.dw)


def sampled_errors(frame: Frame, w, ptask: PairTask, linear: bool, errors: PrintErrors, lo: float):
    """C of the design under each sample of print errors (widths clipped at the printable minimum)."""
    out = []
    present = w > 0
    try:
        for s in range(len(errors)):
            frame.modulus_factor = errors.factor[s]
            ws = np.where(present, np.maximum(w + errors.dw[s], lo), 0.0)
            out.append(task_error(respond(frame, ws, ptask, linear)[1], ptask.wanted))
    finally:
        frame.modulus_factor = np.ones(len(w))
    return np.array(out)


@dataclass
class DesignConfig:
    """Settings of :func:`design` (widths in mm)."""

    model: str = "corotational"     # frame model of the final design: "corotational" or "linear"
    steps: int = 40                 # Gauss-Newton steps per phase
    tol: float = 1e-6               # a printable phase stops when C / C_ref <= tol (C_ref: C of a zero
                                    # response); relaxed phases at 1e-3 tol
    damping: float = 1e-3           # initial Levenberg-Marquardt damping, relative to the largest J^T J entry
    max_step: float = 0.5           # largest width change in one step
    floor: float = 0.02             # width a strut may thin to before it is removed (relaxed phases)
    rounds: int = 5                 # relaxed phases, their floors rising geometrically from floor to lo
    min_struts_per_hub: int = 2
    moves: int = 40                 # topology moves (one strut removed or re-added at lo), linear printable phase
    move_trials: int = 8            # best-ranked moves re-optimised per move; the best of them is taken
    move_steps: int = 15            # Gauss-Newton steps of each trial's re-optimisation

    def validate(self) -> "DesignConfig":
        if self.model not in ("corotational", "linear"):
            raise MechcllnError(f"design model {self.model!r}: choose 'corotational' or 'linear'")
        if not (self.steps >= 1 and self.tol > 0 and self.damping > 0 and self.max_step > 0 and self.floor > 0
                and self.rounds >= 0 and self.min_struts_per_hub >= 1 and self.moves >= 0
                and self.move_trials >= 1 and self.move_steps >= 1):
            raise MechcllnError("design config: need steps >= 1, tol, damping, max_step, floor > 0, rounds >= 0, "
                                "min_struts_per_hub >= 1, moves >= 0, move_trials >= 1, move_steps >= 1")
        return self


@dataclass
class DesignResult:
    widths: np.ndarray             # (E,) mm; 0 = removed
    C: float
    C_start: float
    strains: np.ndarray            # (n_ex, T) frame target strains of the design
    history: list = field(default_factory=list)   # per step: phase, C, damping, accepted, seconds
    seconds: float = 0.0

    @property
    def removed(self) -> np.ndarray:
        return np.flatnonzero(self.widths == 0)


def _bounded_step(J, r, lb, ub, mu):
    """Damped Gauss-Newton step ``argmin |r + J d|^2 + mu |d|^2`` with ``lb <= d <= ub``, by an active
    set (few targets, many widths: each pass solves an m x m system)."""
    d = np.zeros(J.shape[1])
    free = np.ones(J.shape[1], bool)
    for _ in range(50):
        Jf = J[:, free]
        r_eff = r + J[:, ~free] @ d[~free]
        d[free] = -Jf.T @ np.linalg.solve(Jf @ Jf.T + mu * np.eye(len(r)), r_eff)
        out = free & ((d < lb) | (d > ub))
        if not out.any():
            break
        d = np.clip(d, lb, ub)
        free &= ~out
        if not free.any():
            break
    return np.clip(d, lb, ub)


def gauss_newton(frame: Frame, ptask: PairTask, w0, lo, hi, config: DesignConfig | None = None,
                 linear: bool | None = None, errors: PrintErrors | None = None, progress=None,
                 phase: str = "design", history: list | None = None):
    """Bound-constrained damped Gauss-Newton on the present struts (w > 0; 0 stays 0), each width in
    ``[lo, hi_e]``. Minimises C, or with ``errors`` the mean C over the print-error samples.
    Returns (widths, C, frame target strains); appends one entry per step to ``history``."""
    cfg = (config or DesignConfig()).validate()
    linear = cfg.model == "linear" if linear is None else linear
    t0 = time.perf_counter()
    w = np.asarray(w0, float).copy()
    hi = np.broadcast_to(np.asarray(hi, float), w.shape)
    lo = np.broadcast_to(np.asarray(lo, float), w.shape)
    on = np.flatnonzero(w > 0)
    w[on] = np.clip(w[on], lo[on], hi[on])
    c_ref = task_error(np.zeros_like(ptask.wanted), ptask.wanted) or 1.0
    samples = [(np.zeros_like(w), np.ones_like(w))] if errors is None else list(zip(errors.dw, errors.factor))
    weight = np.sqrt(1.0 / (ptask.n_examples * len(samples)))

    def evaluate(wv):
        res, jac = [], []
        try:
            for dw, fac in samples:
                frame.modulus_factor = fac
                ws = np.where(wv > 0, np.maximum(wv + dw, lo), 0.0)
                states, eps = respond(frame, ws, ptask, linear)
                res.append((eps - ptask.wanted).ravel())
                jac.append(jacobian(frame, ws, states, ptask)[:, on] * (wv + dw >= lo)[on])   # clipped: d ws / dw = 0
        finally:
            frame.modulus_factor = np.ones(len(wv))
        r, J = np.concatenate(res) * weight, np.vstack(jac) * weight
        return 0.5 * float(r @ r), r, J

    C, r, J = evaluate(w)
    mu = None
    history = [] if history is None else history
    for step in range(cfg.steps):
        if C / c_ref <= cfg.tol:
            break
        mu = cfg.damping * float(np.max(np.sum(J ** 2, axis=0)) or 1.0) if mu is None else mu
        accepted = False
        for _ in range(10):
            d = _bounded_step(J, r, np.maximum(lo[on] - w[on], -cfg.max_step),
                              np.minimum(hi[on] - w[on], cfg.max_step), mu)
            trial = w.copy()
            trial[on] = np.clip(w[on] + d, lo[on], hi[on])
            try:
                Ct, rt, Jt = evaluate(trial)
            except MechcllnError:        # the step made the corotational frame snap: shorter step
                Ct = np.inf
            if Ct < C:
                w, C, r, J = trial, Ct, rt, Jt
                mu, accepted = mu / 4, True
                break
            mu *= 8
        history.append({"phase": phase, "step": step, "C": C, "damping": mu, "accepted": accepted,
                        "struts": int(len(on)), "seconds": time.perf_counter() - t0})
        if progress:
            progress(phase, step, C)
        if not accepted:
            break
    return w, C, respond(frame, w, ptask, linear)[1]


def removable(edges, n_nodes: int, present: np.ndarray, candidates, min_per_hub: int = 2) -> np.ndarray:
    """The candidates (in the given order) that can be removed one after the other while every hub keeps
    ``min_per_hub`` struts and the frame stays in one piece."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keep = present.copy()
    deg = np.bincount(edges[keep].ravel(), minlength=n_nodes)
    out = []
    for e in candidates:
        i, j = edges[e]
        if deg[i] <= min_per_hub or deg[j] <= min_per_hub:
            continue
        keep[e] = False
        ed = edges[keep]
        g = coo_matrix((np.ones(len(ed)), (ed[:, 0], ed[:, 1])), shape=(n_nodes, n_nodes))
        if connected_components(g, directed=False)[0] > 1 + int(np.sum(deg == 0)):
            keep[e] = True
            continue
        deg[i] -= 1
        deg[j] -= 1
        out.append(int(e))
    return np.array(out, np.int64)


def design(frame: Frame, ptask: PairTask, w0, lo: float, hi, config: DesignConfig | None = None,
           progress=None, relax: bool = True) -> DesignResult:
    """Printable width design: every strut ends within ``[lo, hi_e]`` or removed (0).

    Relaxed phases (linear frame; skipped when ``relax`` is False, e.g. to continue from a design) let
    present widths thin to a floor that rises geometrically from ``floor`` to ``lo``; after each, the
    struts that want to be thinner than the next floor (below the geometric mean of the two floors) are
    removed where every hub keeps its struts and the part stays in one piece. The printable phase then holds
    every present width in ``[lo, hi_e]``; while it stalls above ``tol``, topology moves change the struts
    one at a time (:func:`ranked_moves`: a present strut removed or a removed one added at ``lo``; the
    ``move_trials`` best-ranked are re-optimised and the best taken if it lowers C, else the phase ends).
    Should it end above ``tol``, it restarts from each relaxed round's widths before that round's removal
    (latest first) until one reaches ``tol``; the best is kept (``history``: the kept start's steps only,
    its first step marked ``start``). Linear frame first, with the moves; for the corotational model a corotational phase last (the task's
    actuation at finite rotation; no moves there: a corotational trial costs about 10x a linear one)."""
    cfg = (config or DesignConfig()).validate()
    t0 = time.perf_counter()
    w = np.asarray(w0, float).copy()
    hist: list = []
    linear_only = cfg.model == "linear"
    C_start = task_error(respond(frame, w, ptask, linear_only)[1], ptask.wanted)
    floors = cfg.floor * (lo / cfg.floor) ** (np.arange(cfg.rounds + 1) / max(cfg.rounds, 1))
    deep = replace(cfg, tol=1e-3 * cfg.tol)   # relaxed phases (cheap, linear) go deeper: decisive thinning
    restarts = []                             # each relaxed round's widths before its removal, latest first
    for rnd in range(cfg.rounds if relax else 0):
        w, C, _ = gauss_newton(frame, ptask, w, floors[rnd], hi, deep, True, progress=progress,
                               phase=f"relaxed {rnd}", history=hist)
        restarts.insert(0, (f"relaxed {rnd}", w.copy()))
        # struts that want to be thinner than the next floor: removed if nearer the thin limit
        thin = np.flatnonzero((w > 0) & (w < np.sqrt(floors[rnd] * floors[rnd + 1])))
        gone = removable(frame.edges, frame.n, w > 0, thin[np.argsort(w[thin])], cfg.min_struts_per_hub)
        w[gone] = 0.0
        if hist:
            hist[-1]["removed"] = int(gone.size)
    c_ref = task_error(np.zeros_like(ptask.wanted), ptask.wanted) or 1.0
    best = None
    for start, ws in [("last relaxed", w)] + restarts:
        ws, steps = ws.copy(), []
        ws[ws > 0] = np.maximum(ws[ws > 0], lo)
        ws, C = _printable(frame, ptask, ws, lo, hi, cfg, True, progress, steps)
        if steps:
            steps[0]["start"] = start
        if best is None or C < best[1]:
            best = (ws, C, steps)
        if C / c_ref <= cfg.tol:
            break
    w, C, steps = best
    hist.extend(steps)
    if not linear_only:
        w, C = _printable(frame, ptask, w, lo, hi, cfg, False, progress, hist)
    eps = respond(frame, w, ptask, linear_only)[1]
    return DesignResult(w, C, C_start, eps, hist, time.perf_counter() - t0)


def toggled_strains(frame: Frame, w, ptask: PairTask, lo: float) -> np.ndarray:
    """Change of the target strains (E, n_ex, T) of the linear frame when strut e alone is toggled: removed
    if present, added at width ``lo`` if removed. Exact for the linear frame: a Woodbury update of its
    factored KKT matrix by the strut's (2 nd x 2 nd) element stiffness, all struts at once."""
    E, nc = len(w), 2 * frame.nd
    wk = np.where(w > 0, w, lo)                    # every strut at its width, or at lo where it would be added
    dK = frame.element_tangents(np.zeros(frame.ndof), wk, True)[0] * np.where(w > 0, -1.0, 1.0)[:, None, None]
    d = frame.edofs
    out = np.zeros((E, ptask.n_examples, len(ptask.target_pairs)))
    for ex, st in enumerate(respond(frame, w, ptask, True)[0]):
        if st.kkt is None:                         # the rest example: no response, whatever the struts
            continue
        n = frame.ndof
        Z = st.kkt.solve(np.vstack([np.eye(n), np.zeros((st.kkt.n_rows, n))]))[:n]      # K^-1 on the dofs
        GZ = frame.pair_gradient(st.q, ptask.target_pairs, True) @ Z                      # (T, ndof)
        q = st.q.ravel()
        corr = np.linalg.solve(np.eye(nc) + dK @ Z[d[:, :, None], d[:, None, :]], dK @ q[d][:, :, None])
        out[:, ex] = -np.einsum("tec,ec->et", GZ[:, d], corr[:, :, 0])
    return out


def ranked_moves(frame: Frame, ptask: PairTask, w, lo: float, hi, cfg: DesignConfig) -> np.ndarray:
    """Topology moves at the printable minimum, best first: each removable present strut (hubs keep their
    struts, one piece) and each removed strut that fits at ``lo``, ranked by the C of the linear frame that
    one bounded Gauss-Newton step (current Jacobian, the moved strut held) predicts after the move (the
    move's own effect exact, :func:`toggled_strains`)."""
    hi = np.broadcast_to(np.asarray(hi, float), w.shape)
    present = w > 0
    on = np.flatnonzero(present)
    cands = [int(e) for e in np.flatnonzero(~present & (hi >= lo))]
    cands += [int(e) for e in on if removable(frame.edges, frame.n, present, [e], cfg.min_struts_per_hub).size]
    states, eps = respond(frame, w, ptask, True)
    weight = np.sqrt(1.0 / ptask.n_examples)
    J = jacobian(frame, w, states, ptask)[:, on] * weight
    mu = 1e-9 * float(np.max(np.sum(J ** 2, axis=0)) or 1.0)
    moved = eps[None] + toggled_strains(frame, w, ptask, lo)
    lb = np.maximum(lo - w[on], -cfg.max_step)
    ub = np.minimum(hi[on] - w[on], cfg.max_step)
    predicted = []
    for e in cands:
        r = (moved[e] - ptask.wanted).ravel() * weight
        held = on == e
        d = _bounded_step(J, r, np.where(held, 0.0, lb), np.where(held, 0.0, ub), mu)
        predicted.append(0.5 * float(np.sum((r + J @ d) ** 2)))
    return np.array(cands, np.int64)[np.argsort(predicted, kind="stable")]


def _printable(frame, ptask, w, lo, hi, cfg, linear, progress, hist):
    """Printable phase, with topology moves in the linear frame (see :func:`design`); returns (widths, C)."""
    name = "linear" if linear else "corotational"
    w, C, _ = gauss_newton(frame, ptask, w, lo, hi, cfg, linear, progress=progress,
                           phase=f"printable {name}", history=hist)
    c_ref = task_error(np.zeros_like(ptask.wanted), ptask.wanted) or 1.0
    trial_cfg = replace(cfg, steps=cfg.move_steps)
    for _ in range(cfg.moves if linear else 0):
        if C / c_ref <= cfg.tol:
            break
        best = None
        for e in ranked_moves(frame, ptask, w, lo, hi, cfg)[: cfg.move_trials]:
            trial, steps = w.copy(), []
            trial[e] = 0.0 if w[e] > 0 else lo
            try:
                trial, Ct, _ = gauss_newton(frame, ptask, trial, lo, hi, trial_cfg, linear,
                                            phase=f"move {name}", history=steps)
            except MechcllnError:        # the moved frame is singular (a mechanism): not a move
                continue
            if Ct < C and (best is None or Ct < best[1]):
                best = (trial, Ct, e, steps)
        if best is None:
            break
        w, C, e, steps = best
        move = {"move": "removed" if w[e] == 0 else "added", "strut": int(e)}
        if steps:                        # the move is recorded on the last step of its re-optimisation
            steps[-1].update(move)
        else:                            # the move alone reached tol
            steps = [{"phase": f"move {name}", "step": 0, "C": C, "damping": None, "accepted": True,
                      "struts": int(np.sum(w > 0)), "seconds": 0.0, **move}]
        hist.extend(steps)
        if progress:
            progress(f"move {name}", len(hist), C)
    return w, C


class FrameWidths:
    """The frame as an element model of the learning machine (:mod:`mechclln.learner`): parameter ``w``
    (strut widths, mm; 0 = removed), physical state the hub dofs; each strut's ``du_e/dw_e`` at fixed hub
    dofs is the local rule's element gradient (what a strut could sense of its own energy)."""

    names = ("w",)

    def __init__(self, frame: Frame, ptask: PairTask, linear: bool = False):
        self.frame, self.ptask, self.linear = frame, ptask, linear
        self.elements = self
        self.n_factorizations = 0

    @staticmethod
    def physical(state: FrameState) -> FrameState:
        return state

    def param_grad(self, state: FrameState, params) -> dict:
        return {"w": self.frame.energy_width_derivative(state.q, params["w"], self.linear)}

    def free_states(self, params, warm=None):
        return respond(self.frame, params["w"], self.ptask, self.linear, warm)[0]

    def task_error(self, states):
        """C, the target errors per example and dC/dq (ndof,) of each state."""
        n_ex, want, tgt = self.ptask.n_examples, self.ptask.wanted, self.ptask.target_pairs
        eps = np.array([self.frame.pair_strains(st.q, tgt, self.linear) for st in states])
        errs = list(eps - want)
        grads = [self.frame.pair_gradient(st.q, tgt, self.linear).T @ e / n_ex for st, e in zip(states, errs)]
        return task_error(eps, want), errs, grads

    def other_state(self, ex, free: FrameState, params, eta: float, soft: float = 0.0) -> FrameState:
        pt = self.ptask
        eps = self.frame.pair_strains(free.q, pt.target_pairs, self.linear)
        tv = pt.wanted[ex] if soft else eps + eta * (pt.wanted[ex] - eps)
        if not np.any(pt.source_strains[ex]) and not np.any(pt.wanted[ex]):
            return free                       # the rest example: the printed state is both states
        pairs = np.vstack([pt.source_pairs, pt.target_pairs])
        comp = np.concatenate([np.zeros(len(pt.source_pairs)), np.full(len(pt.target_pairs), soft)])
        return self.frame.solve(params["w"], pairs, np.concatenate([pt.source_strains[ex], tv]), self.linear,
                                free.q, soft=comp)

    def adjoint(self, ex, state: FrameState, params, dC_dq) -> dict:
        w = params["w"]
        return {"w": self.frame.adjoint(state, w, dC_dq) if state.kkt is not None else np.zeros_like(w)}

    def beta_unit(self, params) -> float:
        """Axial stiffness x length^2 of a typical strut [N mm] x examples: the energy of unit strain."""
        w = params["w"]
        EA, _, _, _, _, Lf = self.frame.strut_sections(w)
        return float(np.mean(EA / Lf * self.frame.L[w > 0] ** 2)) * self.ptask.n_examples

    def typical(self, name, params) -> float:
        return float(np.mean(params["w"][params["w"] > 0]))

    def reset(self) -> None:
        pass


def local_design(frame: Frame, ptask: PairTask, w0, lo: float, hi, cfg=None, linear: bool = False,
                 progress=None):
    """Width design by a local rule through the learning machine (default coupled learning): present
    widths within ``[lo, hi_e]``, removed ones stay removed. Returns the :class:`mechclln.learner.Learner`."""
    from .learner import LearnConfig, Learner

    w0 = np.asarray(w0, float)
    on = w0 > 0
    bounds = {"w": (np.where(on, lo, 0.0), np.where(on, np.broadcast_to(hi, w0.shape), 0.0))}
    return Learner(FrameWidths(frame, ptask, linear), {"w": w0}, bounds, cfg or LearnConfig()).run(progress=progress)
