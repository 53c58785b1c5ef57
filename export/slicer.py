"""Headless slicing with PrusaSlicer (Debian package ``prusa-slicer``), to prove a part prints."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mechclln.errors import MechcllnError

from .printer import Printer


def slice_to_gcode(stl: Path, gcode: Path, printer: Printer, timeout: float = 1200.0) -> Path:
    """Slice ``stl`` into ``gcode`` for ``printer`` (bed shape, nozzle, layer height); returns the G-code path.

    The G-code is written to a temporary name and renamed when the slicer succeeds.
    """
    exe = shutil.which("prusa-slicer")
    if exe is None:
        raise MechcllnError("prusa-slicer: not found; install it (Debian: `apt-get install prusa-slicer`) "
                            "or leave out --gcode")
    bx, by, bz = printer.bed
    tmp = gcode.with_name(f".{gcode.name}.tmp.gcode")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    cmd = [exe, "--export-gcode", "--bed-shape", f"0x0,{bx}x0,{bx}x{by},0x{by}", "--center", f"{bx / 2},{by / 2}",
           "--max-print-height", str(bz), "--nozzle-diameter", str(printer.nozzle),
           "--layer-height", str(printer.layer_height), "--output", str(tmp), str(stl)]
    try:
        try:
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MechcllnError(f"{stl}: prusa-slicer did not finish within {timeout:.0f} s (a 300-hub sheet took "
                                "5 min on 2 busy cores); slice it by hand, or leave out --gcode") from None
        if res.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            msg = (res.stderr or res.stdout).strip().splitlines()
            raise MechcllnError(f"{stl}: prusa-slicer failed (exit {res.returncode}: "
                                f"{msg[-1] if msg else 'no output'}); check the STL with `prusa-slicer --info`")
        os.replace(tmp, gcode)
    finally:
        tmp.unlink(missing_ok=True)
    return gcode
