"""Linear elasticity of a tagged part with hole-based sources, pins and targets (docs/fem.md).

A source imposes the linear strain of a hole pair, ``b . (ubar_j - ubar_i) / r0 = eps``, through a
uniformly distributed force pair whose magnitude is a Lagrange multiplier; a pinned node fixes its hole
mean; targets are read the same way (and, in a clamped state, imposed the same way). The stiffness is
assembled and factored once (:class:`mechclln.fem.solver.Factored`); every example and clamped state then
costs a few back-substitutions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import constraints, elasticity, solver, stack


@dataclass
class State:
    """One equilibrium: owned displacement dofs ``u`` [mm], hole means ``ubar`` (n_holes, d) [mm],
    strains of the constrained pairs ``eps`` and their tensions ``tension`` [N] (positive pulls apart)."""

    u: np.ndarray
    ubar: np.ndarray
    pair_strains: np.ndarray
    tension: np.ndarray


class LinearModel:
    """Factored linear model of ``part`` with the nodes ``pinned`` (translation of their hole fixed);
    ``factor`` (number or DG0 field) scales the modulus cell-wise."""

    def __init__(self, part, pinned=(), factor=1.0):
        dfx = stack.dolfinx()
        self.part = part
        self.pinned = np.asarray(pinned, dtype=np.int64)
        t0 = time.perf_counter()
        a, _, _ = elasticity.stiffness_form(part, factor)
        self.a_form = dfx.fem.form(a)
        K = dfx.fem.petsc.assemble_matrix(self.a_form)
        K.assemble()
        t1 = time.perf_counter()
        W, self.a_rigid = constraints.free_rigid_modes(part, self.pinned)
        centre = part.centres.mean(axis=0)
        xyz = part.dof_coordinates()[:: part.gdim]
        self.modes = constraints.rigid_modes(xyz, centre) @ W   # free rigid modes at owned dofs
        fixed = constraints.choose_fixed_dofs(part, self.modes)
        self.a_pin = constraints.pin_rows(part, self.pinned)
        self.fac = solver.Factored(part, K, fixed, self.a_pin)
        self.timings_s = {"assemble": t1 - t0, "factor": time.perf_counter() - t1}   # factor: incl. rigid modes

    def destroy(self):
        self.fac.destroy()

    def solve(self, pairs, strains, f: np.ndarray | None = None, soft: np.ndarray | None = None) -> State:
        """Equilibrium with each pair's linear strain imposed (``pairs`` (m, 2) node ids, ``strains`` (m,)).

        ``f`` optional external load on the owned dofs [N] (for textbook checks and adjoints); ``soft``
        (m,) compliances of the pair rows [1/N mm] (0: imposed; > 0: a nudge toward the strain, see
        :func:`.solver.schur_solve`). Rigid motion left free by the pins is removed (zero mean hub
        translation/rotation).
        """
        a_pairs, _, _ = constraints.pair_rows(self.part, pairs)
        A = np.vstack([self.a_pin, a_pairs])
        g = np.concatenate([np.zeros(len(self.a_pin)), np.asarray(strains, float).ravel()])
        C = self.fac.rows(A)
        y_f = None if f is None else self.fac.solve(f)
        D = None if soft is None else np.concatenate([np.zeros(len(self.a_pin)), np.asarray(soft, float)])
        u, lam, _ = solver.schur_solve(self.fac, C, g, y_f, soft=D)
        u = self._remove_rigid(u)
        _, r0, _ = constraints.pair_rows(self.part, pairs)
        return State(u=u, ubar=self.part.hole_means(u), pair_strains=np.asarray(strains, float).ravel(),
                     tension=-lam[len(self.a_pin):] / r0 if len(r0) else lam[:0])

    def strains(self, state: State, pairs) -> np.ndarray:
        """Linear strains ``b . (ubar_j - ubar_i) / r0`` of any hole pairs in ``state``."""
        a, _, _ = constraints.pair_rows(self.part, pairs)
        return a @ state.ubar.ravel()

    def _remove_rigid(self, u: np.ndarray) -> np.ndarray:
        """Subtract the free rigid motion whose hub-mean amplitude ``a_rigid . ubar`` is nonzero."""
        if not self.modes.shape[1]:
            return u
        HZ = self.part.comm.allreduce(np.asarray(self.part.H @ self.modes))
        amp = np.linalg.solve(self.a_rigid @ HZ, self.a_rigid @ self.part.hole_means(u).ravel())
        return u - self.modes @ amp
