"""FIRE, the fast inertial relaxation engine: damped dynamics with unit masses that find a nearest energy
minimum from forces alone. The one minimiser of the project: the soft-sphere packing quench
(:mod:`mechclln.packing`) and the relaxation baseline of the benchmarks (``mechclln bench``) run it.

Each step measures the power ``P = F . v``. While ``P > 0`` the velocity is mixed towards the force,
``v <- (1 - alpha) v + alpha |v| F/|F|``, and after ``n_min`` such steps in a row the time step grows
(x1.1, up to ``dt_max``) and ``alpha`` shrinks (x0.99); when ``P <= 0`` the time step halves, the velocity
is zeroed and ``alpha`` is reset. Two published variants of the order of operations:

* ``"fire"`` (Bitzek et al., PRL 97, 170201, 2006): mix (only while ``P > 0``), then ``v += dt F``,
  ``x += dt v``;
* ``"fire2"`` (Guenole et al., Comput. Mater. Sci. 173, 109584, 2020, semi-implicit Euler): ``v += dt F``,
  then mix (every step), ``x += dt v``; when ``P <= 0`` the positions also move back half a step,
  ``x -= dt v / 2``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

VARIANTS = ("fire", "fire2")


def fire(x: np.ndarray, force: Callable, done: Callable, dt: float, dt_max: float, max_steps: int,
         variant: str = "fire", alpha0: float = 0.1, n_min: int = 5, project: Callable | None = None):
    """Relax ``x`` (any shape; moved in place) by FIRE; returns ``(x, steps, converged)``.

    ``force(x)``: the force (shape of ``x``) at ``x``; it may move ``x`` in place first (e.g. back onto
    constraints). ``done(x, f)``: True when converged. ``project(v)``: maps the velocity after each update
    (e.g. onto a constraint tangent space), or None. ``dt``: first time step, ``dt_max`` its cap."""
    if variant not in VARIANTS:
        raise ValueError(f"FIRE variant {variant!r} is unknown; choose one of {', '.join(VARIANTS)}")
    v = np.zeros_like(x)
    alpha, n_pos = alpha0, 0
    for step in range(max_steps):
        f = force(x)
        if done(x, f):
            return x, step, True
        if np.sum(f * v) > 0:  # plain sums, not BLAS: BLAS threads cost more than they give here
            if variant == "fire":
                v = (1 - alpha) * v + alpha * np.sqrt(np.sum(v * v) / np.sum(f * f)) * f
            n_pos += 1
            if n_pos > n_min:
                dt, alpha = min(1.1 * dt, dt_max), 0.99 * alpha
        else:
            dt, alpha, n_pos = 0.5 * dt, alpha0, 0
            if variant == "fire2":
                x -= 0.5 * dt * v
            v[:] = 0
        v += dt * f
        if variant == "fire2":
            v = (1 - alpha) * v + alpha * np.sqrt(np.sum(v * v) / np.sum(f * f)) * f
        if project is not None:
            v = project(v)
        x += dt * v
    return x, max_steps, False
