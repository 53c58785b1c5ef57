"""``mechclln lab-sim``: lab-train simulated on a noisy bench (the work is in :mod:`.labsim`)."""
from __future__ import annotations

from pathlib import Path

from .lab_cli import config, config_arguments, inputs


def register(subparsers) -> None:
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
    config_arguments(q)
    q.add_argument("--force", action="store_true", help="replace an existing OUT")
    q.set_defaults(func=cmd_sim)


def _floats(text: str, name: str) -> list[float]:
    from .errors import MechcllnError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MechcllnError(f"{name} {text!r}: give numbers separated by commas") from None


def cmd_sim(args) -> int:
    from .fileio import refuse_existing
    from .labsim import BenchNoise, scan, write_scan

    refuse_existing(args.out, args.force)
    net, task = inputs(args)
    cfg = config(args, net)
    noises = [BenchNoise(position=p, actuation=args.actuation, temperature=args.temperature,
                         fabrication_k=args.fabrication_k, fabrication_l=args.fabrication_l, seed=int(s))
              for p in _floats(args.position, "--position") for s in _floats(args.seeds, "--seeds")]
    rules = tuple(r.strip() for r in args.rules.split(",") if r.strip())
    table = scan(net, task, cfg, noises, args.rounds, args.out, rules, args.model)
    write_scan(args.out, cfg, args.network, args.task, args.rounds, table)
    print(f"{'rule':9s} {'position mm':>11s} {'seed':>4s} {'rounds':>6s} {'C/C0 true':>10s} {'measured':>9s}")
    for r in table:
        got = "refused: " + r["refused"] if r["refused"] else \
            f"{r['rounds_to_tol'] if r['rounds_to_tol'] is not None else '>' + str(args.rounds):>6} " \
            f"{r['C_rel_final']:10.3g} {r['C_rel_measured_final'] if r['C_rel_measured_final'] is not None else float('nan'):9.3g}"
        print(f"{r['rule']:9s} {r['position']:11.3g} {r['seed']:4d} {got}")
    return 0
