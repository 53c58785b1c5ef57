"""``mechclln lab-train``, ``mechclln lab-sim`` and ``mechclln report``: the lab loop's subcommands."""
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
    _config_arguments(q)
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

    q = subparsers.add_parser("lab-sim", help="simulate lab-train on a noisy bench: rounds to reach the task "
                                              "vs noise, measured vs model-driven rule (writes OUT/scan.json)")
    q.add_argument("network", type=Path)
    q.add_argument("task", type=Path)
    q.add_argument("--out", type=Path, required=True, help="folder for the scan and one lab folder per run")
    q.add_argument("--rounds", type=int, default=200, help="most rounds per run")
    q.add_argument("--position", default="0", help="tracking noise std, mm (comma list: one run each)")
    q.add_argument("--actuation", type=float, default=0.0, help="std of each imposed pair strain")
    q.add_argument("--temperature", type=float, default=0.0, help="kT in units of mean(k0) mean(r0)^2")
    q.add_argument("--fabrication-k", type=float, default=0.0, help="relative std of the built k")
    q.add_argument("--fabrication-l", type=float, default=0.0, help="std of the built l, in units of r0")
    q.add_argument("--seeds", default="0", help="bench seeds (comma list)")
    q.add_argument("--rules", default="measured,model", help="measured, model or both")
    q.add_argument("--model", default="nonlinear", choices=("nonlinear", "harmonic"), help="the bench's physics")
    _config_arguments(q)
    q.add_argument("--force", action="store_true", help="replace an existing OUT")
    q.set_defaults(func=cmd_sim)

    q = subparsers.add_parser("report", help="one self-contained HTML page of a run or lab folder")
    q.add_argument("run_dir", type=Path, help="run directory (train/demo/printable) or lab-train folder")
    q.add_argument("--out", type=Path, required=True, help="HTML file to write")
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_report)


def _floats(text: str, name: str) -> list[float]:
    from .errors import MechcllnError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MechcllnError(f"{name} {text!r}: give numbers separated by commas") from None


def _config_arguments(q) -> None:
    q.add_argument("--learn", default="l", help="adjustable parameters: l (turnbuckles), k, or k,l")
    q.add_argument("--eta", type=float, default=0.5, help="clamping factor of the clamped state")
    q.add_argument("--alpha-l", type=float, default=0.5, help="rest-length rate, x 1/mean(k)")
    q.add_argument("--alpha-k", type=float, default=0.5, help="stiffness rate, x mean(k)/mean(r0)^2")
    q.add_argument("--resolution-l", type=float, default=0.0, help="one adjuster click, network length units")
    q.add_argument("--resolution-k", type=float, default=0.0, help="one stiffness step, stiffness units")
    q.add_argument("--max-step-l", type=float, default=float("inf"), help="largest |dl| per round")
    q.add_argument("--max-step-k", type=float, default=float("inf"), help="largest |dk| per round")
    q.add_argument("--mm-per-unit", type=float, default=None,
                   help="mm per network length unit (required for a network in units '1'; 1 for 'mm')")
    q.add_argument("--actuation-tol", type=float, default=0.01, help="accepted |measured - asked| strain")
    q.add_argument("--tol", type=float, default=1e-2, help="C/C0 at which the task counts as reached")


def _config(args, net):
    from .errors import MechcllnError
    from .labtrain import LabConfig

    scale = args.mm_per_unit
    if net.units["length"] == "mm":
        if scale not in (None, 1.0):
            raise MechcllnError(f"--mm-per-unit {scale:g}: the network is in mm already; leave it out")
        scale = 1.0
    elif scale is None:
        raise MechcllnError("--mm-per-unit: missing; the network is in lattice units, say how many mm one unit is "
                            "on the bench (e.g. the mean bond length in mm)")
    return LabConfig(learn=tuple(s.strip() for s in args.learn.split(",") if s.strip()), eta=args.eta,
                     alpha_l=args.alpha_l, alpha_k=args.alpha_k, resolution_l=args.resolution_l,
                     resolution_k=args.resolution_k, max_step_l=args.max_step_l, max_step_k=args.max_step_k,
                     mm_per_unit=scale, actuation_tol=args.actuation_tol, tol=args.tol).validate()


def _inputs(args):
    from . import network as netio
    from .task import load_task

    net = netio.load(args.network)
    return net, load_task(args.task, net)


def cmd_init(args) -> int:
    from . import labtrain

    net, task = _inputs(args)
    state = labtrain.init(net, task, _config(args, net), args.out, args.force)
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


def cmd_sim(args) -> int:
    from .fileio import refuse_existing, write_json
    from .labsim import BenchNoise, scan

    refuse_existing(args.out, args.force)
    net, task = _inputs(args)
    cfg = _config(args, net)
    noises = [BenchNoise(position=p, actuation=args.actuation, temperature=args.temperature,
                         fabrication_k=args.fabrication_k, fabrication_l=args.fabrication_l, seed=int(s))
              for p in _floats(args.position, "--position") for s in _floats(args.seeds, "--seeds")]
    rules = tuple(r.strip() for r in args.rules.split(",") if r.strip())
    table = scan(net, task, cfg, noises, args.rounds, args.out, rules, args.model)
    write_json(Path(args.out) / "scan.json", {"config": vars(cfg), "network": str(args.network),
                                              "task": str(args.task), "rounds": args.rounds, "runs": table})
    print(f"{'rule':9s} {'position mm':>11s} {'seed':>4s} {'rounds':>6s} {'C/C0 true':>10s} {'measured':>9s}")
    for r in table:
        got = "refused: " + r["refused"] if r["refused"] else \
            f"{r['rounds_to_tol'] if r['rounds_to_tol'] is not None else '>' + str(args.rounds):>6} " \
            f"{r['C_rel_final']:10.3g} {r['C_rel_measured_final'] if r['C_rel_measured_final'] is not None else float('nan'):9.3g}"
        print(f"{r['rule']:9s} {r['position']:11.3g} {r['seed']:4d} {got}")
    return 0


def cmd_report(args) -> int:
    from .fileio import refuse_existing
    from .report import write_report

    refuse_existing(args.out, args.force)
    path = write_report(args.run_dir, args.out)
    print(f"wrote {path}")
    return 0

