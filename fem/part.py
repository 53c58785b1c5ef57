"""A tagged part loaded into DOLFINx: mesh, hub/strut cell tags, pin-hole facets and the hole-mean operator.

The hole-mean operator ``H`` is the FEM meaning of "a node's position": the mean displacement of the
hub's pin-hole boundary, ``ubar_n = (1/|G_n|) int_{G_n} u ds``. It is stored as the weights of the
degrees of freedom owned by this MPI rank, so ``ubar = allreduce(H @ u_owned)`` works serially and under
``mpirun -n P``. Its adjoint spreads a force uniformly over the hole (a pin pushing on the hole's wall):
that is how sources, pins and clamped targets load the part, never by point loads or clamped hubs.
Units: mm for lengths, MPa for E (so stiffness is N/mm and forces are N).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from mechclln.errors import MechcllnError

from . import stack
from mechclln.geometry.tags import HOLE_BASE as HOLE, HUB_BASE as HUB, STRUT_BASE as STRUT, decode


@dataclass(eq=False)
class MeshedPart:
    """A meshed part ready for elasticity (the FEM form of a :class:`mechclln.geometry.part.Part`).

    ``thickness`` is the sheet thickness [mm] for plane stress (gdim 2); a 3D solid has thickness None.
    ``holes`` are node ids with a tagged pin hole, ``centres`` (len(holes), gdim) their hole centroids [mm],
    ``H`` the hole-mean operator (rows ``hole_index * gdim + axis``, columns owned dofs of this rank).
    """

    mesh: object
    cell_tags: object
    facet_tags: object
    V: object
    E: float
    nu: float
    thickness: float | None
    struts: np.ndarray
    hubs: np.ndarray
    holes: np.ndarray
    centres: np.ndarray
    perimeters: np.ndarray
    H: sp.csr_matrix
    source: str = "part"
    meta: dict = field(default_factory=dict)

    @property
    def gdim(self) -> int:
        return self.mesh.geometry.dim

    @property
    def comm(self):
        return self.mesh.comm

    @property
    def n_owned(self) -> int:
        im = self.V.dofmap.index_map
        return im.size_local * self.V.dofmap.index_map_bs

    @property
    def global_offset(self) -> int:
        return self.V.dofmap.index_map.local_range[0] * self.V.dofmap.index_map_bs

    def strut_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The struts' mesh cells: (local cell indices, owned and ghost; the strut (edge) id of each), read
        from the cell tags (``mechclln.geometry.tags``: strut e is tag ``STRUT_BASE + e``, hubs from ``HUB_BASE``)."""
        tags = self.cell_tags
        strut = tags.values < HUB
        return tags.indices[strut], tags.values[strut] - STRUT

    def hole_index(self, node: int) -> int:
        """Row block of node ``node`` in ``H`` and ``centres``; a one-line error if it has no pin hole."""
        idx = np.searchsorted(self.holes, node)
        if idx >= len(self.holes) or self.holes[idx] != node:
            raise MechcllnError(f"{self.source}: field 'hole_{node}': node {node} has no tagged pin hole "
                                f"(physical group {HOLE + node}); rebuild the part with a hole at every "
                                "source, target and pinned node")
        return int(idx)

    def hole_means(self, u_owned: np.ndarray) -> np.ndarray:
        """Mean displacement of every hole boundary, (len(holes), gdim), identical on all ranks."""
        local = self.H @ u_owned
        return self.comm.allreduce(local).reshape(-1, self.gdim)

    def dof_coordinates(self) -> np.ndarray:
        """Coordinates (n_owned, gdim) of each owned scalar dof (blocked: x, y[, z] per node)."""
        bs = self.V.dofmap.index_map_bs
        xyz = self.V.tabulate_dof_coordinates()[: self.V.dofmap.index_map.size_local, : self.gdim]
        return np.repeat(xyz, bs, axis=0)


def from_gmsh(gmsh, *, E: float, nu: float, thickness: float | None, degree: int = 2,
              source: str = "part", comm=None) -> MeshedPart:
    """Load the current gmsh model (meshed, rank 0 holds it) into DOLFINx and build the hole operator.

    ``gdim`` is 2 when the model's highest-dimensional entities are surfaces (then ``thickness`` [mm] is
    required: plane stress), 3 for solids. ``degree`` is the Lagrange degree of the displacement.
    """
    dfx = stack.dolfinx()
    MPI = stack.mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    dim = gmsh.model.getDimension() if comm.rank == 0 else None
    dim = comm.bcast(dim, root=0)
    if dim not in (2, 3):
        raise MechcllnError(f"{source}: the gmsh model has dimension {dim}; build a 2D sheet or a 3D solid")
    if dim == 2 and not thickness:
        raise MechcllnError(f"{source}: field 'thickness': a 2D sheet needs its thickness in mm for plane "
                            "stress; pass thickness=")
    data = dfx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=dim)
    return from_mesh(data.mesh, data.cell_tags, data.facet_tags, E=E, nu=nu,
                     thickness=thickness if dim == 2 else None, degree=degree, source=source)


