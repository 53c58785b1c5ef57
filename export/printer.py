"""Printer profiles: build volume and nozzle (mm), used by the printability checks and the slicer."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

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


def fitting_spec(net, printer: "str | Printer" = "generic"):
    """The default part spec, with the scale (mm per lattice unit) lowered, never raised, to a tenth of a
    mm so the part of ``net`` (a Network or a run directory) fits the printer's bed."""
    import numpy as np

    from mechclln import network as netio
    from mechclln.geometry.spec import PartSpec
    from mechclln.rundir import Run

    if isinstance(net, (str, Path)):
        net = netio.load(Run(net).network_file)
    spec = PartSpec()
    extent = float(np.ptp(net.x[:, :2], axis=0).max())
    room = 0.95 * min(get_printer(printer).bed[:2]) - 2 * spec.hub_radius
    return spec.with_(scale=min(spec.scale, np.floor(10 * room / extent) / 10))
