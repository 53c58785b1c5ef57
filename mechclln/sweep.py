"""Ensemble sweeps: a grid of networks x sizes x tasks x rules from one spec file, each grid point a full
training run, run on local processes or MPI ranks, gathered into one table.

Spec (JSON or TOML; every key but ``networks`` optional)::

    {"networks": [{"kind": "lattice", "dim": 2}, {"kind": "jammed", "dim": 2, "z": 4.4}, {"kind": "peer"}],
     "sizes": [64, 100],                      # nodes (ignored by "peer": 64 nodes, 123 bonds)
     "tasks": {"targets": [1, 2, 4], "seeds": [0, 1, 2], "source_strain": 0.05, "target_strain": 0.05,
               "rest": true, "within": 16},          # targets within 16 length units of the source
                                                     # (:func:`mechclln.task.random_task`; default: anywhere)
     "rules": ["coupled"],
     "train": {"model": "harmonic", "learn": ["k", "l"], "steps": 200, "tol": 1e-3},
     "tether": 0.0}

Networks: ``lattice`` is :func:`mechclln.bench.bench_network` (perturbed triangular / cubic-diagonal),
``jammed`` :func:`mechclln.packing.jammed_network` (``z``: mean coordination), ``peer`` the issue-14
below-isostatic network and its own task (:func:`mechclln.bench.peer_network`; ``targets`` and the strains
do not apply). ``tether`` (units of k, see :class:`mechclln.equilibrium.Equilibria`) applies to every run.

Each grid point's result is one JSON file ``DIR/runs/<id>.json`` written atomically when its run ends, so a
crashed sweep rerun with the same command skips finished points; the table (``results.csv``,
``results.json``) and ``capacity.png`` are rebuilt from those files. Runs are deterministic: the table does
not depend on how the points were distributed (only the ``seconds`` column does).
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np

from .errors import MechcllnError, fail

NETWORK_KINDS = ("lattice", "jammed", "peer")
COLUMNS = ("id", "network", "dim", "size", "n_nodes", "n_edges", "targets", "seed", "rule", "status", "steps",
           "C_rel", "converged", "factorizations", "tether", "tether_energy_ratio", "seconds", "error")
TRAIN_KEYS = ("model", "learn", "steps", "tol", "eta", "alpha_k", "alpha_l", "k_bounds")


def load_spec(path) -> dict:
    """Read and validate a sweep spec (see module docstring); fills the defaults."""
    from .fileio import read_data

    raw = read_data(path)
    nets = raw.get("networks")
    if not isinstance(nets, list) or not nets:
        raise fail(path, "networks", "missing or empty", 'give a list such as [{"kind": "lattice", "dim": 2}]')
    for i, n in enumerate(nets):
        if not isinstance(n, dict) or n.get("kind") not in NETWORK_KINDS:
            raise fail(path, f"networks[{i}].kind", f"{n!r} is not a network", f"use one of {', '.join(NETWORK_KINDS)}")
        if n.get("dim", 2) not in (2, 3):
            raise fail(path, f"networks[{i}].dim", f"{n.get('dim')!r}", "use 2 or 3")
    tasks = {"targets": [3], "seeds": [0], "source_strain": 0.05, "target_strain": 0.05, "rest": True,
             "within": None, **raw.get("tasks", {})}
    train = {"model": "harmonic", "learn": ["k", "l"], "steps": 500, "tol": 1e-3, **raw.get("train", {})}
    bad = sorted(set(train) - set(TRAIN_KEYS))
    if bad:
        raise fail(path, f"train.{bad[0]}", "is not a training option here", f"use {', '.join(TRAIN_KEYS)}")
    spec = {"networks": nets, "sizes": [int(s) for s in raw.get("sizes", [100])], "tasks": tasks,
            "rules": list(raw.get("rules", ["coupled"])), "train": train, "tether": float(raw.get("tether", 0.0))}
    for key in ("targets", "seeds"):
        if not isinstance(tasks[key], list) or not tasks[key]:
            raise fail(path, f"tasks.{key}", f"{tasks[key]!r}", "give a non-empty list of integers")
    w = tasks["within"]
    if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0):
        raise fail(path, "tasks.within", f"{w!r}", "give a distance > 0 (length units of the network), or leave it "
                   "out for targets anywhere in the network")
    if not spec["tether"] >= 0:
        raise fail(path, "tether", f"{spec['tether']}", "give a stiffness >= 0 (units of k)")
    return spec


def grid(spec: dict) -> list[dict]:
    """Every grid point (network x size x targets x seed x rule) as a JSON-ready dict with its ``id``."""
    points = []
    for net, size, targets, seed, rule in itertools.product(spec["networks"], spec["sizes"],
                                                            spec["tasks"]["targets"], spec["tasks"]["seeds"],
                                                            spec["rules"]):
        if net["kind"] == "peer":
            size, targets = 64, 1
        p = {"network": net, "size": int(size), "targets": int(targets), "seed": int(seed), "rule": rule,
             "task": {k: spec["tasks"][k] for k in ("source_strain", "target_strain", "rest")}
             | ({} if spec["tasks"]["within"] is None else {"within": spec["tasks"]["within"]}),
             "train": spec["train"], "tether": spec["tether"]}
        p["id"] = hashlib.sha1(json.dumps(p, sort_keys=True).encode()).hexdigest()[:12]
        if p["id"] not in {q["id"] for q in points}:      # "peer" ignores sizes and targets
            points.append(p)
    return points


def build_point(p: dict):
    """The network and task of grid point ``p``."""
    from . import bench
    from .packing import jammed_network
    from .task import random_task

    n = p["network"]
    if n["kind"] == "peer":
        return bench.peer_network(seed=p["seed"])
    if n["kind"] == "lattice":
        net = bench.bench_network(p["size"], n.get("dim", 2), seed=p["seed"])
    else:
        net = jammed_network(p["size"], dim=n.get("dim", 2), z_target=n.get("z"), seed=p["seed"])
    t = p["task"]
    return net, random_task(net, n_targets=p["targets"], source_strain=t["source_strain"],
                            target_strain=t["target_strain"], seed=p["seed"], rest=t["rest"], within=t.get("within"))


def run_point(p: dict) -> dict:
    """Train grid point ``p`` to ``train.tol`` or ``train.steps``; one table row (errors are recorded, so
    that a point that cannot train is not rerun)."""
    from .training import TrainConfig, Trainer

    n = p["network"]
    row = {"id": p["id"], "network": n["kind"], "dim": n.get("dim", 2), "size": p["size"], "targets": p["targets"],
           "seed": p["seed"], "rule": p["rule"], "tether": p["tether"]}
    t0 = time.perf_counter()
    try:
        net, task = build_point(p)
        tr_cfg = dict(p["train"], learn=tuple(p["train"]["learn"]))
        if "k_bounds" in tr_cfg:
            tr_cfg["k_bounds"] = tuple(tr_cfg["k_bounds"])
        cfg = TrainConfig(rule=p["rule"], checkpoint_every=0, report_cosine=False, tether=p["tether"], **tr_cfg)
        tr = Trainer(net, task, cfg)
        while tr.step_index < cfg.steps and not tr.converged:
            tr.step()
        share = tr.eq.tether_share(list(tr.states), tr.k, tr.l)
        row.update(status="done", n_nodes=int(net.n_nodes), n_edges=int(net.n_edges), steps=tr.step_index,
                   C_rel=float(tr.history.C_rel[-1]), converged=bool(tr.converged),
                   factorizations=int(tr.eq.n_factorizations), tether_energy_ratio=share["energy_ratio"])
    except MechcllnError as exc:
        row.update(status="error", error=str(exc))
    row["seconds"] = time.perf_counter() - t0
    return row


def _result_path(out: Path, pid: str) -> Path:
    return out / "runs" / f"{pid}.json"


def _run_and_write(args) -> str:
    p, out = args
    from .fileio import write_json

    write_json(_result_path(Path(out), p["id"]), run_point(p))
    return p["id"]


def pending(points: list[dict], out: Path) -> list[dict]:
    """The points without a result file in ``out`` (finished points are never rerun)."""
    return [p for p in points if not _result_path(out, p["id"]).exists()]


def mpi_world():
    """mpi4py's COMM_WORLD when this process is one of several MPI ranks, else None (MPICH and Open MPI set
    these variables under mpirun)."""
    size = os.environ.get("PMI_SIZE") or os.environ.get("OMPI_COMM_WORLD_SIZE")
    if not size or int(size) < 2:
        return None
    try:
        import dolfinx_solver  # noqa: F401  (loads the wheel's MPI library before mpi4py)
    except ImportError:
        pass
    from mpi4py import MPI
    return MPI.COMM_WORLD


def run_sweep(spec: dict, out, jobs: int | None = None, log=print) -> list[dict] | None:
    """Run every pending grid point of ``spec`` into ``out`` and write the table (see module docstring).

    Under ``mpirun -n P`` rank r runs pending points r, r + P, ... (one process each) and rank 0 gathers;
    otherwise ``jobs`` local processes (default: all cores). Returns the table's rows (None on ranks > 0)."""
    from .fileio import write_json

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    points = grid(spec)
    comm = mpi_world()
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm else (0, 1)
    todo = pending(points, out)
    if rank == 0:
        write_json(out / "spec.json", spec)
        log(f"sweep: {len(points)} grid points, {len(points) - len(todo)} already finished, {len(todo)} to run "
            f"on {f'{size} MPI ranks' if comm else f'{jobs or os.cpu_count()} local processes'}")
    t0 = time.perf_counter()
    work = [(p, str(out)) for p in todo[rank::size]]
    if comm or (jobs or os.cpu_count()) == 1:
        for w in work:
            _run_and_write(w)
    else:
        import multiprocessing as mp

        # forkserver: workers fork from a single-threaded server, not from this (possibly threaded) process
        with mp.get_context("forkserver").Pool(jobs or os.cpu_count()) as pool:
            for _ in pool.imap_unordered(_run_and_write, work, chunksize=1):
                pass
    if comm:
        comm.Barrier()
        if rank:
            return None
    rows = gather(points, out)
    log(f"sweep: ran {len(todo)} points in {time.perf_counter() - t0:.1f} s; table of {len(rows)} rows in {out}")
    return rows


