"""Claim 2: the fraction of random tasks that train to a set error falls with M/N (a capacity).

Rocks, Ronellenfitsch, Liu, Nagel, Katifori, "Limits of multifunctionality in tunable networks",
PNAS 116, 2506 (2019): the probability that a random multi-target task can be satisfied drops from 1 to 0
as the number of targets M grows, in a transition whose position scales with the network size (the
number of tunable edges), so curves for different N collapse against M/N (or M/edges).

Here: 2D jammed networks of about 100 and 200 nodes (500 would not fit the 10-minute budget), 8 random
allosteric tasks per point (one 5 % source strain, M targets asked for +-1 %, rest example included),
coupled learning (eta = 0.1) of stiffness and rest length, *harmonic* model, at most
``steps`` steps. A task counts as trained when C/C_0 <= ``SUCCESS`` (10 % RMS of the initial target
error). This is trainability within a fixed budget of steps, not the satisfiability the paper measures:
a task that would train in 1000 steps counts as a failure here. Run::

    python examples/capacity.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.training import TrainConfig, train

SUCCESS = 1e-2


def run(quick: bool = False) -> dict:
    sizes, ratios, n_tasks, steps = (((100,), (0.01, 0.1), 2, 60) if quick else
                                     ((100, 200), (0.01, 0.02, 0.03, 0.05, 0.08), 8, 300))
    frac, finals, Ms = {}, {}, {}
    nets = {}
    for n in sizes:
        net = common.jammed(n)
        nets[n] = {"nodes": net.n_nodes, "edges": net.n_edges}
        for rho in ratios:
            M = max(1, int(round(rho * net.n_nodes)))
            Ms.setdefault(n, []).append(M)
            cfg = TrainConfig(k_bounds=(0.1, 10.0), model="harmonic", learn=("k", "l"), eta=0.1, steps=steps, tol=SUCCESS,
                              report_cosine=False, checkpoint_every=0)
            c = [float(train(net, common.allosteric_task(net, M, seed=10_000 + 100 * M + s), cfg,
                             check_rigidity=False).history.C_rel[-1]) for s in range(n_tasks)]
            finals.setdefault(n, []).append(c)
            frac.setdefault(n, []).append(float(np.mean(np.array(c) <= SUCCESS)))
    summary = {"success_fraction": {n: dict(zip([f"{r:g}" for r in ratios], f)) for n, f in frac.items()},
               "median_final_C_rel": {n: dict(zip([f"{r:g}" for r in ratios], np.median(c, axis=1)))
                                      for n, c in finals.items()},
               "threshold_C_rel": SUCCESS, "steps": steps, "tasks_per_point": n_tasks}
    return {"networks": nets, "ratios": list(ratios), "Ms": Ms, "final_C_rel": finals, "model": "harmonic",
            "summary": summary}


def figure(data: dict):
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4))
    for n, f in data["summary"]["success_fraction"].items():
        net = data["networks"][n]
        Ms = np.array(data["Ms"][n])
        a.plot(Ms / net["nodes"], list(f.values()), "o-", label=f"N = {net['nodes']}")
        b.plot(Ms / net["edges"], list(f.values()), "o-", label=f"N = {net['nodes']}, {net['edges']} edges")
        fin = np.array(data["final_C_rel"][n])
        c.errorbar(Ms / net["nodes"], np.median(fin, axis=1),
                   yerr=[np.median(fin, axis=1) - fin.min(axis=1), fin.max(axis=1) - np.median(fin, axis=1)],
                   fmt="o-", capsize=3, label=f"N = {net['nodes']} (median, min-max)")
    a.set_xlabel("M / N (targets per node)")
    b.set_xlabel("M / edges")
    for ax in (a, b):
        ax.set_ylabel(f"fraction trained to C/C$_0$ <= {data['summary']['threshold_C_rel']:g}")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend()
    c.set_yscale("log")
    c.axhline(data["summary"]["threshold_C_rel"], color="gray", ls=":")
    c.set_xlabel("M / N (targets per node)")
    c.set_ylabel("final C / C$_0$")
    c.grid(alpha=0.3)
    c.legend()
    s = data["summary"]
    fig.suptitle(f"Capacity of coupled learning (k and l, {data['model']} model, {s['steps']} steps, "
                 f"{s['tasks_per_point']} random tasks per point, rest example included)")
    return fig


def main(argv=None) -> dict:
    return common.run_script("capacity", __doc__, run, figure, argv)


if __name__ == "__main__":
    main()
