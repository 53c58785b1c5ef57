"""Bench data against the models: ``mechclln lab-compare RUN_DIR TRACKS.csv``.

TRACKS.csv holds hub positions tracked on a printed part: columns ``frame, hub, x, y`` (frame an integer,
hub a node id of the run's network, x and y in mm; frame 0 is the part at rest). For every frame the
measured pair strains are ``r / r_rest - 1`` with r_rest the distance in frame 0 (strains relative to the
printed part, as the FEM check measures them). Each model is asked for the target strains at the
*measured* source strains of that frame:

- trained springs and as-printed springs: the nonlinear spring model (:mod:`mechclln.equilibrium`), the
  as-printed one stress-free at the print positions (:mod:`mechclln.geometry.print_state`);
- FEM (when ``RUN/fem/fidelity.json`` exists): the linear map from source to target strains fitted
  through the fidelity check's examples (exact for the linear model; for the finite-strain model a
  linearisation through its examples).

Writes ``RUN/lab/compare.json`` and ``RUN/lab/compare.png``. Uses only the core and numpy/matplotlib.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from mechclln.errors import MechcllnError, fail

COLUMNS = ("frame", "hub", "x", "y")
INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]+)?|\.[0-9]+)([eE][+-]?[0-9]+)?")   # no "1.", "1e", "nan", "1_0"
MAX_POSITION_MM = 1e4       # 10 m: a tracked hub further from the origin is a tracking or unit error
MAX_ROWS = 10_000_000
MAX_STRAIN = 1.0            # |measured strain| above 100 %: a mistracked hub, not a printed part


def read_tracks(path: Path, n_nodes: int) -> dict[int, dict[int, np.ndarray]]:
    """{frame: {hub: (x, y) mm}} from a tracks CSV; one-line errors name the file (and line), column and fix."""
    from mechclln.fileio import read_text

    path = Path(path)
    text = read_text(path, "the CSV of tracked hub positions (columns frame, hub, x, y)")
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(rows, [])]
    except csv.Error as exc:
        raise fail(f"{path}:1", "header", f"unreadable CSV ({exc})", "fix the first line") from None
    for col in header:
        if col not in COLUMNS:
            raise fail(str(path), "header", f"column {col!r} is not one of frame, hub, x, y",
                       "the first line must be frame,hub,x,y")
        if header.count(col) > 1:
            raise fail(str(path), col, "column appears twice in the header", "name each column once")
    for col in COLUMNS:
        if col not in header:
            raise fail(str(path), col, f"column missing (header: {','.join(header) or 'empty'})",
                       "the first line must name the columns frame,hub,x,y")
    at = {col: header.index(col) for col in COLUMNS}
    frames: dict[int, dict[int, np.ndarray]] = {}
    line = 1
    try:
        for line, row in enumerate(rows, start=2):
            if line > MAX_ROWS:
                raise fail(str(path), "frame", f"more than {MAX_ROWS} rows", "split the tracks into several files")
            if not row or all(not v.strip() for v in row):
                continue
            if len(row) != len(header):
                raise fail(f"{path}:{line}", "row", f"has {len(row)} values, the header {len(header)} (truncated?)",
                           "give frame, hub, x and y on every line")
            frame, hub, x, y = (_value(path, line, col, row[at[col]]) for col in COLUMNS)
            if frame < 0:
                raise fail(f"{path}:{line}", "frame", f"{frame} is negative", "number frames 0, 1, 2, ...")
            if not 0 <= hub < n_nodes:
                raise fail(f"{path}:{line}", "hub", f"node id {hub} is not in the network (0..{n_nodes - 1})",
                           "use the node ids of RUN/network.json")
            for col, v in (("x", x), ("y", y)):
                if abs(v) > MAX_POSITION_MM:
                    raise fail(f"{path}:{line}", col, f"position {v:g} mm is beyond {MAX_POSITION_MM:g} mm",
                               "give hub positions in mm")
            pos = frames.setdefault(frame, {})
            if hub in pos:
                raise fail(f"{path}:{line}", "hub", f"hub {hub} appears twice in frame {frame}",
                           "keep one row per hub and frame")
            pos[hub] = np.array([x, y])
    except csv.Error as exc:
        raise fail(f"{path}:{line + 1}", "row", f"unreadable CSV ({exc})", "fix the line") from None
    if 0 not in frames:
        raise fail(str(path), "frame", "no frame 0 (the rest state)", "add the hub positions at rest as frame 0")
    if len(frames) < 2:
        raise fail(str(path), "frame", "only the rest frame", "add at least one actuated frame")
    return frames


def _value(path: Path, line: int, col: str, text: str):
    """The integer (frame, hub) or number (x, y) in one CSV cell, written out in full."""
    text = text.strip()
    integer = col in ("frame", "hub")
    if not (INTEGER if integer else NUMBER).fullmatch(text):
        what = "an integer" if integer else "a number written out in full (e.g. 12.5 or 1.25e1)"
        raise fail(f"{path}:{line}", col, f"{text!r} is not {what}",
                   "write frame and hub as integers and x, y in mm")
    return int(text) if integer else float(text)


def measured_strains(frames, pairs: np.ndarray, path: Path, what: str) -> np.ndarray:
    """(n_frames - 1, P) strains ``r / r_rest - 1`` of the pairs in every frame after the rest frame."""
    hubs = np.unique(pairs)
    for f, pos in frames.items():
        missing = [int(h) for h in hubs if h not in pos]
        if missing:
            raise fail(str(path), "hub", f"frame {f} lacks the {what} hubs {missing[:5]}",
                       "track every source and target hub in every frame")

    def dist(pos):
        return np.array([np.linalg.norm(pos[j] - pos[i]) for i, j in pairs])

    rest = dist(frames[0])
    bad = np.flatnonzero(rest <= 1e-9 * MAX_POSITION_MM)
    if bad.size:
        raise fail(str(path), "x", f"the {what} hubs {pairs[bad[0]].tolist()} coincide in frame 0",
                   "track the hub centres of the part at rest as frame 0")
    order = [f for f in sorted(frames) if f != 0]
    eps = np.array([dist(frames[f]) / rest - 1.0 for f in order])
    bad = np.argwhere(np.abs(eps) >= MAX_STRAIN)
    if bad.size:
        i, q = bad[0]
        raise fail(str(path), "x", f"{what} pair {pairs[q].tolist()} is strained {eps[i, q]:.3g} in frame "
                   f"{order[i]} (limit {MAX_STRAIN:.0%})", "check the tracking of those hubs in that frame")
    return eps


def fem_predictions(path: Path, task, source_strains: np.ndarray) -> dict:
    """Target strains of each FEM model of the fidelity report ``path`` at the given source strains, by
    the linear map fitted through the report's examples (least squares, no intercept)."""
    from mechclln.fileio import read_data
    from mechclln.schema import Fields

    models = Fields(read_data(path), str(path)).obj("models")
    out = {}
    for name in models.data:
        if str(name).startswith("fem_"):
            m = models.obj(name).array("target_strains", shape=task.target_strains.shape)
            M, *_ = np.linalg.lstsq(task.source_strains, m, rcond=None)
            out[name] = source_strains @ M
    return out


