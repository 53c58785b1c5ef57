"""The train stage: a trained run directory from a network and a task (``mechclln train``), and the
response of a saved network to a task (``mechclln evaluate``).

The run directory (:class:`~mechclln.rundir.Run`) is written atomically: core files, ``metrics.json``
(:class:`~mechclln.rundir.TrainReport`), ``checkpoint.npz`` and ``plots/`` (training curves, stiffness,
rest-length change, the response of the most actuated example, target strains).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from . import network as netio
from . import plots
from .equilibrium import require_unique, respond
from .errors import MechcllnError, fail
from .fileio import read_npz, refuse_existing, write_json
from .rundir import PLOTS, Run, TrainReport, check_fingerprint, interrupted
from .task import load_task, task_error
from .training import train


def train_run(net, task, cfg, out, force: bool = False, resume: bool = False, progress: bool = True,
              source: str = "network") -> TrainReport:
    """Train ``net`` on ``task`` with ``cfg`` (:class:`~mechclln.training.TrainConfig`) and write the run
    directory ``out``; ``resume`` continues from the checkpoint of a killed or finished run of ``out``.
    Refuses, before any work, stiffnesses outside ``cfg.k_bounds`` (training would clip them; ``source``
    names the network in the message), a network floppy as springs without ``cfg.tether``, and a resume
    whose checkpoint is for another network, task or config."""
    lo, hi = cfg.k_bounds
    bad = np.flatnonzero((net.k < lo) | (net.k > hi))
    if bad.size:
        raise fail(source, f"stiffness[{bad[0]}]", f"{net.k[bad[0]]:g} is outside the training bounds "
                   f"[{lo:g}, {hi:g}] ({bad.size} edges)", "rescale the stiffness or widen --k-min/--k-max")
    require_unique(net, cfg.tether)     # before staging: a refused network leaves no partial directory
    out = Path(out)
    run = Run(out)
    killed = interrupted(out)      # the staging folder of a killed or interrupted `train` of this out
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
            shutil.copy2(ckpt, tmp.checkpoint_file)
        t0 = time.perf_counter()
        res = train(net, task, cfg, progress=progress, checkpoint=tmp.checkpoint_file, resume=resume,
                    check_rigidity=False)     # checked above
        h = res.history
        timings = {"train_seconds": time.perf_counter() - t0, "steps": len(h.step),
                   "mean_step_seconds": float(np.mean(h.seconds)) if h.seconds else None,
                   "factorizations": h.factorizations[-1] if h.factorizations else 0}
        report = TrainReport.of(res, task, timings)
        tmp.save(net, res.network, task, report)
        _plot_run(tmp / PLOTS, net, res, task, cfg)
    return report


def _plot_run(folder: Path, net, res, task, cfg) -> None:
    """The run's figures in ``folder``."""
    plots.plot_training(res.history, folder / "training.png", f"{cfg.rule} ({'+'.join(cfg.learn)}), {cfg.model} model")
    plots.plot_parameter(res.network, res.network.k, folder / "stiffness.png", "stiffness k", task, width_by_k=True)
    dl = (res.network.l - net.l) / net.lengths()
    plots.plot_parameter(res.network, dl, folder / "rest_length_change.png", "change of rest length / r0", task,
                         cmap="coolwarm", symmetric=True)
    resp = respond(res.network, task, cfg.model, check_rigidity=False, tether=cfg.tether)
    ex = int(np.argmax(np.abs(task.source_strains).sum(1)))
    plots.plot_response(res.network, resp.x[ex], task, folder / "response.png", title=f"free response, example {ex}")
    plots.plot_targets(task.target_strains, res.target_strains, folder / "targets.png")


def evaluate(network_file, task_file, model: str = "both", json_file=None, force: bool = False,
             tether: float = 0.0):
    """({model: {target_strains (n_ex, T), source_forces, C}}, the task's desired target strains (n_ex, T))
    of the saved network on the task in the nonlinear and/or harmonic spring model (``model``: nonlinear,
    harmonic or both; ``tether``: as in training, for networks below isostatic); the dict is also written
    to ``json_file`` if given (refused before anything is read when it exists without ``force``)."""
    if json_file:
        refuse_existing(json_file, force)
    net = netio.load(network_file)
    task = load_task(task_file, net)
    out = {}
    for m in ("nonlinear", "harmonic") if model == "both" else (model,):
        r = respond(net, task, m, tether=tether)
        out[m] = {"target_strains": r.target_strains, "source_forces": r.source_forces,
                  "C": task_error(r.target_strains, task.target_strains)}
    if json_file:
        write_json(json_file, out)
    return out, task.target_strains
