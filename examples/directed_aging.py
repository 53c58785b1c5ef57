"""Claim 5: directed aging does not reach arbitrary target strains where coupled learning does.

Stern et al., PRX 11, 021045 (2021), and the directed-aging work it builds on (Pashine, Hexner, Liu,
Nagel, Sci. Adv. 5, eaax4215 (2019)): a material that ages (its stiffnesses and rest lengths relax) while
held in the desired deformation acquires a response in that direction, but "directed aging generally
cannot train to complex desired target outputs"; coupled learning, which contrasts the clamped state
with the free state, can.

Here: a 2D jammed network (about 200 nodes), random allosteric tasks with M = 1, 3 and 10 target edges
(+-1 % for a 5 % source strain, random signs, rest example included), stiffness and rest length learned,
*harmonic* model. Directed aging ages in the fully clamped state (eta = 1: sources and targets at their
desired strains) only; coupled learning uses eta = 0.1. Both use the automatic learning rates of
:mod:`mechclln.training` and the same number of steps. Run::

    python examples/directed_aging.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.training import TrainConfig, train

RULES = {"coupled learning": "coupled", "directed aging": "directed_aging"}


def run(quick: bool = False) -> dict:
    n_nodes, Ms, seeds, steps = (100, (1, 3), (0,), 40) if quick else (200, (1, 3, 10), (0, 1), 150)
    net = common.jammed(n_nodes)
    curves, final = {}, {}
    for M in Ms:
        for s in seeds:
            task = common.allosteric_task(net, M, seed=1000 + 10 * M + s)
            for label, rule in RULES.items():
                cfg = TrainConfig(k_bounds=(0.1, 10.0), rule=rule, model="harmonic", eta=0.1, steps=steps, tol=1e-8,
                                  report_cosine=False, checkpoint_every=0)
                res = train(net, task, cfg, check_rigidity=False)
                curves[f"{label}, M={M}, task {s}"] = res.history.C_rel
                final.setdefault(label, {}).setdefault(M, []).append(float(res.history.C_rel[-1]))
    summary = {"final_C_rel_median": {lab: {M: float(np.median(v)) for M, v in d.items()}
                                      for lab, d in final.items()}}
    return {"network": {"nodes": net.n_nodes, "edges": net.n_edges}, "model": "harmonic", "Ms": list(Ms),
            "steps": steps, "curves": curves, "final_C_rel": final, "summary": summary}


def figure(data: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colors = dict(zip(data["Ms"], plt.cm.viridis(np.linspace(0, 0.85, len(data["Ms"])))))
    for key, c in data["curves"].items():
        label, M, task = key.split(", ")
        M = int(M[2:])
        ax.semilogy(c, color=colors[M], ls="-" if label == "coupled learning" else "--",
                    label=f"{label}, M = {M}" if task == "task 0" else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("C / C$_0$")
    ax.set_title(f"Directed aging (dashed) vs coupled learning (solid)\njammed N = {data['network']['nodes']}, "
                 f"k and l learned, {data['model']} model, rest example included", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def main(argv=None) -> dict:
    return common.run_script("directed_aging", __doc__, run, figure, argv)


if __name__ == "__main__":
    main()
