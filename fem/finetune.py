"""FEM-in-the-loop fine-tuning: coupled learning run on the FEM model with strut widths as parameters.

Element model (:class:`FemWidths`, for the learning machine :mod:`mechclln.learner`): strut e's learning
parameter is its width
``w_e`` [mm]. The mesh is kept during learning and a width change is applied as a cell-wise modulus
factor ``w_e / w_e0`` on the strut's tagged cells (a strip's axial stiffness ``E w t`` is linear in w),
so the strut's energy is ``u_e = w_e p_e`` with ``p_e = U_e / w_e`` the energy per unit width of its
strain field, and ``du_e/dw_e = p_e`` at fixed strain field. Coupled learning is then
``dw = -(alpha/eta) [p_C - p_F]``, from each strut's own energy (integrated over its tagged cells) in the
free and clamped FEM states (every other rule of the machine runs too). Each step factors the stiffness
once; free and clamped states of every example come from that factor. Widths stay within the printable
range.
At the end the part is rebuilt with the learned widths, re-meshed, and evaluated from scratch: that
re-exported part's FEM task error is the number reported, beside the starting part's, both at the same
mesh settings (``elements_across``). Learning may run on a coarser mesh (``learn_elements_across``):
its C values steer the step size only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from mechclln.rundir import FINETUNE, FINETUNE_REPORT, Run, StageReport
from mechclln.task import task_error

from . import fields, fidelity, linear, stack


@dataclass
class FinetuneReport(StageReport):
    """``finetune/finetune.json``: FEM task error C of the starting part, the best while learning and the
    re-exported part (and its ratio to the start), the two meshes' elements across, the learning history
    and settings, the widths before and after (mm), the re-exported part's linear FEM target strains and
    the wanted ones (n_ex, T), seconds."""

    FILE: ClassVar[str] = f"{FINETUNE}/{FINETUNE_REPORT}"
    C_fem_before: float
    C_fem_learning_after: float
    C_fem_reexported_part: float
    ratio_reexported_over_before: float
    elements_across: int
    learn_elements_across: int
    history: list
    steps: int
    eta: float
    step_fraction: float
    widths_before_mm: Any
    widths_after_mm: Any
    target_strains_reexported: Any
    wanted: Any
    seconds: float


class StrutWidths:
    """FEM strut elements for :mod:`mechclln.learning`: ``u = w p``, ``du/dw = p`` (p: energy per width)."""

    names = ("w",)

    @staticmethod
    def energy(p: np.ndarray, params: dict) -> np.ndarray:
        return params["w"] * p

    @staticmethod
    def param_grad(p: np.ndarray, params: dict) -> dict:
        return {"w": p}


@dataclass(eq=False)
class FemState:
    """A linear FEM state: owned dofs ``u`` [mm], and ``p`` each strut's energy per unit width [mJ/mm]."""

    u: np.ndarray
    p: np.ndarray


