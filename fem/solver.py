"""Bordered (KKT) solves by a factored stiffness and a small Schur complement, serial or MPI.

Problem: minimise ``1/2 u^T K u - f^T u`` subject to ``C u = g`` with m << n constraint rows
``C = A H`` (see :mod:`mechclln.fem.constraints`). Stationarity gives ``K u = f - C^T lam`` and
``C K^-1 C^T lam = C K^-1 f - g`` (the m x m Schur complement S). K is singular (rigid motions), so
before factoring

- the rigid modes that the pins leave free are removed by fixing k "determinate" dofs D (zero rows and
  columns, unit diagonal): the remaining loads are self-equilibrated in those modes, so D carries no
  reaction and the answer differs from the true one only by a rigid motion, which the caller removes;
- the pinned holes, also kept as exact constraints, add ``s P^T P`` (an augmented Lagrangian term that
  vanishes at the solution, since P u = 0 there) so the remaining rigid modes are not singular.

One factorisation (MUMPS, symmetric LDL^T) then serves every example and every clamped state:
``Y = K^-1 C^T`` costs m solves, S = C Y is tiny, and each state is ``u = K^-1 f - Y lam``.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import stack


class Factored:
    """A factored, regularised stiffness matrix; ``solve`` maps owned-dof arrays to owned-dof arrays."""

    def __init__(self, part, K, fixed: np.ndarray, pin_a: np.ndarray, prefix: str = "mechclln_fem_"):
        PETSc = stack.petsc()
        self.part = part
        self.fixed = np.asarray(fixed, dtype=np.int64)
        off = part.global_offset
        self.fixed_local = self.fixed[(self.fixed >= off) & (self.fixed < off + part.n_owned)] - off
        if len(pin_a):
            _add_penalty(part, K, pin_a)
        K.zeroRowsColumns(self.fixed.astype(PETSc.IntType), diag=1.0)
        K.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        self.K = K
        self.ksp = PETSc.KSP().create(part.comm)
        self.ksp.setOptionsPrefix(prefix)
        self.ksp.setOperators(K)
        self.ksp.setType("preonly")
        pc = self.ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType("mumps")
        self.ksp.setUp()
        self._b, self._x = K.createVecs()

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """x = K^-1 rhs on the owned dofs (rhs entries at fixed dofs are ignored)."""
        rhs = np.array(rhs, dtype=float)
        rhs[self.fixed_local] = 0.0
        self._b.array[:] = rhs
        self.ksp.solve(self._b, self._x)
        reason = self.ksp.getConvergedReason()
        if reason < 0:
            from mechclln.errors import MechcllnError
            raise MechcllnError(f"{self.part.source}: the stiffness factorisation failed (PETSc reason "
                                f"{reason}); the part may be disconnected or floppy: check that every strut "
                                "meets a hub")
        return self._x.array.copy()

    def rows(self, a: np.ndarray) -> sp.csr_matrix:
        """Owned columns of the constraint rows ``a @ H`` with the fixed dofs dropped."""
        C = sp.csr_matrix(sp.csr_matrix(a) @ self.part.H)
        if len(self.fixed_local):
            mask = np.ones(C.shape[1])
            mask[self.fixed_local] = 0.0
            C = sp.csr_matrix(C @ sp.diags(mask))
        return C

    def destroy(self):
        self.ksp.destroy()
        self.K.destroy()


def _add_penalty(part, K, pin_a: np.ndarray):
    """K += s P^T P with P = pin_a H, one s per row: the mean diagonal of K over |P row|^2."""
    comm = part.comm
    diag = K.getDiagonal()
    mean_diag = comm.allreduce(float(diag.array.sum())) / diag.getSize()
    blocks = []
    for r in range(pin_a.shape[0]):
        row = pin_a[r:r + 1]
        norm2 = comm.allreduce(float((sp.csr_matrix(row) @ part.H).power(2).sum()))
        blocks.append((row, np.array([[mean_diag / norm2]])))
    add_hole_blocks(part, K, blocks)


def add_hole_blocks(part, K, blocks):
    """K += sum over (a, Q) in ``blocks`` of (a H)^T Q (a H): small dense blocks over hole dofs.

    Used for the pin regularisation and for the curvature of the pair-distance constraints. The blocks lie
    partly outside the finite-element sparsity pattern, so they are assembled into a separate, exactly
    preallocated matrix and merged with one ``MatAXPY`` (inserting them into K directly would reallocate
    K row by row).
    """
    if not blocks:
        return
    PETSc = stack.petsc()
    lo, hi = K.getOwnershipRange()
    rows_out, cols_out, vals_out = [], [], []
    for a, Q in blocks:
        P = sp.csr_matrix(sp.csr_matrix(a) @ part.H).tocoo()
        entries = part.comm.allgather((P.row, P.col + part.global_offset, P.data))
        rows = np.concatenate([e[0] for e in entries])
        cols = np.concatenate([e[1] for e in entries])
        vals = np.concatenate([e[2] for e in entries])
        union, where = np.unique(cols, return_inverse=True)
        dense = np.zeros((a.shape[0], len(union)))
        np.add.at(dense, (rows, where), vals)
        mine = (union >= lo) & (union < hi)
        block = dense[:, mine].T @ Q @ dense
        rr, cc = np.meshgrid(union[mine] - lo, union, indexing="ij")
        rows_out.append(rr.ravel())
        cols_out.append(cc.ravel())
        vals_out.append(block.ravel())
    n_local, n_global = K.getSizes()[0]
    B = sp.csr_matrix((np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
                      shape=(n_local, n_global))
    B.sum_duplicates()
    B.sort_indices()
    Bp = PETSc.Mat().createAIJ(size=K.getSizes(), csr=(B.indptr.astype(PETSc.IntType),
                                                      B.indices.astype(PETSc.IntType), B.data),
                               comm=K.getComm())
    Bp.assemble()
    K.axpy(1.0, Bp, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
    Bp.destroy()


def schur_solve(fac: Factored, C: sp.csr_matrix, g: np.ndarray, y_f: np.ndarray | None = None,
                Y: np.ndarray | None = None):
    """Solve the bordered system for one right-hand side; returns (u, lam, Y).

    ``C`` (m, n_owned) local rows, ``g`` (m,) targets, ``y_f = K^-1 f`` (None: no external load),
    ``Y = K^-1 C^T`` (computed when not given; pass it back in to reuse it).
    """
    comm = fac.part.comm
    if Y is None:
        Y = np.column_stack([fac.solve(C.getrow(r).toarray().ravel()) for r in range(C.shape[0])]) \
            if C.shape[0] else np.zeros((fac.part.n_owned, 0))
    S = comm.allreduce(np.asarray(C @ Y))
    rhs = -np.asarray(g, float)
    if y_f is not None:
        rhs = rhs + comm.allreduce(C @ y_f)
    lam = np.linalg.solve(S, rhs) if len(rhs) else rhs
    u = (np.zeros(fac.part.n_owned) if y_f is None else y_f) - Y @ lam
    return u, lam, Y
