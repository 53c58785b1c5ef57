"""One self-contained HTML page of a run directory or a lab-train folder (``mechclln report RUN --out F``).

Sections (each a ``<figure class="fig" id=...>`` or ``<section id=...>``, present when its data is):
``training`` (C/C0 against the step or round), ``parameters`` (the network coloured by k and by the change
of rest length), ``animation`` (the response: free vs clamped state, animated in inline SVG + JS),
``part`` (the exported part's figure, when an ``export/`` folder has one), ``fidelity`` and ``tolerance`` tables
(when ``fem/fidelity.json`` exists), and ``labsheet`` (the export's lab sheet, or lab-train's pending
actuation and last turns). A demo run's ``printable/`` sub-run supplies the part and FEM sections. Images
are embedded as base64 PNG/SVG; the page needs no network access. Lengths are in the network's units,
strains dimensionless.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from dataclasses import replace
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import network as netio
from . import plots
from .errors import MechcllnError
from .fileio import read_data, read_text, write_text
from .rundir import Run
from .schema import Fields
from .tracks import read_tracks

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}th{background:#f4f4f4}.grid{display:flex;flex-wrap:wrap;gap:1em}.grid img{max-width:520px}
svg.anim{border:1px solid #eee;background:#fff}"""

ANIMATION_JS = """(function(){const d=JSON.parse(document.getElementById('anim-data').textContent);
const lines=document.querySelectorAll('#anim-svg line');const label=document.getElementById('anim-label');
let t0=null;function frame(ts){if(t0===null)t0=ts;const s=0.5-0.5*Math.cos((ts-t0)/1000*Math.PI*0.8);
for(let e=0;e<lines.length;e++){const i=d.edges[e][0],j=d.edges[e][1];
const xi=d.a[i][0]+s*(d.b[i][0]-d.a[i][0]),yi=d.a[i][1]+s*(d.b[i][1]-d.a[i][1]);
const xj=d.a[j][0]+s*(d.b[j][0]-d.a[j][0]),yj=d.a[j][1]+s*(d.b[j][1]-d.a[j][1]);
lines[e].setAttribute('x1',xi);lines[e].setAttribute('y1',yi);lines[e].setAttribute('x2',xj);
lines[e].setAttribute('y2',yj);}label.textContent=(s<0.5?d.names[0]:d.names[1]);requestAnimationFrame(frame);}
requestAnimationFrame(frame);})();
(function(){const imgs=[...document.querySelectorAll('figure.fig img')];
const ok=imgs.every(i=>i.complete&&i.naturalWidth>0);
document.body.setAttribute('data-figures',document.querySelectorAll('figure.fig').length);
document.body.setAttribute('data-images-ok',ok?'yes':'no');})();"""


def _img(data: bytes, mime: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def _figure(fid: str, body: str, caption: str) -> str:
    return f'<figure class="fig" id="{fid}">{body}<figcaption>{html.escape(caption)}</figcaption></figure>'


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v) -> str:
    """Numbers (also numbers written in a CSV cell with a decimal point) to 4 significant digits."""
    if isinstance(v, str) and "." in v:
        try:
            v = float(v)
        except ValueError:
            return v
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


