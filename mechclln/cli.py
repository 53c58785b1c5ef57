"""The `mechclln` command: a thin argparse layer over the library.

Core commands: network, task, train, evaluate, demo. Stage commands (export, fem, finetune, lab-compare,
bench) are registered by their packages' ``cli.py`` modules, which import nothing heavy at module level.
Bad input ends with ``mechclln: error: <one line>`` and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from pathlib import Path

from .errors import MechcllnError, fail

STAGE_CLIS = ("mechclln.export.cli", "mechclln.fem.cli", "mechclln.bench", "mechclln.lab_cli", "mechclln.sweep_cli")


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


# --------------------------------------------------------------------------------------------- network
def _make_network(args):
    from . import lattices

    if args.kind == "jammed":
        from .packing import jammed_network

        return jammed_network(args.nodes, dim=args.dim, z_target=args.z, seed=args.seed)
    if args.kind not in lattices.LATTICES:
        raise MechcllnError(f"--kind {args.kind!r} is unknown; choose jammed or one of {', '.join(lattices.LATTICES)}")
    fn = lattices.LATTICES[args.kind]
    size = args.size or ([12, 12] if args.kind in ("triangular", "square_diagonal") else
                         [6, 6] if args.kind in ("kagome", "honeycomb") else [4, 4, 4] if args.kind == "cubic_diagonal" else [3, 3, 3])
    kw = {"nnn": not args.no_nnn} if args.kind in ("kagome", "honeycomb") else {}
    return fn(*size, **kw)


def cmd_network(args) -> int:
    from . import network as netio
    from .fileio import refuse_existing
    from .rigidity import floppy_modes

    if args.check:
        net = netio.load(args.check)
        rep = floppy_modes(net, pinned=net.pinned)
        print(f"{args.check}: {net.n_nodes} nodes, {net.n_edges} edges, dim {net.dim}, Z = {net.mean_coordination():.3f}")
        from .equilibrium import FLOPPY_REMEDY

        print("rigid (no floppy modes beyond rigid-body motion)" if rep.n_floppy == 0 else
              f"{rep.message}\n{FLOPPY_REMEDY}")
        return 0 if rep.n_floppy == 0 else 1
    if not args.out:
        raise MechcllnError("--out: missing; give the JSON file to write, e.g. --out network.json")
    refuse_existing(args.out, args.force)
    net = _make_network(args)
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
                       target_strain=args.target_strain, seed=args.seed, rest=not args.no_rest)
    save_task(task, args.out)
    print(f"wrote {args.out}: {len(task.source_pairs)} source pair(s), {task.n_targets} targets, "
          f"{task.n_examples} examples{' (rest example included)' if not args.no_rest else ''}")
    return 0


# --------------------------------------------------------------------------------------------- train
def _config(args):
    from .training import TrainConfig

    learn = tuple(s.strip() for s in args.learn.split(",") if s.strip())
    return TrainConfig(rule=args.rule, learn=learn, model=args.model, eta=args.eta, beta=args.beta, reg=args.reg,
                       alpha_k=args.alpha_k, alpha_l=args.alpha_l, steps=args.steps, tol=args.tol,
                       k_bounds=(args.k_min, args.k_max), checkpoint_every=args.checkpoint_every)


def run_training(net, task, cfg, out: Path, force: bool, resume: bool = False, progress: bool = True) -> Path:
    """Train and write a complete run directory at ``out`` (atomically)."""
    import numpy as np

    from . import plots
    from .equilibrium import respond
    from .fileio import read_npz
    from .rundir import PLOTS, Run, check_fingerprint, interrupted, metrics_dict
    from .training import train

    run = Run(out)
    killed = interrupted(out)      # the staging folder of a killed or interrupted `train` of this --out
    killed_ckpt = killed is not None and Run(killed).checkpoint_file.exists()
    if killed_ckpt and not (resume or force):
        raise MechcllnError(f"{out}: an interrupted run left a checkpoint in {killed}; pass --resume to "
                            "continue it or --force to start over")
    # resume: from the interrupted run's checkpoint (the newer), else from the finished run's
    ckpt = Run(killed).checkpoint_file if killed_ckpt else run.checkpoint_file
    if resume and not ckpt.exists():
        raise MechcllnError(f"{ckpt}: no checkpoint to resume from; run without --resume")
    if resume:      # before any work (a refused resume leaves the checkpoint as it was)
        check_fingerprint(ckpt, read_npz(ckpt), net, task, cfg)
    with run.staged(force=force or resume, resumable=True, reuse=resume) as tmp:
        if resume and not killed_ckpt:
            import shutil

            shutil.copy2(ckpt, tmp.checkpoint_file)
        t0 = time.perf_counter()
        res = train(net, task, cfg, progress=progress, checkpoint=tmp.checkpoint_file, resume=resume)
        t_train = time.perf_counter() - t0
        h = res.history
        timings = {"train_seconds": t_train, "steps": len(h.step),
                   "mean_step_seconds": float(np.mean(h.seconds)) if h.seconds else None,
                   "factorizations": h.factorizations[-1] if h.factorizations else 0}
        tmp.save(net, res.network, task, metrics_dict(res, task, timings))
        pdir = tmp / PLOTS
        plots.plot_training(h, pdir / "training.png", f"{cfg.rule} ({'+'.join(cfg.learn)}), {cfg.model} model")
        plots.plot_parameter(res.network, res.network.k, pdir / "stiffness.png", "stiffness k", task, width_by_k=True)
        dl = (res.network.l - net.l) / net.lengths()
        plots.plot_parameter(res.network, dl, pdir / "rest_length_change.png", "change of rest length / r0", task,
                             cmap="coolwarm", symmetric=True)
        resp = respond(res.network, task, cfg.model, check_rigidity=False)
        ex = int(np.argmax(np.abs(task.source_strains).sum(1)))
        plots.plot_response(res.network, resp.x[ex], task, pdir / "response.png",
                            title=f"free response, example {ex}")
        plots.plot_targets(task.target_strains, res.target_strains, pdir / "targets.png")
    status = "reached" if res.converged else "did NOT reach"
    print(f"{out}: {len(h.step)} steps in {t_train:.1f} s; C/C0 = {h.C_rel[-1]:.3g} ({status} tol {cfg.tol:g})")
    return out


def cmd_train(args) -> int:
    import numpy as np

    from . import network as netio
    from .task import load_task

    net = netio.load(args.network)
    task = load_task(args.task, net)
    cfg = _config(args)
    lo, hi = cfg.k_bounds
    bad = np.flatnonzero((net.k < lo) | (net.k > hi))
    if bad.size:       # training would clip them silently
        raise fail(args.network, f"stiffness[{bad[0]}]", f"{net.k[bad[0]]:g} is outside the training bounds "
                   f"[{lo:g}, {hi:g}] ({bad.size} edges)", "rescale the stiffness or widen --k-min/--k-max")
    run_training(net, task, cfg, Path(args.out), args.force, args.resume, progress=not args.quiet)
    return 0


def cmd_evaluate(args) -> int:
    from . import network as netio
    from .equilibrium import respond
    from .fileio import refuse_existing, write_json
    from .task import load_task, task_error

    if args.json:
        refuse_existing(args.json, args.force)
    net = netio.load(args.network)
    task = load_task(args.task, net)
    models = ("nonlinear", "harmonic") if args.model == "both" else (args.model,)
    out = {}
    for m in models:
        r = respond(net, task, m)
        C = task_error(r.target_strains, task.target_strains)
        out[m] = {"target_strains": r.target_strains, "source_forces": r.source_forces, "C": C}
        print(f"{m} model: C = {C:.4g}")
        for e in range(task.n_examples):
            vals = " ".join(f"{v:+.5f}" for v in r.target_strains[e])
            want = " ".join(f"{v:+.5f}" for v in task.target_strains[e])
            print(f"  example {e}: target strains {vals}   (desired {want})")
    if args.json:
        write_json(args.json, out)
    return 0


# --------------------------------------------------------------------------------------------- demo
DEMO = {"nodes": 300, "seed": 3, "targets": 3, "source_strain": 0.05, "target_strain": 0.05}


def cmd_demo(args) -> int:
    """The whole flow on the built-in default: design in the frame model of the printed part, correct
    against finite-strain FEM, check in FEM, export (the stages are imported here, lazily)."""
    import numpy as np
    from tqdm.auto import tqdm

    from .design import DesignConfig
    from .export.cli import fitting_spec
    from .export.pipeline import export_run
    from .fem.correct import correct_run
    from .fem.fidelity import check_run
    from .fileio import refuse_existing
    from .geometry.design_run import design_network, write_design_run
    from .packing import jammed_network
    from .task import random_task

    out = Path(args.out)
    refuse_existing(out, args.force)
    t0 = time.perf_counter()
    net = jammed_network(DEMO["nodes"], dim=2, seed=DEMO["seed"])
    task = random_task(net, n_targets=DEMO["targets"], source_strain=DEMO["source_strain"],
                       target_strain=DEMO["target_strain"], seed=DEMO["seed"], rest=True)
    print(f"demo: jammed 2D network, {net.n_nodes} nodes, {net.n_edges} edges, Z = {net.mean_coordination():.2f}; "
          f"1 source, {task.n_targets} targets, rest + actuated example")
    spec, cfg = fitting_spec(net), DesignConfig(steps=args.steps)
    with tqdm(desc="frame design", unit="step", disable=args.quiet) as bar:
        def tick(phase, step, C):
            bar.set_postfix_str(f"{phase}: C={C:.3g}", refresh=False)
            bar.update(1)
        fp, res, _ = design_network(net, task, spec, "tpu95a", cfg, tick)
    rep = write_design_run(out, fp, res, task, cfg, force=True, source="mechclln demo")
    print(f"demo: design: {rep['n_edges'] - rep['n_removed']} struts printed, {rep['n_removed']} removed, frame "
          f"C/C0 {rep['C_rel_frame'][cfg.model]:.3g} ({res.seconds:.1f} s)")
    rec = correct_run(out, progress=lambda r, c: print(f"demo: correct: round {r}: finite-strain FEM C/C0 {c:.3g}",
                                                        flush=True))
    fem = check_run(out, finite_strain=True)
    C0 = rep["C0"]
    for key, label in (("frame_corotational", "frame"), ("fem_linear", "linear FEM"), ("fem_finite", "finite-strain FEM")):
        m = fem["models"][key]
        print(f"demo: {label}: target strains {np.round(m['target_strains'][-1], 4).tolist()} (wanted "
              f"{task.target_strains[-1].tolist()}), C/C0 {m['C'] / C0:.3g}")
    ex = export_run(out, spec, force=True)
    print(f"demo: export: {', '.join(ex['files'])}; {ex['mesh']['bodies']} body, watertight {ex['mesh']['watertight']}")
    print(f"demo finished in {time.perf_counter() - t0:.1f} s (FEM correction {rec['seconds']:.0f} s, FEM check "
          f"{fem['timings_s']['total']:.0f} s); results in {out}")
    return 0


# --------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from .design import DesignConfig
    from .training import TrainConfig

    tc = TrainConfig()      # the train options' defaults are the config's (one source)
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
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_network)

    q = sub.add_parser("task", help="generate a random allosteric task for a network")
    q.add_argument("network")
    q.add_argument("--targets", type=int, default=3)
    q.add_argument("--source-strain", type=float, default=0.05)
    q.add_argument("--target-strain", type=float, default=0.05)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--no-rest", action="store_true", help="leave out the rest example (zero in -> zero out)")
    q.add_argument("--out", required=True)
    q.add_argument("--force", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_task)

    q = sub.add_parser("train", help="train a network on a task; writes a run directory")
    q.add_argument("network")
    q.add_argument("task")
    q.add_argument("--out", required=True, help="run directory to create")
    q.add_argument("--rule", default=tc.rule, help="coupled, equilibrium_propagation, directed_aging, power_efficient, gradient")
    q.add_argument("--model", default=tc.model, choices=("nonlinear", "harmonic"))
    q.add_argument("--learn", default=",".join(tc.learn), help="parameters to learn: k, l or k,l")
    q.add_argument("--eta", type=float, default=tc.eta)
    q.add_argument("--beta", type=float, default=tc.beta)
    q.add_argument("--reg", type=float, default=tc.reg, help="power-efficient regulariser weight")
    q.add_argument("--alpha-k", type=float, default=tc.alpha_k)
    q.add_argument("--alpha-l", type=float, default=tc.alpha_l)
    q.add_argument("--steps", type=int, default=tc.steps)
    q.add_argument("--tol", type=float, default=tc.tol, help="stop when C/C0 <= tol")
    q.add_argument("--k-min", type=float, default=tc.k_bounds[0],
                   help="lower stiffness bound (a bond at k_min is nearly pruned)")
    q.add_argument("--k-max", type=float, default=tc.k_bounds[1])
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
    q.add_argument("--force", action="store_true", help="replace an existing --json file")
    q.set_defaults(func=cmd_evaluate)

    q = sub.add_parser("demo", help="the built-in default: jammed network, allosteric task, frame design, FEM "
                       "correction and check, export")
    q.add_argument("--out", default="runs/demo")
    q.add_argument("--steps", type=int, default=DesignConfig.steps, help="Gauss-Newton steps per design phase")
    q.add_argument("--force", action="store_true")
    q.add_argument("--quiet", action="store_true")
    q.set_defaults(func=cmd_demo)

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
