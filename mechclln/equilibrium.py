"""Exact equilibria of spring networks under imposed pair strains and node displacements.

A *state* minimises ``U`` (see :mod:`mechclln.springs`) subject to constraint rows, each either hard
(``c(x) = value``) or soft with compliance ``s`` (energy ``(c(x) - value)^2 / (2 s)``, used for the
equilibrium-propagation nudge). Pair rows constrain the pair strain ``eps = p/r0 - 1``; node rows one
displacement component. Newton's method solves the KKT system of the Lagrangian
``L = U + sum_r lam_r (c_r(x) - value_r) - sum_r s_r lam_r^2 / 2``::

    [ H_L   A^T ] [dx  ]     [ dU/dx + A^T lam  ]
    [ A    -S   ] [dlam] = - [ c(x) - v - S lam ]

with ``H_L`` the Hessian of the Lagrangian (constraint curvature included) and ``A`` the constraint
Jacobian. Only ``H_L`` is factored; the multipliers come from the small Schur complement
``A H_L^{-1} A^T + S`` (m x m, m = number of rows). A clamped state therefore reuses the free state's
factor: it only adds target rows. The factor is also reused across learning steps by iterative refinement
(:class:`mechclln.linalg.ReusableSolver`), so the harmonic model with fixed ``k`` factors once per run.

Rigid-body motion: pinned nodes and node sources fix their dofs; the rigid-body modes they leave free are
removed by fixing a statically determinate set of dofs (picked by a pivoted QR of the rigid modes), which
carries no reaction under self-equilibrated loads, and reported positions are then moved rigidly to the
zero-mean gauge (no net translation or rotation relative to the reference; Kabsch alignment), or, with one
anchored node, rotated about that node.

Networks below isostatic (floppy as springs) have no unique equilibrium. ``tether = t > 0`` is the explicit
regularisation: every node is tied to its reference position by a zero-length spring of stiffness t (units
of k), ``U_t = t/2 sum_i |x_i - X_i|^2``, so the Hessian is ``H + t I``: positive definite on every floppy
mode, and rigid-body motion needs no grounded dofs. Its share of the equilibrium (``tether_share``) is what
a run should report beside it. The frame model (:mod:`mechclln.frame`) is rigid for the same networks
without any regularisation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from .errors import MechcllnError
from .linalg import ReusableSolver, SingularMatrixError
from .network import Network
from .springs import MODELS, PairAssembler, incidence, pair_measure, rigid_modes, scatter_pair_vectors
from .task import Task

FORCE_TOL = 1e-11     # |dU/dx + A^T lam|_inf / (mean k * mean bond length)
CONSTRAINT_TOL = 1e-12
# Backward error of the harmonic model's block solve (K^-1 of the terminal rows and the eigenstrain load).
# Measured (2D, 1e4 nodes): the states' relative force residual is about 0.4x this backward error, so 1e-12
# leaves FORCE_TOL a 25x margin and the states still need one Newton iteration; 1e-13 cost ~0.5 more CG
# iterations per step.
HARMONIC_RTOL = 1e-12
# What `mechclln network --check` says applies to a network floppy as springs.
FLOPPY_REMEDY = ("which model applies: as springs, only with the explicit tether regularisation (Equilibria(..., "
                 "tether=t), t ~ 1e-2 of k: the 64-node Z = 3.84 network trains with it; at 1e-3 its 20 %-strain "
                 "states were not found; report Equilibria.tether_share with the results), or as a frame "
                 "(mechclln.frame: rigid hubs and bending struts), which is rigid for a connected network")


@dataclass(frozen=True)
class Rows:
    """Constraint rows of a state: pair rows index the solver's terminal pairs (sources, then targets)."""

    pair: np.ndarray
    pair_value: np.ndarray
    pair_soft: np.ndarray
    dof: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dof_value: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dof_soft: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def m(self) -> int:
        return len(self.pair) + len(self.dof)

    def with_values(self, pair_value, dof_value) -> "Rows":
        return Rows(self.pair, pair_value, self.pair_soft, self.dof, dof_value, self.dof_soft)


@dataclass
class State:
    """An equilibrium: positions ``x`` (N, d) in the solver's internal frame, multipliers ``lam`` (one per
    row, pair rows first), the edge length measures ``p`` (E,), and the rows it satisfies."""

    x: np.ndarray
    lam: np.ndarray
    rows: Rows
    p: np.ndarray
    residual: float
    iterations: int


