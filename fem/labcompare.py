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
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from mechclln.errors import MechcllnError, fail

COLUMNS = ("frame", "hub", "x", "y")


def read_tracks(path: Path, n_nodes: int) -> dict[int, dict[int, np.ndarray]]:
    """{frame: {hub: (x, y) mm}} from a tracks CSV; one-line errors name the file, column and fix."""
    path = Path(path)
    if not path.exists():
        raise MechcllnError(f"{path}: file not found; give the CSV of tracked hub positions "
                            "(columns frame, hub, x, y)")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        for col in COLUMNS:
            if col not in header:
                raise fail(str(path), col, f"column missing (header: {','.join(header) or 'empty'})",
                           "the first line must name the columns frame,hub,x,y")
        frames: dict[int, dict[int, np.ndarray]] = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            vals = {}
            for col, kind in zip(COLUMNS, (int, int, float, float)):
                try:
                    vals[col] = kind(row[col])
                except ValueError:
                    what = "an integer" if kind is int else "a number"
                    raise fail(f"{path}:{line}", col, f"{row[col]!r} is not {what}",
                               "write frame and hub as integers and x, y in mm") from None
            if not np.isfinite([vals["x"], vals["y"]]).all():
                raise fail(f"{path}:{line}", "x", "position is not finite", "drop untracked rows")
            if not 0 <= vals["hub"] < n_nodes:
                raise fail(f"{path}:{line}", "hub", f"node id {vals['hub']} is not in the network "
                           f"(0..{n_nodes - 1})", "use the node ids of RUN/network.json")
            frame = frames.setdefault(vals["frame"], {})
            if vals["hub"] in frame:
                raise fail(f"{path}:{line}", "hub", f"hub {vals['hub']} appears twice in frame {vals['frame']}",
                           "keep one row per hub and frame")
            frame[vals["hub"]] = np.array([vals["x"], vals["y"]])
    if 0 not in frames:
        raise fail(str(path), "frame", "no frame 0 (the rest state)", "add the hub positions at rest as frame 0")
    if len(frames) < 2:
        raise fail(str(path), "frame", "only the rest frame", "add at least one actuated frame")
    return frames


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
    return np.array([dist(frames[f]) / rest - 1.0 for f in sorted(frames) if f != 0])


def fem_predictions(fidelity: dict, task, source_strains: np.ndarray) -> dict:
    """Target strains of each FEM model at the given source strains, by the linear map fitted through
    the fidelity examples (least squares, no intercept)."""
    out = {}
    for name, m in fidelity["models"].items():
        if not name.startswith("fem_"):
            continue
        M, *_ = np.linalg.lstsq(task.source_strains, np.asarray(m["target_strains"]), rcond=None)
        out[name] = source_strains @ M
    return out


def compare(run_dir, tracks) -> dict:
    """Measured vs predicted target strains for every frame; writes ``RUN/lab/`` and returns the report."""
    from mechclln.fileio import write_json
    from mechclln.geometry.print_state import compare_printed
    from mechclln.network import load
    from mechclln.task import load_task

    run_dir, tracks = Path(run_dir), Path(tracks)
    for name in ("network.json", "task.json"):
        if not (run_dir / name).exists():
            raise MechcllnError(f"{run_dir / name}: file not found; give a run directory written by "
                                "`mechclln train` or `mechclln demo`")
    net, task = load(run_dir / "network.json"), load_task(run_dir / "task.json")
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
        models.update(fem_predictions(json.loads(fid_path.read_text()), task, src))
    report = {"run": str(run_dir), "tracks": str(tracks), "frames": [f for f in sorted(frames) if f != 0],
              "measured_source_strains": src, "measured_target_strains": tgt,
              "fem_included": fid_path.exists(),
              "models": {k: {"target_strains": v, "rms_error": float(np.sqrt(np.mean((v - tgt) ** 2))),
                             "max_abs_error": float(np.abs(v - tgt).max())} for k, v in models.items()}}
    out = run_dir / "lab"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "compare.json", report)
    _plot(report, out / "compare.png")
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
