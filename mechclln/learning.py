"""Local learning rules, written once against a per-element energy interface.

An element model gives each edge an energy ``u_e(p_e; L_e)`` of its physical extension ``p_e`` and
learning parameters ``L_e``, and its gradient ``du_e/dL_e`` at fixed ``p``. The contrastive rule is then
the same for springs (L = k, l) and FEM struts (L = width)::

    coupled learning        dL = -(alpha/eta)  [du/dL(p_C) - du/dL(p_F)]    (clamped vs free state)
    equilibrium propagation dL = -(alpha/beta) [du/dL(p_B) - du/dL(p_F)]    (nudged vs free state)
    directed aging          dL = -alpha du/dL(p_C), p_C clamped at eta = 1
    power-efficient CL      coupled learning - alpha * reg * du/dL(p_F)

For a spring ``u = k/2 (p - l)^2``: ``du/dk = (p - l)^2 / 2`` and ``du/dl = -k (p - l)``, which gives
docs/core.md's ``dk = -(alpha/eta) 1/2 [(r_C - l)^2 - (r_F - l)^2]`` and ``dl = (alpha/eta) k (r_C - r_F)``.
"""
from __future__ import annotations

import numpy as np

RULES = ("coupled", "equilibrium_propagation", "directed_aging", "power_efficient", "gradient")


class SpringElements:
    """Central-force springs: parameters ``k`` (stiffness) and ``l`` (rest length) per edge."""

    names = ("k", "l")

    @staticmethod
    def energy(p: np.ndarray, params: dict) -> np.ndarray:
        return 0.5 * params["k"] * (p - params["l"]) ** 2

    @staticmethod
    def param_grad(p: np.ndarray, params: dict) -> dict:
        """du_e/dL_e at fixed extension p, per parameter name."""
        return {"k": 0.5 * (p - params["l"]) ** 2, "l": -params["k"] * (p - params["l"])}


def contrastive(elements, p_free, p_other, params: dict, scale: float) -> dict:
    """``-scale * [du/dL(p_other) - du/dL(p_free)]`` for every parameter (the learning rate not applied)."""
    g_o = elements.param_grad(p_other, params)
    g_f = elements.param_grad(p_free, params)
    return {name: -scale * (g_o[name] - g_f[name]) for name in elements.names}


def aging(elements, p_clamped, params: dict) -> dict:
    """Directed aging: the material relaxes its energy in the clamped (eta = 1) state, ``-du/dL(p_C)``."""
    g = elements.param_grad(p_clamped, params)
    return {name: -g[name] for name in elements.names}


def power_penalty(elements, p_free, params: dict, weight: float) -> dict:
    """The regulariser of power-efficient coupled learning, ``-weight * du/dL(p_F)``."""
    g = elements.param_grad(p_free, params)
    return {name: -weight * g[name] for name in elements.names}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")
