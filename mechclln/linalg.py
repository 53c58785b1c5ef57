"""Sparse factorisation with reuse: a factor of a nearby matrix, refined against the exact matrix.

A learning step changes the stiffness matrix only a little. :class:`ReusableSolver` keeps the last factor
and solves ``A x = b`` for the *current* ``A`` by iterative refinement ``x += F^{-1} (b - A x)``, which
converges to the exact solution while ``F`` is close to ``A``; when refinement contracts too slowly it
refactors. Counters record factorisations and back-solves, which the benchmarks report.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def factorize(A: sp.spmatrix):
    """Sparse LU of a symmetric matrix (SuperLU, symmetric mode, fill-reducing ordering of A + A^T)."""
    return spla.splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.01,
                     options={"SymmetricMode": True})


class SingularMatrixError(ArithmeticError):
    """The matrix is singular to working precision (typically: floppy modes)."""


class ReusableSolver:
    """Solve with the current matrix, reusing a (possibly stale) factor while refinement converges fast."""

    def __init__(self, rtol: float = 1e-13, max_refine: int = 8, min_contraction: float = 0.3):
        self.rtol, self.max_refine, self.min_contraction = rtol, max_refine, min_contraction
        self.A = None
        self.lu = None
        self.fresh = False
        self.n_factor = 0
        self.n_backsolve = 0
        self.seconds_factor = 0.0

    def set_matrix(self, A: sp.spmatrix, refactor: bool = False) -> None:
        self.A = A.tocsr()
        self.fresh = False
        self._norm = abs(self.A).sum(axis=1).max()
        if refactor or self.lu is None or self.lu.shape != A.shape:
            self.refactor()

    def refactor(self) -> None:
        import time

        t = time.perf_counter()
        try:
            self.lu = factorize(self.A)
        except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
            raise SingularMatrixError(str(exc)) from None
        self.seconds_factor += time.perf_counter() - t
        self.n_factor += 1
        self.fresh = True

    def _backsolve(self, r):
        self.n_backsolve += 1 if r.ndim == 1 else r.shape[1]
        return self.lu.solve(r)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """Solve ``A x = b`` (b: (n,) or (n, m)) to a backward error below ``rtol``."""
        b = np.asarray(b, dtype=float)
        bn = np.abs(b).max() if b.size else 0.0
        if bn == 0.0:
            return np.zeros_like(b)
        x = self._backsolve(b)
        prev = np.inf
        for it in range(self.max_refine + 1):
            r = b - self.A @ x
            scale = self._norm * np.abs(x).max() + bn
            err = np.abs(r).max() / scale
            if not np.isfinite(err):
                break
            if err <= self.rtol:
                if not np.all(np.isfinite(x)):
                    break
                return x
            if err > self.min_contraction * prev or it == self.max_refine:
                if self.fresh:
                    if err < 1e-9:  # as good as this factor gets (ill-conditioned but usable)
                        return x
                    break
                self.refactor()
                return self.solve(b)
            prev = err
            x = x + self._backsolve(r)
        if not self.fresh:
            self.refactor()
            return self.solve(b)
        raise SingularMatrixError(f"linear solve failed to converge (backward error {err:.2e})")
