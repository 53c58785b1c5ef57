"""Rigid-body modes and the gauge of an equilibrium: which dofs hold rigid motion, and how reported
positions are aligned. The rigid modes, the modes a set of held dofs leaves free and the choice of
determinate dofs are written here once: :class:`mechclln.equilibrium.Equilibria`, the floppy-mode check
(:mod:`mechclln.rigidity`) and the FEM constraints (``fem/constraints.py``) use them.

Pinned nodes and node sources fix their dofs; the rigid-body modes they leave free are removed by fixing a
statically determinate set of dofs (picked by a pivoted QR of the rigid modes), which carries no reaction
under self-equilibrated loads. Reported positions are then moved rigidly to the zero-mean gauge (no net
translation or rotation relative to the reference; Kabsch alignment), or, with one anchored node, rotated
about that node. With tethers (``tether > 0``, :mod:`mechclln.equilibrium`) no dofs are grounded.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def rigid_modes(x: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """Infinitesimal rigid-body motions of the points ``x`` (N, d) about ``centre`` (default: their
    centroid): (N*d, d(d+1)/2), rows blocked per point; translations along the axes, then rotations
    ``w x (x - centre)`` about the axes (2D: the one about z). Not normalised."""
    N, d = x.shape
    Y = x - (x.mean(0) if centre is None else centre)
    modes = [np.tile(np.eye(d)[a], N) for a in range(d)]
    if d == 2:
        modes.append(np.column_stack([-Y[:, 1], Y[:, 0]]).ravel())
    else:
        for w in np.eye(3):
            modes.append(np.cross(w, Y).ravel())
    return np.column_stack(modes)


def rigid_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis (N*d, r) of the rigid motions of the points ``x``; r = their rank (d(d+1)/2 unless
    the points are degenerate: one point, or collinear in 3D)."""
    u, s, _ = np.linalg.svd(rigid_modes(x), full_matrices=False)
    return u[:, s > 1e-10 * max(s.max(), 1.0)]


def free_modes(modes: np.ndarray, held, rcond: float | None = None) -> np.ndarray:
    """Orthonormal coefficients W (r, k) of the combinations ``modes @ W`` of rigid ``modes`` (n, r) that
    vanish at the rows ``held`` (index or mask; none held: the identity). ``rcond``: relative singular
    value below which a combination counts as vanishing (scipy's default when None)."""
    at_held = modes[held]
    if not len(at_held):
        return np.eye(modes.shape[1])
    return sla.null_space(at_held, rcond) if rcond is not None else sla.null_space(at_held)


def determinate_dofs(modes: np.ndarray, k: int) -> np.ndarray:
    """Positions (rows of ``modes``, (n, r)) of ``k`` dofs that fix ``k`` of the modes, best conditioned
    first (pivoted QR): fixing them is a statically determinate support."""
    _, _, piv = sla.qr(modes.T, pivoting=True, mode="economic")
    return piv[:k]


class Gauge:
    """Grounded dofs and the reporting gauge of a network with reference positions ``X`` (N, d).

    ``anchored`` (N*d bool): dofs fixed by pins and node sources. ``fixed`` adds the determinate dofs that
    hold the rigid modes the anchors leave free (none with ``tether``); ``free`` (indices) and ``dof_map``
    (dof -> free index, -1 when fixed) describe the solver's unknowns; ``n_ground`` counts the grounded dofs.
    """

    def __init__(self, X: np.ndarray, anchored: np.ndarray, tether: bool):
        N, d = X.shape
        self.X = X
        R = rigid_basis(X)
        R_rem = R @ free_modes(R, anchored)
        self.n_ground = R_rem.shape[1] if not tether else 0
        fixed = anchored.copy()
        if self.n_ground:
            free_idx = np.flatnonzero(~fixed)
            fixed[free_idx[determinate_dofs(R_rem[free_idx], self.n_ground)]] = True
        self.fixed = fixed
        self.free = np.flatnonzero(~fixed)
        self.dof_map = -np.ones(N * d, np.int64)
        self.dof_map[self.free] = np.arange(len(self.free))
        anchor_nodes = np.unique(np.flatnonzero(anchored) // d)
        if self.n_ground == R.shape[1]:
            self.kind, self.node = "kabsch", None
        elif len(anchor_nodes) == 1 and anchored[anchor_nodes[0] * d:(anchor_nodes[0] + 1) * d].all():
            self.kind, self.node = "pivot", int(anchor_nodes[0])
        else:
            self.kind, self.node = "none", None

    def aligned(self, x: np.ndarray) -> np.ndarray:
        """Positions moved rigidly to the reporting gauge (see module docstring)."""
        if self.kind == "none":
            return x.copy()
        if self.kind == "kabsch":
            cx, cX = x.mean(0), self.X.mean(0)
        else:
            cx, cX = x[self.node], self.X[self.node]
        H = (x - cx).T @ (self.X - cX)
        U, _, Vt = np.linalg.svd(H)
        D = np.eye(x.shape[1])
        D[-1, -1] = np.sign(np.linalg.det(U @ Vt))
        Rm = U @ D @ Vt
        return (x - cx) @ Rm + cX
