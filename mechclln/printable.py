"""Printable refinement: make every trained stiffness realisable by a printed strut, or leave the strut out.

A strut of a printed part has a stiffness ``k_e`` in its printable range ``[k_min_e, k_max_e]`` (its width
range mapped to stiffness, e.g. :func:`mechclln.geometry.sections.k_bounds`), or it is not printed at all.
The realisable set is therefore ``{left out} U [k_min_e, k_max_e]``. A left-out strut is kept in the spring
network with a soft floor stiffness ``k_floor``: in a printed frame whose hubs are rigid joints, a motion
that stretches no printed strut still bends the printed ones, with a stiffness of order ``(w/L)^2`` of
their axial stiffness (about 0.02 for a 1.2 mm wide strut 8 mm long), so a floppy mode of the spring
network without that edge is no mechanism of the print. The floor stands for that bending; the network
keeps every edge and stays rigid. Measured on the demo part (docs/fem.md): a design refined with
``k_floor = 0.01`` relied on those soft modes (spring C 2.6e-6, linear FEM of the print 1.6e-3, and the
FEM target strains of that print lie between those of its springs with the floor at 0.1 and at 0.3), so
the default floor is 0.1, about ``(w/L)^2`` of the demo's stubby struts (w/L of 0.1 to 0.4).

The network must be stress-free (``l = r`` at its positions, e.g. the as-printed network at the print
positions): a print is stress-free, so a prestress learned through rest lengths would be lost again. Only
k is learned, with the trainer of :mod:`mechclln.training`; by default by exact gradient descent (the
adjoint reference rule) in the harmonic model, which is the exact linearisation of a stress-free network
and the spring counterpart of the linear FEM check. Measured on the demo (as-printed network, k only,
within [0.01, k_max_e]): coupled learning stalled at C/C0 = 0.17 (cosine with -grad C about 0.8, rates
oscillating), gradient descent reached 1.5e-3 in 2000 steps; any rule of the trainer can be configured.

Schedule (:func:`refine`):

1. relax: learn k within ``[k_floor, k_max_e]`` (no gap yet), ``steps_relax`` steps;
2. rounds: the undecided edges with ``k < k_min_e`` are candidates; the fraction ``snap_fraction`` of them
   furthest in ``log k`` from the geometric midpoint ``sqrt(k_floor k_min_e)`` is snapped: below the
   midpoint the edge is left out (k fixed at ``k_floor``), unless that would leave one of its hubs with
   fewer than ``min_struts`` printed struts or split the printed frame into pieces; otherwise it is printed
   (bounds ``[k_min_e, k_max_e]`` from then on, k clipped to ``k_min_e``). ``steps_round`` steps of
   training follow each round; once ``min_batch`` or fewer candidates remain, all are snapped;
3. every undecided edge gets ``[k_min_e, k_max_e]``; ``steps_final`` steps.

Afterwards every ``k_e`` is ``k_floor`` (left out) or within ``[k_min_e, k_max_e]``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .equilibrium import respond
from .errors import MechcllnError
from .network import Network
from .task import Task, task_error as strain_task_error
from .training import TrainConfig, Trainer

UNDECIDED, PRINTED, LEFT_OUT = 0, 1, 2


@dataclass
class RefineConfig:
    k_floor: float = 0.1          # stiffness of a left-out strut in the spring model (frame bending)
    steps_relax: int = 1000
    steps_round: int = 100
    steps_final: int = 500
    snap_fraction: float = 0.34   # of the current candidates, per round
    min_batch: int = 10
    min_struts: int = 2           # printed struts every hub keeps
    train: TrainConfig = field(default_factory=lambda: TrainConfig(rule="gradient", model="harmonic",
                                                                    adapt_max=1e8))


@dataclass
class RefineResult:
    network: Network              # the refined network (k only changed; left-out edges at k_floor)
    left_out: np.ndarray          # edge ids not printed
    C_start: float                # C of the given network
    C: float                      # C of the refined network (equilibrium solve of the returned network)
    history: list                 # per phase: {"phase", "steps", "C_end", "left_out", "printed", "undecided"}
    seconds: float


def printed_degree(edges: np.ndarray, n_nodes: int, printed: np.ndarray) -> np.ndarray:
    """Number of printed struts at each hub (``printed``: boolean mask over edges)."""
    return np.bincount(edges[printed].ravel(), minlength=n_nodes)


def frame_connected(edges: np.ndarray, n_nodes: int, printed: np.ndarray) -> bool:
    """Whether the printed struts join every hub into one piece."""
    e = edges[printed]
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_nodes, n_nodes))
    return connected_components(g, directed=False)[0] == 1


def _check_inputs(net: Network, kmin, kmax, cfg: RefineConfig):
    kmin = np.broadcast_to(np.asarray(kmin, float), net.k.shape).copy()
    kmax = np.broadcast_to(np.asarray(kmax, float), net.k.shape).copy()
    if not (0 < cfg.k_floor and np.all(cfg.k_floor < kmin) and np.all(kmin < kmax)):
        raise MechcllnError("printable refinement: need 0 < k_floor < k_min < k_max for every edge; "
                            "lower k_floor or check the k bounds")
    stressed = np.abs(net.l - net.lengths()) > 1e-9 * net.l
    if stressed.any():
        raise MechcllnError(f"printable refinement: the network is prestressed ({int(stressed.sum())} edges "
                            "with l != r); give the as-printed network at the print positions "
                            "(mechclln.geometry.print_state.as_printed_network)")
    if not frame_connected(net.edges, net.n_nodes, np.ones(net.n_edges, bool)):
        raise MechcllnError("printable refinement: the network is not one connected piece")
    return kmin, kmax


def _bounds(status, kmin, kmax, k_floor):
    lo = np.where(status == PRINTED, kmin, k_floor)
    hi = np.where(status == LEFT_OUT, k_floor, kmax)      # equal bounds: the trainer holds the edge
    return lo, hi


def _train(net, task, k, status, kmin, kmax, cfg: RefineConfig, steps: int, first: bool):
    """``steps`` learning steps of k within the current bounds; returns (k, C before the last update,
    steps run)."""
    lo, hi = _bounds(status, kmin, kmax, cfg.k_floor)
    tc = replace(cfg.train, learn=("k",), k_bounds=(lo, hi), steps=steps, tol=0.0, checkpoint_every=0,
                 report_cosine=False)
    tr = Trainer(net.with_params(k=np.clip(k, lo, hi)), task, tc, check_rigidity=first)
    c = np.nan
    for _ in range(steps):
        c = tr.step()
    return tr.k.copy(), c, steps


def _snap(net, k, status, kmin, cfg: RefineConfig) -> None:
    """Snap candidates (undecided, k < k_min) in place (see the module docstring)."""
    cand = np.flatnonzero((status == UNDECIDED) & (k < kmin))
    mid = np.sqrt(cfg.k_floor * kmin[cand])
    dist = np.abs(np.log(k[cand] / mid))
    n = len(cand) if len(cand) <= cfg.min_batch else max(1, int(cfg.snap_fraction * len(cand)))
    pick = cand[np.argsort(-dist)[:n]]
    printed = status != LEFT_OUT
    deg = printed_degree(net.edges, net.n_nodes, printed)
    for e in pick:
        i, j = net.edges[e]
        leave = k[e] < np.sqrt(cfg.k_floor * kmin[e]) and deg[i] > cfg.min_struts and deg[j] > cfg.min_struts
        if leave:
            printed[e] = False
            leave = frame_connected(net.edges, net.n_nodes, printed)
            printed[e] = not leave
        if leave:
            status[e] = LEFT_OUT
            deg[i] -= 1
            deg[j] -= 1
        else:
            status[e] = PRINTED


def task_error(net: Network, task: Task, model: str) -> float:
    """C = 1/2 mean over examples of sum over targets (eps_F - eps_T)^2, by the equilibrium solver."""
    return strain_task_error(respond(net, task, model).target_strains, task.target_strains)


def refine(net: Network, task: Task, k_min, k_max, config: RefineConfig | None = None,
           progress=None) -> RefineResult:
    """Printable refinement of the stress-free network ``net`` on ``task`` (see module docstring).

    ``k_min``, ``k_max``: per-edge printable stiffness bounds (scalars or arrays, relative k). ``progress``:
    optional callable ``progress(entry)`` called with each phase's history entry.
    """
    cfg = config or RefineConfig()
    t0 = time.perf_counter()
    kmin, kmax = _check_inputs(net, k_min, k_max, cfg)
    model = cfg.train.model
    c_start = task_error(net, task, model)
    status = np.full(net.n_edges, UNDECIDED)
    k = np.clip(net.k, cfg.k_floor, kmax)
    history = []

    def log(phase, steps, c):
        entry = {"phase": phase, "steps": steps, "C_end": float(c), "left_out": int(np.sum(status == LEFT_OUT)),
                 "printed": int(np.sum(status == PRINTED)), "undecided": int(np.sum(status == UNDECIDED))}
        history.append(entry)
        if progress:
            progress(entry)

    k, c, n = _train(net, task, k, status, kmin, kmax, cfg, cfg.steps_relax, True)
    log("relax", n, c)
    rnd = 0
    while np.any((status == UNDECIDED) & (k < kmin)):
        rnd += 1
        _snap(net, k, status, kmin, cfg)
        k, c, n = _train(net, task, k, status, kmin, kmax, cfg, cfg.steps_round, False)
        log(f"round {rnd}", n, c)
    status[status == UNDECIDED] = PRINTED
    k, c, n = _train(net, task, k, status, kmin, kmax, cfg, cfg.steps_final, False)
    log("final", n, c)
    lo, hi = _bounds(status, kmin, kmax, cfg.k_floor)
    k = np.clip(k, lo, hi)
    k[status == LEFT_OUT] = cfg.k_floor
    left_out = np.flatnonzero(status == LEFT_OUT)
    out = replace(net.with_params(k=k), meta=dict(net.meta, left_out_edges=left_out.tolist(),
                                                  left_out_k_floor=cfg.k_floor))
    return RefineResult(out, left_out, c_start, task_error(out, task, model), history,
                        time.perf_counter() - t0)