def _png(draw) -> bytes:
    """Bytes of a :mod:`mechclln.plots` figure: ``draw(path)`` writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.png"
        draw(path)
        return path.read_bytes()


def _curve_png(rounds, curves: dict, xlabel: str) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, y in curves.items():
        ax.semilogy(rounds[: len(y)], np.maximum(np.asarray(y, float), 1e-16), "o-", ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("task error  C / C0")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _parameter_figures(net0, net, task) -> str:
    k_png = _png(lambda p: plots.plot_parameter(net, net.k, p, "stiffness k", task, width_by_k=True))
    dl = (net.l - net0.l) / net0.lengths()
    dl_png = _png(lambda p: plots.plot_parameter(net, dl, p, "change of rest length / r0", task, cmap="coolwarm",
                                                 symmetric=True))
    return _figure("parameters", f'<div class="grid">{_img(k_png, "image/png", "stiffness")}'
                   f'{_img(dl_png, "image/png", "rest length change")}</div>',
                   "the network coloured by the learned parameters (terminals: source green, targets purple)")


def _animation(net, xa, xb, names, caption) -> str:
    """Inline SVG of the network morphing between positions ``xa`` and ``xb`` (displacements from ``xa``
    exaggerated so the largest is 0.3 mean bond lengths)."""
    rbar = float(np.mean(net.lengths()))
    u = xb - xa
    umax = float(np.abs(u).max())
    scale = 0.3 * rbar / umax if umax > 0 else 1.0
    b = xa + scale * u
    lo = np.minimum(xa.min(0), b.min(0)) - rbar
    hi = np.maximum(xa.max(0), b.max(0)) + rbar
    W = 640.0
    f = W / (hi[0] - lo[0])
    to_px = lambda x: np.column_stack([(x[:, 0] - lo[0]) * f, (hi[1] - x[:, 1]) * f]).round(2)  # noqa: E731
    pa, pb = to_px(xa[:, :2]), to_px(b[:, :2])
    H = (hi[1] - lo[1]) * f
    lines = "".join(f'<line x1="{pa[i, 0]}" y1="{pa[i, 1]}" x2="{pa[j, 0]}" y2="{pa[j, 1]}" stroke="#456" '
                    f'stroke-width="1.5"/>' for i, j in net.edges)
    data = json.dumps({"a": pa.tolist(), "b": pb.tolist(), "edges": net.edges.tolist(), "names": names})
    body = (f'<svg id="anim-svg" class="anim" width="{W:.0f}" height="{H:.0f}" viewBox="0 0 {W:.0f} {H:.0f}">'
            f'{lines}<text id="anim-label" x="8" y="18" font-size="14">{html.escape(names[0])}</text></svg>'
            f'<script type="application/json" id="anim-data">{data}</script>')
    return _figure("animation", body, f"{caption} (displacements x{scale:.3g})")


# ---------------------------------------------------------------------------------------------- run dir
def _run_sections(run: Path) -> list[str]:
    from .equilibrium import Equilibria, free_states

    net0, net, task, metrics = Run(run).load()
    m = Fields(metrics, str(Run(run).metrics_file))
    h = m.obj("history")
    out = [f"<h1>Run {html.escape(run.name)}</h1><p>{net.n_nodes} nodes, {net.n_edges} edges; rule "
           f"{html.escape(m.string('rule'))}, {html.escape(m.string('model'))} model; C/C0 final "
           f"{_fmt(m.number('C_rel_final', nullable=True))}</p>"]
    hist = SimpleNamespace(step=h.array("step"), C_rel=h.array("C_rel"), cosine=h.array("cosine", nullable=True))
    out.append("<h2>Training</h2>" + _figure("training", _img(_png(lambda p: plots.plot_training(hist, p)),
                                                              "image/png", "training"), "C/C0 and the cosine of "
                                             "the local update with -grad C against the learning step"))
    out.append("<h2>Learned parameters</h2>" + _parameter_figures(net0, net, task))
    model = m.string("model")
    framed = _frame_animation(run, net, task)
    if framed:
        out.append("<h2>Response</h2>" + framed)
        for stage in (run, run / "printable"):
            out += _stage_sections(stage)
        return out
    tether = Fields(metrics.get("tether") or {}, m.source, "tether").number("tether", 0.0, ge=0)
    eq = Equilibria(net, task, model, check_rigidity=False, tether=tether)   # as trained (train --tether)
    ex = int(np.argmax(np.abs(task.source_strains).sum(1)))
    free = free_states(eq, net.k, net.l)[ex]
    T = len(task.target_pairs)
    rows = eq.join(free.rows, eq.target_rows(task.target_strains[ex], task.targets_desired()[ex][T:]))
    clamped = eq.solve(net.k, net.l, rows, free.x, np.concatenate([free.lam, np.zeros(rows.m - free.rows.m)]))
    out.append("<h2>Response</h2>" + _animation(net, eq.aligned(free.x), eq.aligned(clamped.x),
                                                ["free state", "clamped state (targets as desired)"],
                                                f"example {ex}, {model} model: free vs fully clamped state"))
    for stage in (run, run / "printable"):
        out += _stage_sections(stage)
    return out


def _frame_animation(run: Path, net, task) -> str | None:
    """A frame design run (``design.json``): its printed part morphing into the actuated frame state."""
    path = Run(run).design_file
    if not path.exists():
        return None
    d = Fields(read_data(path), str(path))
    r = d.obj("frame_response")
    u = r.array("hub_displacements_mm", shape=(net.n_nodes, net.dim)) / d.obj("spec").number("scale")
    removed = d.array("removed_edges", nullable=True)
    keep = np.setdiff1d(np.arange(net.n_edges), np.asarray(removed if removed is not None else [], int))
    printed = replace(net, edges=net.edges[keep], k=net.k[keep], l=net.l[keep])
    ex = r.integer("example")
    return _animation(printed, net.x, net.x + u, ["printed part", "actuated: frame model (corotational)"],
                      f"example {ex}: the printed struts at rest and actuated, in the frame model of the part")


def _stage_sections(stage: Path) -> list[str]:
    out = []
    export = Run(stage).export_dir
    if (export / "lab_sheet.png").exists():
        out.append("<h2>Part</h2>" + _figure("part", _img((export / "lab_sheet.png").read_bytes(), "image/png", "part"),
                                             f"{stage.name}/export: the part, its actuation and measurement hubs"))
    fid = Run(stage).fidelity_file
    if fid.exists():
        out += _fidelity_tables(fid)
    if (export / "lab_sheet.md").exists():
        out.append(f'<h2>Lab sheet</h2><section id="labsheet">{_markdown(read_text(export / "lab_sheet.md"))}'
                   "</section>")
    return out


def _fidelity_tables(path: Path) -> list[str]:
    f = Fields(read_data(path), str(path))
    models = f.obj("models")
    wanted = f.array("wanted_target_strains", shape=(None, None))
    n_ex, T = wanted.shape
    names = list(models.data)
    strains = {n: models.obj(n).array("target_strains", shape=(n_ex, T)) for n in names}
    rows = [[ex, t, wanted[ex, t]] + [strains[n][ex, t] for n in names] for ex in range(n_ex) for t in range(T)]
    rows.append(["C", "", ""] + [models.obj(n).number("C") for n in names])
    out = ["<h2>Fidelity</h2>" + f'<section id="fidelity">{_table(["example", "target", "desired", *names], rows)}'
           "<p>target strains in every model (C: the task error of each)</p></section>"]
    tol = f.obj("tolerances")
    trows = []
    for case in ("widths", "modulus_per_strut"):
        c = tol.obj(case)
        std = c.array("target_strains_std", shape=(n_ex, T))
        lo, hi = c.array("target_strains_q05", shape=(n_ex, T)), c.array("target_strains_q95", shape=(n_ex, T))
        trows += [[case, ex, t, std[ex, t], lo[ex, t], hi[ex, t]] for ex in range(n_ex) for t in range(T)]
    out.append("<h2>Tolerances</h2>" + f'<section id="tolerance">'
               f'{_table(["print error", "example", "target", "std", "q05", "q95"], trows)}'
               f"<p>width error {tol.number('width_error_mm'):g} mm, modulus error "
               f"{tol.number('modulus_error_rel'):g} (relative) per strut; {html.escape(tol.string('method'))}</p>"
               "</section>")
    return out


def _markdown(text: str) -> str:
    """The lab sheet's Markdown subset as HTML: headings, lists, pipe tables, paragraphs (images dropped:
    the part figure is above)."""
    out, table = [], []

    def inline(s):
        s = html.escape(s)
        for mark, tag in (("**", "b"), ("`", "code")):
            parts = s.split(mark)
            s = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>" for i, p in enumerate(parts))
        return s

    def flush():
        if table:
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in table
                     if not set(r.replace("|", "").strip()) <= set("-: ")]
            out.append(_table(cells[0], [[html.unescape(inline(c)) for c in r] for r in cells[1:]]))
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip() and not line.startswith("!["):
            out.append(f"<p>{inline(line)}</p>")
    flush()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- lab folder
def _lab_sections(lab: Path) -> list[str]:
    from . import labtrain

    net, task, state = labtrain.load(lab)
    net0 = netio.load(Run(lab).initial_file)
    cfg = state.config
    out = [f"<h1>Lab training {html.escape(lab.name)}</h1><p>{net.n_nodes} hubs, {net.n_edges} edges; learning "
           f"{','.join(cfg.learn)}, eta {cfg.eta:g}; round {state.round}, waiting for the {state.phase} tracks</p>"]
    rounds = np.array([h["round"] for h in state.history])
    out.append("<h2>Training</h2>" + _figure("training", _img(_curve_png(
        rounds, {"measured C/C0": [h["C_rel"] for h in state.history]}, "round"), "image/png", "training"),
        "measured task error of the free states, per round"))
    out.append("<h2>Learned parameters</h2>" + _parameter_figures(net0, net, task))
    done = state.round - 1 if state.phase == "free" else state.round
    rd = lab / f"round_{done:03d}"
    if (rd / "free_tracks.csv").exists() and (rd / "clamped_tracks.csv").exists():
        xf, xc = (_tracked(rd / f"{p}_tracks.csv", net.n_nodes) for p in ("free", "clamped"))
        s, R, t, _ = labtrain.similarity_fit(xf, net.x)      # one camera -> network map for both states
        out.append("<h2>Response</h2>" + _animation(net, s * xf @ R + t, s * xc @ R + t,
                                                    ["measured free state", "measured clamped state"],
                                                    f"round {done}, example 0, as tracked"))
    pending = labtrain.actuation_path(lab, state)
    rows = list(csv.reader(io.StringIO(read_text(pending))))
    sheet = f"<h3>Impose next ({html.escape(pending.name)})</h3>" + _table(rows[0], rows[1:])
    adjust = lab / f"round_{state.round - 1:03d}" / "adjust.csv"
    if adjust.exists():
        arows = [r for r in csv.reader(io.StringIO(read_text(adjust)))]
        turned = [r for r in arows[1:] if r[7] != "0" or float(r[6]) != 0]
        sheet += f"<h3>Last turns ({html.escape(adjust.parent.name)}/adjust.csv, edges changed)</h3>" + \
            _table(arows[0], turned)
    out.append(f'<h2>Lab sheet</h2><section id="labsheet">{sheet}</section>')
    return out


def _tracked(path: Path, n_nodes: int) -> np.ndarray:
    """Frame 1 (example 0) of a tracks file lab-train accepted, (N, 2) in mm, camera frame."""
    pos = read_tracks(path, n_nodes)[1]
    return np.array([pos[h] for h in range(n_nodes)])


def build_report(path) -> str:
    """The HTML text of the report of a run directory or a lab-train folder."""
    path = Path(path)
    if (path / "lab.json").exists():
        sections = _lab_sections(path)
    elif Run(path).metrics_file.exists():
        sections = _run_sections(path)
    else:
        raise MechcllnError(f"{path}: neither a run directory (metrics.json) nor a lab-train folder (lab.json); "
                            "give the folder `mechclln train`, `demo` or `lab-train init` wrote")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>mechclln report: "
            f"{html.escape(path.name)}</title><style>{CSS}</style></head><body>{''.join(sections)}"
            f"<script>{ANIMATION_JS}</script></body></html>")


def write_report(path, out) -> Path:
    """Write the report of ``path`` to the HTML file ``out`` (atomically)."""
    return write_text(out, build_report(path))
