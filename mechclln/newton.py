"""Newton's method on the KKT system of an equilibrium, with load continuation as the fallback.

For the Lagrangian ``L = U + sum_r lam_r (c_r(x) - value_r) - sum_r s_r lam_r^2 / 2`` each iteration solves::

    [ H_L   A^T ] [dx  ]     [ dU/dx + A^T lam  ]
    [ A    -S   ] [dlam] = - [ c(x) - v - S lam ]

(:func:`mechclln.linalg.kkt_solve`) with a backtracking line search on the merit
``|r1|^2 + (k rbar)^2 |r2|^2``; the nonlinear model's steps are capped at 0.25 mean bond lengths. In the
harmonic model the first iteration is the exact minimiser of the quadratic problem (no line search), from
the precomputed solutions of :mod:`mechclln.harmonic`. On the band path (small systems) the nonlinear
model's last iterations keep the factor (chord steps, ``CHORD_TOL``). ``eq`` is an
:class:`mechclln.equilibrium.Equilibria`.
"""
from __future__ import annotations

import numpy as np

from .errors import MechcllnError
from .harmonic import harmonic_solutions
from .linalg import SingularMatrixError, kkt_solve
from .rows import Rows, State

FORCE_TOL = 1e-11     # |dU/dx + A^T lam|_inf / (mean k * mean bond length)
CONSTRAINT_TOL = 1e-12
# Small systems (the band path), nonlinear model: from this relative force residual on, an iteration keeps
# the solve's last factor (a chord step): the Hessian has moved by about the last step, so the chord step
# still gains several digits. Peer run: same 125 steps, factorisations 647 -> 478. Looser is cheaper (1e-6:
# 406) but its states sit closer to FORCE_TOL: 5 k+l steps on a 64-node network then differ from the
# sparse path's by 1e-10 in k (1e-8: 3e-12, full Newton: 2e-12).
CHORD_TOL = 1e-8


class EquilibriumNotFound(MechcllnError):
    """Newton with load continuation did not reach an equilibrium (too large a load or an unstable design)."""


class _NoConvergence(Exception):
    pass


def solve(eq, k, l, rows: Rows, x0: np.ndarray, lam0: np.ndarray | None = None, slot: int = 0,
          max_iter: int = 60) -> State:
    """Newton-KKT equilibrium from the warm start ``x0``; falls back to load continuation (the row values
    moved from their values at ``x0`` to the imposed ones in 4, 16, then 64 steps)."""
    lam0 = np.zeros(rows.m) if lam0 is None else lam0
    try:
        return newton(eq, k, l, rows, x0, lam0, slot, max_iter)
    except _NoConvergence:
        pass
    vals0, _ = eq.measure_rows(x0, rows)
    target = rows.values
    mp = len(rows.pair)
    for n_sub in (4, 16, 64):
        x, lam = x0, lam0
        try:
            for s in np.linspace(0, 1, n_sub + 1)[1:]:
                v = vals0 + s * (target - vals0)
                st = newton(eq, k, l, rows.with_values(v[:mp], v[mp:]), x, lam, slot, max_iter)
                x, lam = st.x, st.lam
            return st
        except _NoConvergence:
            continue
    raise EquilibriumNotFound("equilibrium not found even with load continuation; the imposed strains are too "
                              "large for this network (reduce them or use the harmonic model)")


def newton(eq, k, l, rows: Rows, x0, lam0, slot, max_iter) -> State:
    """Newton-KKT iterations to ``FORCE_TOL`` and ``CONSTRAINT_TOL``; raises ``_NoConvergence`` (caught by
    :func:`solve`) when the line search stalls or ``max_iter`` is spent."""
    x = x0.copy()
    lam = lam0.astype(float).copy()
    kbar = float(np.mean(k))
    fscale = kbar * eq.rbar
    solver = eq.solver(slot)
    nfree = len(eq.free)
    # harmonic model: the first iteration is the exact solve of a quadratic problem (no line search),
    # so the warm start's force residual is not needed
    harmonic = eq.model == "harmonic"
    chord = eq.band is not None and not harmonic
    res = eq.residual(x, lam, k, l, rows, forces=not harmonic)
    for it in range(max_iter):
        r1, r2, egeo, rgeo, soft = res
        if r1 is not None:
            f_err = np.abs(r1).max() / fscale if nfree else 0.0
            c_err = np.abs(r2).max() if len(r2) else 0.0
            if f_err <= FORCE_TOL and c_err <= CONSTRAINT_TOL:
                return State(x, lam, rows, egeo[0], f_err, it)
        if not (chord and it > 0 and f_err <= CHORD_TOL):      # else keep this solve's last factor
            eq.update_matrix(solver, slot, k, l, lam, egeo, rgeo, rows.pair)
        A = eq.kkt_jacobian(rows, rgeo)
        try:
            if r1 is None:
                Y, w = harmonic_solutions(eq, solver, k, l, rows, x, lam)
                dx, dlam = kkt_solve(solver, A, soft, None, -r2, Y=Y, z=-w)
            else:
                # inexact Newton: the linear error need only be small against what the step leaves,
                # the tolerance or, while far from it, the quadratic remainder ~ |r1|^2 / fscale
                rn = max(f_err * fscale, 1e-300)
                rtol = min(1e-6, 1e-3 * max(FORCE_TOL * fscale, rn ** 2 / fscale) / rn)
                dx, dlam = kkt_solve(solver, A, soft, -r1, -r2, rtol=rtol)
        except SingularMatrixError as exc:
            raise MechcllnError(f"network: stiffness matrix is singular ({exc}); the network has floppy "
                                "modes or a source/target pair is not connected to the rest; run "
                                "`mechclln network --check` on it") from None
        if r1 is None:      # exact minimiser of the quadratic U on the rows: no line search
            x = x.copy()
            x.ravel()[eq.free] += dx
            lam = lam + dlam
            res = eq.residual(x, lam, k, l, rows)
            continue
        step = np.abs(dx).max() / eq.rbar
        s = min(1.0, 0.25 / step) if eq.model == "nonlinear" and step > 0 else 1.0
        merit = r1 @ r1 + fscale ** 2 * (r2 @ r2)
        while True:
            xt = x.copy()
            xt.ravel()[eq.free] += s * dx
            lt = lam + s * dlam
            res = eq.residual(xt, lt, k, l, rows)
            t1, t2 = res[0], res[1]
            if t1 @ t1 + fscale ** 2 * (t2 @ t2) <= (1 - 1e-4 * s) * merit or s < 1e-6:
                break
            s *= 0.5
        if s < 1e-6:
            raise _NoConvergence
        x, lam = xt, lt
    raise _NoConvergence
