"""Pictures of FEM states (matplotlib, Agg): the deformed part coloured by strain energy density."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def energy_plot(xy: np.ndarray, disp: np.ndarray, values: np.ndarray, path: Path, title: str = "",
                magnify: float | None = None) -> Path:
    """Reference outline (grey) and deformed triangles coloured by energy density [MPa], log scale.

    ``magnify`` scales displacements (default: largest displacement drawn as 3 % of the part size).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    from mechclln.fileio import write_bytes

    size = float(np.ptp(xy.reshape(-1, 2), axis=0).max())
    umax = float(np.abs(disp).max()) or 1.0
    m = magnify if magnify is not None else 0.03 * size / umax
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.add_collection(PolyCollection(xy, facecolor="0.88", edgecolor="none"))
    vals = np.maximum(values, values.max() * 1e-6 if values.max() > 0 else 1e-12)
    pc = PolyCollection(xy + m * disp, array=vals, cmap="inferno", norm=LogNorm(), edgecolor="none")
    ax.add_collection(pc)
    fig.colorbar(pc, ax=ax, shrink=0.7, label="strain energy density [MPa = mJ/mm$^3$]")
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("y [mm]")
    ax.set_title(f"{title} (displacements x{m:.3g})")
    import io
    buf = io.BytesIO()
    fig.savefig(buf, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
