"""`mechclln fem RUN_DIR`: the FEM fidelity check of a trained run (imports DOLFINx only when run).

Module-level imports stay within argparse/pathlib so `mechclln train` never loads gmsh or DOLFINx.
Runs under `mpirun -n P mechclln fem RUN_DIR` too (rank 0 writes the files).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .tune_cli import defaults, rank0, register as register_tuning

BENCH_SIZES = (1, 2, 3)            # fem-bench: elements across the narrowest strut section
BENCH_METHODS = ("gamg", "direct")  # GAMG first: the peak memory read after it excludes the MUMPS factor


def register(subparsers) -> None:
    from .fidelity import check_run           # numpy and the core only: DOLFINx loads when it runs

    check = defaults(check_run)
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
    register_tuning(subparsers)       # finetune, correct

    q = subparsers.add_parser("lab-compare", help="measured target strains of a printed part (tracked hub "
                                                  "positions) against every model; writes RUN/lab/compare.json")
    q.add_argument("run_dir", type=Path)
    q.add_argument("tracks", type=Path, help="CSV with columns frame, hub, x, y (mm); frame 0 = rest")
    q.add_argument("--force", action="store_true", help="replace an existing RUN/lab/")
    q.set_defaults(func=cmd_lab_compare)
    q = subparsers.add_parser("fem-bench", help="FEM timings of a 500-strut 2D part: meshing, assembly, MUMPS "
                                                "vs CG+GAMG, serial vs mpirun -n 2 (writes benchmarks/fem/)")
    bench_arguments(q)
    q.set_defaults(func=cmd_fem_bench)


def bench_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``mechclln fem-bench`` (the harness ``benchmarks/fem_bench.py`` parses the same)."""
    p.add_argument("--sizes", default=",".join(map(str, BENCH_SIZES)),
                   help="elements across the narrowest strut section, comma separated (default 1,2,3)")
    p.add_argument("--lattices", default="14x14",
                   help="triangular lattices NXxNY, comma separated (default 14x14: 533 struts; smaller ones "
                        "reach smaller meshes: the outline's hub circles bound the element size)")
    p.add_argument("--ranks", default="1,2", help="MPI rank counts, comma separated (default 1,2)")
    p.add_argument("--methods", nargs="+", default=list(BENCH_METHODS), choices=BENCH_METHODS)
    p.add_argument("--out", type=Path, default=Path("benchmarks/fem"), help="folder for the results")


def cmd_fem(args: argparse.Namespace) -> int:
    from mechclln.rundir import Run

    from .fidelity import check_run

    if args.convergence:
        return _convergence(args)
    Run(args.run_dir).refuse("fidelity_file", args.force)
    r = check_run(args.run_dir, elements_across=args.elements_across, mesh_size=args.mesh_size,
                  finite_strain=not args.linear_only, ignore_memory_limit=args.ignore_memory_limit)
    if rank0():
        print(f"fem: {r.mesh['dofs']} dofs, {round(r.timings_s['total'], 1)} s; task error C: "
              + ", ".join(f"{k} {round(v['C'], 8):.3g}" for k, v in r.models.items()))
        print(f"fem: peak strain {round(r.peak_strain['peak'], 4):.3g} (allowable {r.peak_strain['allowable']}), "
              f"first buckling factor {r.buckling['first_factor']}; wrote {Run(args.run_dir).fem_dir}")
    return 0


def _convergence(args: argparse.Namespace) -> int:
    from mechclln.errors import MechcllnError
    from mechclln.rundir import Run

    from .convergence import study

    try:
        levels = sorted({int(v) for v in args.convergence.split(",")})
    except ValueError:
        levels = []
    if len(levels) < 2 or levels[0] < 1:
        raise MechcllnError(f"--convergence: '{args.convergence}' is not a list of at least two positive "
                            "integers; give e.g. 1,2,3,4")
    out = Run(args.run_dir).refuse("convergence_file", args.force)
    root = rank0()
    r = study(args.run_dir, levels, log=print if root else (lambda *a: None))
    if root:
        for row in r.levels:
            print(f"fem convergence: {row['elements_across']} across, {row['dofs']} dofs: max change to the "
                  f"finest {row['max_relative_change_to_finest']:.2%}, {row['seconds_total']:.1f} s")
        print(f"fem convergence: coarsest level within {r.tol:.0%}: {r.coarsest_within_tol}; wrote {out}")
    return 0


def cmd_lab_compare(args: argparse.Namespace) -> int:
    from mechclln.rundir import Run

    from .labcompare import compare

    out = Run(args.run_dir).refuse("lab_dir", args.force)
    r = compare(args.run_dir, args.tracks)
    print(f"lab-compare: {len(r.frames)} frames; rms error of the target strains: "
          + ", ".join(f"{k} {m['rms_error']:.3g}" for k, m in r.models.items()) + f"; wrote {out}")
    return 0


def cmd_fem_bench(args: argparse.Namespace) -> int:
    from mechclln.bench import load_benchmark

    return load_benchmark("fem_bench").main(args)
