"""Pair-block matrices assembled straight into LAPACK band storage, for the ``dense`` backend of
:mod:`mechclln.linalg` (below ``DENSE_MAX_DOFS`` unknowns).

A spring network's Hessian is a sum of 2x2 (3x3) pair blocks. :class:`BandAssembler` orders the free dofs
by reverse Cuthill-McKee (once per topology) and adds the pair blocks into the lower band storage of the
reordered matrix with one ``bincount`` (no sparse-matrix objects); :class:`mechclln.linalg.BandFactor`
factors it with LAPACK's band Cholesky (``n b^2`` flops for bandwidth ``b``; the 64-node peer network's 128
dofs have ``b = 27``).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .linalg import BandMatrix


class BandAssembler:
    """Sums of pair blocks ``B_q = a_q n n^T + b_q (I - n n^T)`` (added at (i,i), (j,j), subtracted at
    (i,j), (j,i)) plus ``shift * I`` as a :class:`BandMatrix` over the dofs kept by ``dof_map`` (as
    :class:`mechclln.springs.PairAssembler`, which builds the same matrix in CSR)."""

    def __init__(self, pairs: np.ndarray, dim: int, dof_map: np.ndarray, shift: float = 0.0):
        m, d = len(pairs), dim
        n = int(dof_map.max()) + 1
        a, b = np.arange(d)[:, None], np.arange(d)[None, :]
        i, j = pairs[:, 0, None, None], pairs[:, 1, None, None]
        q = np.broadcast_to(np.arange(m)[:, None, None] * d * d + a * d + b, (m, d, d))   # entry of B_q
        rows, cols, src, sign = [], [], [], []
        for ri, ci, s in ((i, i, 1.0), (j, j, 1.0), (i, j, -1.0), (j, i, -1.0)):
            rows.append(dof_map[np.broadcast_to(ri * d + a, (m, d, d)).ravel()])
            cols.append(dof_map[np.broadcast_to(ci * d + b, (m, d, d)).ravel()])
            src.append(q.ravel())
            sign.append(np.full(m * d * d, s))
        rows, cols, src, sign = map(np.concatenate, (rows, cols, src, sign))
        keep = (rows >= 0) & (cols >= 0)
        rows, cols, src, sign = rows[keep], cols[keep], src[keep], sign[keep]
        pattern = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        perm = reverse_cuthill_mckee(pattern, symmetric_mode=True).astype(np.int64)
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        pr, pc = inv[rows], inv[cols]
        low = pr >= pc
        self.width = int((pr - pc)[low].max()) if low.any() else 0
        self.perm, self.n, self.dim, self.shift = perm, n, d, float(shift)
        self._slot = ((pr - pc) + pc * (self.width + 1))[low]       # F-order flat index into ab
        self._src, self._sign = src[low], sign[low]
        self._size = (self.width + 1) * n

    def assemble(self, n: np.ndarray, a: np.ndarray, b: np.ndarray) -> BandMatrix:
        B = (a - b)[:, None, None] * (n[:, :, None] * n[:, None, :])
        idx = np.arange(self.dim)
        B[:, idx, idx] += b[:, None]
        data = np.bincount(self._slot, weights=B.ravel()[self._src] * self._sign, minlength=self._size)
        ab = data.reshape(self.n, self.width + 1).T          # Fortran-ordered (width + 1, n)
        if self.shift:
            ab[0] += self.shift
        return BandMatrix(ab, self.perm)