class FemWidths:
    """Linear FEM of a part as an element model of the learning machine (:mod:`mechclln.learner`):
    parameter ``w`` (strut widths, mm) applied as the cell-wise modulus factor ``w / w_mesh`` on the
    struts of the mesh ``pt`` (a strip's axial stiffness is linear in w: ``u_e = w p_e``). The stiffness is
    assembled and factored once per parameter set; states and adjoints come from that factor."""

    names = ("w",)
    elements = StrutWidths

    def __init__(self, pt, gpart, task, remesh_ratio: float = np.inf, elements_across: int = 2):
        self.pt, self.gpart, self.task = pt, gpart, task
        self.remesh_ratio, self.elements_across, self.remeshes = remesh_ratio, elements_across, 0
        self.w_mesh = np.asarray(gpart.width, float).copy()
        self.cells, self.cell_edge = pt.strut_cells()
        self._model, self._w, self.n_factorizations = None, None, 0

    @staticmethod
    def physical(state: FemState) -> np.ndarray:
        return state.p

    def _lin(self, w):
        if self._w is None or not np.array_equal(w, self._w):
            dfx = stack.dolfinx()
            self.reset()
            if np.abs(w / self.w_mesh - 1).max() > self.remesh_ratio:    # re-mesh the part at these widths
                self.pt = fidelity.mesh_part(replace(self.gpart, width=w), self.elements_across)
                self.w_mesh, self.remeshes = w.copy(), self.remeshes + 1
                self.cells, self.cell_edge = self.pt.strut_cells()
            self.factor = dfx.fem.Function(dfx.fem.functionspace(self.pt.mesh, ("DG", 0)))
            self.factor.x.array[:] = 1.0
            self.factor.x.array[self.cells] = (w / self.w_mesh)[self.cell_edge]
            self._model, self._w = linear.LinearModel(self.pt, pinned=self.gpart.pinned, factor=self.factor), w.copy()
            self.n_factorizations += 1
        return self._model

    def _state(self, st, w) -> FemState:
        e = fields.strut_energies(self.pt, fields.function_of(self.pt, st.u), len(w), self.factor)
        return FemState(st.u, e / w)

    def free_states(self, params, warm=None):
        lin, w = self._lin(params["w"]), params["w"]
        return [self._state(lin.solve(self.task.source_pairs, s), w) for s in self.task.source_strains]

    def _target_rows(self):
        from . import constraints

        a, _, _ = constraints.pair_rows(self.pt, self.task.target_pairs)
        return np.array([self._model.fac.rows(a[t:t + 1]).toarray().ravel() for t in range(len(a))])

    def task_error(self, states):
        rows, want, n_ex = self._target_rows(), self.task.target_strains, len(states)
        errs = [rows @ st.u - want[ex] for ex, st in enumerate(states)]
        return (0.5 * sum(float(e @ e) for e in errs) / n_ex, errs, [rows.T @ e / n_ex for e in errs])

    def other_state(self, ex, free: FemState, params, eta: float, soft: float = 0.0) -> FemState:
        t, lin = self.task, self._lin(params["w"])
        eps = self._target_rows() @ free.u
        tv = t.target_strains[ex] if soft else eps + eta * (t.target_strains[ex] - eps)
        comp = np.concatenate([np.zeros(len(t.source_pairs)), np.full(len(t.target_pairs), soft)])
        st = lin.solve(np.vstack([t.source_pairs, t.target_pairs]), np.concatenate([t.source_strains[ex], tv]),
                       soft=comp)
        return self._state(st, params["w"])

    def adjoint(self, ex, state: FemState, params, dC_du) -> dict:
        """``dC/dw_e = -psi^T (dK/dw_e) u`` with ``dK/dw_e = K_e / w_e`` (the factor is linear in w)."""
        from .tolerance import mixed_strut_energies

        lin, w = self._lin(params["w"]), params["w"]
        psi = lin.solve(self.task.source_pairs, np.zeros(len(self.task.source_pairs)), f=dC_du).u
        return {"w": -mixed_strut_energies(self.pt, state.u, psi, len(w), self.factor) / w}

    def beta_unit(self, params) -> float:
        g = self.gpart
        t = g.thickness if g.dim == 2 else 1.0
        return float(g.material.youngs_modulus * np.mean(params["w"]) * t * np.mean(g.axis_lengths())) \
            * self.task.n_examples

    def typical(self, name, params) -> float:
        return float(np.mean(params["w"]))

    def reset(self) -> None:
        if self._model is not None:
            self._model.destroy()
        self._model, self._w = None, None


