"""``mechclln train``, ``evaluate`` and ``demo``: the core's run commands (parse and print; the work is in
:mod:`.trainrun` and :mod:`.demo`). Options default to the config dataclasses' fields (one source)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    from .design import DesignConfig
    from .training import TrainConfig

    tc = TrainConfig()
    q = sub.add_parser("train", help="train a network on a task; writes a run directory")
    q.add_argument("network")
    q.add_argument("task")
    q.add_argument("--out", required=True, help="run directory to create")
    q.add_argument("--rule", default=tc.rule, help="coupled, equilibrium_propagation, directed_aging, power_efficient, gradient")
    q.add_argument("--model", default=tc.model, choices=("nonlinear", "harmonic"))
    q.add_argument("--learn", default=",".join(tc.learn), help="parameters to learn: k, l or k,l")
    q.add_argument("--eta", type=float, default=tc.eta)
    q.add_argument("--symmetric", action="store_true",
                   help="coupled learning between the +eta and -eta clamped states (docs/core.md, \"A trap\")")
    q.add_argument("--beta", type=float, default=tc.beta)
    q.add_argument("--reg", type=float, default=tc.reg, help="power-efficient regulariser weight")
    q.add_argument("--alpha-k", type=float, default=tc.alpha_k)
    q.add_argument("--alpha-l", type=float, default=tc.alpha_l)
    q.add_argument("--steps", type=int, default=tc.steps)
    q.add_argument("--tol", type=float, default=tc.tol, help="stop when C/C0 <= tol")
    q.add_argument("--k-min", type=float, default=tc.k_bounds[0],
                   help="lower stiffness bound (a bond at k_min is nearly pruned)")
    q.add_argument("--k-max", type=float, default=tc.k_bounds[1])
    q.add_argument("--tether", type=float, default=tc.tether, metavar="T",
                   help="tie every node to its reference position by a spring of stiffness T (units of k): "
                        "makes a network below isostatic trainable as springs (`network --check` says when); "
                        "metrics.json reports its share of the energy")
    q.add_argument("--checkpoint-every", type=int, default=tc.checkpoint_every)
    q.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    q.add_argument("--force", action="store_true", help="replace an existing run directory")
    q.add_argument("--quiet", action="store_true")
    q.set_defaults(func=cmd_train)

    q = sub.add_parser("evaluate", help="response of a saved network to a task")
    q.add_argument("network")
    q.add_argument("task")
    q.add_argument("--model", default="both", choices=("nonlinear", "harmonic", "both"))
    q.add_argument("--json", help="also write the numbers to this JSON file")
    q.add_argument("--tether", type=float, default=tc.tether, metavar="T",
                   help="the tether a network below isostatic was trained with (train --tether)")
    q.add_argument("--force", action="store_true", help="replace an existing --json file")
    q.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("demo", help="the built-in default: jammed network, allosteric task, frame design, FEM "
                       "correction and check, export")
    q.add_argument("--out", default="runs/demo")
    q.add_argument("--steps", type=int, default=DesignConfig.steps, help="Gauss-Newton steps per design phase")
    q.add_argument("--force", action="store_true")
    q.add_argument("--quiet", action="store_true")
    q.set_defaults(func=cmd_demo)


def train_config(args):
    """The :class:`TrainConfig` of parsed ``train`` options (``--learn``: comma-separated names)."""
    from .training import TrainConfig

    learn = tuple(s.strip() for s in args.learn.split(",") if s.strip())
    return TrainConfig(rule=args.rule, learn=learn, model=args.model, eta=args.eta, symmetric=args.symmetric,
                       beta=args.beta, reg=args.reg,
                       alpha_k=args.alpha_k, alpha_l=args.alpha_l, steps=args.steps, tol=args.tol,
                       k_bounds=(args.k_min, args.k_max), checkpoint_every=args.checkpoint_every,
                       tether=args.tether)


def cmd_train(args) -> int:
    from . import network as netio
    from .task import load_task
    from .trainrun import train_run

    net = netio.load(args.network)
    task = load_task(args.task, net)
    cfg = train_config(args)
    r = train_run(net, task, cfg, args.out, args.force, args.resume, progress=not args.quiet, source=args.network)
    status = "reached" if r.converged else "did NOT reach"
    tether = (f"; tether {r.tether['tether']:g}: {100 * r.tether['energy_ratio']:.1f} % of the spring energy"
              if r.tether else "")
    print(f"{Path(args.out)}: {r.steps} steps in {r.timings['train_seconds']:.1f} s; C/C0 = {r.C_rel_final:.3g} "
          f"({status} tol {cfg.tol:g}){tether}")
    return 0


def cmd_evaluate(args) -> int:
    from .trainrun import evaluate

    out, wanted = evaluate(args.network, args.task, args.model, args.json, args.force, args.tether)
    for m, r in out.items():
        print(f"{m} model: C = {r['C']:.4g}")
        for e, (vals, want) in enumerate(zip(r["target_strains"], wanted)):
            print(f"  example {e}: target strains {' '.join(f'{v:+.5f}' for v in vals)}   "
                  f"(desired {' '.join(f'{v:+.5f}' for v in want)})")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, args.steps, args.force, args.quiet)
    return 0
