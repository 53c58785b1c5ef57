"""Spread of the FEM target strains under print errors (strut widths, Young's modulus), by sampling.

Sampling uses the first-order (adjoint) sensitivity of the linear FEM model, so the one factorisation of
the fidelity check serves every sample. For a target strain ``eps_t = a_t . H u`` of the free state u
(sources imposed, pins fixed), the adjoint state v_t solves the same constrained problem with the target's
force pair as the load and the constraints homogeneous; then, for a modulus factor theta_e on strut e's
tagged cells, ``d eps_t / d theta_e = -t int_e sigma(u) : eps(v_t) dx``. A width error dw_e enters as
``theta_e = 1 + dw_e / w_e`` (axial stiffness E w t is linear in w; the w^3 bending part of a width error
is under-represented, as in :mod:`.finetune`), a per-strut modulus error dE_e/E as ``theta_e = 1 + dE_e/E``.
A uniform modulus error for the whole print scales K, every reaction and every source force by (1 + dE/E)
and leaves every strain of the linear, strain-driven model unchanged.

Errors are sampled independently per strut, uniform in [-0.1, +0.1] mm (width) and [-10 %, +10 %]
(modulus). Units: widths in mm, strains dimensionless.
"""
from __future__ import annotations

import numpy as np

from mechclln.task import task_error

from . import fields, solver


def mixed_strut_energies(pt, u_owned, v_owned, n_struts: int, factor=1.0) -> np.ndarray:
    """``t int_e sigma(u) : eps(v) dx`` per strut [mJ] (modulus scaled by ``factor``), by polarisation
    ``(U(u+v) - U(u-v)) / 2``."""
    plus = fields.strut_energies(pt, fields.function_of(pt, u_owned + v_owned), n_struts, factor)
    minus = fields.strut_energies(pt, fields.function_of(pt, u_owned - v_owned), n_struts, factor)
    return 0.5 * (plus - minus)


def modulus_sensitivity(lin, task, n_struts: int) -> np.ndarray:
    """``d eps / d theta`` (n_ex, T, E): target strains of the linear model ``lin`` (a
    :class:`.linear.LinearModel`) per relative modulus change theta_e of each strut."""
    from . import constraints
    pt = lin.part
    n_ex, T = task.target_strains.shape
    out = np.zeros((n_ex, T, n_struts))
    a_src, _, _ = constraints.pair_rows(pt, task.source_pairs)
    C = lin.fac.rows(np.vstack([lin.a_pin, a_src]))
    g0 = np.zeros(C.shape[0])
    a_tgt, _, _ = constraints.pair_rows(pt, task.target_pairs)
    adjoints, Y = [], None
    for t in range(T):
        f = lin.fac.rows(a_tgt[t:t + 1]).toarray().ravel()
        v, _, Y = solver.schur_solve(lin.fac, C, g0, lin.fac.solve(f), Y)
        adjoints.append(v)
    for ex in range(n_ex):
        s = task.source_strains[ex]
        if not np.any(s):
            continue                      # the rest example: u = 0, no sensitivity
        u = lin.solve(task.source_pairs, s).u
        for t, v in enumerate(adjoints):
            out[ex, t] = -mixed_strut_energies(pt, u, v, n_struts)
    return out


def sample_spread(eps0: np.ndarray, sens: np.ndarray, widths: np.ndarray, wanted: np.ndarray,
                  width_error: float = 0.1, modulus_error: float = 0.10, n_samples: int = 2000,
                  seed: int = 0) -> dict:
    """Sample print errors and return the spread of target strains and of the task error C.

    ``eps0`` (n_ex, T) nominal target strains, ``sens`` (n_ex, T, E) from :func:`modulus_sensitivity`,
    ``widths`` (E,) printed widths [mm], ``wanted`` (n_ex, T) desired strains. Each case samples the
    per-strut errors uniformly; the result gives, per example and target, the nominal value, standard
    deviation and 5/95 % quantiles, and the same for C.
    """
    rng = np.random.default_rng(seed)
    E = len(widths)
    cases = {"widths": rng.uniform(-width_error, width_error, (n_samples, E)) / widths,
             "modulus_per_strut": rng.uniform(-modulus_error, modulus_error, (n_samples, E))}
    out = {"method": "first-order adjoint sensitivity of the linear FEM (one factorisation), width error as "
                     "axial modulus factor 1 + dw/w; independent uniform errors per strut",
           "n_samples": n_samples, "width_error_mm": width_error, "modulus_error_rel": modulus_error,
           "uniform_modulus_error": "a modulus error common to the whole print leaves every target strain "
                                    "unchanged (linear, strain-driven) and scales the source forces by 1 + dE/E"}
    for name, theta in cases.items():
        eps = eps0[None] + np.einsum("nte,se->snt", sens, theta)
        C = np.array([task_error(e, wanted) for e in eps])
        q5, q95 = np.quantile(eps, [0.05, 0.95], axis=0)
        out[name] = {"target_strains_nominal": eps0, "target_strains_std": eps.std(axis=0),
                     "target_strains_q05": q5, "target_strains_q95": q95,
                     "C_nominal": task_error(eps0, wanted), "C_std": float(C.std()),
                     "C_q05": float(np.quantile(C, 0.05)), "C_q95": float(np.quantile(C, 0.95))}
    return out
