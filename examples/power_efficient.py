"""Claim 4: power-efficient (regularised) coupled learning trades error for lower free-state energy.

Stern, Dillavou, Jayaraman, Durian, Liu, "Training self-learning circuits for power-efficient solutions",
APL Machine Learning 2, 016114 (2024): adding to coupled learning a term that descends the free state's
power (here: elastic energy) with weight ``reg`` finds solutions of lower power at the cost of a larger
error; for small ``reg`` the error grows about as ``reg^2`` (the penalty shifts the fixed point of
learning by an amount linear in ``reg``, and C is quadratic in that shift).

Here: a 2D jammed network (about 200 nodes), one random allosteric task with M = 1 target edge (rest
example included; with one target coupled learning alone drives C to ~0, so the floor that the
regulariser sets is measurable), stiffness and rest length learned, *harmonic* model, eta = 0.1. The learning rates are
calibrated once at reg = 0 and then fixed for every reg (so only the regulariser changes); every run
takes the same number of steps. Reported: the final error C/C_0 and the free-state elastic energy of
the actuated example, U_F, relative to the untrained network's, vs reg; and the exponent of a power-law
fit of the error's rise ``C(reg) - C(0)`` over the small-reg points. Run::

    python examples/power_efficient.py [--quick] [--out DIR]
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.equilibrium import respond
from mechclln.training import TrainConfig, train


M = 1   # one target: coupled learning alone drives C to ~0, so the regulariser's floor is measurable


def run(quick: bool = False) -> dict:
    n_nodes, regs, steps = ((100, (0.0, 0.01, 0.03, 0.1, 0.3), 60) if quick else
                            (200, (0.0,) + tuple(np.round(np.logspace(-4, 0, 9), 6)), 300))
    net = common.jammed(n_nodes)
    task = common.allosteric_task(net, M, seed=4)
    U0 = float(respond(net, task, "harmonic", check_rigidity=False).energy[1])
    base = TrainConfig(k_bounds=(0.1, 10.0), rule="power_efficient", model="harmonic", eta=0.1, reg=0.0, steps=steps, tol=1e-12,
                       report_cosine=False, checkpoint_every=0)
    ref = train(net, task, base, check_rigidity=False)
    base = replace(base, alpha_k=ref.alphas["k"], alpha_l=ref.alphas["l"])
    C, U = [], []
    for reg in regs:
        res = ref if reg == 0 else train(net, task, replace(base, reg=float(reg)), check_rigidity=False)
        C.append(float(res.history.C_rel[-1]))
        U.append(float(respond(res.network, task, "harmonic", check_rigidity=False).energy[1]) / U0)
    regs_a, C_a = np.array(regs), np.array(C)
    rise = C_a[1:] - C_a[0]
    small = (regs_a[1:] <= 0.1) & (rise > 0)
    slope = float(np.polyfit(np.log(regs_a[1:][small]), np.log(rise[small]), 1)[0]) if small.sum() >= 2 else None
    summary = {"reg": list(regs), "final_C_rel": C, "energy_rel": U, "fitted_exponent_small_reg": slope,
               "fit_points": int(small.sum())}
    return {"network": {"nodes": net.n_nodes, "edges": net.n_edges}, "model": "harmonic", "M": M,
            "steps": steps, "alphas": ref.alphas, "summary": summary}


def figure(data: dict):
    import matplotlib.pyplot as plt

    s = data["summary"]
    reg, C, U = np.array(s["reg"][1:]), np.array(s["final_C_rel"]), np.array(s["energy_rel"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.loglog(reg, C[1:], "o-", label="final C / C$_0$")
    a.axhline(C[0], color="gray", ls=":", label="reg = 0")
    if s["fitted_exponent_small_reg"] is not None:
        a.loglog(reg, C[0] + np.maximum(C[1:] - C[0], 1e-30), "s--", ms=3, color="C2",
                 label=f"C(reg) - C(0) + C(0); rise ~ reg$^{{{s['fitted_exponent_small_reg']:.2f}}}$")
    a.set_xlabel("regulariser weight reg")
    a.set_ylabel("final C / C$_0$")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    b.semilogx(reg, U[1:], "o-", color="C3", label="regularised")
    b.axhline(U[0], color="gray", ls=":", label="reg = 0")
    b.set_xlabel("regulariser weight reg")
    b.set_ylabel("free-state energy U$_F$ / U$_F$(untrained)")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.suptitle(f"Power-efficient coupled learning, jammed N = {data['network']['nodes']}, M = {data['M']}, "
                 f"{data['model']} model, {data['steps']} steps, rest example included")
    return fig


def main(argv=None) -> dict:
    return common.run_script("power_efficient", __doc__, run, figure, argv)


if __name__ == "__main__":
    main()