def from_mesh(mesh, cell_tags, facet_tags, *, E, nu, thickness, degree=2, source="part") -> MeshedPart:
    """Build a :class:`MeshedPart` from a DOLFINx mesh with the tag contract of :mod:`mechclln.geometry.tags`."""
    dfx = stack.dolfinx()
    import ufl

    comm = mesh.comm
    if cell_tags is None or facet_tags is None:
        raise MechcllnError(f"{source}: the mesh has no cell or facet tags; export the gmsh model with "
                            "physical groups strut_e, hub_n and hole_n (see mechclln.geometry.tags)")
    struts, hubs, holes = _ids(comm, cell_tags, "strut"), _ids(comm, cell_tags, "hub"), _ids(comm, facet_tags, "hole")
    if not struts:
        raise MechcllnError(f"{source}: no strut cell tags (physical groups {STRUT}+e named strut_e); "
                            "build the part with mechclln.geometry or tag the strut regions")
    gdim = mesh.geometry.dim
    V = dfx.fem.functionspace(mesh, ("Lagrange", degree, (gdim,)))
    holes = np.array(holes, dtype=np.int64)
    H, centres, perimeters = _hole_operator(dfx, ufl, V, facet_tags, holes, comm)
    return MeshedPart(mesh=mesh, cell_tags=cell_tags, facet_tags=facet_tags, V=V, E=float(E), nu=float(nu),
                      thickness=None if thickness is None else float(thickness),
                      struts=np.array(struts, dtype=np.int64), hubs=np.array(hubs, dtype=np.int64), holes=holes,
                      centres=centres, perimeters=perimeters, H=H, source=source)


def _ids(comm, tags, kind: str) -> list[int]:
    """Sorted ids of the ``kind`` ("strut", "hub", "hole") groups present on any rank."""
    values = set().union(*comm.allgather(set(np.unique(tags.values).tolist())))
    return sorted(i for k, i in map(decode, values) if k == kind)


def _hole_operator(dfx, ufl, V, facet_tags, holes, comm):
    """Weights w_i = int_G phi_i ds of every owned dof on hole n, normalised by the hole's measure."""
    mesh = V.mesh
    fdim = mesh.topology.dim - 1
    gdim = mesh.geometry.dim
    hole_facets = facet_tags.indices[(facet_tags.values >= HOLE) & (facet_tags.values < HOLE + HUB)]
    marker = dfx.mesh.meshtags(mesh, fdim, hole_facets, np.full(len(hole_facets), 1, dtype=np.int32))
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=marker)
    v = ufl.TestFunction(V)
    ones = ufl.as_vector([1.0] * gdim)
    vec = dfx.fem.assemble_vector(dfx.fem.form(ufl.inner(ones, v) * ds(1)))
    vec.scatter_reverse(dfx.la.InsertMode.add)
    weights = vec.array
    bs = V.dofmap.index_map_bs
    n_owned_blocks = V.dofmap.index_map.size_local
    xyz = V.tabulate_dof_coordinates()[:, :gdim]
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)
    rows, cols, vals = [], [], []
    moments = np.zeros((len(holes), 1 + gdim))
    for h, n in enumerate(holes):
        blocks = dfx.fem.locate_dofs_topological(V, fdim, facet_tags.find(HOLE + int(n)))
        blocks = blocks[blocks < n_owned_blocks]
        w = weights[blocks * bs]
        moments[h, 0] = w.sum()
        moments[h, 1:] = w @ xyz[blocks]
        for k in range(gdim):
            rows.append(np.full(len(blocks), h * gdim + k))
            cols.append(blocks * bs + k)
            vals.append(w)
    moments = comm.allreduce(moments)
    perimeters = moments[:, 0]
    centres = moments[:, 1:] / perimeters[:, None]
    n_owned = n_owned_blocks * bs
    if rows:
        rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        vals = vals / perimeters[rows // gdim]
    H = sp.csr_matrix((vals, (rows, cols)), shape=(len(holes) * gdim, n_owned))
    return H, centres, perimeters
