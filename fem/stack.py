"""Lazy imports of the FEM stack (DOLFINx from the ``dolfinx-solver-real`` wheel, PETSc, SLEPc, gmsh).

Every FEM module imports its heavy dependencies through these functions, so that importing
``mechclln.fem`` is cheap and a missing or broken stack gives one line naming what to install.
The wheel needs ``import dolfinx_solver`` before ``import dolfinx`` (it loads the bundled MPI/PETSc).
"""
from __future__ import annotations

from mechclln.errors import MechcllnError

_INSTALL = ("install the FEM stack into this Python >= 3.12 environment: "
            "pip install 'mechclln[fem]' (that is 'dolfinx-solver-real==0.11.*' and gmsh)")


def dolfinx():
    """Return the ``dolfinx`` module (after ``dolfinx_solver``), or raise a one-line MechcllnError."""
    try:
        import dolfinx_solver  # noqa: F401  (must precede dolfinx: loads libmpi/libpetsc of the wheel)
        import dolfinx as dfx
        import dolfinx.fem.petsc  # noqa: F401
        import dolfinx.io.gmsh  # noqa: F401
    except ImportError as exc:
        raise MechcllnError(f"FEM stack: DOLFINx is missing or broken ({exc}); {_INSTALL}") from None
    return dfx


def petsc():
    """Return ``petsc4py.PETSc`` (through the DOLFINx wheel)."""
    dolfinx()
    from petsc4py import PETSc
    return PETSc


def slepc():
    """Return ``slepc4py.SLEPc``, or raise naming the missing package."""
    dolfinx()
    try:
        from slepc4py import SLEPc
    except ImportError as exc:
        raise MechcllnError(f"FEM stack: SLEPc is missing ({exc}); {_INSTALL}") from None
    return SLEPc


def mpi():
    """Return ``mpi4py.MPI`` (through the DOLFINx wheel)."""
    dolfinx()
    from mpi4py import MPI
    return MPI


def gmsh():
    """Return the ``gmsh`` module, initialised once, quiet and single-threaded (reproducible meshes)."""
    try:
        import gmsh as g
    except (ImportError, OSError) as exc:
        raise MechcllnError(f"FEM stack: gmsh is missing or cannot load its libraries ({exc}); "
                            "pip install gmsh (Debian also needs libglu1-mesa libgl1 libxrender1 libxcursor1 "
                            "libxft2 libxinerama1)") from None
    if not g.isInitialized():
        g.initialize(interruptible=False)
        g.option.setNumber("General.Terminal", 0)
        g.option.setNumber("General.NumThreads", 1)
        g.option.setNumber("Mesh.MaxNumThreads2D", 1)
        g.option.setNumber("Mesh.MaxNumThreads3D", 1)
    return g
