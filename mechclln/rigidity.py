"""Floppy-mode diagnosis of central-force spring networks (which motions cost no energy, and where).

Maths. Bond e = (i, j) with unit direction ``b_e = (x_j - x_i)/|x_j - x_i|`` at the reference positions
stretches by ``C u = b_e . (u_j - u_i)`` to first order, so the harmonic stiffness matrix with unit
stiffness is ``K = C^T C`` (dN x dN, C is the E x dN compatibility matrix). Pinned nodes carry no
displacement: their columns are dropped. The zero modes of K are the infinitesimal mechanisms; among
them are the rigid-body motions (translations and rotations) that leave every pinned node in place,
``d(d+1)/2`` of them with no pins, fewer with pins (computed, not assumed). Everything else is a
*floppy mode*. Stiffness values do not change which modes are zero (k > 0), so unit k is used.

How the count is made, cheapest first:

1. *Dangling nodes*: a free node with Z < d bonds whose bond directions are independent adds exactly
   ``d - Z`` zero modes and constrains nothing else, so it is stripped (repeatedly) and counted exactly
   without any eigen-solve.
2. The rest: up to ``DENSE_MAX`` unknowns, a dense symmetric eigensolve of K. Larger: the null space
   by shift-invert block subspace iteration, ``X <- (K + sI)^-1 X`` with one sparse LU factor
   (s = 1e-8 of the matrix scale, the block grown until it holds a Ritz value above the zero tolerance).
   A block method finds every copy of a repeated zero eigenvalue, which single-vector Lanczos can miss.
   When the network is far below Maxwell counting (many more unknowns than bonds) the count is made in
   bond space instead: ``n_zero = dN - E + n_self_stress`` (the index theorem) with the self-stresses
   the null space of ``C C^T``, and only a few node-space modes are computed to locate the floppiness.

An eigenvalue counts as zero below ``ZERO_TOL`` times the largest diagonal entry of K (the matrix scale).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from .gauge import free_modes, rigid_basis
from .network import Network

ZERO_TOL = 1e-10   # eigenvalue / matrix scale below which a mode is a zero mode
SHIFT = 1e-8       # shift-invert shift / matrix scale
DENSE_MAX = 500    # unknowns up to which a dense eigensolve is used
MAX_ITER = 40      # block subspace iterations per block size
LOCATE_MODES = 48  # node-space modes computed to locate floppiness when it is counted in bond space
AMPLITUDE_SHARE = 0.9  # reported nodes carry this share of the floppy modes' amplitude


@dataclass(frozen=True)
class FloppyReport:
    """Result of :func:`floppy_modes`.

    ``n_floppy``: zero modes beyond the rigid-body motions not fixed by pins; ``nodes``: sorted ids of
    the nodes carrying most (``AMPLITUDE_SHARE``) of the floppy modes' amplitude (empty when rigid);
    ``message``: one line for a human; ``n_rigid_body``: rigid-body modes not fixed by the pins;
    ``dangling``: sorted ids of free nodes with fewer than d bonds; ``lowest_nonzero``: the smallest
    non-zero eigenvalue of K with unit stiffness (stiffness x length^0 units; None if not computed),
    a measure of how close the network is to having another floppy mode.
    """

    n_floppy: int
    nodes: np.ndarray
    message: str
    n_rigid_body: int
    dangling: np.ndarray
    lowest_nonzero: float | None = None

    @property
    def rigid(self) -> bool:
        return self.n_floppy == 0


def is_rigid(net: Network, pinned=None) -> bool:
    """True when ``net`` has no floppy modes beyond rigid-body motion (see :func:`floppy_modes`)."""
    return floppy_modes(net, pinned).rigid


def floppy_modes(net: Network, pinned=None, method: str = "auto") -> FloppyReport:
    """Count and locate the floppy modes of ``net`` at its reference positions.

    ``pinned``: node ids held fixed (default ``net.pinned``; pass ``()`` for none). ``method``: "auto",
    "dense" or "sparse" (how the non-dangling part is solved; "auto" picks by size).
    """
    if method not in ("auto", "dense", "sparse"):
        raise ValueError(f"method must be 'auto', 'dense' or 'sparse', not {method!r}")
    x, edges, d, n = net.x, net.edges, net.dim, net.n_nodes
    is_pinned = np.zeros(n, bool)
    is_pinned[np.asarray(net.pinned if pinned is None else pinned, dtype=np.int64)] = True
    rigid = _rigid_motions(x, is_pinned)
    n_rigid = rigid.shape[1]

    alive, edge_alive, stripped_modes, dangling = _strip_dangling(x, edges, is_pinned)
    weight = np.zeros(n)
    weight[list(stripped_modes)] = list(stripped_modes.values())

    free = alive & ~is_pinned
    e = edges[edge_alive & free[edges].any(1)]
    n_zero, lowest, node_weight = _zero_modes(x, e, free, rigid, method)
    weight += node_weight
    n_floppy = int(sum(stripped_modes.values()) + n_zero - n_rigid)
    nodes = _main_nodes(weight) if n_floppy > 0 else np.zeros(0, np.int64)
    return FloppyReport(n_floppy=n_floppy, nodes=nodes, n_rigid_body=n_rigid, dangling=dangling,
                        lowest_nonzero=lowest, message=_message(n_floppy, nodes, dangling, n_rigid, lowest, d))


# ------------------------------------------------------------------------------------------- pieces


def compatibility_matrix(x: np.ndarray, edges: np.ndarray) -> sp.csr_matrix:
    """Sparse E x dN matrix C with ``(C u)_e = b_e . (u_j - u_i)`` (bond extensions to first order)."""
    n, d = x.shape
    b = x[edges[:, 1]] - x[edges[:, 0]]
    b /= np.linalg.norm(b, axis=1)[:, None]
    rows = np.repeat(np.arange(len(edges)), 2 * d)
    cols = np.concatenate([d * edges[:, [0]] + np.arange(d), d * edges[:, [1]] + np.arange(d)], 1).ravel()
    vals = np.concatenate([-b, b], 1).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(edges), d * n))


def _rigid_motions(x: np.ndarray, is_pinned: np.ndarray) -> np.ndarray:
    """Basis (dN x r) of the rigid motions of all nodes that leave every pinned node in place."""
    R = rigid_basis(x)
    return R @ free_modes(R, np.repeat(is_pinned, x.shape[1]), rcond=1e-10)


def _strip_dangling(x, edges, is_pinned):
    """Strip free nodes with Z < d and independent bond directions, repeatedly.

    Each stripped node adds exactly ``d - Z`` zero modes and constrains no other node. Returns the mask of
    remaining nodes and edges, ``{node: modes}`` of stripped nodes and the sorted ids of the nodes with
    Z < d in the original network (the ones reported as dangling).
    """
    n, d = x.shape
    alive, edge_alive = np.ones(n, bool), np.ones(len(edges), bool)
    z = np.bincount(edges.ravel(), minlength=n)
    dangling = np.flatnonzero((z < d) & ~is_pinned)
    stripped = {}
    incident = sp.csr_matrix((np.ones(2 * len(edges)), (edges.ravel(), np.repeat(np.arange(len(edges)), 2))),
                             shape=(n, len(edges)))
    todo = list(dangling)
    while todo:
        i = todo.pop()
        if not alive[i] or z[i] >= d:
            continue
        es = incident.indices[incident.indptr[i]:incident.indptr[i + 1]]
        es = es[edge_alive[es]]
        others = np.where(edges[es, 0] == i, edges[es, 1], edges[es, 0])
        dirs = x[others] - x[i]
        if len(es) and np.linalg.matrix_rank(dirs / np.linalg.norm(dirs, axis=1)[:, None], tol=1e-8) < len(es):
            continue  # collinear bonds: not exact to strip, left to the eigen-solve
        alive[i] = False
        edge_alive[es] = False
        stripped[int(i)] = d - len(es)
        z[others] -= 1
        todo.extend(int(o) for o in others if not is_pinned[o] and z[o] < d)
    return alive, edge_alive, stripped, dangling


def _zero_modes(x, edges, free, rigid, method):
    """Zero modes of K restricted to the free nodes' unknowns.

    ``rigid``: the rigid motions left by the pins (dN x r). Returns (count, lowest non-zero eigenvalue or
    None, per-node weight of the floppy part of the zero space, i.e. with those rigid motions projected
    out; it sums to the floppy count of this part, or is scaled to it when only some modes were computed).
    """
    n, d = x.shape
    ids = np.flatnonzero(free)
    weight = np.zeros(n)
    if ids.size == 0:
        return 0, None, weight
    dofs = (d * ids[:, None] + np.arange(d)).ravel()
    C = compatibility_matrix(x, edges)[:, dofs].tocsr()
    K = (C.T @ C).tocsc()
    scale = float(K.diagonal().max()) if K.nnz else 1.0
    tol = ZERO_TOL * scale
    nf = len(dofs)
    if method == "dense" or (method == "auto" and nf <= DENSE_MAX):
        w, V = la.eigh(K.toarray(), driver="evd")
        zero = w < tol
        lowest = float(w[~zero].min()) if (~zero).any() else None
        n_zero, V = int(zero.sum()), V[:, zero]
    elif nf - C.shape[0] > 4 * LOCATE_MODES:  # far below Maxwell counting: count self-stresses instead
        M = (C @ C.T).tocsc()
        n_ss, _, _ = _null_space(M, tol, block=8 + max(C.shape[0] - nf, 0))
        n_zero, lowest = nf - C.shape[0] + n_ss, None
        _, _, V = _null_space(K, tol, block=LOCATE_MODES, grow=False)
    else:  # block starts above Maxwell's lower bound on the zero modes
        n_zero, lowest, V = _null_space(K, tol, block=8 + max(nf - C.shape[0], 0) + rigid.shape[1])
    if n_zero == 0:
        return 0, lowest, weight
    R = la.orth(rigid[dofs]) if rigid.shape[1] else np.zeros((nf, 0))
    amplitude = np.sum(V ** 2, 1)
    if V.shape[1] == n_zero:  # the whole zero space: take the rigid motions out of it
        amplitude -= np.sum(R ** 2, 1)
    per_node = np.clip(amplitude, 0, None).reshape(-1, d).sum(1)
    total = per_node.sum()
    if total > 0:
        weight[ids] = per_node * max(n_zero - R.shape[1], 0) / total
    return n_zero, lowest, weight


def _null_space(A, tol, block: int = 8, grow: bool = True):
    """Zero eigenpairs of the symmetric positive semi-definite sparse ``A`` by shift-invert subspace iteration.

    Returns (number of eigenvalues below ``tol``, the smallest Ritz value above it or None, orthonormal
    zero vectors). With ``grow`` the block doubles until it holds a non-zero Ritz value (so every zero
    mode is in it); without, it returns ``block`` approximate zero vectors (for locating them only).
    """
    n = A.shape[0]
    scale = tol / ZERO_TOL
    lu = sla.splu((A + SHIFT * scale * sp.identity(n, format="csc")).tocsc(), permc_spec="MMD_AT_PLUS_A",
                  diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    rng = np.random.default_rng(0)
    while True:
        m = min(block, n)
        X = np.linalg.qr(rng.standard_normal((n, m)))[0]
        count_prev, gap_prev = -1, np.inf
        for it in range(MAX_ITER):
            Q = np.linalg.qr(lu.solve(X))[0]
            w, S = np.linalg.eigh(Q.T @ (A @ Q))
            X = Q @ S
            count = int(np.sum(w < tol))
            res = np.linalg.norm(A @ X[:, :count] - X[:, :count] * w[:count], axis=0)
            gap = w[count] if count < m else 0.0
            if (it >= 1 and count == count_prev and (count == 0 or res.max() < 1e-6 * scale)
                    and abs(gap - gap_prev) <= 1e-3 * gap):
                break
            count_prev, gap_prev = count, gap
        if not grow:
            return count, None, X[:, :count]
        if count < m or m == n:
            return count, (float(w[count]) if count < m else None), X[:, :count]
        block *= 2


def _main_nodes(weight: np.ndarray) -> np.ndarray:
    """Sorted ids of the fewest nodes that carry ``AMPLITUDE_SHARE`` of the total weight."""
    order = np.argsort(-weight, kind="stable")
    cum = np.cumsum(weight[order])
    k = int(np.searchsorted(cum, AMPLITUDE_SHARE * cum[-1])) + 1
    return np.sort(order[:k])


def _message(n_floppy, nodes, dangling, n_rigid, lowest, d) -> str:
    gap = f" (lowest non-zero eigenvalue {lowest:.2g} with unit stiffness)" if lowest is not None else ""
    if n_floppy == 0:
        return f"rigid: no floppy modes beyond the {n_rigid} rigid-body modes{gap}"
    shown = ", ".join(str(i) for i in nodes[:12]) + (f", ... ({len(nodes) - 12} more)" if len(nodes) > 12 else "")
    msg = (f"{n_floppy} floppy mode{'s' if n_floppy > 1 else ''} beyond rigid-body motion, concentrated on "
           f"nodes [{shown}]; add bonds there (e.g. next-nearest-neighbour bonds) or remove those nodes")
    if dangling.size:
        msg += f"; {dangling.size} node(s) have fewer than {d} bonds (dangling): {dangling[:12].tolist()}"
    return msg
