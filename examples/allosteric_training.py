"""Claim 1: coupled learning trains allosteric tasks; harder as the number of targets M grows.

Stern, Hexner, Rocks, Liu, "Supervised learning in physical networks: from machine learning to learning
machines", Phys. Rev. X 11, 021045 (2021): coupled learning trains random allosteric tasks on jammed
spring networks, the error falling by orders of magnitude for few targets and more slowly for many.

Here: a 2D jammed network (about 500 nodes), one source edge strained by 5 %, M = 1, 3, 10, 30 random
target edges asked for +-1 %, with the rest example (zero in, zero out). Coupled learning (eta = 0.1) of
stiffness only, rest length only, and both, in the *harmonic* model (the network starts unstressed, so
it is the exact linearisation), automatic learning rates of :mod:`mechclln.training`.

Expected from the physics: in the harmonic model a rest length enters only as an eigenstrain, so the
target strains are ``eps_T = A(k) eps_S + b(l)``: rest lengths can shift every example's outputs by the
same amount but never change the gain A. With the rest example (desired 0) and one actuated example
(desired t), l-only learning therefore stalls at the offset that splits the error between the two
examples, ``C / C_0 -> 1/2`` exactly (for any initial response and any M: the best offset is half the
actuated example's error). Without the rest example (the one-example tasks of the papers; dashed) rest
lengths alone can solve it, by pre-deforming the network, which a stress-free print would undo. Run::

    python examples/allosteric_training.py [--quick] [--out DIR]
"""
from __future__ import annotations

import time

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.training import TrainConfig, train

MODES = {"k only": ("k",), "l only": ("l",), "k and l": ("k", "l")}


def run(quick: bool = False) -> dict:
    """Train every (mode, M) and return the histories and final C/C_0."""
    n_nodes, Ms, steps = (100, (1, 3), 40) if quick else (500, (1, 3, 10, 30), 200)
    net = common.jammed(n_nodes)
    curves, final, seconds = {}, {}, {}
    for M in Ms:
        task = common.allosteric_task(net, M, seed=M)
        for name, learn in MODES.items():
            cfg = TrainConfig(k_bounds=(0.1, 10.0), model="harmonic", learn=learn, eta=0.1, steps=steps, tol=1e-8,
                              report_cosine=False, checkpoint_every=0)
            t0 = time.perf_counter()
            res = train(net, task, cfg)
            seconds[f"{name}, M={M}"] = time.perf_counter() - t0
            curves[f"{name}, M={M}"] = res.history.C_rel
            final.setdefault(name, {})[M] = float(res.history.C_rel[-1])
        no_rest = common.allosteric_task(net, M, seed=M, rest=False)   # the papers' one-example task
        res = train(net, no_rest, TrainConfig(k_bounds=(0.1, 10.0), model="harmonic", learn=("l",), eta=0.1, steps=steps, tol=1e-8,
                                              report_cosine=False, checkpoint_every=0))
        curves[f"l only without rest example, M={M}"] = res.history.C_rel
        final.setdefault("l only without rest example", {})[M] = float(res.history.C_rel[-1])
    return {"network": {"nodes": net.n_nodes, "edges": net.n_edges, "Z": 2 * net.n_edges / net.n_nodes},
            "model": "harmonic", "eta": 0.1, "steps": steps, "Ms": list(Ms), "curves": curves,
            "seconds": seconds, "summary": {"final_C_rel": final}}


def figure(data: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(data["Ms"])))
    for ax, name in zip(axes, MODES):
        for M, c in zip(data["Ms"], colors):
            ax.semilogy(data["curves"][f"{name}, M={M}"], color=c, label=f"M = {M}")
            if name == "l only":
                ax.semilogy(data["curves"][f"l only without rest example, M={M}"], color=c, ls="--",
                            label="no rest example" if M == data["Ms"][0] else None)
        ax.set_title(f"learn {name}")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("C / C$_0$")
    axes[0].legend()
    axes[1].legend(handles=axes[1].get_lines()[1:2], labels=["without rest example (all M)"])
    net = data["network"]
    fig.suptitle(f"Coupled learning of allosteric tasks, jammed network N = {net['nodes']}, "
                 f"Z = {net['Z']:.2f}, {data['model']} model, eta = {data['eta']}, rest example included")
    return fig


def main(argv=None) -> dict:
    return common.run_script("allosteric_training", __doc__, run, figure, argv)


if __name__ == "__main__":
    main()
