"""Headless slicing, to prove a part prints: PrusaSlicer (Debian package ``prusa-slicer``, the default) or
Slic3r 1.3 (Debian package ``slic3r``, a second, independent slicer: the Perl Slic3r that PrusaSlicer forked
from in 2016, with its own mesh repair and slicing code paths since)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mechclln.errors import MechcllnError

from .printer import Printer

SLICERS = ("prusa-slicer", "slic3r")


def _command(slicer: str, exe: str, stl: Path, out: Path, printer: Printer) -> list[str]:
    """Command line of ``slicer`` slicing ``stl`` into ``out`` for ``printer``."""
    bx, by, bz = printer.bed
    common = ["--bed-shape", f"0x0,{bx}x0,{bx}x{by},0x{by}", "--nozzle-diameter", str(printer.nozzle),
              "--layer-height", str(printer.layer_height), "--output", str(out)]
    if slicer == "prusa-slicer":
        return [exe, "--export-gcode", "--center", f"{bx / 2},{by / 2}", "--max-print-height", str(bz),
                *common, str(stl)]
    return [exe, "--no-gui", "--print-center", f"{bx / 2},{by / 2}", "--threads", "1",
            "--first-layer-height", str(printer.layer_height), *common, str(stl)]      # its default: 0.35 mm


def slice_to_gcode(stl: Path, gcode: Path, printer: Printer, timeout: float = 1200.0,
                   slicer: str = "prusa-slicer") -> Path:
    """Slice ``stl`` into ``gcode`` for ``printer`` (bed shape, nozzle, layer height) with ``slicer`` (one
    of :data:`SLICERS`); returns the G-code path.

    The G-code is written to a temporary name and renamed when the slicer succeeds. Slic3r has no build
    height option and only warns when a part does not fit the bed: that warning is an error here.
    """
    if slicer not in SLICERS:
        raise MechcllnError(f"slicer {slicer!r}: choose one of {', '.join(SLICERS)}")
    exe = shutil.which(slicer)
    if exe is None:
        raise MechcllnError(f"{slicer}: not found; install it (Debian: `apt-get install {slicer}`) "
                            "or leave out --gcode")
    tmp = gcode.with_name(f".{gcode.name}.tmp.gcode")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    cmd = _command(slicer, exe, Path(stl), tmp, printer)
    try:
        try:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MechcllnError(f"{stl}: {slicer} did not finish within {timeout:.0f} s (the 300-hub demo sheet "
                                "took 5 min in PrusaSlicer, 20 min in Slic3r on 2 busy cores); slice it by hand, "
                                "or leave out --gcode") from None
        text = (res.stderr + res.stdout).strip()
        if res.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0 or "might not fit" in text:
            msg = [line for line in text.splitlines() if "might not fit" in line] or text.splitlines()
            raise MechcllnError(f"{stl}: {slicer} failed (exit {res.returncode}: "
                                f"{msg[-1] if msg else 'no output'}); check the STL with `{slicer} --info`")
        os.replace(tmp, gcode)
    finally:
        tmp.unlink(missing_ok=True)
    return gcode