class Equilibria:
    """Equilibrium solver for one network topology, its pins and one task's terminals, in one model.

    ``k`` and ``l`` are passed per call (they change during learning); ``x`` of the network is the
    reference configuration. One :class:`ReusableSolver` per example slot keeps factors between calls (the
    harmonic model's matrix does not depend on the state, so there all slots share one).
    """

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
        empty2 = np.zeros((0, 2), np.int64)
        self.src_pairs = task.source_pairs if task else empty2
        self.tgt_pairs = task.target_pairs if task else empty2
        self.term_pairs = np.vstack([self.src_pairs, self.tgt_pairs])
        self.term_r0 = np.linalg.norm(self.X[self.term_pairs[:, 0]] - self.X[self.term_pairs[:, 1]], axis=1)
        node_dof = lambda t: t[:, 0] * d + t[:, 1]
        self.src_dofs = node_dof(task.source_nodes) if task else np.zeros(0, np.int64)
        self.tgt_dofs = node_dof(task.target_nodes) if task else np.zeros(0, np.int64)

        fixed = np.zeros(N * d, bool)
        for n in net.pinned:
            fixed[n * d:(n + 1) * d] = True
        fixed[self.src_dofs] = True
        anchored = fixed.copy()
        R = rigid_modes(self.X)
        null = sla.null_space(R[anchored]) if anchored.any() else np.eye(R.shape[1])
        R_rem = R @ null
        self.n_ground = R_rem.shape[1] if not self.tether else 0   # tethers hold rigid-body motion
        if self.n_ground:
            free_idx = np.flatnonzero(~fixed)
            _, _, piv = sla.qr(R_rem[free_idx].T, pivoting=True, mode="economic")
            fixed[free_idx[piv[: self.n_ground]]] = True
        if len(self.tgt_dofs) and self.n_ground:
            raise MechcllnError("task: node-displacement targets need pinned nodes (or node sources) that fix "
                                "rigid-body motion; pin at least d non-collinear nodes")
        self.fixed = fixed
        self.free = np.flatnonzero(~fixed)
        self.dof_map = -np.ones(N * d, np.int64)
        self.dof_map[self.free] = np.arange(len(self.free))
        anchor_nodes = np.unique(np.flatnonzero(anchored) // d)
        if self.n_ground == R.shape[1]:
            self.gauge = ("kabsch", None)
        elif len(anchor_nodes) == 1 and anchored[anchor_nodes[0] * d:(anchor_nodes[0] + 1) * d].all():
            self.gauge = ("pivot", int(anchor_nodes[0]))
        else:
            self.gauge = ("none", None)
        self.assembler = PairAssembler(np.vstack([net.edges, self.term_pairs]), d, self.dof_map)
        self._incidence = incidence(net.n_nodes, net.edges)   # forces of the edges: one sparse product
        self._solvers: dict[int, ReusableSolver] = {}
        self._dropped_factorizations = 0
        self._solver_k: dict[int, np.ndarray] = {}
        if check_rigidity and not self.tether:
            from .rigidity import floppy_modes

            report = floppy_modes(net, pinned=net.pinned)
            if report.n_floppy:
                raise MechcllnError(f"network: {report.message}")

    # ------------------------------------------------------------------------------------ rows
    def source_rows(self, ex: int) -> Rows:
        S = len(self.src_pairs)
        return Rows(np.arange(S), self.task.source_strains[ex].astype(float), np.zeros(S))

    def target_rows(self, pair_value, dof_value, soft: float = 0.0) -> Rows:
        S, T, Tn = len(self.src_pairs), len(self.tgt_pairs), len(self.tgt_dofs)
        return Rows(S + np.arange(T), np.asarray(pair_value, float), np.full(T, soft),
                    self.tgt_dofs, np.asarray(dof_value, float), np.full(Tn, soft))

    @staticmethod
    def join(a: Rows, b: Rows) -> Rows:
        return Rows(np.concatenate([a.pair, b.pair]), np.concatenate([a.pair_value, b.pair_value]),
                    np.concatenate([a.pair_soft, b.pair_soft]), np.concatenate([a.dof, b.dof]),
                    np.concatenate([a.dof_value, b.dof_value]), np.concatenate([a.dof_soft, b.dof_soft]))

    def initial_x(self, ex: int | None = None) -> np.ndarray:
        x = self.X.copy()
        if ex is not None and len(self.src_dofs):
            x.ravel()[self.src_dofs] += self.task.source_displacements[ex]
        return x

    # ------------------------------------------------------------------------------------ pieces
    def measure_rows(self, x, rows: Rows):
        """Row values c(x): pair strains and node displacements; with the pair measures (p, n, curv)."""
        pairs = self.term_pairs[rows.pair]
        p, n, c = pair_measure(self.model, x, self.X, pairs)
        r0 = self.term_r0[rows.pair]
        disp = (x - self.X).ravel()[rows.dof]
        return np.concatenate([p / r0 - 1.0, disp]), (pairs, n, c, r0)

    def _jacobian(self, rows: Rows, geo) -> sp.csr_matrix:
        """Constraint Jacobian over the free dofs; constant in the harmonic model (cached per row set)."""
        if self.model != "harmonic":
            return self._build_jacobian(rows, geo)
        key = (rows.pair.tobytes(), rows.dof.tobytes())
        cache = self.__dict__.setdefault("_jacobians", {})
        if key not in cache:
            cache[key] = self._build_jacobian(rows, geo)
        return cache[key]

    def _build_jacobian(self, rows: Rows, geo) -> sp.csr_matrix:
        pairs, n, _, r0 = geo
        d = self.X.shape[1]
        mp = len(pairs)
        g = n / r0[:, None]
        rr = np.repeat(np.arange(mp), 2 * d)
        cc = np.concatenate([pairs[:, :1] * d + np.arange(d), pairs[:, 1:] * d + np.arange(d)], 1).ravel()
        vv = np.concatenate([g, -g], 1).ravel()
        rr = np.concatenate([rr, mp + np.arange(len(rows.dof))])
        cc = np.concatenate([cc, rows.dof])
        vv = np.concatenate([vv, np.ones(len(rows.dof))])
        cols = self.dof_map[cc]
        keep = cols >= 0
        return sp.csr_matrix((vv[keep], (rr[keep], cols[keep])), shape=(rows.m, len(self.free)))

    def _edge_measure(self, x):
        """pair_measure of the edges; the harmonic model's reference directions are computed once."""
        if self.model != "harmonic":
            return pair_measure(self.model, x, self.X, self.net.edges)
        i, j = self.net.edges[:, 0], self.net.edges[:, 1]
        r0, n, c, D = self._edge_reference()
        du = np.take(x, i, axis=0) - np.take(x, j, axis=0) - D     # np.take: ~5x faster than x[i]
        return r0 + np.einsum("md,md->m", n, du), n, c    # einsum: (n * du).sum(1) was 3x slower

    def _edge_reference(self):
        """Edge lengths, directions, zero curvatures and difference vectors in the reference configuration."""
        if not hasattr(self, "_edge_ref"):
            i, j = self.net.edges[:, 0], self.net.edges[:, 1]
            self._edge_ref = pair_measure("harmonic", self.X, self.X, self.net.edges) + (self.X[i] - self.X[j],)
        return self._edge_ref

    def _residual(self, x, lam, k, l, rows: Rows, forces: bool = True):
        """Force residual r1 (free dofs), row residual r2, edge and row geometry, row compliances.
        ``forces=False`` (harmonic model only) skips r1 (returned as None) and the edge measures (the
        reference geometry is returned: the harmonic Hessian does not depend on the state)."""
        vals, geo = self.measure_rows(x, rows)
        soft = np.concatenate([rows.pair_soft, rows.dof_soft])
        r2 = vals - np.concatenate([rows.pair_value, rows.dof_value]) - soft * lam
        if not forces:
            return None, r2, self._edge_reference()[:3], geo, soft
        p, n, c = self._edge_measure(x)
        g = self._node_forces(x, k, l, p, n)
        pairs, pn, _, r0 = geo
        mp = len(pairs)
        g += scatter_pair_vectors(len(x), pairs, (lam[:mp] / r0)[:, None] * pn)
        g = g.ravel()
        g[rows.dof] += lam[mp:]
        return g[self.free], r2, (p, n, c), geo, soft

    def _node_forces(self, x, k, l, p, n) -> np.ndarray:
        """dU/dx (N, d) of the springs at edge measures (p, n), plus the tethers'."""
        g = self._incidence @ ((k * (p - l))[:, None] * n)
        return g + self.tether * (x - self.X) if self.tether else g

    def tether_share(self, state: State, k, l) -> dict:
        """Size of the tether regularisation in ``state``: its energy over the springs' energy, and its
        largest force over the largest spring tension (both 0 without tethers)."""
        if not self.tether:
            return {"tether": 0.0, "energy_ratio": 0.0, "force_ratio": 0.0}
        u = state.x - self.X
        spring_e = 0.5 * np.sum(k * (state.p - l) ** 2)
        tether_e = 0.5 * self.tether * np.sum(u ** 2)
        f_t = self.tether * np.linalg.norm(u, axis=1).max()
        f_s = np.abs(k * (state.p - l)).max()
        return {"tether": self.tether, "energy_ratio": float(tether_e / spring_e) if spring_e > 0 else float("inf"),
                "force_ratio": float(f_t / f_s) if f_s > 0 else float("inf")}

    def _hessian(self, k, l, lam, edge_geo, row_geo, row_pair):
        p, n, c = edge_geo
        pairs, pn, pc, r0 = row_geo
        mp = len(pairs)
        E = len(p)
        a = np.zeros(E + len(self.term_pairs))
        b = np.zeros_like(a)
        a[:E] = k
        b[:E] = k * (p - l) * c
        # constraint curvature lam * d2eps/dx2 = lam/r0 * c (I - n n^T); rows index term pairs
        n_all = np.zeros((E + len(self.term_pairs), n.shape[1]))
        n_all[:E] = n
        n_all[E:, 0] = 1.0
        if mp:
            idx = E + row_pair
            n_all[idx] = pn
            np.add.at(b, idx, lam[:mp] / r0 * pc)
        H = self.assembler.assemble(n_all, a, b)
        return H + self.tether * sp.identity(H.shape[0], format="csr") if self.tether else H

    def _slot(self, slot: int) -> int:
        """The harmonic model's matrix is the same for every state: all slots share one solver."""
        return 0 if self.model == "harmonic" else slot

    def solver(self, slot: int) -> ReusableSolver:
        slot = self._slot(slot)
        if slot not in self._solvers:
            self._solvers[slot] = ReusableSolver()
        return self._solvers[slot]

    @property
    def n_factorizations(self) -> int:
        """Factorisations so far, including those of solvers dropped by :meth:`reset_solvers`."""
        return self._dropped_factorizations + sum(s.n_factor for s in self._solvers.values())

    def reset_solvers(self) -> None:
        """Forget every cached factor (the next solves refactor), keeping the factorisation count."""
        self._dropped_factorizations = self.n_factorizations
        self._solvers.clear()
        self._solver_k.clear()

    @staticmethod
    def _kkt(solver: ReusableSolver, A: sp.csr_matrix, soft, r1, r2, Y=None, z=None, rtol=None):
        """Solve [H A^T; A -S][dx; dlam] = [r1; r2] with the factor of H and the Schur complement.

        ``Y = H^-1 A^T`` and ``z = H^-1 r1`` may be passed when already known (harmonic model); ``rtol``
        loosens the linear solves (inexact Newton)."""
        if A.shape[0] == 0:
            return (solver.solve(r1, rtol) if z is None else z), np.zeros(0)
        if Y is None:
            Z = solver.solve(np.column_stack([r1, A.T.toarray()]), rtol)
            z, Y = Z[:, 0], Z[:, 1:]
        elif z is None:
            z = solver.solve(r1, rtol)
        S = A @ Y + np.diag(soft)
        try:
            dlam = np.linalg.solve(S, A @ z - r2)
        except np.linalg.LinAlgError:
            raise SingularMatrixError("constraint rows are dependent (two rows constrain the same motion)") from None
        return z - Y @ dlam, dlam

    # ------------------------------------------------------------------------------------ solve
    def solve(self, k, l, rows: Rows, x0: np.ndarray, lam0: np.ndarray | None = None, slot: int = 0,
              max_iter: int = 60) -> State:
        """Newton-KKT equilibrium from the warm start ``x0``; falls back to load continuation."""
        lam0 = np.zeros(rows.m) if lam0 is None else lam0
        try:
            return self._newton(k, l, rows, x0, lam0, slot, max_iter)
        except _NoConvergence:
            pass
        vals0, _ = self.measure_rows(x0, rows)
        target = np.concatenate([rows.pair_value, rows.dof_value])
        mp = len(rows.pair)
        for n_sub in (4, 16, 64):
            x, lam = x0, lam0
            try:
                for s in np.linspace(0, 1, n_sub + 1)[1:]:
                    v = vals0 + s * (target - vals0)
                    st = self._newton(k, l, rows.with_values(v[:mp], v[mp:]), x, lam, slot, max_iter)
                    x, lam = st.x, st.lam
                return st
            except _NoConvergence:
                continue
        raise EquilibriumNotFound("equilibrium not found even with load continuation; the imposed strains are too "
                            "large for this network (reduce them or use the harmonic model)")

    def _newton(self, k, l, rows: Rows, x0, lam0, slot, max_iter) -> State:
        x = x0.copy()
        lam = lam0.astype(float).copy()
        kbar = float(np.mean(k))
        fscale = kbar * self.rbar
        solver = self.solver(slot)
        nfree = len(self.free)
        # harmonic model: the first iteration is the exact solve of a quadratic problem (no line search),
        # so the warm start's force residual is not needed
        harmonic = self.model == "harmonic"
        res = self._residual(x, lam, k, l, rows, forces=not harmonic)
        for it in range(max_iter):
            r1, r2, egeo, rgeo, soft = res
            if r1 is not None:
                f_err = np.abs(r1).max() / fscale if nfree else 0.0
                c_err = np.abs(r2).max() if len(r2) else 0.0
                if f_err <= FORCE_TOL and c_err <= CONSTRAINT_TOL:
                    return State(x, lam, rows, egeo[0], f_err, it)
            self._update_matrix(solver, slot, k, l, lam, egeo, rgeo, rows.pair)
            A = self._jacobian(rows, rgeo)
            try:
                if r1 is None:
                    Y, w = self._harmonic_solutions(solver, k, l, rows, x, lam)
                    dx, dlam = self._kkt(solver, A, soft, None, -r2, Y=Y, z=-w)
                else:
                    # inexact Newton: the linear error need only be small against what the step leaves,
                    # the tolerance or, while far from it, the quadratic remainder ~ |r1|^2 / fscale
                    rn = max(np.abs(r1).max(), 1e-300)
                    rtol = min(1e-6, 1e-3 * max(FORCE_TOL * fscale, rn ** 2 / fscale) / rn)
                    dx, dlam = self._kkt(solver, A, soft, -r1, -r2, rtol=rtol)
            except SingularMatrixError as exc:
                raise MechcllnError(f"network: stiffness matrix is singular ({exc}); the network has floppy "
                                    "modes or a source/target pair is not connected to the rest; run "
                                    "`mechclln network --check` on it") from None
            if r1 is None:      # exact minimiser of the quadratic U on the rows: no line search
                x = x.copy()
                x.ravel()[self.free] += dx
                lam = lam + dlam
                res = self._residual(x, lam, k, l, rows)
                continue
            step = np.abs(dx).max() / self.rbar
            s = min(1.0, 0.25 / step) if self.model == "nonlinear" and step > 0 else 1.0
            merit = np.sum(r1 ** 2) + fscale ** 2 * np.sum(r2 ** 2)
            while True:
                xt = x.copy()
                xt.ravel()[self.free] += s * dx
                lt = lam + s * dlam
                res = self._residual(xt, lt, k, l, rows)
                t1, t2 = res[0], res[1]
                if np.sum(t1 ** 2) + fscale ** 2 * np.sum(t2 ** 2) <= (1 - 1e-4 * s) * merit or s < 1e-6:
                    break
                s *= 0.5
            if s < 1e-6:
                raise _NoConvergence
            x, lam = xt, lt
        raise _NoConvergence

    def _update_matrix(self, solver, slot, k, l, lam, egeo, rgeo, row_pair) -> None:
        """Give ``solver`` the current Hessian; the harmonic one changes only with k."""
        slot = self._slot(slot)
        if self.model == "nonlinear" or not np.array_equal(self._solver_k.get(slot), k):
            solver.set_matrix(self._hessian(k, l, lam, egeo, rgeo, row_pair))
            self._solver_k[slot] = k.copy()

    def _harmonic_solutions(self, solver, k, l, rows: Rows, x, lam):
        """Harmonic model: ``Y = K^-1 A_R^T`` and ``w = K^-1 r1(x, lam)`` without a solve per state.

        U is quadratic and the row Jacobian constant, so the residual is affine:
        ``r1(x, lam) = K (x - x_f)_free + r1(x_f, 0) + A^T lam`` with ``x_f`` the reference positions with
        ``x``'s fixed dofs (node-source displacements). Per (k, l) one block solve gives ``K^-1`` of every
        terminal row's Jacobian and of ``r1(x_f, 0)``; every free, clamped or nudged state of every
        example is then a small Schur-complement system.
        """
        c = solver.cache          # cleared when the matrix (k) changes; "Y" does not depend on l
        if not np.array_equal(c.get("l"), l):
            c["l"] = l.copy()
            c["b"] = {}
        u = (x - self.X).ravel()
        key = u[self.fixed].tobytes()
        xf = self.X.copy()
        xf.ravel()[self.fixed] += u[self.fixed]
        cols = []
        if key not in c["b"]:
            p, n, _ = self._edge_measure(xf)
            g = self._node_forces(xf, k, l, p, n).ravel()
            cols.append(g[self.free])
        if "Y" not in c:
            every = Rows(np.arange(len(self.term_pairs)), np.zeros(len(self.term_pairs)),
                         np.zeros(len(self.term_pairs)), self.tgt_dofs, np.zeros(len(self.tgt_dofs)),
                         np.zeros(len(self.tgt_dofs)))
            _, geo = self.measure_rows(self.X, every)
            cols.extend(self._jacobian(every, geo).toarray())
        if cols:
            # the previous (k, l)'s solutions are the initial guess: a learning step changes K a little
            prev = solver.previous
            guess = ([prev["b"][key]] if key not in c["b"] and key in prev.get("b", {}) else []) + \
                    ([prev["Y"]] if "Y" not in c and "Y" in prev else [])
            x0 = np.column_stack(guess) if len(guess) == (key not in c["b"]) + ("Y" not in c) else None
            Z = solver.solve(np.column_stack(cols), HARMONIC_RTOL, x0=x0)
            if key not in c["b"]:
                c["b"][key] = Z[:, 0]
                prev.setdefault("b", {})[key] = Z[:, 0]
                Z = Z[:, 1:]
            if "Y" not in c:
                c["Y"] = Z
                prev["Y"] = Z
        dof_col = {int(dof): len(self.term_pairs) + i for i, dof in enumerate(self.tgt_dofs)}
        idx = np.concatenate([rows.pair, [dof_col[int(dd)] for dd in rows.dof]]).astype(np.int64)
        Y = c["Y"][:, idx]
        w = (x - xf).ravel()[self.free] + c["b"][key] + Y @ lam
        return Y, w

    # ------------------------------------------------------------------------------------ gauge
    def aligned(self, x: np.ndarray) -> np.ndarray:
        """Positions moved rigidly to the reporting gauge (see module docstring)."""
        kind, node = self.gauge
        if kind == "none":
            return x.copy()
        if kind == "kabsch":
            cx, cX = x.mean(0), self.X.mean(0)
        else:
            cx, cX = x[node], self.X[node]
        H = (x - cx).T @ (self.X - cX)
        U, _, Vt = np.linalg.svd(H)
        D = np.eye(x.shape[1])
        D[-1, -1] = np.sign(np.linalg.det(U @ Vt))
        Rm = U @ D @ Vt
        return (x - cx) @ Rm + cX

    # ------------------------------------------------------------------------------------ adjoint
    def adjoint(self, state: State, k, l, dC_dx: np.ndarray, slot: int = 0):
        """Gradient of a cost C(x) through the equilibrium ``state``: (dC/dk, dC/dl) per edge.

        Solves ``[H_L A^T; A -S][v; mu] = [dC/dx; 0]`` (the KKT matrix is symmetric), then
        ``dC/dk_e = -(p_e - l_e) n_e.(v_i - v_j)`` and ``dC/dl_e = k_e n_e.(v_i - v_j)``.
        """
        _, _, egeo, rgeo, soft = self._residual(state.x, state.lam, k, l, state.rows)
        solver = self.solver(slot)
        self._update_matrix(solver, slot, k, l, state.lam, egeo, rgeo, state.rows.pair)
        A = self._jacobian(state.rows, rgeo)
        Y = self._harmonic_solutions(solver, k, l, state.rows, state.x, state.lam)[0] \
            if self.model == "harmonic" else None
        v_free, _ = self._kkt(solver, A, soft, dC_dx.ravel()[self.free], np.zeros(state.rows.m), Y=Y)
        v = np.zeros(self.X.size)
        v[self.free] = v_free
        v = v.reshape(self.X.shape)
        p, n, _ = egeo
        e = self.net.edges
        dv = np.einsum("ed,ed->e", n, v[e[:, 0]] - v[e[:, 1]])
        return -(p - l) * dv, k * dv


class _NoConvergence(Exception):
    pass


class EquilibriumNotFound(MechcllnError):
    """Newton with load continuation did not reach an equilibrium (too large a load or an unstable design)."""


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
    rows = Rows(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    st = eq.solve(net.k, net.l, rows, net.x.copy())
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
