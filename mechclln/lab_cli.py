"""``mechclln lab-train`` and ``mechclln report``: the lab loop's subcommands (``lab-sim``: :mod:`.labsim_cli`)."""
from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("lab-train", help="train a physical network in the lab over files (in-situ "
                              "coupled learning: actuations out, tracked hub positions in, turns out)",
                              description="See docs/lab.md. init: create LAB and round 1's free actuation; "
                              "submit: give the tracks of the pending phase; status: where LAB stands.")
    sub = p.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    q = sub.add_parser("init", help="create the lab folder; writes LAB/round_001/free_actuation.csv")
    q.add_argument("network", type=Path, help="the bench network as built (its k, l: what the lab has set)")
    q.add_argument("task", type=Path)
    q.add_argument("--out", type=Path, required=True, help="lab folder to create")
    config_arguments(q)
    q.add_argument("--force", action="store_true", help="replace an existing lab folder")
    q.set_defaults(func=cmd_init)
    q = sub.add_parser("submit", help="accept the tracks CSV of the pending phase (frame 0 = rest, frame e+1 = "
                                      "example e); writes the next actuation or the turns (adjust.csv)")
    q.add_argument("lab", type=Path)
    q.add_argument("tracks", type=Path, help="CSV with columns frame, hub, x, y (mm)")
    q.set_defaults(func=cmd_submit)
    q = sub.add_parser("status", help="round, pending phase and error history of a lab folder")
    q.add_argument("lab", type=Path)
    q.set_defaults(func=cmd_status)
    q = sub.add_parser("task", help="an allosteric task for a bench network whose pairs are not edges")
    q.add_argument("network", type=Path)
    q.add_argument("--targets", type=int, default=2)
    q.add_argument("--strain", type=float, default=0.05)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", type=Path, required=True)
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_task)

    q = subparsers.add_parser("report", help="one self-contained HTML page of a run or lab folder")
    q.add_argument("run_dir", type=Path, help="run directory (train/demo/printable) or lab-train folder")
    q.add_argument("--out", type=Path, required=True, help="HTML file to write")
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_report)


CONFIG_HELP = {      # LabConfig fields set from the command line, in option order (defaults: LabConfig's)
    "eta": "clamping factor of the clamped state", "alpha_l": "rest-length rate, x 1/mean(k)",
    "alpha_k": "stiffness rate, x mean(k)/mean(r0)^2", "resolution_l": "one adjuster click, network length units",
    "resolution_k": "one stiffness step, stiffness units", "max_step_l": "largest |dl| per round",
    "max_step_k": "largest |dk| per round",
    "mm_per_unit": "mm per network length unit (required for a network in units '1'; 1 for 'mm')",
    "actuation_tol": "accepted |measured - asked| strain", "tol": "C/C0 at which the task counts as reached"}


def config_arguments(q) -> None:
    """The lab-training options of ``init`` and ``lab-sim``."""
    from .labtrain import LabConfig

    base = LabConfig()
    q.add_argument("--learn", default=",".join(base.learn), help="adjustable parameters: l (turnbuckles), k, or k,l")
    for name, text in CONFIG_HELP.items():     # --mm-per-unit: no default, the network's units decide
        q.add_argument(f"--{name.replace('_', '-')}", type=float,
                       default=None if name == "mm_per_unit" else getattr(base, name), help=text)


def config(args, net):
    """The :class:`~mechclln.labtrain.LabConfig` of the options, for the bench network ``net``."""
    from .labtrain import LabConfig, bench_scale

    given = {name: getattr(args, name) for name in CONFIG_HELP}
    given["mm_per_unit"] = bench_scale(net, args.mm_per_unit)
    return LabConfig(learn=tuple(s.strip() for s in args.learn.split(",") if s.strip()), **given).validate()


def inputs(args):
    from . import network as netio
    from .task import load_task

    net = netio.load(args.network)
    return net, load_task(args.task, net)


def cmd_init(args) -> int:
    from . import labtrain

    net, task = inputs(args)
    state = labtrain.init(net, task, config(args, net), args.out, args.force)
    print(f"{args.out}: round 1; impose the frames of {labtrain.actuation_path(args.out, state)} and track "
          f"every hub (frame 0: at rest), then `mechclln lab-train submit {args.out} TRACKS.csv`")
    return 0


def cmd_submit(args) -> int:
    from . import labtrain

    s = labtrain.submit(args.lab, args.tracks)
    if s["phase"] == "free":
        print(f"round {s['round']}: free states accepted, C/C0 = {s['C_rel']:.4g}; impose the clamped frames "
              f"of {s['next']} and submit their tracks")
    else:
        print(f"round {s['round']}: clamped states accepted; turn the adjusters as {s['adjust']} says "
              f"({s['edges_adjusted']} edges), then impose {s['next']}")
    return 0


def cmd_status(args) -> int:
    from . import labtrain

    _, _, state = labtrain.load(args.lab)
    print(f"{args.lab}: round {state.round}, waiting for the {state.phase} tracks "
          f"({labtrain.actuation_path(args.lab, state)})")
    for h in state.history:
        print(f"  round {h['round']:3d}: C/C0 = {h['C_rel']:.4g}, {h['edges_adjusted']} edges adjusted")
    return 0


def cmd_task(args) -> int:
    from . import network as netio
    from .fileio import refuse_existing
    from .labsim import bench_task
    from .task import save_task

    refuse_existing(args.out, args.force)
    task = bench_task(netio.load(args.network), args.targets, args.strain, args.seed)
    save_task(task, args.out)
    print(f"wrote {args.out}: source {task.source_pairs.tolist()}, targets {task.target_pairs.tolist()}")
    return 0


def cmd_report(args) -> int:
    from .fileio import refuse_existing
    from .report import write_report

    refuse_existing(args.out, args.force)
    path = write_report(args.run_dir, args.out)
    print(f"wrote {path}")
    return 0

