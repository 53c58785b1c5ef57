"""Exact equilibria of spring networks under imposed pair strains and node displacements.

A *state* minimises ``U`` (see :mod:`mechclln.springs`) subject to constraint rows (:mod:`mechclln.rows`),
each hard or soft with compliance ``s`` (the equilibrium-propagation nudge). :class:`Equilibria` composes
the parts, one module each:

* :mod:`mechclln.rows`: the rows on a task's terminals, their values ``c(x)`` and Jacobian ``A``;
* :mod:`mechclln.gauge`: rigid modes, the grounded dofs and the reporting gauge;
* :mod:`mechclln.newton`: Newton on the KKT system of the Lagrangian, load continuation;
* :mod:`mechclln.harmonic`: the harmonic model's states from one block solve per (k, l);

and gives the pieces they share: the force residual, the Hessian ``H_L`` of the Lagrangian (constraint
curvature included), the KKT solve (:func:`mechclln.linalg.kkt_solve`) and the adjoint. Only ``H_L`` is
factored; the multipliers come from the small Schur complement ``A H_L^{-1} A^T + S`` (m x m, m = number of
rows). A clamped state therefore reuses the free state's factor: it only adds target rows. The factor is
also reused across learning steps by iterative refinement (:class:`mechclln.linalg.ReusableSolver`), so the
harmonic model with fixed ``k`` factors once per run.

Networks below isostatic (floppy as springs) have no unique equilibrium. ``tether = t > 0`` is the explicit
regularisation: every node is tied to its reference position by a zero-length spring of stiffness t (units
of k), ``U_t = t/2 sum_i |x_i - X_i|^2``, so the Hessian is ``H + t I``: positive definite on every floppy
mode, and rigid-body motion needs no grounded dofs. Its share of the equilibrium (``tether_share``) is what
a run should report beside it. The frame model (:mod:`mechclln.frame`) is rigid for the same networks
without any regularisation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import newton
from .errors import MechcllnError
from .gauge import Gauge
from .harmonic import harmonic_solutions
from .banded import BandAssembler
from .linalg import ReusableSolver, backend_for, kkt_solve
from .network import Network
from .newton import EquilibriumNotFound
from .rows import Rows, State, Terminals, join, no_rows, node_dofs
from .springs import MODELS, PairAssembler, incidence, pair_measure
from .task import Task

__all__ = ["Equilibria", "EquilibriumNotFound", "FLOPPY_REMEDY", "Response", "Rows", "State", "free_states",
           "relax", "require_unique", "respond"]

# What `mechclln network --check` says applies to a network floppy as springs.
FLOPPY_REMEDY = ("which model applies: as springs, only with the explicit tether regularisation (`mechclln "
                 "train --tether 1e-2`, Equilibria(..., tether=t), t ~ 1e-2 of k: the 64-node Z = 3.84 network "
                 "trains with it; at 1e-3 its 20 %-strain "
                 "states were not found; metrics.json reports its share of the energy), or as a frame "
                 "(mechclln.frame: rigid hubs and bending struts), which is rigid for a connected network")


def require_unique(net: Network, tether: float = 0.0) -> None:
    """Refuse (one-line MechcllnError) a network whose spring equilibrium is not unique: floppy modes beyond
    rigid-body motion and no tether."""
    if tether:
        return
    from .rigidity import floppy_modes

    report = floppy_modes(net, pinned=net.pinned)
    if report.n_floppy:
        raise MechcllnError(f"network: {report.message}; or make the springs' equilibrium unique with a weak "
                            "tether (mechclln train --tether 1e-2; `mechclln network --check` says which models "
                            "apply)")


class Equilibria:
    """Equilibrium solver for one network topology, its pins and one task's terminals, in one model.

    ``k`` and ``l`` are passed per call (they change during learning); ``x`` of the network is the
    reference configuration. One :class:`ReusableSolver` per example slot keeps factors between calls (the
    harmonic model's matrix does not depend on the state, so there all slots share one).
    """

    join = staticmethod(join)

    def __init__(self, net: Network, task: Task | None = None, model: str = "nonlinear",
                 check_rigidity: bool = True, tether: float = 0.0):
        if model not in MODELS:
            raise MechcllnError(f"model {model!r} is unknown; choose one of {', '.join(MODELS)}")
        if not (np.isfinite(tether) and tether >= 0):
            raise MechcllnError(f"tether must be a finite stiffness >= 0, got {tether}")
        self.net, self.task, self.model, self.tether = net, task, model, float(tether)
        N, d = net.x.shape
        self.X = net.x
        self.rbar = float(np.mean(net.lengths()))
        anchored = np.zeros(N * d, bool)
        for n in net.pinned:
            anchored[n * d:(n + 1) * d] = True
        if task:
            anchored[node_dofs(task.source_nodes, d)] = True
        self.gauge = Gauge(self.X, anchored, bool(self.tether))
        if task and len(task.target_nodes) and self.gauge.n_ground:
            raise MechcllnError("task: node-displacement targets need pinned nodes (or node sources) that fix "
                                "rigid-body motion; pin at least d non-collinear nodes")
        self.fixed, self.free, self.dof_map = self.gauge.fixed, self.gauge.free, self.gauge.dof_map
        self.terminals = Terminals(self.X, task, model, self.dof_map, len(self.free))
        t = self.terminals
        self.src_pairs, self.tgt_pairs, self.term_pairs, self.term_r0 = t.src_pairs, t.tgt_pairs, t.pairs, t.r0
        self.src_dofs, self.tgt_dofs = t.src_dofs, t.tgt_dofs
        self._pairs = pairs = np.vstack([net.edges, self.term_pairs])
        self.assembler = PairAssembler(pairs, d, self.dof_map)
        # below the dense crossover the Newton matrices are assembled in band storage (mechclln.banded)
        self.band = BandAssembler(pairs, d, self.dof_map, self.tether) \
            if len(self.free) and backend_for(len(self.free)) == "dense" else None
        self._incidence = incidence(net.n_nodes, net.edges)   # forces of the edges: one sparse product
        self._incidence_all = incidence(net.n_nodes, pairs)   # of the edges and the terminal pairs
        self._refs: dict = {}
        self._solvers: dict[int, ReusableSolver] = {}
        self._dropped_factorizations = 0
        self._solver_k: dict[int, np.ndarray] = {}
        if check_rigidity:
            require_unique(net, self.tether)

    # ------------------------------------------------------------------------------------ rows
    def source_rows(self, ex: int) -> Rows:
        return self.terminals.source_rows(ex)

    def target_rows(self, pair_value, dof_value, soft: float = 0.0) -> Rows:
        return self.terminals.target_rows(pair_value, dof_value, soft)

    def initial_x(self, ex: int | None = None) -> np.ndarray:
        return self.terminals.initial_x(ex)

    def measure_rows(self, x, rows: Rows):
        """Row values c(x): pair strains and node displacements; with the pair measures (p, n, curv, r0)."""
        return self.terminals.measure(x, rows)

    def jacobian(self, rows: Rows, row_geo) -> sp.csr_matrix:
        """Constraint Jacobian ``A`` over the free dofs (``row_geo``: from :meth:`measure_rows`)."""
        return self.terminals.jacobian(rows, row_geo)

    def kkt_jacobian(self, rows: Rows, row_geo):
        """:meth:`jacobian` in the form the solver's KKT solves take: dense on the band (small) path."""
        return self.terminals.jacobian(rows, row_geo, dense=self.band is not None)

    # ------------------------------------------------------------------------------------ Lagrangian
    def edge_measure(self, x):
        """pair_measure of the edges; the harmonic model's reference directions are computed once."""
        E = len(self.net.edges)
        return tuple(v[:E] for v in self._measure_pairs(x, self.net.edges, self._reference(self.net.edges)))

    def _measure_pairs(self, x, pairs, ref):
        """pair_measure of ``pairs`` (the harmonic model from their reference geometry ``ref``)."""
        if self.model != "harmonic":
            return pair_measure(self.model, x, self.X, pairs)
        r0, n, c, D = ref
        du = np.take(x, pairs[:, 0], axis=0) - np.take(x, pairs[:, 1], axis=0) - D   # np.take: ~5x faster than x[i]
        return r0 + np.einsum("md,md->m", n, du), n, c    # einsum: (n * du).sum(1) was 3x slower

    def _reference(self, pairs):
        """Lengths, directions, zero curvatures and difference vectors of ``pairs`` (the edges, or the edges
        then the terminal pairs) in the reference configuration, computed once per pair list."""
        key = len(pairs)
        if key not in self._refs:
            D = self.X[pairs[:, 0]] - self.X[pairs[:, 1]]
            self._refs[key] = pair_measure("harmonic", self.X, self.X, pairs) + (D,)
        return self._refs[key]

    def residual(self, x, lam, k, l, rows: Rows, forces: bool = True):
        """KKT residual at (x, lam): ``(r1, r2, edge_geo, row_geo, soft)``.

        ``r1 = dU/dx + A^T lam`` over the free dofs, ``r2 = c(x) - value - S lam`` per row; ``edge_geo`` the
        edges' (p, n, curv), ``row_geo`` the rows' pair geometry, ``soft`` the rows' compliances.
        ``forces=False`` (harmonic model only) skips r1 (returned as None) and the edge measures (the
        reference geometry is returned: the harmonic Hessian does not depend on the state)."""
        soft = rows.soft
        if not forces:
            vals, geo = self.measure_rows(x, rows)
            return None, vals - rows.values - soft * lam, self._reference(self.net.edges)[:3], geo, soft
        # edges and terminal pairs measured together; spring tensions and row multipliers in one product
        E, mp = len(self.net.edges), len(rows.pair)
        p, n, c = self._measure_pairs(x, self._pairs, self._reference(self._pairs))
        vals, geo = self.terminals.measure(x, rows, (p[E:], n[E:], c[E:]))
        w = np.zeros(len(p))
        w[:E] = k * (p[:E] - l)
        np.add.at(w, E + rows.pair, lam[:mp] / geo[3])
        g = self._forces(x, self._incidence_all, w, n).ravel()
        g[rows.dof] += lam[mp:]
        return g[self.free], vals - rows.values - soft * lam, (p[:E], n[:E], c[:E]), geo, soft

    def node_forces(self, x, k, l, p, n) -> np.ndarray:
        """dU/dx (N, d) of the springs at edge measures (p, n), plus the tethers'."""
        return self._forces(x, self._incidence, k * (p - l), n)

    def _forces(self, x, inc, tension, n) -> np.ndarray:
        """Node forces (N, d) of pair ``tension`` along ``n`` (``inc``: the pairs' incidence), plus the tethers'."""
        g = inc @ (tension[:, None] * n)
        return g + self.tether * (x - self.X) if self.tether else g

    def hessian(self, k, l, lam, edge_geo, row_geo, row_pair, band: bool = False):
        """Hessian ``H_L`` of the Lagrangian over the free dofs: springs, constraint curvature
        ``lam/r0 * c (I - n n^T)`` of the pair rows (``row_pair``: their terminal-pair indices), tethers.
        CSR, or with ``band`` (small systems only) a :class:`mechclln.linalg.BandMatrix`."""
        n_all, a, b = self._pair_blocks(k, l, lam, edge_geo, row_geo, row_pair)
        if band:
            return self.band.assemble(n_all, a, b)
        H = self.assembler.assemble(n_all, a, b)
        return H + self.tether * sp.identity(H.shape[0], format="csr") if self.tether else H

    def _pair_blocks(self, k, l, lam, edge_geo, row_geo, row_pair):
        """Directions and block coefficients (a along n, b across) of every edge and terminal pair in H_L."""
        p, n, c = edge_geo
        pairs, pn, pc, r0 = row_geo
        mp = len(pairs)
        E = len(p)
        a = np.zeros(E + len(self.term_pairs))
        b = np.zeros_like(a)
        a[:E] = k
        b[:E] = k * (p - l) * c
        n_all = np.zeros((E + len(self.term_pairs), n.shape[1]))
        n_all[:E] = n
        n_all[E:, 0] = 1.0
        if mp:
            idx = E + row_pair
            n_all[idx] = pn
            np.add.at(b, idx, lam[:mp] / r0 * pc)
        return n_all, a, b

    def stiffness(self, k, l, x=None) -> sp.csr_matrix:
        """Hessian of U (no rows) over the free dofs at ``x`` (default: the reference configuration)."""
        x = self.X if x is None else x
        rows = no_rows()
        _, _, egeo, rgeo, _ = self.residual(x, np.zeros(0), k, l, rows)
        return self.hessian(k, l, np.zeros(0), egeo, rgeo, rows.pair).tocsr()

    def tether_share(self, states: State | list[State], k, l) -> dict:
        """Size of the tether regularisation in ``states`` (one state, or a task's examples): the tethers'
        energy over the springs' energy, both summed over the states, and the largest tether force over the
        largest spring tension (both 0 without tethers; inf where the springs carry nothing)."""
        if not self.tether:
            return {"tether": 0.0, "energy_ratio": 0.0, "force_ratio": 0.0}
        states = states if isinstance(states, list) else [states]
        u = [st.x - self.X for st in states]
        spring_e = sum(0.5 * np.sum(k * (st.p - l) ** 2) for st in states)
        tether_e = sum(0.5 * self.tether * np.sum(d ** 2) for d in u)
        f_t = max(self.tether * np.linalg.norm(d, axis=1).max() for d in u)
        f_s = max(np.abs(k * (st.p - l)).max() for st in states)
        return {"tether": self.tether, "energy_ratio": float(tether_e / spring_e) if spring_e > 0 else float("inf"),
                "force_ratio": float(f_t / f_s) if f_s > 0 else float("inf")}

    # ------------------------------------------------------------------------------------ solvers
    def _slot(self, slot: int) -> int:
        """The harmonic model's matrix is the same for every state: all slots share one solver."""
        return 0 if self.model == "harmonic" else slot

    def solver(self, slot: int) -> ReusableSolver:
        slot = self._slot(slot)
        if slot not in self._solvers:
            self._solvers[slot] = ReusableSolver()
        return self._solvers[slot]

    @property
    def solvers(self) -> list[ReusableSolver]:
        """The solvers kept now (one per slot in use)."""
        return list(self._solvers.values())

    @property
    def n_factorizations(self) -> int:
        """Factorisations so far, including those of solvers dropped by :meth:`reset_solvers`."""
        return self._dropped_factorizations + sum(s.n_factor for s in self._solvers.values())

    def reset_solvers(self) -> None:
        """Forget every cached factor (the next solves refactor), keeping the factorisation count."""
        self._dropped_factorizations = self.n_factorizations
        self._solvers.clear()
        self._solver_k.clear()

    def update_matrix(self, solver, slot, k, l, lam, egeo, rgeo, row_pair) -> None:
        """Give ``solver`` the current Hessian; the harmonic one changes only with k."""
        slot = self._slot(slot)
        if self.model == "nonlinear" or not np.array_equal(self._solver_k.get(slot), k):
            solver.set_matrix(self.hessian(k, l, lam, egeo, rgeo, row_pair, band=self.band is not None))
            self._solver_k[slot] = k.copy()

    # ------------------------------------------------------------------------------------ solve
    def solve(self, k, l, rows: Rows, x0: np.ndarray, lam0: np.ndarray | None = None, slot: int = 0,
              max_iter: int = 60) -> State:
        """Newton-KKT equilibrium from the warm start ``x0``; falls back to load continuation
        (:func:`mechclln.newton.solve`)."""
        return newton.solve(self, k, l, rows, x0, lam0, slot, max_iter)

    def aligned(self, x: np.ndarray) -> np.ndarray:
        """Positions moved rigidly to the reporting gauge (:class:`mechclln.gauge.Gauge`)."""
        return self.gauge.aligned(x)

    def adjoint(self, state: State, k, l, dC_dx: np.ndarray, slot: int = 0):
        """Gradient of a cost C(x) through the equilibrium ``state``: (dC/dk, dC/dl) per edge.

        Solves ``[H_L A^T; A -S][v; mu] = [dC/dx; 0]`` (the KKT matrix is symmetric), then
        ``dC/dk_e = -(p_e - l_e) n_e.(v_i - v_j)`` and ``dC/dl_e = k_e n_e.(v_i - v_j)``.
        """
        _, _, egeo, rgeo, soft = self.residual(state.x, state.lam, k, l, state.rows)
        solver = self.solver(slot)
        self.update_matrix(solver, slot, k, l, state.lam, egeo, rgeo, state.rows.pair)
        A = self.kkt_jacobian(state.rows, rgeo)
        Y = harmonic_solutions(self, solver, k, l, state.rows, state.x, state.lam)[0] \
            if self.model == "harmonic" else None
        v_free, _ = kkt_solve(solver, A, soft, dC_dx.ravel()[self.free], np.zeros(state.rows.m), Y=Y)
        v = np.zeros(self.X.size)
        v[self.free] = v_free
        v = v.reshape(self.X.shape)
        p, n, _ = egeo
        e = self.net.edges
        dv = np.einsum("ed,ed->e", n, v[e[:, 0]] - v[e[:, 1]])
        return -(p - l) * dv, k * dv


# ------------------------------------------------------------------------------------------ helpers
@dataclass
class Response:
    """Free-state response of a network to every example of a task."""

    model: str
    x: np.ndarray                 # (n_ex, N, d) positions in the zero-mean gauge
    source_strains: np.ndarray    # (n_ex, S)
    target_strains: np.ndarray    # (n_ex, T)
    target_displacements: np.ndarray  # (n_ex, Tn)
    source_forces: np.ndarray     # (n_ex, S): tension of the imposing force pair, + pulls the pair apart
    energy: np.ndarray            # (n_ex,)
    residual: np.ndarray          # (n_ex,) relative force residual


def relax(net: Network, model: str = "nonlinear", check_rigidity: bool = True, tether: float = 0.0) -> np.ndarray:
    """Positions (N, d) minimising U with no inputs (pinned nodes fixed), in the zero-mean gauge.

    For a trained network these are the print positions: a stress-free print at them realises the trained
    rest lengths as well as a stress-free part can.
    """
    eq = Equilibria(net, None, model, check_rigidity, tether)
    st = eq.solve(net.k, net.l, no_rows(), net.x.copy())
    return eq.aligned(st.x)


def free_states(eq: Equilibria, k, l, warm: list | None = None) -> list[State]:
    """Free state of every example (warm-started from ``warm`` states when given)."""
    out = []
    for ex in range(eq.task.n_examples):
        rows = eq.source_rows(ex)
        x0 = warm[ex].x if warm else eq.initial_x(ex)
        lam0 = warm[ex].lam if warm else None
        out.append(eq.solve(k, l, rows, x0, lam0, slot=ex))
    return out


def respond(net: Network, task: Task, model: str = "nonlinear", check_rigidity: bool = True,
            tether: float = 0.0) -> Response:
    """Free-state response of ``net`` (its own k, l) to every example of ``task`` (``tether``: see
    :class:`Equilibria`)."""
    task.validate(net)
    eq = Equilibria(net, task, model, check_rigidity, tether)
    states = free_states(eq, net.k, net.l)
    S, T = len(task.source_pairs), len(task.target_pairs)
    xs, src, tgt, tdisp, force, en = [], [], [], [], [], []
    for st in states:
        xs.append(eq.aligned(st.x))
        vals, _ = eq.measure_rows(st.x, eq.join(st.rows, eq.target_rows(np.zeros(T), np.zeros(len(eq.tgt_dofs)))))
        src.append(vals[:S])
        tgt.append(vals[S:S + T])
        tdisp.append(vals[S + T:])
        force.append(-st.lam[:S] / eq.term_r0[:S])
        en.append(0.5 * np.sum(net.k * (st.p - net.l) ** 2))
    return Response(model, np.array(xs), np.array(src), np.array(tgt), np.array(tdisp), np.array(force),
                    np.array(en), np.array([s.residual for s in states]))
