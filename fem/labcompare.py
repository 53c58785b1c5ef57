"""Bench data against the models: ``mechclln lab-compare RUN_DIR TRACKS.csv``.

TRACKS.csv holds hub positions tracked on a printed part (:mod:`mechclln.tracks`: columns ``frame, hub,
x, y``, mm, frame 0 the part at rest). For every frame the measured pair strains are ``r / r_rest - 1``
with r_rest the distance in frame 0 (strains relative to the printed part, as the FEM check measures them). Each model is asked for the target strains at the
*measured* source strains of that frame:

- trained springs and as-printed springs: the nonlinear spring model (:mod:`mechclln.equilibrium`), the
  as-printed one stress-free at the print positions (:mod:`mechclln.geometry.print_state`);
- FEM (when ``RUN/fem/fidelity.json`` exists): the linear map from source to target strains fitted
  through the fidelity check's examples (exact for the linear model; for the finite-strain model a
  linearisation through its examples).

Writes ``RUN/lab/compare.json`` and ``RUN/lab/compare.png``. Uses only the core and numpy/matplotlib.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mechclln.errors import fail
from mechclln.rundir import LAB_COMPARE, Run, StageReport
from mechclln.tracks import measured_strains, read_tracks


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


@dataclass
class LabCompareReport(StageReport):
    """``lab/compare.json``: the run and tracks file, the tracked frames (rest excluded), the measured source
    and target strains (frames x pairs), whether FEM predictions were included, and per model its
    predicted target strains with their rms and largest error against the measured ones."""

    FILE: ClassVar[str] = LAB_COMPARE
    run: str
    tracks: str
    frames: list
    measured_source_strains: Any
    measured_target_strains: Any
    fem_included: bool
    models: dict


def compare(run_dir, tracks) -> LabCompareReport:
    """Measured vs predicted target strains for every frame; writes ``RUN/lab/`` and returns the report."""
    from mechclln.geometry.print_state import compare_printed

    run, tracks = Run(run_dir), Path(tracks)
    net, task = run.network_and_task()
    if len(task.source_nodes) or len(task.target_nodes) or not len(task.source_pairs) \
            or not len(task.target_pairs):
        raise fail(str(run.task_file), "source_pairs",
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
    fid_path = run.fidelity_file
    if fid_path.exists():
        models.update(fem_predictions(fid_path, task, src))
    report = LabCompareReport(
        run=str(run.path), tracks=str(tracks), frames=[f for f in sorted(frames) if f != 0],
        measured_source_strains=src, measured_target_strains=tgt, fem_included=fid_path.exists(),
        models={k: {"target_strains": v, "rms_error": float(np.sqrt(np.mean((v - tgt) ** 2))),
                    "max_abs_error": float(np.abs(v - tgt).max())} for k, v in models.items()})
    with Run(run.lab_dir).staged(force=True) as tmp:    # complete or absent (the CLI asks --force)
        tmp.write_report(report)
        _plot(report, tmp / "compare.png")
    return report


def _plot(report: LabCompareReport, path: Path):
    """Target strain vs measured source strain (first source): measured points, one line per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mechclln.fileio import write_bytes

    s = np.asarray(report.measured_source_strains)[:, 0]
    meas = np.asarray(report.measured_target_strains)
    order = np.argsort(s)
    T = meas.shape[1]
    fig, axes = plt.subplots(1, T, figsize=(4 * T, 3.6), squeeze=False)
    for t, ax in enumerate(axes[0]):
        ax.plot(s, meas[:, t], "ko", ms=4, label="measured")
        for name, m in report.models.items():
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
