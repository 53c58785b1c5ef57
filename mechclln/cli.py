"""The `mechclln` command: a thin argparse layer over the library.

Core commands: network and task here; train, evaluate and demo in :mod:`.train_cli`. Stage commands
(export, fem, finetune, lab-compare, bench, lab-train, lab-sim, sweep) are registered by the ``*cli``
modules of :data:`STAGE_CLIS`, which import nothing heavy at module level and only parse and print.
Bad input ends with ``mechclln: error: <one line>`` and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

from .errors import MechcllnError

# modules with a register(subparsers): the core's train/evaluate/demo, then the stages'
STAGE_CLIS = ("mechclln.train_cli", "mechclln.export.cli", "mechclln.fem.cli", "mechclln.bench", "mechclln.lab_cli",
              "mechclln.labsim_cli", "mechclln.sweep_cli")


def _stage_modules():
    mods = []
    for name in STAGE_CLIS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            mods.append(importlib.import_module(name))
    return mods


def cmd_network(args) -> int:
    from . import network as netio
    from .equilibrium import FLOPPY_REMEDY
    from .fileio import refuse_existing
    from .generate import make_network
    from .rigidity import floppy_modes

    if args.check:
        net = netio.load(args.check)
        rep = floppy_modes(net, pinned=net.pinned)
        print(f"{args.check}: {net.n_nodes} nodes, {net.n_edges} edges, dim {net.dim}, Z = {net.mean_coordination():.3f}")
        print("rigid (no floppy modes beyond rigid-body motion)" if rep.n_floppy == 0 else
              f"{rep.message}\n{FLOPPY_REMEDY}")
        return 0 if rep.n_floppy == 0 else 1
    if not args.out:
        raise MechcllnError("--out: missing; give the JSON file to write, e.g. --out network.json")
    refuse_existing(args.out, args.force)
    from .progress import stage_bar

    with stage_bar("jammed packing", quiet=args.quiet or args.kind != "jammed") as tick:
        net = make_network(args.kind, args.nodes, args.dim, args.z, args.size, not args.no_nnn, args.seed, tick)
    netio.save(net, args.out)
    print(f"wrote {args.out}: {net.n_nodes} nodes, {net.n_edges} edges, Z = {net.mean_coordination():.3f}")
    return 0


def cmd_task(args) -> int:
    from . import network as netio
    from .fileio import refuse_existing
    from .task import random_task, save_task

    refuse_existing(args.out, args.force)
    net = netio.load(args.network)
    task = random_task(net, n_targets=args.targets, source_strain=args.source_strain,
                       target_strain=args.target_strain, seed=args.seed, rest=not args.no_rest,
                       within=args.within)
    save_task(task, args.out)
    print(f"wrote {args.out}: {len(task.source_pairs)} source pair(s), {task.n_targets} targets, "
          f"{task.n_examples} examples{' (rest example included)' if not args.no_rest else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mechclln", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    q = sub.add_parser("network", help="generate a network JSON (jammed packing or regular lattice), or --check one")
    q.add_argument("--kind", default="jammed", help="jammed, triangular, square_diagonal, kagome, honeycomb, cubic_diagonal, fcc")
    q.add_argument("--nodes", type=int, default=300, help="approximate node count (jammed)")
    q.add_argument("--dim", type=int, default=2, choices=(2, 3))
    q.add_argument("--z", type=float, default=None, help="target mean coordination after pruning (jammed)")
    q.add_argument("--size", type=int, nargs="+", help="lattice size in cells/nodes per axis")
    q.add_argument("--no-nnn", action="store_true", help="kagome/honeycomb without next-nearest-neighbour bonds")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", help="network JSON to write")
    q.add_argument("--check", metavar="FILE", help="diagnose floppy modes of an existing network file")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_network)

    q = sub.add_parser("task", help="generate a random allosteric task for a network")
    q.add_argument("network")
    q.add_argument("--targets", type=int, default=3)
    q.add_argument("--source-strain", type=float, default=0.05)
    q.add_argument("--target-strain", type=float, default=0.05)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--no-rest", action="store_true", help="leave out the rest example (zero in -> zero out)")
    q.add_argument("--within", type=float, default=None, metavar="R",
                   help="targets only among bonds within R length units of the source (a task of fixed size "
                        "for a scaling study); default: the whole network")
    q.add_argument("--out", required=True)
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_task)

    for mod in _stage_modules():
        mod.register(sub)
    return p


def main(argv=None) -> int:
    # one BLAS thread unless asked otherwise: the solves are many small back-substitutions, which OpenBLAS
    # threads slow down 2-3x. Read when numpy loads, so nothing above imports numpy at module level.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(None if argv is None else [str(a) for a in argv])
    try:
        return int(args.func(args) or 0)
    except MechcllnError as exc:
        print(f"mechclln: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mechclln: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
