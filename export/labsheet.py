"""The lab sheet: where to pin, pull and measure, and what both spring models predict (Markdown + PNG).

Units: mm for positions and motions, N for forces. Pair strains are ``eps = r / r0 - 1`` with ``r0`` the
hub-centre distance *in the printed part*; a strain becomes a hub-centre motion ``eps * r0`` in mm. Forces
from the spring model (stiffness x length units) become N through the stiffness scale kappa (N/mm per unit
k) and the length scale (mm per network unit): ``F = kappa * scale * F_spring``.
"""
from __future__ import annotations

import io

import numpy as np

from mechclln.geometry.part import Part
from mechclln.geometry.print_state import PrintComparison
from mechclln.task import task_error


def figure_png(part: Part, dpi: int = 150) -> bytes:
    """PNG of the part seen from above: outline, actuation hubs (red), measurement hubs (blue), pins (black)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.path import Path as MPath
    from matplotlib.patches import PathPatch

    lo, hi = part.bounds()
    span = hi[:2] - lo[:2]
    fig, ax = plt.subplots(figsize=(8, 8 * max(span[1] / span[0], 0.3) + 0.6))
    if part.dim == 2:
        from mechclln.geometry.outline import outline_polygons

        verts, codes = [], []
        for c in outline_polygons(part):
            verts += [*c, c[0]]
            codes += [MPath.MOVETO] + [MPath.LINETO] * (len(c) - 1) + [MPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MPath(np.array(verts), codes), facecolor="0.8", edgecolor="0.3", lw=0.4))
    else:
        seg = part.nodes[part.edges][:, :, :2]
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(seg, colors="0.5", linewidths=1.0))
    x = part.nodes
    for ids, colour, label in ((part.sources, "tab:red", "actuate (source)"), (part.targets, "tab:blue", "measure (target)"),
                               (part.pinned, "k", "pin (fixed)")):
        if len(ids):
            ax.scatter(x[ids, 0], x[ids, 1], s=60, facecolors="none", edgecolors=colour, linewidths=1.8, label=label, zorder=3)
            for n in ids:
                ax.annotate(str(n), x[n, :2], xytext=(4, 4), textcoords="offset points", color=colour, fontsize=8,
                            fontweight="bold")
    ax.set_aspect("equal")
    ax.set_xlim(lo[0] - 2, hi[0] + 2)
    ax.set_ylim(lo[1] - 2, hi[1] + 2)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_title(f"{part.n_struts} struts, {len(part.nodes)} hubs, {part.material.name}"
                 + (f", {part.thickness:g} mm sheet" if part.dim == 2 else " (3D, top view)"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    plt.close(fig)
    return buf.getvalue()


def _table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def lab_sheet_markdown(part: Part, cmp: PrintComparison, report: dict, figure_name: str, title: str,
                       predictions: dict | None = None, notes: list | None = None) -> str:
    """The sheet's Markdown text (the figure is referenced by file name). ``predictions``: {label: (n_ex, T)
    target strains} of this very part in the models that know its widths (frame, linear FEM, finite-strain
    FEM), which replace the spring columns; ``notes``: extra lines under the table (e.g. the tolerance
    spread)."""
    task, tr, pr = cmp.task, cmp.trained, cmp.printed
    force_scale = part.kappa * part.scale
    xs = cmp.x_print * part.scale
    dist = lambda pairs: np.linalg.norm(xs[pairs[:, 0]] - xs[pairs[:, 1]], axis=1)  # noqa: E731
    r0s, r0t = dist(task.source_pairs), dist(task.target_pairs)
    c_tr, c_pr = cmp.errors()
    lost = np.abs(cmp.lost_tension) * force_scale
    mass = report["mesh"]["volume_mm3"] * part.material.density / 1000.0
    out = [f"# Lab sheet: {title}", "", f"![part]({figure_name})", "",
           "## Part", "",
           f"- material **{part.material.name}** (E = {part.material.youngs_modulus:g} MPa, allowable strain "
           f"{part.material.allowable_strain:g}); {'sheet thickness %g mm' % part.thickness if part.dim == 2 else '3D lattice'}",
           f"- {part.n_struts} struts (width {part.width.min():.3g}-{part.width.max():.3g} mm), {len(part.nodes)} hubs "
           f"(radius {part.hub_radius:g} mm), pin holes {2 * part.hole_radius:g} mm in hubs {part.hole_nodes.tolist()}",
           f"- size {' x '.join(f'{v:.1f}' for v in report['mesh']['bbox_mm'])} mm, volume "
           f"{report['mesh']['volume_mm3']:.0f} mm^3, mass about {mass:.1f} g",
           f"- scale {part.scale:g} mm per lattice unit; stiffness scale {part.kappa:.4g} N/mm per unit k",
           f"- printed at the relaxed positions: prestress lost per strut up to {lost.max():.3g} N "
           f"(rms {np.sqrt(np.mean(lost ** 2)):.3g} N)",
           f"- struts clipped to the printable width range: {len(report['checks']['clipped_thin_struts'])} too thin, "
           f"{len(report['checks']['clipped_wide_struts'])} too wide", "",
           "## Set-up", "",
           f"- pin (fix position, free rotation) hubs: {part.pinned.tolist() or 'none (the part floats; hold it by the actuation pins)'}",
           "- actuate: pull/push the pin pairs below apart by the given hub-centre motion",
           "- measure: hub-centre distance of each target pair (camera or calipers)", "",
           "## Actuation (sources)", ""]
    rows = []
    for ex in range(task.n_examples):
        for s, (i, j) in enumerate(task.source_pairs):
            eps = task.source_strains[ex, s]
            rows.append([ex, f"{i}-{j}", r0s[s], eps, eps * r0s[s], tr.source_forces[ex, s] * force_scale,
                         pr.source_forces[ex, s] * force_scale])
    out += [_table(["example", "hubs", "r0 (mm)", "strain", "motion (mm)", "force trained (N)",
                    "force as-printed (N)"], rows), "",
            "Force: tension of the actuating pin pair (positive pulls the hubs apart).", "",
            "## Measurement (targets)", ""]
    rows = []
    if predictions:
        cols = {label: np.asarray(v, float) for label, v in predictions.items()}
    else:
        cols = {f"trained strain ({tr.model} springs)": tr.target_strains,
                f"as-printed strain ({pr.model} springs)": pr.target_strains}
    last = list(cols.values())[-1]
    for ex in range(task.n_examples):
        for t, (i, j) in enumerate(task.target_pairs):
            want = task.target_strains[ex, t]
            rows.append([ex, f"{i}-{j}", r0t[t], want, want * r0t[t]] + [v[ex, t] for v in cols.values()]
                        + [last[ex, t] * r0t[t]])
    out += [_table(["example", "hubs", "r0 (mm)", "desired strain", "desired motion (mm)", *cols,
                    f"motion (mm), {list(cols)[-1]}"], rows), ""]
    out += ["Task error C: "
            + "; ".join(f"{label} {task_error(v, task.target_strains):.3g}" for label, v in cols.items())
            + (" (the spring models of this design stand in for nothing printed: trust these columns)"
               if predictions else "") + ".", ""]
    out += [*(notes or []), *([""] if notes else [])]
    if len(task.source_nodes) or len(task.target_nodes):
        out += ["Node terminals (displacement of one component, mm): sources "
                f"{task.source_nodes.tolist()}, targets {task.target_nodes.tolist()}.", ""]
    cp = report["coupon"]
    out += ["## Calibration coupon", "",
            f"`coupon.stl`: one strut {cp['width_mm']:.3g} mm wide between two holed hubs, free length "
            f"{cp['free_length_mm']:.3g} mm. Predicted stiffness {cp['stiffness_N_per_mm']:.4g} N/mm. Measure the "
            "force-extension slope k; the printed modulus is E_eff = E k / predicted; forces above scale by E_eff / E.", ""]
    return "\n".join(out)
