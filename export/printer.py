"""Printer profiles: build volume and nozzle (mm), used by the printability checks and the slicer."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from mechclln.errors import fail


@dataclass(frozen=True)
class Printer:
    name: str
    bed: tuple[float, float, float]   # x, y, z build volume, mm
    nozzle: float                     # nozzle diameter, mm
    layer_height: float = 0.2         # mm

    def to_dict(self) -> dict:
        return asdict(self)


PRINTERS = {
    p.name: p
    for p in (
        Printer("generic", (200.0, 200.0, 200.0), 0.4),
        Printer("prusa-mk4", (250.0, 210.0, 220.0), 0.4),
        Printer("bambu-x1", (256.0, 256.0, 256.0), 0.4),
        Printer("ender-3", (220.0, 220.0, 250.0), 0.4),
    )
}


def get_printer(printer: "str | Printer") -> Printer:
    if isinstance(printer, Printer):
        return printer
    if printer not in PRINTERS:
        raise fail(None, "printer", f"unknown printer profile {printer!r}", f"choose one of {', '.join(PRINTERS)}")
    return PRINTERS[printer]