def compare(run_dir, tracks) -> dict:
    """Measured vs predicted target strains for every frame; writes ``RUN/lab/`` and returns the report."""
    from mechclln.fileio import write_json
    from mechclln.geometry.print_state import compare_printed
    from mechclln.network import load
    from mechclln.rundir import staged_directory
    from mechclln.task import load_task

    run_dir, tracks = Path(run_dir), Path(tracks)
    for name in ("network.json", "task.json"):
        if not (run_dir / name).exists():
            raise MechcllnError(f"{run_dir / name}: file not found; give a run directory written by "
                                "`mechclln train` or `mechclln demo`")
    net = load(run_dir / "network.json")
    task = load_task(run_dir / "task.json", net)
    if len(task.source_nodes) or len(task.target_nodes) or not len(task.source_pairs) \
            or not len(task.target_pairs):
        raise fail(str(run_dir / "task.json"), "source_pairs",
                   "lab-compare needs pair sources and targets only (no node terminals)",
                   "train with a pair-strain task")
    frames = read_tracks(tracks, len(net.x))
    src = measured_strains(frames, task.source_pairs, tracks, "source")
    tgt = measured_strains(frames, task.target_pairs, tracks, "target")
    probe = replace(task, source_strains=src, target_strains=np.zeros_like(tgt),
                    source_displacements=None, target_displacements=None)
    springs = compare_printed(net, probe)
    models = {"trained_springs": springs.trained.target_strains,
              "printed_springs": springs.printed.target_strains}
    fid_path = run_dir / "fem" / "fidelity.json"
    if fid_path.exists():
        models.update(fem_predictions(fid_path, task, src))
    report = {"run": str(run_dir), "tracks": str(tracks), "frames": [f for f in sorted(frames) if f != 0],
              "measured_source_strains": src, "measured_target_strains": tgt,
              "fem_included": fid_path.exists(),
              "models": {k: {"target_strains": v, "rms_error": float(np.sqrt(np.mean((v - tgt) ** 2))),
                             "max_abs_error": float(np.abs(v - tgt).max())} for k, v in models.items()}}
    with staged_directory(run_dir / "lab", force=True) as tmp:    # complete or absent (the CLI asks --force)
        write_json(tmp / "compare.json", report)
        _plot(report, tmp / "compare.png")
    return report


def _plot(report: dict, path: Path):
    """Target strain vs measured source strain (first source): measured points, one line per model."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mechclln.fileio import write_bytes

    s = np.asarray(report["measured_source_strains"])[:, 0]
    meas = np.asarray(report["measured_target_strains"])
    order = np.argsort(s)
    T = meas.shape[1]
    fig, axes = plt.subplots(1, T, figsize=(4 * T, 3.6), squeeze=False)
    for t, ax in enumerate(axes[0]):
        ax.plot(s, meas[:, t], "ko", ms=4, label="measured")
        for name, m in report["models"].items():
            ax.plot(s[order], np.asarray(m["target_strains"])[order, t], "-",
                    label=f"{name} (rms {m['rms_error']:.1e})")
        ax.set_xlabel("measured source strain")
        ax.set_ylabel(f"target {t} strain")
        ax.axhline(0, color="0.8", lw=0.5)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes(path, buf.getvalue())
