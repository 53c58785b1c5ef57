"""Cell-wise fields of a solved state: strain energy density, principal strains, per-strut energies,
and the gathered triangles of the deformed mesh for plotting (2D).

Energy densities are in MPa (= mJ/mm^3); per-strut energies in mJ (N mm), integrated over the strut's
tagged cells (times the thickness for a sheet) -- the quantity the FEM-in-the-loop rule contrasts.
"""
from __future__ import annotations

import numpy as np

from . import elasticity, stack


def function_of(part, u_owned):
    """A DOLFINx Function holding the owned displacement dofs (ghosts updated)."""
    dfx = stack.dolfinx()
    u = dfx.fem.Function(part.V, name="displacement")
    u.x.array[: part.n_owned] = u_owned
    u.x.scatter_forward()
    return u


def cell_values(part, expr, shape=()):
    """Interpolate a UFL expression into DG0 (cell midpoints); returns the owned cells' values."""
    dfx = stack.dolfinx()
    Q = dfx.fem.functionspace(part.mesh, ("DG", 0, shape))
    q = dfx.fem.Function(Q)
    q.interpolate(dfx.fem.Expression(expr, Q.element.interpolation_points))
    n = part.mesh.topology.index_map(part.mesh.topology.dim).size_local
    size = int(np.prod(shape)) if shape else 1
    return q.x.array[: n * size].reshape((n,) + tuple(shape)), q


def energy_density(part, u, finite: bool = False):
    """Strain energy density per owned cell [MPa] (linear, or neo-Hookean when ``finite``)."""
    law = elasticity.neo_hookean_density if finite else elasticity.linear_energy_density
    return cell_values(part, law(part, u))[0]


def peak_strains(part, u, finite: bool = False) -> dict:
    """Largest tensile and compressive principal strain over the part (global).

    Linear: eigenvalues of the small strain. Finite: nominal principal strains ``sqrt(1 + 2 E_i) - 1``
    from the Green-Lagrange strain. Evaluated at cell midpoints.
    """
    d = part.gdim
    tensor = elasticity.green_strain(u) if finite else elasticity.strain(u)
    vals, _ = cell_values(part, tensor, (d, d))
    eig = np.linalg.eigvalsh(vals) if len(vals) else np.zeros((0, d))
    if finite:
        eig = np.sqrt(np.maximum(1 + 2 * eig, 0)) - 1
    comm = part.comm
    tens = comm.allreduce(float(eig.max(initial=0.0)), op=stack.mpi().MAX)
    comp = comm.allreduce(float(eig.min(initial=0.0)), op=stack.mpi().MIN)
    return {"max_tensile": tens, "max_compressive": comp, "peak": max(tens, -comp)}


def strut_energies(part, u, n_struts: int, factor=1.0) -> np.ndarray:
    """Linear strain energy [mJ] of each strut (edge id -> its tagged cells), identical on all ranks."""
    dfx = stack.dolfinx()
    import ufl
    Q = dfx.fem.functionspace(part.mesh, ("DG", 0))
    v = ufl.TestFunction(Q)
    density = elasticity.linear_energy_density(part, u, factor)
    vec = dfx.fem.assemble_vector(dfx.fem.form(elasticity.thickness_factor(part) * density * v * ufl.dx))
    per_cell = vec.array[: part.mesh.topology.index_map(part.mesh.topology.dim).size_local]
    cells, strut = part.strut_cells()
    owned = cells < len(per_cell)
    out = np.zeros(n_struts)
    np.add.at(out, strut[owned], per_cell[cells[owned]])
    return part.comm.allreduce(out)


def deformed_triangles(part, u, values) -> tuple | None:
    """(reference triangles (nc, 3, 2), displacement at their vertices (nc, 3, 2), values (nc,)) of all
    ranks gathered on rank 0 (None on the others). 2D only; vertices from a P1 interpolation of u."""
    dfx = stack.dolfinx()
    V1 = dfx.fem.functionspace(part.mesh, ("Lagrange", 1, (2,)))
    u1 = dfx.fem.Function(V1)
    u1.interpolate(u)
    n = part.mesh.topology.index_map(2).size_local
    dofs = V1.dofmap.list[:n]
    xy = V1.tabulate_dof_coordinates()[:, :2][dofs]
    disp = u1.x.array.reshape(-1, 2)[dofs]
    gathered = part.comm.gather((xy, disp, np.asarray(values)[:n]), root=0)
    if part.comm.rank != 0:
        return None
    return tuple(np.concatenate([g[i] for g in gathered]) for i in range(3))
