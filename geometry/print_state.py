"""Print positions, lost prestress and the as-printed spring model (docs/export.md: conventions).

A printed part is stress-free as printed. Trained rest lengths ``l`` are therefore realised by printing at
the *relaxed* positions ``x_p`` (the minimiser of U with no inputs, pins taken out: a pin goes through its
hole wherever the printed hub is). Whatever tension the relaxed network still carries,
``k_e (r_e(x_p) - l_e)`` (self-stress that the trained geometry cannot release), is lost by the print.
The *as-printed* network has nodes at ``x_p``, rest lengths ``l = r(x_p)`` (stress-free) and the same k;
its task is the trained task with each pair's ``r0`` re-measured at ``x_p`` (strains are read on the bench
relative to the printed part). Its response is the first fidelity number, before any FEM.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mechclln.network import Network, make_network
from mechclln.task import task_error


def print_positions(net: Network, model: str = "nonlinear") -> np.ndarray:
    """Relaxed node positions (N, d, network units) of ``net`` with its pins taken out."""
    from mechclln.equilibrium import relax

    return relax(replace(net, pinned=np.zeros(0, np.int64)), model=model)


def as_printed_network(net: Network, x_print: np.ndarray) -> Network:
    """The stress-free network at the print positions: same k and pins, ``l = r(x_print)``."""
    meta = dict(net.meta, as_printed=True)
    return make_network(x_print, net.edges, k=net.k, l=net.lengths(x_print), pinned=net.pinned,
                        units=net.units, meta=meta)


def as_printed_task(task, x_print: np.ndarray):
    """The task with every pair's reference distance ``r0`` re-measured at the print positions."""
    dist = lambda pairs: np.linalg.norm(x_print[pairs[:, 0]] - x_print[pairs[:, 1]], axis=1)  # noqa: E731
    return replace(task, source_r0=dist(task.source_pairs), target_r0=dist(task.target_pairs))


def lost_prestress(net: Network, x_print: np.ndarray) -> np.ndarray:
    """Per-edge tension ``k (r(x_print) - l)`` the print loses (stiffness x length units of the network)."""
    return net.k * (net.lengths(x_print) - net.l)


@dataclass(frozen=True, eq=False)
class PrintComparison:
    """Trained vs as-printed spring response on a task (strains are pair strains, eps = r/r0 - 1)."""

    x_print: np.ndarray
    lost_tension: np.ndarray          # (E,) network units
    trained: object                   # mechclln.equilibrium.Response of the trained network
    printed: object                   # Response of the as-printed network on the re-referenced task
    task: object

    def errors(self) -> tuple[float, float]:
        """Task error C = 1/2 mean over examples of sum over targets (eps - eps_T)^2, trained and printed."""
        want = self.task.target_strains
        return task_error(self.trained.target_strains, want), task_error(self.printed.target_strains, want)


def compare_printed(net: Network, task, x_print: np.ndarray | None = None,
                    model: str = "nonlinear") -> PrintComparison:
    """Responses of the trained and the as-printed network to ``task`` (model named in both)."""
    from mechclln.equilibrium import respond

    x_print = print_positions(net, model) if x_print is None else x_print
    printed_net = as_printed_network(net, x_print)
    return PrintComparison(x_print, lost_prestress(net, x_print), respond(net, task, model),
                           respond(printed_net, as_printed_task(task, x_print), model), task)
