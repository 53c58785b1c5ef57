"""``mechclln sweep SPEC --out DIR``: an ensemble of training runs (see :mod:`mechclln.sweep`)."""
from __future__ import annotations

import argparse


def main(args) -> int:
    from .errors import MechcllnError
    from .sweep import load_spec, run_sweep

    if args.jobs is not None and args.jobs < 1:
        raise MechcllnError("--jobs must be at least 1")
    run_sweep(load_spec(args.spec), args.out, args.jobs)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="grid of networks x sizes x tasks x rules, on all cores or MPI "
                                            "ranks (mpirun -n P mechclln sweep ...), resumable")
    p.add_argument("spec", help="sweep spec (JSON or TOML; see mechclln/sweep.py)")
    p.add_argument("--out", required=True, help="folder for runs/*.json, results.csv/json, capacity.png "
                                                "(rerun the same command to resume)")
    p.add_argument("--jobs", type=int, default=None, help="local processes (default: all cores; ignored "
                                                          "under mpirun)")
    p.set_defaults(func=main)


if __name__ == "__main__":      # for `mpirun -n P python -m mechclln.sweep_cli SPEC --out DIR`
    import sys

    parser = argparse.ArgumentParser(prog="mechclln sweep")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    a = parser.parse_args(["sweep", *sys.argv[1:]])
    sys.exit(a.func(a))
