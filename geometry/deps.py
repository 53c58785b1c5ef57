"""Lazy imports of the heavy geometry dependencies, with a message naming the package when missing."""
from __future__ import annotations

import importlib

from mechclln.errors import MechcllnError


def require(module: str, package: str | None = None):
    """Import ``module`` or raise a one-line error telling which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module
        raise MechcllnError(f"{module}: cannot be imported ({exc}); install it with `pip install {pkg}` "
                            "(it comes with `pip install mechclln`)") from None


def manifold3d():
    return require("manifold3d")


def gmsh():
    return require("gmsh")


def trimesh():
    return require("trimesh")
