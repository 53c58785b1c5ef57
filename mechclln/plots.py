"""PNG figures of networks and training runs (matplotlib, Agg backend). 3D networks are drawn projected
on the x-y plane."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from .fileio import write_bytes  # noqa: E402


def _save(fig, path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


def _segments(x, edges):
    return np.stack([x[edges[:, 0], :2], x[edges[:, 1], :2]], axis=1)


def _mark_terminals(ax, x, task, label=True):
    if task is None:
        return
    for pairs, colour, name in ((task.source_pairs, "tab:green", "source"), (task.target_pairs, "tab:purple", "target")):
        for q, (i, j) in enumerate(pairs):
            ax.plot(*x[[i, j], :2].T, "o--", color=colour, ms=6, lw=1.5, zorder=5,
                    label=name if (q == 0 and label) else None)


def draw_network(ax, x, edges, values=None, cmap="viridis", widths=None, vmin=None, vmax=None, colorbar=None):
    segs = _segments(x, edges)
    lc = LineCollection(segs, linewidths=1.2 if widths is None else widths, cmap=cmap,
                        colors=None if values is not None else "0.3")
    if values is not None:
        lc.set_array(np.asarray(values))
        lc.set_clim(vmin, vmax)
    ax.add_collection(lc)
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if values is not None and colorbar:
        plt.colorbar(lc, ax=ax, shrink=0.8, label=colorbar)
    return lc


def plot_training(history, path, title="") -> Path:
    """Error C/C0 (log) and the cosine between the local update and -grad C, against the step."""
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True, height_ratios=[2, 1])
    a1.semilogy(history.step, np.maximum(history.C_rel, 1e-16), color="tab:blue")
    a1.set_ylabel("task error  C / C0")
    a1.grid(True, which="both", alpha=0.3)
    a1.set_title(title or "training")
    if history.cosine is None:    # an exact-gradient design (e.g. mechclln design) has no local update
        a2.text(0.5, 0.5, "exact-gradient design: no local update", ha="center", va="center",
                transform=a2.transAxes, color="0.4")
    else:
        a2.plot(history.step, np.array(history.cosine, float), color="tab:orange")
    a2.axhline(0, color="0.6", lw=0.8)
    a2.set_ylim(-1.05, 1.05)
    a2.set_ylabel("cos(local update, -grad C)")
    a2.set_xlabel("learning step")
    a2.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_parameter(net, values, path, label, task=None, cmap="viridis", symmetric=False, width_by_k=False) -> Path:
    """Network coloured by a per-edge quantity (e.g. k, or the change of rest length)."""
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    v = np.asarray(values, float)
    vmin, vmax = (v.min(), v.max()) if not symmetric else (-np.abs(v).max() or -1, np.abs(v).max() or 1)
    widths = 0.4 + 2.6 * (net.k - net.k.min()) / max(np.ptp(net.k), 1e-12) if width_by_k else None
    draw_network(ax, net.x, net.edges, v, cmap=cmap, widths=widths, vmin=vmin, vmax=vmax, colorbar=label)
    _mark_terminals(ax, net.x, task)
    if task is not None:
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(label)
    return _save(fig, path)


def plot_response(net, x_free, task, path, example=None, title="free response") -> Path:
    """Deformed network (free state of one example) coloured by bond strain, over the reference (faint grey);
    displacements are exaggerated so that the largest equals 0.3 mean bond lengths."""
    fig, ax = plt.subplots(figsize=(6.4, 6.0))
    u = x_free - net.x
    umax = np.abs(u).max()
    scale = 0.3 * np.mean(net.lengths()) / umax if umax > 0 else 1.0
    xs = net.x + scale * u
    strain = net.lengths(x_free) / net.lengths() - 1
    lim = np.abs(strain).max() or 1.0
    draw_network(ax, net.x, net.edges, None, widths=0.4).set_color("0.9")
    draw_network(ax, xs, net.edges, strain, cmap="coolwarm", vmin=-lim, vmax=lim, colorbar="bond strain")
    _mark_terminals(ax, xs, task)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{title} (displacements x{scale:.3g})")
    return _save(fig, path)


def plot_targets(desired, achieved, path, labels=("desired", "trained")) -> Path:
    """Bar chart of desired vs achieved target strains for each example and target."""
    desired, achieved = np.atleast_2d(desired), np.atleast_2d(achieved)
    n_ex, T = desired.shape
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * n_ex * T), 3.6))
    idx = np.arange(n_ex * T)
    ax.bar(idx - 0.2, desired.ravel(), 0.4, label=labels[0], color="0.6")
    ax.bar(idx + 0.2, achieved.ravel(), 0.4, label=labels[1], color="tab:blue")
    ax.set_xticks(idx, [f"ex{e}\nt{t}" for e in range(n_ex) for t in range(T)], fontsize=8)
    ax.set_ylabel("target strain")
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(fontsize=8)
    return _save(fig, path)
