"""Lazy imports of the heavy geometry dependencies, with a message naming the package when missing."""
from __future__ import annotations

import importlib

from mechclln.errors import MechcllnError


def require(module: str, extra: str):
    """Import ``module`` or raise a one-line error naming it and the mechclln extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MechcllnError(f"{module}: cannot be imported ({exc}); install it with `pip install {module}` "
                            f"or `pip install 'mechclln[{extra}]'`") from None


def manifold3d():
    return require("manifold3d", "export")


def gmsh():
    return require("gmsh", "fem")


def trimesh():
    return require("trimesh", "export")
