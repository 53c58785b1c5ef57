"""The size of a part's FEM problem, estimated before meshing, and a refusal when it would not fit in memory.

Element size as the meshers set it: ``neck width / elements_across`` per strut in 2D (outline mesher, hubs at
their finest strut's size), the smallest strut's size everywhere in 3D (``Mesh.MeshSizeMax`` of the gmsh
model, at least 3 across), both capped by ``mesh_size``. Unknowns = ``DOFS_PER_MEASURE`` x the
solid's measure in units of (element size)^dim (P2 elements); peak memory = dofs x ``BYTES_PER_DOF[dim]``
(MUMPS's fill grows faster than the dofs in 3D: that rate is taken at the 3D calibration size and grown
as dofs^(1/3) above it).

Calibrated (2 cores, linear check, serial MUMPS): 2D 4 x 4 triangular part, 6.7e4 dofs at 2 across and
1.7e5 at 4 (32 and 20 dofs per unit measure: the outline's arcs refine coarse meshes); 3D fcc 1 x 1 x 1
(25 per unit measure); 2D 533-strut part, 1.86 GiB peak at 1.13e6 dofs (docs/performance.md); 3D fcc 1 x 1 x 1 cell
(36 struts), 5.0e5 dofs at 3 across, 7.5 GiB peak, 102 s.
"""
from __future__ import annotations

import os

import numpy as np

from mechclln.errors import MechcllnError

DOFS_PER_MEASURE = 25.0     # within 30 % of every calibration mesh
BYTES_PER_DOF = {2: 1.75e3, 3: 1.55e4}
REF_DOFS_3D = 5.0e5
FRACTION = 0.8      # of the available memory a check may plan to use


def estimate(gpart, elements_across: int = 2, mesh_size: float | None = None) -> dict:
    """``{"dofs", "bytes", "element_size_mm"}`` of the FEM check of ``gpart`` at this mesh size."""
    dim = gpart.dim
    w, L, R = np.asarray(gpart.width, float), gpart.axis_lengths(), float(gpart.hub_radius)
    h = 2 * gpart.neck_half_widths() / (elements_across if dim == 2 else max(3, elements_across))
    h = h if mesh_size is None else np.minimum(h, mesh_size)
    if dim == 2:
        hub_h = np.full(len(gpart.nodes), h.min())
        np.minimum.at(hub_h, gpart.edges.ravel(), np.repeat(h, 2))
        measure = float(np.sum(L * w / h ** 2) + np.sum(np.pi * R ** 2 / hub_h ** 2))
    else:
        volume = np.sum(L * np.pi * w ** 2 / 4) + len(gpart.nodes) * 4 / 3 * np.pi * R ** 3
        measure = float(volume / h.min() ** 3)
    dofs = DOFS_PER_MEASURE * measure
    per_dof = BYTES_PER_DOF[dim] * (max(1.0, dofs / REF_DOFS_3D) ** (1 / 3) if dim == 3 else 1.0)
    return {"dofs": dofs, "bytes": dofs * per_dof, "element_size_mm": float(h.min())}


def available_bytes() -> int:
    """Memory available to a new process: ``MemAvailable`` of /proc/meminfo, else free physical pages."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def require_fits(gpart, elements_across: int = 2, mesh_size: float | None = None, source: str = "part") -> dict:
    """:func:`estimate`, refusing (one line, before any meshing) when it is over ``FRACTION`` of the
    available memory."""
    est = estimate(gpart, elements_across, mesh_size)
    limit = FRACTION * available_bytes()
    if est["bytes"] > limit:
        raise MechcllnError(
            f"{source}: field 'struts': {gpart.n_struts} {gpart.dim}D struts at {est['element_size_mm']:.3g} mm "
            f"elements are about {est['dofs']:.2g} FEM unknowns needing about {est['bytes'] / 2**30:.3g} GiB, over "
            f"the {limit / 2**30:.3g} GiB limit ({FRACTION:.0%} of the available memory); check a smaller part, "
            "give a coarser --elements-across or --mesh-size, or pass --ignore-memory-limit")
    return est
