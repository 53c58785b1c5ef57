"""Constraint rows of an equilibrium on a task's terminals: building, measuring and their Jacobian.

A row is hard (``c(x) = value``) or soft with compliance ``s`` (energy ``(c(x) - value)^2 / (2 s)``). Pair
rows constrain the pair strain ``eps = p/r0 - 1`` of a terminal pair (``p``: the model's length measure,
:func:`mechclln.springs.pair_measure`); node rows one displacement component (dof ``node * d + axis``).
Terminal pairs are the task's source pairs, then its target pairs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .springs import pair_measure
from .task import Task


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

    @cached_property
    def values(self) -> np.ndarray:
        """Imposed values, pair rows first."""
        return np.concatenate([self.pair_value, self.dof_value])

    @cached_property
    def soft(self) -> np.ndarray:
        """Compliances ``s`` (0: hard row), pair rows first."""
        return np.concatenate([self.pair_soft, self.dof_soft])

    def with_values(self, pair_value, dof_value) -> "Rows":
        return Rows(self.pair, pair_value, self.pair_soft, self.dof, dof_value, self.dof_soft)


def no_rows() -> Rows:
    """The empty row set (a state with no imposed strains or displacements)."""
    return Rows(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


def join(a: Rows, b: Rows) -> Rows:
    """The rows of ``a`` followed by those of ``b``."""
    return Rows(np.concatenate([a.pair, b.pair]), np.concatenate([a.pair_value, b.pair_value]),
                np.concatenate([a.pair_soft, b.pair_soft]), np.concatenate([a.dof, b.dof]),
                np.concatenate([a.dof_value, b.dof_value]), np.concatenate([a.dof_soft, b.dof_soft]))


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


class Terminals:
    """A task's terminals on a network with reference positions ``X`` (N, d), in one model: their rows,
    the rows' values ``c(x)`` and the rows' Jacobian over the free dofs (``dof_map``: dof -> free index, -1
    when fixed; ``n_free`` free dofs)."""

    def __init__(self, X: np.ndarray, task: Task | None, model: str, dof_map: np.ndarray, n_free: int):
        d = X.shape[1]
        self.X, self.task, self.model, self.dof_map, self.n_free = X, task, model, dof_map, n_free
        empty2 = np.zeros((0, 2), np.int64)
        self.src_pairs = task.source_pairs if task else empty2
        self.tgt_pairs = task.target_pairs if task else empty2
        self.pairs = np.vstack([self.src_pairs, self.tgt_pairs])
        self.r0 = np.linalg.norm(X[self.pairs[:, 0]] - X[self.pairs[:, 1]], axis=1)
        self.src_dofs = node_dofs(task.source_nodes, d) if task else np.zeros(0, np.int64)
        self.tgt_dofs = node_dofs(task.target_nodes, d) if task else np.zeros(0, np.int64)
        self._jacobians: dict = {}
        self._layouts: dict = {}

    def source_rows(self, ex: int) -> Rows:
        """Hard rows imposing example ``ex``'s source strains (node sources are fixed dofs, not rows)."""
        S = len(self.src_pairs)
        return Rows(np.arange(S), self.task.source_strains[ex].astype(float), np.zeros(S))

    def target_rows(self, pair_value, dof_value, soft: float = 0.0) -> Rows:
        """Rows on every target pair and target dof, all with compliance ``soft``."""
        S, T, Tn = len(self.src_pairs), len(self.tgt_pairs), len(self.tgt_dofs)
        return Rows(S + np.arange(T), np.asarray(pair_value, float), np.full(T, soft),
                    self.tgt_dofs, np.asarray(dof_value, float), np.full(Tn, soft))

    def every_row(self) -> Rows:
        """One hard row on every terminal pair and target dof (values 0)."""
        P, Tn = len(self.pairs), len(self.tgt_dofs)
        return Rows(np.arange(P), np.zeros(P), np.zeros(P), self.tgt_dofs, np.zeros(Tn), np.zeros(Tn))

    def initial_x(self, ex: int | None = None) -> np.ndarray:
        """The reference positions with example ``ex``'s node-source displacements applied."""
        x = self.X.copy()
        if ex is not None and len(self.src_dofs):
            x.ravel()[self.src_dofs] += self.task.source_displacements[ex]
        return x

    def measure(self, x, rows: Rows, measured=None):
        """Row values c(x): pair strains and node displacements; with the pair geometry (pairs, n, curv, r0).
        ``measured``: (p, n, curv) of every terminal pair at ``x`` when already known."""
        pairs = self.pairs[rows.pair]
        p, n, c = pair_measure(self.model, x, self.X, pairs) if measured is None else \
            (v[rows.pair] for v in measured)
        r0 = self.r0[rows.pair]
        disp = (x - self.X).ravel()[rows.dof]
        return np.concatenate([p / r0 - 1.0, disp]), (pairs, n, c, r0)

    def jacobian(self, rows: Rows, geo, dense: bool = False):
        """Row Jacobian over the free dofs at the pair geometry ``geo`` (from :meth:`measure`), CSR or, with
        ``dense``, an (m, n_free) array (small systems); constant in the harmonic model (cached per row set)."""
        if self.model != "harmonic":
            return self._build_jacobian(rows, geo, dense)
        key = (rows.pair.tobytes(), rows.dof.tobytes(), dense)
        if key not in self._jacobians:
            self._jacobians[key] = self._build_jacobian(rows, geo, dense)
        return self._jacobians[key]

    def _build_jacobian(self, rows: Rows, geo, dense: bool):
        pairs, n, _, r0 = geo
        rr, cols, keep = self._jacobian_layout(rows, pairs)
        g = n / r0[:, None]
        vv = np.concatenate([np.concatenate([g, -g], 1).ravel(), np.ones(len(rows.dof))])[keep]
        if dense:                 # (row, dof) entries are distinct: a pair's two nodes, one dof per node row
            A = np.zeros((rows.m, self.n_free))
            A[rr, cols] = vv
            return A
        return sp.csr_matrix((vv, (rr, cols)), shape=(rows.m, self.n_free))

    def _jacobian_layout(self, rows: Rows, pairs):
        """Row and free-dof column of each kept Jacobian entry, and the kept mask (cached per row set):
        per pair row ``+n/r0`` on node i's dofs then ``-n/r0`` on node j's, then 1 per node row."""
        key = (rows.pair.tobytes(), rows.dof.tobytes())
        if key not in self._layouts:
            d, mp = self.X.shape[1], len(pairs)
            rr = np.concatenate([np.repeat(np.arange(mp), 2 * d), mp + np.arange(len(rows.dof))])
            cc = np.concatenate([np.concatenate([pairs[:, :1] * d + np.arange(d), pairs[:, 1:] * d + np.arange(d)],
                                                1).ravel(), rows.dof])
            cols = self.dof_map[cc]
            keep = cols >= 0
            self._layouts[key] = (rr[keep], cols[keep], keep)
        return self._layouts[key]


def node_dofs(node_axis: np.ndarray, d: int) -> np.ndarray:
    """Dof indices ``node * d + axis`` of (node, axis) rows."""
    return node_axis[:, 0] * d + node_axis[:, 1]
