"""Spring-vs-FEM fidelity of a trained run directory (docs/fem.md; ``mechclln fem RUN_DIR``).

For every example and target: the target strain of the trained spring model, of the as-printed spring
model (stress-free at the print positions, :mod:`mechclln.geometry.print_state`), of the as-built springs
(as-printed, with k scaled by the printed over the wanted strut section: width clipping), of linear FEM and of
finite-strain (neo-Hookean) FEM of the part, their relative gaps to the trained model, and the task error
``C = 1/2 mean_examples sum_targets (eps - eps_T)^2`` of each model; beside them the spread of the linear FEM
target strains under print errors (:mod:`.tolerance`). FEM also reports the peak principal
strain against the material's allowable strain and the first buckling factor of the actuated part.
Strains in the printed part are measured relative to the printed hub positions, as on the bench.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mechclln.rundir import CONVERGENCE, FIDELITY, Run, StageReport, staged_directory
from mechclln.task import task_error

from . import buckling, fields, finite, linear, memory, outline_mesh, part as fempart, stack, tolerance


@dataclass
class FidelityReport(StageReport):
    """``fem/fidelity.json``: per model (trained, printed and built springs; linear and corotational frame;
    linear and finite-strain FEM) the target strains (n_ex, T), C and the gap to the trained springs; the
    wanted strains; material and E (MPa); print-tolerance spread; peak strain; first buckling factor; mesh
    (elements across, size, solver, dofs, cells); whether the FEM solution (mesh, linear and finite-strain
    states) was reused from an earlier stage on the same design (:class:`PartSolution`: the FEM correction's
    last round) instead of solved here; timings (s: mesh, assemble, factor and solves are those of the
    solution, the correction's when reused, and then not part of ``total``); MPI ranks."""

    FILE: ClassVar[str] = FIDELITY
    run: str
    models: dict
    wanted_target_strains: Any
    C0_untrained_note: str
    material: str
    youngs_modulus_MPa: float
    tolerances: dict
    peak_strain: dict
    buckling: dict
    mesh: dict
    reused_solution: bool
    timings_s: dict
    mpi_ranks: int


def built_springs(net, gpart, x_print, ptask) -> np.ndarray:
    """Target strains (n_ex, T) of the as-built springs: the as-printed network with each k scaled by the
    strut's printed over its wanted section (``section(width) / section(width_raw)``), i.e. with the widths
    the geometry stage clipped to the printable range and the hub-footprint cap; edges the part leaves out
    (``Part.edge_ids``) keep their network stiffness (the refinement's floor, standing for bending)."""
    from mechclln.equilibrium import respond
    from mechclln.geometry.print_state import as_printed_network
    from mechclln.geometry.sections import section_area

    raw = gpart.width if gpart.width_raw is None else gpart.width_raw
    ratio = np.ones(net.n_edges)      # struts left out of the part keep the network's (floor) stiffness
    ids = np.arange(net.n_edges) if gpart.edge_ids is None else gpart.edge_ids
    ratio[ids] = section_area(np.asarray(gpart.width), gpart.spec, gpart.dim) / section_area(np.asarray(raw),
                                                                                            gpart.spec, gpart.dim)
    built = as_printed_network(net, x_print)
    return respond(built.with_params(k=built.k * ratio), ptask).target_strains


def load_geometry_part(run_dir, net, task, x_print):
    """The part the export stage wrote (RUN/export/part.json), else the network's part built with the spec
    the run recorded (a design or printable run) or the default spec."""
    from mechclln.geometry.design_run import recorded_spec
    from mechclln.geometry.part import build_part, load_part

    run = Run(run_dir)
    if run.export_part.exists():
        return load_part(run.export_part)
    spec, material = recorded_spec(run.path)
    return build_part(net, spec, material or "tpu95a", task=task, x_print=x_print)


def frame_responses(gpart, task) -> dict:
    """Target strains (n_ex, T) of the frame model of the part (:mod:`mechclln.frame`), linear and
    corotational: rigid hubs, Timoshenko struts of the part's widths."""
    from mechclln.design import PairTask, respond
    from mechclln.frame import Frame

    fr, pt = Frame.of_part(gpart), PairTask.of(task)
    w = np.asarray(gpart.width, float)
    return {"frame_linear": respond(fr, w, pt, True)[1], "frame_corotational": respond(fr, w, pt, False)[1]}


def mesh_part(gpart, elements_across: int = 2, mesh_size: float | None = None, comm=None):
    """Mesh the part: sheets from their unioned outline with cells classified afterwards
    (:mod:`.outline_mesh`), solids from the geometry stage's tagged gmsh model (built on rank 0)."""
    from mechclln.geometry import gmsh_model

    if gpart.dim == 2:
        return outline_mesh.mesh_sheet(gpart, elements_across, mesh_size, comm)
    MPI = stack.mpi()
    comm = MPI.COMM_WORLD if comm is None else comm
    if comm.rank == 0:
        gmsh_model.build(gpart, mesh_size=mesh_size, elements_across=max(3, elements_across))
    gmsh = stack.gmsh()
    mat = gpart.material
    pt = fempart.from_gmsh(gmsh, E=mat.youngs_modulus, nu=mat.poisson_ratio,
                           thickness=gpart.thickness if gpart.dim == 2 else None, source="part", comm=comm)
    if comm.rank == 0:
        gmsh.clear()
    return pt


def fem_responses(pt, gpart, task, finite_strain: bool = True, steps_per: float = 0.05, factor=1.0):
    """Target strains (n_ex, T) of linear and finite-strain FEM, and the linear model and states;
    ``factor`` (number or DG0 field) scales the modulus cell-wise."""
    lin = linear.LinearModel(pt, pinned=gpart.pinned, factor=factor)
    nh = finite.FiniteStrainModel(pt, pinned=gpart.pinned, factor=factor) if finite_strain else None
    out = {"linear": [], "finite": [], "states": [], "finite_states": []}
    for ex in range(task.source_strains.shape[0]):
        s = task.source_strains[ex]
        st = lin.solve(task.source_pairs, s)
        out["linear"].append(lin.strains(st, task.target_pairs))
        out["states"].append(st)
        if nh is not None:
            steps = max(1, int(np.ceil(np.abs(s).max(initial=0) / steps_per)))
            fs = nh.solve(task.source_pairs, s, steps=steps, u0=np.zeros(pt.n_owned))
            out["finite"].append(nh.strains(fs, task.target_pairs))
            out["finite_states"].append(fs)
    return lin, {k: np.array(v) if k in ("linear", "finite") else v for k, v in out.items()}


@dataclass(eq=False)
class PartSolution:
    """The FEM solution of a part at a task's actuation (:func:`solve_part`), kept so that a later stage on
    the same design reuses it instead of meshing and solving again (the FEM correction's last round, then
    the check: ``check_run(..., solution=...)``): what was solved (the part, the mesh parameters, the
    source and target pairs and the source strains), the mesh, the linear model, :func:`fem_responses`'
    target strains and states (finite-strain ones when ``finite_strain``) and the timings (s)."""

    gpart: Any
    elements_across: int
    mesh_size: float | None
    finite_strain: bool
    source_pairs: np.ndarray
    source_strains: np.ndarray
    target_pairs: np.ndarray
    pt: Any = field(repr=False)
    lin: Any = field(repr=False)
    res: dict = field(repr=False)
    timings_s: dict = field(default_factory=dict)

    def matches(self, gpart, task, elements_across: int, mesh_size: float | None, finite_strain: bool) -> bool:
        """Whether this is the solution of ``gpart`` meshed with these parameters at ``task``'s actuation:
        the same part description (every field of ``Part.to_dict``: positions, widths, holes, spec,
        material), pairs and source strains, exactly, and finite strain solved if it is asked for."""
        return (self.elements_across == elements_across and self.mesh_size == mesh_size
                and (self.finite_strain or not finite_strain)
                and all(np.array_equal(getattr(self, k), getattr(task, k))
                        for k in ("source_pairs", "source_strains", "target_pairs"))
                and _same(self.gpart.to_dict(), gpart.to_dict()))


def _same(a, b) -> bool:
    """Exact equality of two (nested) part descriptions: dicts, lists and arrays, numbers, strings, None.
    Exact, since the mesh is not a continuous function of the part: hub positions moved by 1e-14 mm
    (a print relaxation's round-off) give another gmsh mesh and target strains ~4e-7 apart."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and \
            all(_same(a[k], b[k]) for k in a)
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b))


def solve_part(gpart, task, elements_across: int = 2, mesh_size: float | None = None,
               finite_strain: bool = True) -> PartSolution:
    """Mesh ``gpart`` (:func:`mesh_part`) and solve it at ``task``'s actuation (:func:`fem_responses`)."""
    t_mesh = time.perf_counter()
    pt = mesh_part(gpart, elements_across, mesh_size)
    t_mesh = time.perf_counter() - t_mesh
    t_solve = time.perf_counter()
    lin, res = fem_responses(pt, gpart, task, finite_strain)
    t_solve = time.perf_counter() - t_solve
    return PartSolution(gpart, elements_across, mesh_size, finite_strain, np.array(task.source_pairs),
                        np.array(task.source_strains), np.array(task.target_pairs), pt, lin, res,
                        {"mesh": t_mesh, **lin.timings_s, "solves": t_solve - sum(lin.timings_s.values())})


def check_run(run_dir, elements_across: int = 2, mesh_size: float | None = None,
              finite_strain: bool = True, write: bool = True, ignore_memory_limit: bool = False,
              solution: PartSolution | None = None) -> FidelityReport:
    """Run the FEM fidelity check on ``run_dir``; writes ``RUN/fem/`` (rank 0) and returns the report.
    Refuses before meshing a part whose estimated memory would not fit (:mod:`.memory`), unless
    ``ignore_memory_limit``. ``solution``: an FEM solution already computed (the FEM correction's last
    round, :attr:`~mechclln.fem.correct.CorrectionReport.solution`), used instead of a new solve when it
    :meth:`~PartSolution.matches` the run's part, these mesh parameters and the task, else ignored."""
    from mechclln.geometry.print_state import as_printed_task, compare_printed

    run = Run(run_dir)
    t0 = time.perf_counter()
    net, task = run.network_and_task()
    springs = compare_printed(net, task)
    gpart = load_geometry_part(run, net, task, springs.x_print)
    ptask = as_printed_task(task, springs.x_print)
    reused = solution is not None and solution.matches(gpart, ptask, elements_across, mesh_size, finite_strain)
    if not reused:
        if not ignore_memory_limit:
            memory.require_fits(gpart, elements_across, mesh_size, source=str(run.path))
        solution = solve_part(gpart, ptask, elements_across, mesh_size, finite_strain)
    pt, lin, res, timings = solution.pt, solution.lin, solution.res, solution.timings_s
    wanted = task.target_strains
    models = {"trained_springs": springs.trained.target_strains,
              "printed_springs": springs.printed.target_strains,
              "built_springs": built_springs(net, gpart, springs.x_print, ptask), **frame_responses(gpart, ptask),
              "fem_linear": res["linear"]}
    if finite_strain:
        models["fem_finite"] = res["finite"]
    ref = models["trained_springs"]
    scale = np.maximum(np.abs(ref), 1e-3)
    act = int(np.argmax(np.abs(task.source_strains).max(axis=1)))
    u_act = fields.function_of(pt, (res["finite_states"] if finite_strain else res["states"])[act].u)
    peak = fields.peak_strains(pt, u_act, finite=finite_strain)
    t_tol = time.perf_counter()
    sens = tolerance.modulus_sensitivity(lin, ptask, len(gpart.width))
    tol = tolerance.sample_spread(res["linear"], sens, np.asarray(gpart.width, float), wanted)
    t_tol = time.perf_counter() - t_tol
    factors = buckling.part_factors(lin, ptask.source_pairs, ptask.source_strains[act], n=1) \
        if np.abs(ptask.source_strains[act]).max() > 0 else np.zeros(0)
    report = FidelityReport(
        run=str(run.path),
        models={k: {"target_strains": v, "C": task_error(v, wanted),
                    "relative_gap_to_trained": (v - ref) / scale} for k, v in models.items()},
        wanted_target_strains=wanted,
        C0_untrained_note="C of each model uses the task's desired strains; see metrics.json for C_0",
        material=gpart.material.name, youngs_modulus_MPa=gpart.material.youngs_modulus,
        tolerances=tol,
        peak_strain=dict(peak, allowable=gpart.material.allowable_strain,
                         ok=peak["peak"] <= gpart.material.allowable_strain,
                         example=act, model="finite" if finite_strain else "linear"),
        buckling={"example": act, "first_factor": float(factors[0]) if len(factors) else None,
                  "meaning": "source strains x factor = actuation at which the linearised part buckles "
                             "(null: no compressive buckling mode found); > 1 means safe"},
        mesh={"elements_across": elements_across, "mesh_size": mesh_size, "solver": lin.fac.method,
              "dofs": pt.comm.allreduce(pt.n_owned),
              "cells": pt.comm.allreduce(pt.mesh.topology.index_map(pt.gdim).size_local)},
        reused_solution=reused,
        timings_s=dict(timings, tolerances=t_tol, total=time.perf_counter() - t0),
        mpi_ranks=pt.comm.size)
    if write:
        _write_outputs(run.fem_dir, pt, res, act, report, finite_strain)
    return report


def _write_outputs(folder: Path, pt, res, act: int, report: FidelityReport, finite_strain: bool):
    """Write ``folder`` (``RUN/fem/``) complete or not at all: every file goes into its staging folder
    (rank 0 claims it, all ranks write the XDMF), swapped in as a whole; the convergence study's
    ``convergence.json`` is carried over."""
    from contextlib import nullcontext

    u = fields.function_of(pt, res["states"][act].u)
    psi = fields.energy_density(pt, u)
    rank0 = pt.comm.rank == 0
    with (staged_directory(folder, force=True, keep=(CONVERGENCE,)) if rank0 else nullcontext()) as tmp:
        tmp = Path(pt.comm.bcast(str(tmp) if rank0 else None, root=0))
        _write_xdmf(tmp / "deformed_linear.xdmf", pt, u)
        if pt.gdim == 2:
            tri = fields.deformed_triangles(pt, u, psi)
            if tri is not None:
                from .plots import energy_plot
                energy_plot(*tri, tmp / "energy_linear.png",
                            title=f"linear FEM, example {act}: strain energy density")
        if rank0:
            Run(tmp).write_report(report)
        pt.comm.barrier()


def _write_xdmf(path: Path, pt, u):
    """Displacement (P1) and cell energy density (DG0) for ParaView, in ``path`` and the ``.h5`` beside it
    that it names (written by all ranks together; final names, the folder is staged)."""
    dfx = stack.dolfinx()
    V1 = dfx.fem.functionspace(pt.mesh, ("Lagrange", 1, (pt.gdim,)))
    u1 = dfx.fem.Function(V1, name="displacement_mm")
    u1.interpolate(u)
    from . import elasticity
    _, psi = fields.cell_values(pt, elasticity.linear_energy_density(pt, u))
    psi.name = "energy_density_MPa"
    with dfx.io.XDMFFile(pt.comm, str(path), "w") as f:
        f.write_mesh(pt.mesh)
        f.write_function(u1)
        f.write_function(psi)
