"""The part description shared by the FEM and export stages (docs/export.md: conventions, FEM contract).

A :class:`Part` is data: hub centres by node id, struts by edge id, their widths, the hub and pin-hole radii,
the sheet thickness, the material and the spec, all in mm (N and MPa for forces and moduli). For a sheet
(``dim == 2``) the solid is the 2D union of hub discs and strut strips extruded by ``thickness``; for a 3D
lattice it is round struts (``width`` = diameter) joined by spherical hubs. Node positions are the *print
positions* (the relaxed, stress-free positions of the network, see :mod:`mechclln.geometry.print_state`)
scaled to mm. Pin holes go through every source, target and pinned hub: a pin through a hole fixes the
hub's position and leaves it free to rotate, as a node of the spring model.

Struts that a printable design leaves out (the edge ids in the network's ``meta["left_out_edges"]``, see
:mod:`mechclln.printable`) are not part of the part: ``edges`` then lists the printed struts only and
``edge_ids`` gives each one's edge id in the network.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mechclln.errors import fail
from mechclln.fileio import read_data, write_json
from mechclln.network import Network
from mechclln.schema import Fields, header

from .checks import check_part
from .materials import Material, get_material
from .sections import Sections, length_scale, sections, stiffness_scale
from .spec import PartSpec

FORMAT = "mechclln.part"
VERSION = 1
FIELDS = ("format", "version", "units", "dim", "nodes", "edges", "width", "hub_radius", "hole_radius", "hole_nodes",
          "thickness", "plane_stress", "material", "spec", "stiffness_scale_N_per_mm", "scale_mm", "sources",
          "targets", "pinned", "free_length", "width_raw", "edge_ids")
UNITS = {"length": "mm", "force": "N", "stress": "MPa"}


@dataclass(frozen=True, eq=False)
class Part:
    """Solid strut geometry in mm: hubs by node id, struts by edge id."""

    nodes: np.ndarray            # (N, d) hub centres, mm (print positions)
    edges: np.ndarray            # (E, 2) node ids of each strut
    width: np.ndarray            # (E,) strut width (2D) or diameter (3D), mm, within the printable range
    hub_radius: float            # mm
    hole_radius: float           # mm
    hole_nodes: np.ndarray       # node ids with a pin hole
    thickness: float             # sheet thickness, mm (2D; plane stress in the FEM stage)
    material: Material
    spec: PartSpec
    kappa: float                 # N/mm per unit k of the spring network
    scale: float                 # mm per network length unit
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pinned: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    free_length: np.ndarray | None = None    # (E,) hub edge to hub edge, mm
    width_raw: np.ndarray | None = None      # (E,) width before clipping to the printable range, mm
    edge_ids: np.ndarray | None = None       # (E,) network edge id of each strut; None: strut e is edge e

    @property
    def dim(self) -> int:
        return self.nodes.shape[1]

    @property
    def n_struts(self) -> int:
        return self.edges.shape[0]

    @property
    def plane_stress(self) -> bool:
        """A sheet is modelled in 2D plane stress with this thickness (the FEM stage's intent)."""
        return self.dim == 2

    def half_widths(self) -> np.ndarray:
        return self.width / 2

    def neck_half_widths(self) -> np.ndarray:
        return self.width * self.spec.neck_fraction / 2

    def axis_lengths(self) -> np.ndarray:
        """Hub-centre to hub-centre strut lengths, mm."""
        return np.linalg.norm(self.nodes[self.edges[:, 1]] - self.nodes[self.edges[:, 0]], axis=1)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (lo, hi) of the solid in mm (z from 0 to thickness for sheets)."""
        lo = self.nodes.min(0) - self.hub_radius
        hi = self.nodes.max(0) + self.hub_radius
        if self.dim == 2:
            lo, hi = np.append(lo, 0.0), np.append(hi, self.thickness)
        return lo, hi

    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "version": VERSION, "units": dict(UNITS),
            "dim": self.dim, "nodes": self.nodes, "edges": self.edges, "width": self.width,
            "hub_radius": self.hub_radius, "hole_radius": self.hole_radius, "hole_nodes": self.hole_nodes,
            "thickness": self.thickness, "plane_stress": self.plane_stress, "material": self.material.to_dict(),
            "spec": self.spec.to_dict(), "stiffness_scale_N_per_mm": self.kappa, "scale_mm": self.scale,
            "sources": self.sources, "targets": self.targets, "pinned": self.pinned,
            "free_length": self.free_length, "width_raw": self.width_raw, "edge_ids": self.edge_ids,
        }


def terminal_nodes(task) -> tuple[np.ndarray, np.ndarray]:
    """(source node ids, target node ids) of a task: both ends of every pair, plus node terminals."""
    def ids(pairs, nodes):
        return np.unique(np.concatenate([np.asarray(pairs, np.int64).ravel(),
                                         np.asarray(nodes, np.int64).reshape(-1, 2)[:, 0]]))
    return ids(task.source_pairs, task.source_nodes), ids(task.target_pairs, task.target_nodes)


def left_out_edges(net: Network) -> np.ndarray:
    """Edge ids the network's design leaves out of the print (``meta["left_out_edges"]``; none if absent)."""
    ids = net.meta.get("left_out_edges", [])
    try:
        ids = np.asarray(ids, np.int64).ravel()
    except (TypeError, ValueError):
        raise fail("network", "meta.left_out_edges", "must be a list of edge ids", "give integer edge ids") from None
    if ids.size and (ids.min() < 0 or ids.max() >= net.n_edges or len(np.unique(ids)) != ids.size):
        raise fail("network", "meta.left_out_edges", f"needs distinct edge ids in 0..{net.n_edges - 1}",
                   "list each left-out edge once")
    return ids


def printed_network(net: Network) -> Network:
    """The network of the printed struts only (without :func:`left_out_edges`; ``net`` itself if none)."""
    omit = left_out_edges(net)
    if not omit.size:
        return net
    keep = np.setdiff1d(np.arange(net.n_edges), omit)
    return replace(net, edges=net.edges[keep], k=net.k[keep], l=net.l[keep])


def build_part(net: Network, spec: PartSpec | None = None, material: "str | Material" = "tpu95a",
               task=None, x_print: np.ndarray | None = None, nozzle: float = 0.4, check: bool = True) -> Part:
    """Turn a (trained) network into a :class:`Part`.

    ``x_print``: print positions in network units (default: the network's relaxed positions,
    :func:`mechclln.geometry.print_state.print_positions`). ``task`` marks the source and target hubs
    (they get pin holes, as do pinned nodes). ``check`` runs :func:`mechclln.geometry.checks.check_part`
    and raises on the first error (crossing or overlapping struts, hubs too small, ...). Edges in
    :func:`left_out_edges` get no strut (the stiffness scale kappa is still that of the whole network).
    """
    spec = (spec or PartSpec()).validate()
    mat = get_material(material)
    if x_print is None:
        from .print_state import print_positions

        x_print = print_positions(net)
    kappa = stiffness_scale(net, spec, mat)  # from the reference positions of the whole network
    omit = left_out_edges(net)
    printed = printed_network(net)
    sec: Sections = sections(printed, spec, mat, x=x_print, kappa=kappa)
    scale = length_scale(net, spec)
    src, tgt = terminal_nodes(task) if task is not None else (np.zeros(0, np.int64),) * 2
    pinned = np.asarray(net.pinned, np.int64)
    holes = np.unique(np.concatenate([src, tgt, pinned]))
    part = Part(nodes=np.asarray(x_print, float) * scale, edges=printed.edges.copy(), width=sec.width,
                hub_radius=spec.hub_radius, hole_radius=spec.hole_diameter / 2, hole_nodes=holes,
                thickness=spec.thickness if net.dim == 2 else 0.0, material=mat, spec=spec, kappa=sec.kappa,
                scale=scale, sources=src, targets=tgt, pinned=pinned, free_length=sec.free_length,
                width_raw=sec.width_raw,
                edge_ids=np.setdiff1d(np.arange(net.n_edges), omit) if omit.size else None)
    if check:
        check_part(part, nozzle=nozzle).raise_first()
    return part


def save_part(part: Part, path) -> Path:
    """Write the part description as JSON (atomically)."""
    return write_json(path, part.to_dict())


MAX_STRUTS = 50_000    # far above what fits a print bed or a FEM mesh; the checks are O(struts log struts)
MAX_COORDINATE_MM = 1e4


def load_part(path) -> Part:
    """Read and validate a part JSON written by :func:`save_part` (every field: :mod:`mechclln.schema`)."""
    f = Fields(read_data(path), str(path)).known(FIELDS)
    header(f, FORMAT, VERSION, required=True)
    u = f.obj("units").known(tuple(UNITS))
    for key, unit in UNITS.items():
        u.string(key, choices=(unit,))
    dim = f.integer("dim", choices=(2, 3))
    nodes = f.array("nodes", shape=(None, dim), ge=-MAX_COORDINATE_MM, le=MAX_COORDINATE_MM, unit="mm",
                    max_len=MAX_STRUTS)
    if len(nodes) < 2:
        raise f.fail("nodes", f"a part needs at least 2 hubs, got {len(nodes)}", "give the hub centres")
    edges = f.ids("edges", len(nodes), shape=(None, 2), max_len=MAX_STRUTS)
    if not len(edges):
        raise f.fail("edges", "the part has no struts", "give the struts of the part")
    loop = np.flatnonzero(edges[:, 0] == edges[:, 1])
    if loop.size:
        raise f.fail(f"edges[{loop[0]}]", f"strut joins hub {edges[loop[0], 0]} to itself", "remove it")
    n_e = len(edges)
    hub = f.number("hub_radius", gt=0, unit="mm")
    holes = f.ids("hole_nodes", len(nodes))
    terminals = {key: f.ids(key, len(nodes)) for key in ("sources", "targets", "pinned")}
    for key, ids in terminals.items():
        missing = np.setdiff1d(ids, holes)
        if missing.size:
            raise f.fail(key, f"hub {missing[0]} has no pin hole (not in hole_nodes)", "re-export the part")
    plane = f.boolean("plane_stress")
    if plane != (dim == 2):
        raise f.fail("plane_stress", f"is {plane} for a {dim}D part", "sheets (dim 2) are plane stress, 3D parts not")
    material = f.obj("material").known(tuple(Material.__dataclass_fields__))
    mat = Material(name=material.string("name"), youngs_modulus=material.number("youngs_modulus", gt=0, unit="MPa"),
                   poisson_ratio=material.number("poisson_ratio", gt=-1, lt=0.5),
                   density=material.number("density", gt=0), allowable_strain=material.number("allowable_strain", gt=0),
                   min_feature=material.number("min_feature", gt=0, unit="mm"),
                   description=material.string("description", ""))
    positive = dict(shape=(n_e,), gt=0, unit="mm")
    edge_ids = f.ids("edge_ids", None, None, what="edge", nullable=True)
    if edge_ids is not None and len(edge_ids) != n_e:
        raise f.fail("edge_ids", f"expected {n_e} entries (one per strut), got {len(edge_ids)}", "re-export the part")
    return Part(nodes=nodes, edges=edges, width=f.array("width", **positive), hub_radius=hub,
                hole_radius=f.number("hole_radius", gt=0, lt=hub, unit="mm"), hole_nodes=holes,
                thickness=f.number("thickness", **({"gt": 0} if dim == 2 else {"ge": 0}), unit="mm"),
                material=mat, spec=PartSpec.from_fields(f.obj("spec")),
                kappa=f.number("stiffness_scale_N_per_mm", gt=0, unit="N/mm"), scale=f.number("scale_mm", gt=0),
                free_length=f.array("free_length", None, nullable=True, **positive),
                width_raw=f.array("width_raw", None, nullable=True, **positive), edge_ids=edge_ids,
                **terminals)


def hole_axes(part: Part) -> np.ndarray:
    """(H, 3) unit axis of each pin hole (order of ``part.hole_nodes``).

    Sheets: z (through the thickness). 3D lattices: of the 13 cubic symmetry axes, the one furthest in
    angle from every strut at that hub, so the pin does not run into a strut.
    """
    if part.dim == 2:
        return np.tile([0.0, 0.0, 1.0], (len(part.hole_nodes), 1))
    cand = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1], [1, 1, 0],
                     [1, -1, 0], [1, 0, 1], [1, 0, -1], [0, 1, 1], [0, 1, -1]], float)
    cand /= np.linalg.norm(cand, axis=1)[:, None]
    out = []
    for n in part.hole_nodes:
        at = np.flatnonzero((part.edges == n).any(1))
        other = np.where(part.edges[at, 0] == n, part.edges[at, 1], part.edges[at, 0])
        d = part.nodes[other] - part.nodes[n]
        d /= np.linalg.norm(d, axis=1)[:, None]
        cos = np.abs(cand @ d.T).max(1) if len(d) else np.zeros(len(cand))
        out.append(cand[int(np.argmin(cos))])
    return np.array(out).reshape(-1, 3)