def learn_widths(pt, gpart, task, steps: int = 20, eta: float = 0.1, step_fraction: float = 0.05,
                 upper: np.ndarray | None = None, remesh_ratio: float = 0.25, elements_across: int = 2,
                 progress=None, rule: str = "coupled", first_change: float = 0.2, adapt_up: float = 1.5):
    """Local learning (default coupled learning) of the strut widths on the FEM model ``pt`` of ``gpart``
    for ``task`` (whose r0 are the printed distances), through the learning machine
    (:class:`mechclln.learner.Learner` on :class:`FemWidths`: its rate calibration, adaptation and
    rejection; the first step moves no width by more than ``first_change`` of the mean width, and agreeing
    steps grow by ``adapt_up``). Widths stay within the printable range and below ``upper`` (per strut, mm; e.g. the
    hub-footprint limit); the part is re-meshed at the current widths when one has moved more than
    ``remesh_ratio`` from the width it was meshed at.

    Returns (widths of the lowest C, history): one entry per evaluated design, ``{"C", "remeshed",
    "rejections"}``; the first entry is the starting design."""
    from mechclln.learner import LearnConfig, Learner

    lo, hi = gpart.spec.width_range(gpart.material)
    hi = np.full(len(gpart.width), hi) if upper is None else np.minimum(hi, upper)
    model = FemWidths(pt, gpart, task, remesh_ratio, elements_across)
    cfg = LearnConfig(rule=rule, eta=eta, step_fraction=step_fraction, steps=steps + 1, tol=0.0,
                      checkpoint_every=0, report_cosine=False, max_first_change={"w": first_change},
                      adapt_up=adapt_up)
    learner = Learner(model, {"w": np.asarray(gpart.width, float)}, {"w": (lo, hi)}, cfg)
    history, best = [], (np.inf, None)

    def record(L):
        nonlocal best
        c, w = L.history.C[-1], L.prev_params["w"]           # the design this step evaluated
        history.append({"C": c, "remeshed": model.remeshes > sum(h["remeshed"] for h in history),
                        "rejections": L.rejections})
        if c < best[0]:
            best = (c, w.copy())
        if progress:
            progress(len(history) - 1, c)

    learner.run(progress=record)
    model.reset()
    return best[1], history


def _part_error(gpart, ptask, elements_across: int, strains: bool = False):
    """Linear FEM task error of ``gpart`` meshed from scratch (and its target strains, if asked)."""
    pt = fidelity.mesh_part(gpart, elements_across)
    _, res = fidelity.fem_responses(pt, gpart, ptask, finite_strain=False)
    c = task_error(res["linear"], ptask.target_strains)
    return (c, res["linear"]) if strains else c


def finetune_run(run_dir, steps: int = 20, eta: float = 0.1, elements_across: int = 2,
                 step_fraction: float = 0.05,
                 learn_elements_across: int | None = None) -> FinetuneReport:
    """Fine-tune the part of ``run_dir`` on FEM; writes ``RUN/finetune/`` (part.json, finetune.json).

    The starting part and the re-exported fine-tuned part are both evaluated at ``elements_across``;
    learning runs at ``learn_elements_across`` (default: the same)."""
    from mechclln.geometry.part import printed_network, save_part
    from mechclln.geometry.print_state import as_printed_task, compare_printed
    from mechclln.geometry.sections import hub_width_limit

    t0 = time.perf_counter()
    run = Run(run_dir)
    net, task = run.network_and_task()
    springs = compare_printed(net, task)
    ptask = as_printed_task(task, springs.x_print)
    gpart = fidelity.load_geometry_part(run, net, task, springs.x_print)
    learn_across = elements_across if learn_elements_across is None else learn_elements_across
    pt = fidelity.mesh_part(gpart, learn_across)
    upper = hub_width_limit(printed_network(net), gpart.spec, springs.x_print) if gpart.dim == 2 else None
    widths, history = learn_widths(pt, gpart, ptask, steps, eta, step_fraction, upper,
                                   elements_across=learn_across)
    c0 = history[0]["C"] if learn_across == elements_across else _part_error(gpart, ptask, elements_across)
    new_part = replace(gpart, width=widths, width_raw=widths)   # learned widths: wanted as printed
    c_new, strains_new = _part_error(new_part, ptask, elements_across, strains=True)
    report = FinetuneReport(
        C_fem_before=c0, C_fem_learning_after=min(h["C"] for h in history), C_fem_reexported_part=c_new,
        ratio_reexported_over_before=c_new / c0, elements_across=elements_across,
        learn_elements_across=learn_across, history=history, steps=steps, eta=eta, step_fraction=step_fraction,
        widths_before_mm=gpart.width, widths_after_mm=widths, target_strains_reexported=strains_new,
        wanted=task.target_strains, seconds=time.perf_counter() - t0)
    if pt.comm.rank == 0:
        save_part(new_part, run.finetune_part)
        run.write_report(report)
    return report
