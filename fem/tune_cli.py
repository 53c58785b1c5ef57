"""``mechclln finetune`` and ``mechclln correct``: the commands that change a part from its FEM solves
(FEM-in-the-loop learning of the widths; correction of a frame design), registered by :mod:`.cli`."""
from __future__ import annotations

import argparse
from pathlib import Path


def defaults(func) -> dict:
    """The keyword defaults of ``func``: the options that call it take theirs from there (one source)."""
    import inspect

    return {k: v.default for k, v in inspect.signature(func).parameters.items() if v.default is not v.empty}


def rank0() -> bool:
    """Whether this process is MPI rank 0 (the one that prints)."""
    from . import stack

    return stack.mpi().COMM_WORLD.rank == 0


def register(subparsers) -> None:
    from .correct import correct_run           # numpy and the core only: DOLFINx loads when they run
    from .finetune import finetune_run

    tune, corr = defaults(finetune_run), defaults(correct_run)
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


def cmd_finetune(args: argparse.Namespace) -> int:
    from mechclln.rundir import Run

    from .finetune import finetune_run

    out = Run(args.run_dir).refuse("finetune_dir", args.force)
    r = finetune_run(args.run_dir, steps=args.steps, eta=args.eta, elements_across=args.elements_across,
                     step_fraction=args.step_fraction, learn_elements_across=args.learn_elements_across)
    if rank0():
        print(f"finetune: FEM task error C {r.C_fem_before:.4g} -> {r.C_fem_reexported_part:.4g} on the "
              f"re-meshed part (x{r.ratio_reexported_over_before:.3g}) in {r.seconds:.0f} s; wrote {out}")
    return 0


def run_correct(args: argparse.Namespace) -> int:
    from .correct import correct_run

    def tick(rnd, c_rel):
        print(f"correct: round {rnd}: finite-strain FEM C/C0 {c_rel:.3g}", flush=True)

    rec = correct_run(args.run_dir, args.rounds, args.tol, args.elements_across, tick)
    print(f"corrected {args.run_dir}: FEM C/C0 {rec.rounds[0]['C_rel_fem_finite']:.3g} -> "
          f"{rec.C_rel_fem_finite:.3g} in {len(rec.rounds) - 1} re-designs ({rec.seconds:.0f} s); "
          f"check it with `mechclln fem {args.run_dir}`")
    return 0
