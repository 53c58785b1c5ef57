"""Claim 3: coupled learning approximates gradient descent as the clamping eta -> 0.

Stern et al., PRX 11, 021045 (2021), Sec. III and Appendix: for small eta the coupled-learning update
tends to ``J^T G^-1 e`` (J = d eps_F / d theta, G = the targets' compliance matrix, e = eps_T - eps_F),
which for one target is parallel to the exact gradient ``-grad C``; for several targets it is a
compliance-weighted direction (docs/core.md), so its cosine with ``-grad C`` is reported, not
assumed. Here, on a 2D jammed network (about 200 nodes, *nonlinear* model, rest example included):

1. the cosine between the local coupled-learning update (k and l together) and the exact adjoint
   gradient, at the untrained network, against eta from 1 down to 1e-5, for M = 1, 3 and 10 targets
   (three random tasks each), over the stiffness update alone, the rest-length update alone, and both
   (the joint cosine is dominated by the rest lengths, whose update is first order in strain, while the
   stiffness update is second order);
2. training curves of coupled learning (eta = 0.1 and 1e-3) beside exact gradient descent on one M = 3
   task: learning rates from the same automatic first-step calibration, then held constant (the "bold
   driver" adaptation switched off so the three runs differ only in their update direction); harmonic
   model for speed.

Run::

    python examples/gradient_alignment.py [--quick] [--out DIR]
"""
from __future__ import annotations

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.equilibrium import free_states
from mechclln.learning import cosine
from mechclln.training import TrainConfig, Trainer, task_error, train

PARTS = ("k", "l", "k and l")


def alignment(net, task, eta: float, model: str = "nonlinear") -> dict:
    """cos(local coupled-learning update, -grad C) at the network's parameters: over k alone, l alone,
    and (k, l) together (the last is dominated by l, whose update is first order in strain)."""
    tr = Trainer(net, task, TrainConfig(k_bounds=(0.1, 10.0), rule="coupled", model=model, eta=eta), check_rigidity=False)
    states = free_states(tr.eq, tr.k, tr.l)
    _, _, gx = task_error(tr.eq, states)
    upd, grad, _ = tr.raw_update(states, gx)
    return {"k": cosine(upd["k"], -grad["k"]), "l": cosine(upd["l"], -grad["l"]),
            "k and l": cosine(np.r_[upd["k"], upd["l"]], -np.r_[grad["k"], grad["l"]])}


def run(quick: bool = False) -> dict:
    n_nodes, Ms, seeds, etas, steps = ((100, (1, 3), (0,), (1.0, 1e-1, 1e-3), 40) if quick else
                                       (200, (1, 3, 10), (0, 1, 2), tuple(10.0 ** -np.arange(6)), 150))
    net = common.jammed(n_nodes)
    cos = {}
    for M in Ms:
        for s in seeds:
            task = common.allosteric_task(net, M, seed=100 * M + s)
            al = [alignment(net, task, eta) for eta in etas]
            cos[f"M={M}, task {s}"] = {p: [a[p] for a in al] for p in PARTS}
    task = common.allosteric_task(net, 3, seed=7)
    curves = {}
    for label, rule, eta in (("coupled, eta = 0.1", "coupled", 0.1), ("coupled, eta = 1e-3", "coupled", 1e-3),
                             ("exact gradient descent", "gradient", 0.1)):
        cfg = TrainConfig(k_bounds=(0.1, 10.0), rule=rule, model="harmonic", eta=eta, steps=steps, tol=1e-8, checkpoint_every=0,
                          adapt_up=1.0, adapt_down=1.0)
        res = train(net, task, cfg, check_rigidity=False)
        curves[label] = {"C_rel": res.history.C_rel, "cosine": res.history.cosine}
    one = [c for key, c in cos.items() if key.startswith("M=1,")]
    eta_i = int(np.argmin(np.abs(np.log10(etas) + 3)))
    summary = {"cosine_one_target_eta_1e-3_min": {p: float(min(c[p][eta_i] for c in one)) for p in PARTS},
               "cosine_at_eta_1": {k: {p: v[p][0] for p in PARTS} for k, v in cos.items()},
               "cosine_at_smallest_eta": {k: {p: v[p][-1] for p in PARTS} for k, v in cos.items()},
               "final_C_rel": {k: v["C_rel"][-1] for k, v in curves.items()}}
    return {"network": {"nodes": net.n_nodes, "edges": net.n_edges}, "etas": list(etas),
            "alignment_model": "nonlinear", "curves_model": "harmonic", "cosine": cos, "curves": curves,
            "steps": steps, "summary": summary}


def figure(data: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    Ms = sorted({int(k.split(",")[0][2:]) for k in data["cosine"]})
    colors = dict(zip(Ms, plt.cm.viridis(np.linspace(0, 0.85, len(Ms)))))
    for a, part, ls in ((axes[0], "k", "-"), (axes[1], "l", "-")):
        for key, c in data["cosine"].items():
            M = int(key.split(",")[0][2:])
            a.semilogx(data["etas"], c[part], "o" + ls, color=colors[M], ms=3,
                       label=f"M = {M}" if key.endswith("task 0") else None)
        a.axhline(0.99, color="gray", ls=":", lw=1)
        a.set_xlabel("clamping eta")
        a.set_ylabel(f"cos(local {part} update, $-\\nabla_{part} C$)")
        a.set_title(f"{part} update vs exact gradient ({data['alignment_model']} model)", fontsize=10)
        a.legend()
        a.grid(alpha=0.3)
    b = axes[2]
    for label, cur in data["curves"].items():
        b.semilogy(cur["C_rel"], label=label)
    b.set_xlabel("training step")
    b.set_ylabel("C / C$_0$")
    b.set_title(f"M = 3 task, k and l learned, constant rates ({data['curves_model']} model)", fontsize=10)
    b.legend()
    b.grid(alpha=0.3)
    fig.suptitle(f"Coupled learning vs exact gradient, jammed network N = {data['network']['nodes']}")
    return fig


def main(argv=None) -> dict:
    return common.run_script("gradient_alignment", __doc__, run, figure, argv)


if __name__ == "__main__":
    main()
