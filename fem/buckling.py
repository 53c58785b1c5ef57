"""Linearised buckling (SLEPc): the smallest load factor mu with ``(K + mu K_G(sigma0)) phi = 0``.

``sigma0`` is the linear stress of a reference load; ``K_G(u, v) = t int sigma0 : (grad u^T grad v) dx``
is the geometric (initial-stress) stiffness. mu > 0 is the factor on that load (or on the imposed source
strains) at which the first mode buckles. Solved as the generalised problem ``K phi = mu (-K_G) phi`` by
shift-and-invert around 0 (MUMPS Cholesky of K), keeping the smallest positive real eigenvalues.
"""
from __future__ import annotations

import numpy as np

from . import elasticity, solver, stack


def geometric_form(part, u0):
    """UFL bilinear form of the geometric stiffness of the linear stress of displacement ``u0``."""
    import ufl
    u, v = ufl.TrialFunction(part.V), ufl.TestFunction(part.V)
    s0 = elasticity.stress(part, u0)
    return elasticity.thickness_factor(part) * ufl.inner(ufl.grad(u) * s0, ufl.grad(v)) * ufl.dx


def smallest_factors(K, KG, n: int = 3, prefix: str = "mechclln_buckle_") -> np.ndarray:
    """Smallest positive real eigenvalues mu of ``K phi = -mu KG phi`` (K with constraints applied)."""
    SLEPc = stack.slepc()
    PETSc = stack.petsc()
    B = KG.copy()
    B.scale(-1.0)
    eps = SLEPc.EPS().create(K.getComm())
    eps.setOptionsPrefix(prefix)
    eps.setOperators(K, B)
    eps.setProblemType(SLEPc.EPS.ProblemType.GNHEP)
    eps.setDimensions(nev=n)
    eps.setTarget(0.0)
    eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
    st = eps.getST()
    st.setType(SLEPc.ST.Type.SINVERT)
    ksp = st.getKSP()
    ksp.setType(PETSc.KSP.Type.PREONLY)
    ksp.getPC().setType(PETSc.PC.Type.CHOLESKY)     # K (constraints applied) is SPD
    ksp.getPC().setFactorSolverType("mumps")
    eps.setTolerances(1e-10, 200)
    eps.solve()
    vals = np.array([eps.getEigenvalue(i) for i in range(eps.getConverged())])
    eps.destroy()
    B.destroy()
    real = vals.real[(np.abs(vals.imag) < 1e-8 * np.abs(vals).max(initial=1)) & (vals.real > 0)]
    return np.sort(real)[:n]


def part_factors(model, pairs, strains, n: int = 3) -> np.ndarray:
    """Buckling factors of a part actuated by imposed pair strains, the actuators held during buckling.

    ``model`` is a :class:`mechclln.fem.linear.LinearModel`. The first value times ``strains`` is the
    actuation at which the linearised model predicts buckling (a value > 1 means no buckling up to the
    requested strains). The actuated pairs and pins keep their lengths in the buckling mode (penalty on
    their rows).
    """
    dfx = stack.dolfinx()
    PETSc = stack.petsc()
    from . import constraints

    part = model.part
    state = model.solve(pairs, strains)
    u0 = dfx.fem.Function(part.V)
    u0.x.array[: part.n_owned] = state.u
    u0.x.scatter_forward()
    K = model.fac.K.copy()
    a_pairs, _, _ = constraints.pair_rows(part, pairs)
    solver.add_penalty(part, K, a_pairs)
    KG = dfx.fem.petsc.assemble_matrix(dfx.fem.form(geometric_form(part, u0)))
    KG.assemble()
    KG.zeroRowsColumns(model.fac.fixed.astype(PETSc.IntType), diag=0.0)
    try:
        return smallest_factors(K, KG, n)
    finally:
        K.destroy()
        KG.destroy()