def gather(points: list[dict], out: Path) -> list[dict]:
    """Collect the result files of ``points`` (in grid order) into results.csv, results.json and
    capacity.png."""
    from .fileio import write_json, write_text

    rows = [json.loads(_result_path(out, p["id"]).read_text()) for p in points
            if _result_path(out, p["id"]).exists()]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    write_text(out / "results.csv", buf.getvalue())
    write_json(out / "results.json", {"columns": list(COLUMNS), "rows": rows})
    plot(rows, out / "capacity.png")
    return rows


def plot(rows: list[dict], path) -> None:
    """Capacity curve: the fraction of runs (over seeds) that reached ``train.tol`` (``converged``), and the
    median final C/C0, against the number of targets; one line per network, size and rule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (frac, med) = plt.subplots(1, 2, figsize=(11, 4.2))
    done = [r for r in rows if r["status"] == "done"]
    for key in sorted({(r["network"], r["dim"], r["size"], r["rule"]) for r in done}):
        sel = [r for r in done if (r["network"], r["dim"], r["size"], r["rule"]) == key]
        T = sorted({r["targets"] for r in sel})
        at = [[r for r in sel if r["targets"] == t] for t in T]
        label = f"{key[0]} {key[1]}D N={key[2]} {key[3]}"
        frac.plot(T, [np.mean([r["converged"] for r in a]) for a in at], "o-", label=label)
        med.semilogy(T, [np.median([max(r["C_rel"], 1e-16) for r in a]) for a in at], "o-", label=label)
    frac.set_ylabel("fraction of seeds reaching C/C0 <= tol")
    frac.set_ylim(-0.03, 1.03)
    med.set_ylabel("final C / C0 (median over seeds)")
    for ax in (frac, med):
        ax.set_xlabel("targets")
        ax.grid(True, which="both", alpha=0.3)
    if done:
        frac.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
