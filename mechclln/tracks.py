"""Tracked hub positions of a bench part: the tracks CSV that ``mechclln lab-compare`` and ``lab-train`` read.

Columns ``frame, hub, x, y`` (frame an integer, hub a node id of the run's network, x and y in mm; frame 0
is the part at rest). Only distances are used, so any camera frame (rotation, shift, mirroring) is fine.
A measured pair strain is ``r / r_rest - 1`` with r_rest the distance in frame 0.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from .errors import fail
from .fileio import read_text

COLUMNS = ("frame", "hub", "x", "y")
INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]+)?|\.[0-9]+)([eE][+-]?[0-9]+)?")   # no "1.", "1e", "nan", "1_0"
MAX_POSITION_MM = 1e4       # 10 m: a tracked hub further from the origin is a tracking or unit error
MAX_ROWS = 10_000_000
MAX_STRAIN = 1.0            # |measured strain| above 100 %: a mistracked hub, not a printed part


def read_tracks(path: Path, n_nodes: int) -> dict[int, dict[int, np.ndarray]]:
    """{frame: {hub: (x, y) mm}} from a tracks CSV; one-line errors name the file (and line), column and fix."""
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
