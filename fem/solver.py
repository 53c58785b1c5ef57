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

``Y = K^-1 C^T`` then costs m solves, S = C Y is tiny, and each state is ``u = K^-1 f - Y lam``. Two ways
to apply K^-1, chosen by the global dof count (``choose_method``; ``MECHCLLN_FEM_SOLVER=auto|direct|gamg``
overrides it):

- ``direct``: one MUMPS factorisation (symmetric LDL^T); every solve is a back-substitution;
- ``gamg``: conjugate gradients preconditioned by PETSc's smoothed-aggregation AMG (GAMG) with the rigid-body
  modes as its near-nullspace (2D: 3, 3D: 6); every column of Y is a separate CG solve to a relative
  residual ``GAMG_RTOL``. Extra PETSc options go under the options prefix (``-mechclln_fem_pc_gamg_...``).

The measured crossover is in docs/performance.md ("FEM check of a 500-strut part", ``mechclln fem-bench``).
"""
from __future__ import annotations

import logging
import os
import time

import numpy as np
import scipy.sparse as sp

from mechclln.errors import MechcllnError, fail

from . import constraints, stack

log = logging.getLogger(__name__)

METHODS = ("auto", "direct", "gamg")
# GAMG never won in `mechclln fem-bench` (2D parts, 4.6e4..1.13e6 dofs, 2 cores): CG + GAMG took 11-18x the
# time of MUMPS (factor + back-solves) serially, 8.7x with mpirun -n 2 at 1.13e6 dofs; one CG solve (~13 s
# at 1.13e6) already costs twice a factorisation (6.2 s). It needed 60 % of MUMPS's peak memory. The switch
# therefore sits above every measured size, where MUMPS's memory (1.8 GiB at 1.13e6 dofs, growing ~n log n)
# extrapolates to about 8 GiB: unmeasured there.
GAMG_MIN_DOFS = 4_000_000
GAMG_RTOL = 1e-8           # relative residual of each CG solve: target strains within 5e-8 of MUMPS's
                           # (measured, 3e5 dofs; 1e-7 gave 2.5e-7)
GAMG_MAX_IT = 2000


def choose_method(n_dofs: int, requested: str | None = None) -> str:
    """``direct`` or ``gamg`` for a system of ``n_dofs`` global unknowns; ``requested`` (default: the
    environment variable ``MECHCLLN_FEM_SOLVER``, else ``auto``) forces one."""
    choice = (requested or os.environ.get("MECHCLLN_FEM_SOLVER") or "auto").strip().lower()
    if choice not in METHODS:
        raise fail("environment", "MECHCLLN_FEM_SOLVER", f"unknown solver {choice!r}",
                   "use auto, direct or gamg")
    if choice == "auto":
        return "gamg" if n_dofs >= GAMG_MIN_DOFS else "direct"
    return choice


class Factored:
    """A regularised stiffness matrix ready to solve with (MUMPS factor or GAMG-preconditioned CG);
    ``solve`` maps owned-dof arrays to owned-dof arrays.

    ``method``: ``direct``, ``gamg`` or ``auto`` (default: :func:`choose_method`). After construction,
    ``method`` is the one used, ``setup_s`` the time of the factorisation or AMG setup [s], and
    ``iterations`` lists the CG iterations of every solve (``gamg`` only).
    """

    def __init__(self, part, K, fixed: np.ndarray, pin_a: np.ndarray, prefix: str = "mechclln_fem_",
                 method: str | None = None):
        PETSc = stack.petsc()
        self.method = choose_method(K.getSize()[0], method)
        log.info("%s: %d dofs, FEM solver %s", part.source, K.getSize()[0], self.method)
        self.part = part
        self.fixed = np.asarray(fixed, dtype=np.int64)
        off = part.global_offset
        self.fixed_local = self.fixed[(self.fixed >= off) & (self.fixed < off + part.n_owned)] - off
        if len(pin_a):
            add_penalty(part, K, pin_a)
        K.zeroRowsColumns(self.fixed.astype(PETSc.IntType), diag=1.0)
        K.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        self.K = K
        self.ksp = PETSc.KSP().create(part.comm)
        self.ksp.setOptionsPrefix(prefix)
        self.ksp.setOperators(K)
        self._nullspace = None
        if self.method == "gamg":
            self._nullspace = _rigid_nullspace(part, K)
            K.setNearNullSpace(self._nullspace)
            self.ksp.setType("cg")
            self.ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
            self.ksp.setTolerances(rtol=GAMG_RTOL, atol=0.0, max_it=GAMG_MAX_IT)
            self.ksp.getPC().setType("gamg")
            self.ksp.setFromOptions()
        else:
            self.ksp.setType("preonly")
            pc = self.ksp.getPC()
            pc.setType("cholesky")
            pc.setFactorSolverType("mumps")
        t0 = time.perf_counter()
        self.ksp.setUp()
        self.setup_s = time.perf_counter() - t0
        self.iterations: list[int] = []
        self._b, self._x = K.createVecs()

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """x = K^-1 rhs on the owned dofs (rhs entries at fixed dofs are ignored)."""
        rhs = np.array(rhs, dtype=float)
        rhs[self.fixed_local] = 0.0
        self._b.array[:] = rhs
        self.ksp.solve(self._b, self._x)
        reason = self.ksp.getConvergedReason()
        if reason < 0 and self.method == "gamg":
            raise MechcllnError(f"{self.part.source}: CG with GAMG did not converge (PETSc reason {reason}, "
                                f"{self.ksp.getIterationNumber()} iterations); set MECHCLLN_FEM_SOLVER=direct, "
                                "or check that every strut meets a hub")
        if reason < 0:
            raise MechcllnError(f"{self.part.source}: the stiffness factorisation failed (PETSc reason "
                                f"{reason}); the part may be disconnected or floppy: check that every strut "
                                "meets a hub")
        if self.method == "gamg":
            self.iterations.append(self.ksp.getIterationNumber())
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
        if self._nullspace is not None:
            self._nullspace.destroy()
        self.K.destroy()


def _rigid_nullspace(part, K):
    """The rigid-body modes (2D: 3, 3D: 6) at the dofs of ``K``, orthonormalised, as a PETSc null space
    (GAMG's near-nullspace: the coarse spaces must represent them for the iteration count to stay flat)."""
    PETSc = stack.petsc()
    xyz = part.dof_coordinates()[:: part.gdim]
    modes = constraints.rigid_modes(xyz, part.centres.mean(axis=0) if len(part.centres) else np.zeros(part.gdim))
    vecs = []
    for column in modes.T:
        v = K.createVecLeft()
        v.array[:] = column
        for w in vecs:
            v.axpy(-v.dot(w), w)
        v.normalize()
        vecs.append(v)
    return PETSc.NullSpace().create(vectors=vecs, comm=part.comm)


def add_penalty(part, K, pin_a: np.ndarray):
    """Penalty rows added in place to the PETSc matrix ``K``: K += s P^T P with P = ``pin_a`` H, ``pin_a``'s
    rows on the hubs' mean displacements (``part.H``: owned dofs -> them), one s per row: the mean diagonal
    of K over |P row|^2 (pins, or pairs that keep their length)."""
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
                Y: np.ndarray | None = None, soft: np.ndarray | None = None):
    """Solve the bordered system for one right-hand side; returns (u, lam, Y).

    ``C`` (m, n_owned) local rows, ``g`` (m,) targets, ``y_f = K^-1 f`` (None: no external load),
    ``Y = K^-1 C^T`` (computed when not given; pass it back in to reuse it). ``soft`` (m,) compliances of
    the rows (0: imposed exactly): a soft row reads ``C u - soft * lam = g``, i.e. adds the energy
    ``(C u - g)^2 / (2 soft)`` (a nudge) instead of imposing ``C u = g``.
    """
    comm = fac.part.comm
    if Y is None:
        Y = np.column_stack([fac.solve(C.getrow(r).toarray().ravel()) for r in range(C.shape[0])]) \
            if C.shape[0] else np.zeros((fac.part.n_owned, 0))
    S = comm.allreduce(np.asarray(C @ Y))
    if soft is not None:
        S = S + np.diag(soft)
    rhs = -np.asarray(g, float)
    if y_f is not None:
        rhs = rhs + comm.allreduce(C @ y_f)
    lam = np.linalg.solve(S, rhs) if len(rhs) else rhs
    u = (np.zeros(fac.part.n_owned) if y_f is None else y_f) - Y @ lam
    return u, lam, Y
