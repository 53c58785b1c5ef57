"""`mechclln fem RUN_DIR`: the FEM fidelity check of a trained run (imports DOLFINx only when run).

Module-level imports stay within argparse/pathlib so `mechclln train` never loads gmsh or DOLFINx.
Runs under `mpirun -n P mechclln fem RUN_DIR` too (rank 0 writes the files).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def _defaults(func) -> dict:
    """The keyword defaults of ``func``: the options that call it take theirs from there (one source)."""
    import inspect

    return {k: v.default for k, v in inspect.signature(func).parameters.items() if v.default is not v.empty}


def register(subparsers) -> None:
    from .correct import correct_run           # numpy and the core only: DOLFINx loads when they run
    from .fidelity import check_run
    from .finetune import finetune_run

    check, tune, corr = _defaults(check_run), _defaults(finetune_run), _defaults(correct_run)
    q = subparsers.add_parser("fem", help="FEM fidelity of a trained run: spring vs as-printed vs FEM "
                                          "(writes RUN/fem/fidelity.json, PNG, XDMF)")
    q.add_argument("run_dir", type=Path, help="run directory written by `mechclln train` or `demo`")
    q.add_argument("--elements-across", type=int, default=check["elements_across"],
                   help="elements across the narrowest strut section (default 2: target strains within 0.5 %% of "
                        "3 on the demo part, docs/fem.md)")
    q.add_argument("--mesh-size", type=float, default=check["mesh_size"], help="cap on the element size, mm")
    q.add_argument("--linear-only", action="store_true", help="skip the finite-strain (neo-Hookean) model")
    q.add_argument("--convergence", metavar="LEVELS", default=None,
                   help="instead of the check: mesh convergence of the linear target strains at these "
                        "elements-across levels, e.g. 1,2,3,4 (writes RUN/fem/convergence.json)")
    q.add_argument("--force", action="store_true", help="replace an existing RUN/fem/fidelity.json (or convergence.json)")
    q.add_argument("--ignore-memory-limit", action="store_true",
                   help="mesh and solve even when the estimated memory is over 80 %% of the available memory")
    q.set_defaults(func=cmd_fem)
    q = subparsers.add_parser("finetune", help="FEM-in-the-loop coupled learning of the strut widths; writes "
                                               "RUN/finetune/part.json and finetune.json")
    q.add_argument("run_dir", type=Path, help="run with an export (best: a printable run, `mechclln printable`)")
    q.add_argument("--steps", type=int, default=tune["steps"])
    q.add_argument("--eta", type=float, default=tune["eta"], help="clamping (nudge) factor of coupled learning")
    q.add_argument("--step-fraction", type=float, default=tune["step_fraction"],
                   help="first step: largest width change as a fraction of the mean width (then adaptive)")
    q.add_argument("--elements-across", type=int, default=tune["elements_across"],
                   help="mesh of the starting and the re-exported part, whose FEM errors are reported")
    q.add_argument("--learn-elements-across", type=int, default=tune["learn_elements_across"],
                   help="mesh used while learning (default: --elements-across; coarser is faster, it only steers "
                        "the step size)")
    q.add_argument("--force", action="store_true", help="replace an existing RUN/finetune/")
    q.set_defaults(func=cmd_finetune)
    q = subparsers.add_parser("correct", help="correct a frame design (`mechclln design`) against finite-strain "
                              "FEM: a few FEM solves, re-designs against shifted targets; rewrites the run")
    q.add_argument("run_dir", type=Path, help="run directory written by `mechclln design` or `mechclln demo`")
    q.add_argument("--rounds", type=int, default=corr["rounds"], help="at most this many re-designs")
    q.add_argument("--tol", type=float, default=corr["tol"], help="stop when finite-strain FEM C/C0 <= tol")
    q.add_argument("--elements-across", type=int, default=corr["elements_across"],
                   help="FEM elements across the narrowest strut")
    q.set_defaults(func=run_correct)

    q = subparsers.add_parser("lab-compare", help="measured target strains of a printed part (tracked hub "
                                                  "positions) against every model; writes RUN/lab/compare.json")
    q.add_argument("run_dir", type=Path)
    q.add_argument("tracks", type=Path, help="CSV with columns frame, hub, x, y (mm); frame 0 = rest")
    q.add_argument("--force", action="store_true", help="replace an existing RUN/lab/")
    q.set_defaults(func=cmd_lab_compare)
    from .bench import add_arguments as bench_arguments   # stdlib + numpy only: DOLFINx loads in the workers
    q = subparsers.add_parser("fem-bench", help="FEM timings of a 500-strut 2D part: meshing, assembly, MUMPS "
                                                "vs CG+GAMG, serial vs mpirun -n 2 (writes benchmarks/fem/)")
    bench_arguments(q)
    q.set_defaults(func=cmd_fem_bench)


def _summary(report: dict) -> dict:
    models = report["models"]
    return {"C": {k: round(v["C"], 8) for k, v in models.items()},
            "peak_strain": round(report["peak_strain"]["peak"], 4),
            "allowable": report["peak_strain"]["allowable"],
            "buckling_factor": report["buckling"]["first_factor"],
            "dofs": report["mesh"]["dofs"], "seconds": round(report["timings_s"]["total"], 1)}


def _refuse_existing(args: argparse.Namespace, output: str) -> Path:
    """The output ``output`` (an attribute of :class:`mechclln.rundir.Run`) of ``RUN_DIR``, refused when it
    exists without --force, before any meshing or solving."""
    from mechclln.fileio import refuse_existing
    from mechclln.rundir import Run

    path = getattr(Run(args.run_dir), output)
    refuse_existing(path, args.force)
    return path


def cmd_fem(args: argparse.Namespace) -> int:
    from .fidelity import check_run

    if args.convergence:
        return _convergence(args)
    _refuse_existing(args, "fidelity_file")

    report = check_run(args.run_dir, elements_across=args.elements_across, mesh_size=args.mesh_size,
                       finite_strain=not args.linear_only, ignore_memory_limit=args.ignore_memory_limit)
    from . import stack
    if stack.mpi().COMM_WORLD.rank == 0:
        s = _summary(report)
        print(f"fem: {s['dofs']} dofs, {s['seconds']} s; task error C: "
              + ", ".join(f"{k} {v:.3g}" for k, v in s["C"].items()))
        print(f"fem: peak strain {s['peak_strain']:.3g} (allowable {s['allowable']}), first buckling factor "
              f"{s['buckling_factor']}; wrote {Path(args.run_dir) / 'fem'}")
    return 0


def _convergence(args: argparse.Namespace) -> int:
    from mechclln.errors import MechcllnError

    from . import stack
    from .convergence import study

    try:
        levels = sorted({int(v) for v in args.convergence.split(",")})
    except ValueError:
        levels = []
    if len(levels) < 2 or levels[0] < 1:
        raise MechcllnError(f"--convergence: '{args.convergence}' is not a list of at least two positive "
                            "integers; give e.g. 1,2,3,4")
    out = _refuse_existing(args, "convergence_file")
    rank0 = stack.mpi().COMM_WORLD.rank == 0
    r = study(args.run_dir, levels, log=print if rank0 else (lambda *a: None))
    if rank0:
        for row in r["levels"]:
            print(f"fem convergence: {row['elements_across']} across, {row['dofs']} dofs: max change to the "
                  f"finest {row['max_relative_change_to_finest']:.2%}, {row['seconds_total']:.1f} s")
        print(f"fem convergence: coarsest level within {r['tol']:.0%}: {r['coarsest_within_tol']}; wrote "
              f"{out}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from . import stack
    from .finetune import finetune_run

    out = _refuse_existing(args, "finetune_dir")
    r = finetune_run(args.run_dir, steps=args.steps, eta=args.eta, elements_across=args.elements_across,
                     step_fraction=args.step_fraction,
                     learn_elements_across=args.learn_elements_across)
    if stack.mpi().COMM_WORLD.rank == 0:
        print(f"finetune: FEM task error C {r['C_fem_before']:.4g} -> {r['C_fem_reexported_part']:.4g} on the "
              f"re-meshed part (x{r['ratio_reexported_over_before']:.3g}) in {r['seconds']:.0f} s; wrote "
              f"{out}")
    return 0


def cmd_lab_compare(args: argparse.Namespace) -> int:
    from .labcompare import compare

    out = _refuse_existing(args, "lab_dir")
    r = compare(args.run_dir, args.tracks)
    print(f"lab-compare: {len(r['frames'])} frames; rms error of the target strains: "
          + ", ".join(f"{k} {m['rms_error']:.3g}" for k, m in r["models"].items())
          + f"; wrote {out}")
    return 0


def cmd_fem_bench(args: argparse.Namespace) -> int:
    from .bench import main

    return main(args)


def run_correct(args: argparse.Namespace) -> int:
    from .correct import correct_run

    def tick(rnd, c_rel):
        print(f"correct: round {rnd}: finite-strain FEM C/C0 {c_rel:.3g}", flush=True)

    rec = correct_run(args.run_dir, args.rounds, args.tol, args.elements_across, tick)
    print(f"corrected {args.run_dir}: FEM C/C0 {rec['rounds'][0]['C_rel_fem_finite']:.3g} -> "
          f"{rec['C_rel_fem_finite']:.3g} in {len(rec['rounds']) - 1} re-designs ({rec['seconds']:.0f} s); "
          f"check it with `mechclln fem {args.run_dir}`")
    return 0
