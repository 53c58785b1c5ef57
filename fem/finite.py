"""Finite-strain (compressible neo-Hookean) model with the same hole-based inputs and outputs.

Newton's method on ``Pi(u) = t int W(F) dx`` with the pair strains imposed exactly at every iterate's
linearisation: ``K_T du + C^T lam = -grad Pi(u)``, ``C du = -g(u)``, where ``g`` are the violations
of the (nonlinear) pair-distance constraints and C their gradients (``lam`` is the new total multiplier,
so the tension of a source pair is ``-lam / r0`` [N]). The tangent includes the curvature of the distance
constraints times their multipliers (``lam d^2 g``), so Newton converges quadratically. Large actuations are reached by load steps. Each iteration factors the tangent once
(:class:`mechclln.fem.solver.Factored`), with the same pin regularisation and fixed determinate dofs as
the linear model, so it runs unchanged under ``mpirun -n P``.
"""
from __future__ import annotations

import numpy as np

from mechclln.errors import MechcllnError

from . import constraints, elasticity, solver, stack
from .linear import State


class FiniteStrainModel:
    """Neo-Hookean model of ``part`` with ``pinned`` nodes; ``solve`` returns a :class:`State`.
    ``factor`` (number or DG0 field) scales the modulus cell-wise, as in the linear model."""

    def __init__(self, part, pinned=(), rtol: float = 1e-9, max_iter: int = 25, factor=1.0):
        dfx = stack.dolfinx()
        import ufl

        self.part = part
        self.pinned = np.asarray(pinned, dtype=np.int64)
        self.rtol, self.max_iter = rtol, max_iter
        self.u = dfx.fem.Function(part.V, name="displacement")
        v = ufl.TestFunction(part.V)
        du = ufl.TrialFunction(part.V)
        energy = elasticity.thickness_factor(part) * factor * elasticity.neo_hookean_density(part, self.u) * ufl.dx
        residual = ufl.derivative(energy, self.u, v)
        self.energy = dfx.fem.form(energy)
        self.residual = dfx.fem.form(residual)
        self.tangent = dfx.fem.form(ufl.derivative(residual, self.u, du))
        W, _ = constraints.free_rigid_modes(part, self.pinned)
        xyz = part.dof_coordinates()[:: part.gdim]
        modes = constraints.rigid_modes(xyz, part.centres.mean(axis=0)) @ W
        self.fixed = constraints.choose_fixed_dofs(part, modes)
        self.a_pin = constraints.pin_rows(part, self.pinned)
        self.iterations = []

    def solve(self, pairs, strains, steps: int = 1, u0: np.ndarray | None = None) -> State:
        """Equilibrium with the pair strains ``eps = r / r0 - 1`` imposed, reached in ``steps`` equal
        load steps from ``u0`` (owned dofs; default the current state of the model, initially zero)."""
        strains = np.asarray(strains, float).ravel()
        if u0 is not None:
            self._set(u0)
        start = self._pair_strains(pairs)
        self.iterations = []
        lam = np.zeros(len(self.a_pin) + len(strains))
        for s in range(1, steps + 1):
            lam = self._newton(pairs, start + (strains - start) * s / steps, lam)
        _, r0, eps = constraints.pair_rows(self.part, pairs, self.part.hole_means(self._owned()))
        return State(u=self._owned().copy(), ubar=self.part.hole_means(self._owned()), pair_strains=eps,
                     tension=-lam[len(self.a_pin):] / r0 if len(r0) else lam[:0])

    def strains(self, state: State, pairs) -> np.ndarray:
        """Pair strains ``|X_j + ubar_j - X_i - ubar_i| / r0 - 1`` in ``state``."""
        return constraints.pair_rows(self.part, pairs, state.ubar)[2]

    def _newton(self, pairs, strains, lam) -> np.ndarray:
        dfx = stack.dolfinx()
        part = self.part
        for it in range(self.max_iter):
            ubar = part.hole_means(self._owned())
            a_pairs, _, eps = constraints.pair_rows(part, pairs, ubar)
            g = np.concatenate([self.a_pin @ ubar.ravel(), eps - strains])
            R = self._vector(self.residual)
            K = dfx.fem.petsc.assemble_matrix(self.tangent)
            K.assemble()
            solver.add_hole_blocks(part, K, list(zip(*constraints.pair_curvature(
                part, pairs, ubar, lam[len(self.a_pin):]))))
            fac = solver.Factored(part, K, self.fixed, self.a_pin, prefix="mechclln_nh_")
            C = fac.rows(np.vstack([self.a_pin, a_pairs]))
            du, lam, _ = solver.schur_solve(fac, C, -g, fac.solve(-R))
            fac.destroy()
            self._set(self._owned() + du)
            step = np.sqrt(part.comm.allreduce(float(du @ du)))
            size = np.sqrt(part.comm.allreduce(float(self._owned() @ self._owned())))
            self.iterations.append(step)
            if not np.isfinite(step):
                break
            if step <= self.rtol * max(size, 1e-30) and np.abs(g).max(initial=0) < 1e-8:
                return lam
        raise MechcllnError(f"{part.source}: field 'strains': Newton did not converge in {self.max_iter} "
                            f"iterations at source strains {np.round(strains, 4).tolist()}; use more load "
                            "steps (--steps) or smaller actuation")

    def _pair_strains(self, pairs) -> np.ndarray:
        return constraints.pair_rows(self.part, pairs, self.part.hole_means(self._owned()))[2]

    def _vector(self, form) -> np.ndarray:
        dfx = stack.dolfinx()
        vec = dfx.fem.assemble_vector(form)
        vec.scatter_reverse(dfx.la.InsertMode.add)
        return vec.array[: self.part.n_owned].copy()

    def _owned(self) -> np.ndarray:
        return self.u.x.array[: self.part.n_owned]

    def _set(self, u_owned: np.ndarray):
        self.u.x.array[: self.part.n_owned] = u_owned
        self.u.x.scatter_forward()
