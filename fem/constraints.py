"""Hole-based constraints: pins, pair distances and rigid-body removal, as small matrices acting on ``H``.

Every constraint row is a combination of hole means, ``c = a . ubar`` with ``ubar = H u``, so it is stored
as a small dense row ``a`` (length n_holes * gdim, identical on all MPI ranks) and applied as ``a @ H``:

- pin of node n: ``ubar_n = 0`` (d rows);
- pair (i, j) in the linear model: ``eps = b . (ubar_j - ubar_i) / r0`` with ``b`` the unit vector from
  hole centre i to j and ``r0`` their distance; at finite strain the row is the gradient of
  ``|X_j + ubar_j - X_i - ubar_i| / r0 - 1`` at the current state;
- rigid-body removal of the modes the pins leave free: zero mean translation (and rotation) of the
  hub displacements, as in the spring model.
"""
from __future__ import annotations

import numpy as np

from mechclln.gauge import determinate_dofs, free_modes, rigid_modes  # rigid_modes: the solvers' rigid motions at dofs

from . import stack


def pin_rows(part, nodes) -> np.ndarray:
    """Rows fixing the hole means of ``nodes`` (len(nodes) * d, n_holes * d)."""
    d = part.gdim
    a = np.zeros((len(nodes) * d, len(part.holes) * d))
    for r, n in enumerate(nodes):
        h = part.hole_index(int(n))
        a[r * d:(r + 1) * d, h * d:(h + 1) * d] = np.eye(d)
    return a


def pair_rows(part, pairs, ubar: np.ndarray | None = None):
    """Pair-strain rows and reference distances r0 [mm] of the hole centres.

    Returns ``(a, r0, eps)``: ``a`` (P, n_holes * d) is d eps / d ubar at the state ``ubar`` (the
    reference state when None, i.e. the linear strain), ``eps`` the pair strains there.
    """
    d = part.gdim
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    X = part.centres if ubar is None else part.centres + ubar
    a = np.zeros((len(pairs), len(part.holes) * d))
    r0 = np.zeros(len(pairs))
    eps = np.zeros(len(pairs))
    for r, (i, j) in enumerate(pairs):
        hi, hj = part.hole_index(int(i)), part.hole_index(int(j))
        r0[r] = np.linalg.norm(part.centres[hj] - part.centres[hi])
        dx = X[hj] - X[hi]
        dist = np.linalg.norm(dx)
        b = dx / dist
        a[r, hj * d:(hj + 1) * d] = b / r0[r]
        a[r, hi * d:(hi + 1) * d] = -b / r0[r]
        eps[r] = dist / r0[r] - 1
    return a, r0, eps


def pair_curvature(part, pairs, ubar: np.ndarray, lam: np.ndarray):
    """Rows ``a`` and block ``Q`` with ``a^T Q a = sum_r lam_r d^2 eps_r / d ubar^2`` (finite strain).

    For ``eps = |dx| / r0 - 1`` the Hessian in (ubar_i, ubar_j) is ``[[M, -M], [-M, M]]`` with
    ``M = (I - b b^T) / (|dx| r0)``.
    """
    d = part.gdim
    X = part.centres + ubar
    rows, blocks = [], []
    for (i, j), lr in zip(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), lam):
        hi, hj = part.hole_index(int(i)), part.hole_index(int(j))
        r0 = np.linalg.norm(part.centres[hj] - part.centres[hi])
        dx = X[hj] - X[hi]
        dist = np.linalg.norm(dx)
        b = dx / dist
        M = lr * (np.eye(d) - np.outer(b, b)) / (dist * r0)
        a = np.zeros((2 * d, len(part.holes) * d))
        a[:d, hi * d:(hi + 1) * d] = np.eye(d)
        a[d:, hj * d:(hj + 1) * d] = np.eye(d)
        rows.append(a)
        blocks.append(np.block([[M, -M], [-M, M]]))
    return rows, blocks


def free_rigid_modes(part, pinned) -> tuple[np.ndarray, np.ndarray]:
    """Rigid modes the pins leave free and the rows removing them.

    Returns ``(W, a_rigid)``: ``W`` (n_rigid, k) spans the rigid motions (about the hubs' centroid) that
    keep every pinned hole still; ``a_rigid`` (k, n_holes * d) sets their amplitude in the hub
    displacements to zero (zero mean translation / rotation of the free modes, least squares over hubs).
    """
    d = part.gdim
    Z = rigid_modes(part.centres)
    held = np.array([part.hole_index(int(n)) * d + a for n in pinned for a in range(d)], np.int64)
    W = free_modes(Z, held, rcond=1e-10)
    return W, (Z @ W).T


def choose_fixed_dofs(part, modes_at_dofs: np.ndarray) -> np.ndarray:
    """Global indices of k dofs that fix the k rigid modes given at the owned dofs (n_owned, k).

    Takes the dofs at the extreme coordinates of the part (a statically determinate support: it carries
    no reaction when the other loads are self-equilibrated in those modes) and keeps the k best
    conditioned ones (pivoted QR). Identical on all ranks.
    """
    comm = part.comm
    k = modes_at_dofs.shape[1]
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    xyz = part.dof_coordinates()
    cands = []
    for axis in range(part.gdim):
        for sign in (-1, 1):
            val = sign * xyz[:, axis] if len(xyz) else np.zeros(0)
            i = int(np.argmax(val)) if len(val) else -1
            best = comm.allreduce((val[i] if i >= 0 else -np.inf, comm.rank), op=stack.mpi().MAXLOC)
            owner = best[1]
            node0 = (i - i % part.gdim) if comm.rank == owner else None
            rows = modes_at_dofs[node0:node0 + part.gdim] if comm.rank == owner else None
            g0 = part.global_offset + node0 if comm.rank == owner else None
            rows, g0 = comm.bcast((rows, g0), root=owner)
            cands.extend((g0 + c, rows[c]) for c in range(part.gdim))
    gidx = np.array([c[0] for c in cands])
    M = np.array([c[1] for c in cands])
    return np.unique(gidx[determinate_dofs(M, k)])
