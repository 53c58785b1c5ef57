"""The harmonic model's path: every state from one block solve per (k, l).

U is quadratic and the row Jacobian constant, so the force residual is affine:
``r1(x, lam) = K (x - x_f)_free + r1(x_f, 0) + A^T lam`` with ``x_f`` the reference positions with ``x``'s
fixed dofs (node-source displacements). Per (k, l) one block solve gives ``K^-1`` of every terminal row's
Jacobian and of ``r1(x_f, 0)``; every free, clamped or nudged state of every example is then a small
Schur-complement system (:func:`mechclln.linalg.kkt_solve`). ``eq`` is an
:class:`mechclln.equilibrium.Equilibria` in the harmonic model.
"""
from __future__ import annotations

import numpy as np

from .rows import Rows

# Backward error of the harmonic model's block solve (K^-1 of the terminal rows and the eigenstrain load).
# Measured (2D, 1e4 nodes): the states' relative force residual is about 0.4x this backward error, so 1e-12
# leaves FORCE_TOL a 25x margin and the states still need one Newton iteration; 1e-13 cost ~0.5 more CG
# iterations per step.
HARMONIC_RTOL = 1e-12
# Earlier (k, l)'s block solutions kept for the next block solve's initial guess (:func:`guess_basis`;
# Galerkin in their span, :meth:`mechclln.linalg.ReusableSolver.solve`).
HISTORY = 3


def guess_basis(history: list) -> list:
    """Columns spanning the next block solve's initial guess from earlier solutions (newest first): the last
    solution and its extrapolation along the trend, quadratic ``3 X1 - 3 X2 + X3`` (linear with two). Measured
    at 2D 1e5 nodes, 8 k+l steps after step 0: 17 block-CG iterations, against 21 in the span of the last two
    solutions, 17 in that of the last three (more columns: costlier), 31 in that of an extrapolation alone and
    29 from the last solution (the guess used before)."""
    h = history
    if len(h) < 2:
        return list(h)
    return [h[0], 3 * h[0] - 3 * h[1] + h[2] if len(h) > 2 else 2 * h[0] - h[1]]


def harmonic_solutions(eq, solver, k, l, rows: Rows, x, lam):
    """``Y = K^-1 A_R^T`` of the rows ``rows`` and ``w = K^-1 r1(x, lam)``, without a solve per state.

    The block solutions are cached in ``solver.cache`` (cleared when K, i.e. k, changes; the load part
    also when l changes); the last ``HISTORY`` of them are kept in ``solver.previous`` for the next (k,
    l)'s initial guess."""
    c = solver.cache          # cleared when the matrix (k) changes; "Y" does not depend on l
    if not np.array_equal(c.get("l"), l):
        c["l"] = l.copy()
        c["b"] = {}
    u = (x - eq.X).ravel()
    key = u[eq.fixed].tobytes()
    xf = eq.X.copy()
    xf.ravel()[eq.fixed] += u[eq.fixed]
    cols = []
    if key not in c["b"]:
        p, n, _ = eq.edge_measure(xf)
        g = eq.node_forces(xf, k, l, p, n).ravel()
        cols.append(g[eq.free])
    if "Y" not in c:
        every = eq.terminals.every_row()
        _, geo = eq.measure_rows(eq.X, every)
        cols.extend(eq.jacobian(every, geo).toarray())
    if cols:
        # the last HISTORY (k, l)'s solutions give the initial guess: a learning step changes K a little
        prev = solver.previous
        hist = prev.setdefault("b", {}).setdefault(key, []) if key not in c["b"] else []
        hist_y = prev.setdefault("Y", []) if "Y" not in c else []
        basis = guess_basis(hist) + guess_basis(hist_y)
        Z = solver.solve(np.column_stack(cols), HARMONIC_RTOL, basis=np.column_stack(basis) if basis else None)
        if key not in c["b"]:
            c["b"][key] = Z[:, 0]
            hist[:] = [Z[:, 0]] + hist[:HISTORY - 1]
            Z = Z[:, 1:]
        if "Y" not in c:
            c["Y"] = Z
            hist_y[:] = [Z] + hist_y[:HISTORY - 1]
    n_pairs = len(eq.term_pairs)
    dof_col = {int(dof): n_pairs + i for i, dof in enumerate(eq.tgt_dofs)}
    idx = np.concatenate([rows.pair, [dof_col[int(dd)] for dd in rows.dof]]).astype(np.int64)
    Y = c["Y"][:, idx]
    w = (x - xf).ravel()[eq.free] + c["b"][key] + Y @ lam
    return Y, w
