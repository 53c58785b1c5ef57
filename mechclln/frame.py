"""Frame model of a printed strut part: rigid hubs joined by Timoshenko struts (docs/frame.md).

Units are the part's: mm, N, MPa. A hub is a rigid disc (2D) or ball (3D) of radius ``R`` at node ``i``
with dofs ``(u_x, u_y, theta)`` (2D) or ``(u_x, u_y, u_z, theta_x, theta_y, theta_z)`` (3D, a rotation
vector: infinitesimal in the linear model, finite in the corotational one). Strut ``e`` of width ``w_e``
(2D: a ``w x t`` rectangle bending in the sheet's plane; 3D: round, ``w`` = diameter) runs from hub edge
to hub edge: its ends sit where its sides meet the hub circle, at the rigid offset ``a = sqrt(R^2 - w^2/4)``
from each centre, so its free length is ``L_f = L - a_1 - a_2``. Optionally (3D, ``fused_ends``) an end's
offset is also at least where the strut's surface leaves its neighbours' (struts meeting at small angles
stay fused beyond the hub sphere; :meth:`Frame.end_offsets`), so it depends on the neighbours' widths too;
measured against FEM it moves the frame further off (docs/frame3d.md), so it is off by default. A strut of
width 0 is removed: no element, never a soft stand-in.

Each strut's energy is that of a Timoshenko beam in its natural deformations: the extension of its chord
``p_a = l - L_f`` and its end rotations relative to the chord ``phi_1, phi_2`` (3D: about two axes, plus
the twist)::

    u_e = EA/(2 L_f) p_a^2 + 1/2 [phi_1 phi_2] Kb [phi_1 phi_2]^T  (+ GJ/(2 L_f) twist^2 in 3D),
    Kb  = EI / (L_f (1 + Phi)) [[4 + Phi, 2 - Phi], [2 - Phi, 4 + Phi]],   Phi = 12 EI / (kappa G A L_f^2)

(shear coefficient kappa = 5/6 for the rectangle, 6(1+nu)/(7+6nu) for the circle). The *linear* model
linearises the natural deformations about the printed, stress-free positions; the *corotational* model
uses them at finite motion: hubs turn by finite angles (3D: rotation vectors, Rodrigues), the chord's length
and direction are the current ones (3D end rotations relative to the chord enter as sines, exact for rigid
motion and to second order in the strut's own rotations).
Tangent stiffnesses come from the analytic end forces by the complex step, and so do all derivatives with
respect to the widths (the element is analytic in its width and its two end offsets; the offsets' width
derivatives are closed forms, chained in): exact to round-off, no finite differences.

Inputs and outputs mean what they mean for the springs and for FEM: a pair's strain is the change of its
hub-centre distance over the printed distance (linear: ``b . (u_j - u_i) / r0``; corotational:
``|x_j + u_j - x_i - u_i| / r0 - 1``), imposed by Lagrange multipliers; a pin fixes a hub's translation
and leaves its rotation free; rigid motion the pins leave free is removed by zero-mean constraints.

Optional semi-rigid joints (2D, :class:`JointCompliance`): each strut end gets an axial compliance ``c_a``
[mm/N] and a rotational one ``c_r`` [1/(N mm)] in series with the strut, ``K_l_eff = (K_l^-1 + C_j)^-1``,
``C_j = diag(2 c_a, c_r, c_r)`` in (axial, phi_1, phi_2): the root compliance of a strut whose stress
spreads into an elastic hub (docs/frame_joints.md). ``Frame(...)`` is rigid unless given joints; the frame
of a part (:meth:`Frame.of_part`, and the design's) uses the calibrated :data:`FEM_JOINTS` for sheets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from . import gauge
from .errors import MechcllnError

H_CS = 1e-30          # complex-step size: derivatives exact to round-off (no subtraction)


@dataclass(frozen=True, eq=False)
class FrameState:
    """One equilibrium: hub dofs ``q`` (N, 3) in 2D or (N, 6) in 3D [mm, rad], the multipliers ``lam`` of
    its constraint rows (pins, gauge, then pairs: ``-lam_pair / r0`` is a pair's tension [N]) and the
    imposed pairs with their strains; ``kkt`` is the factored KKT matrix at the state (for adjoints)."""

    q: np.ndarray
    lam: np.ndarray
    pairs: np.ndarray
    strains: np.ndarray
    linear: bool
    kkt: object = None
    iterations: int = 0

    @property
    def u(self) -> np.ndarray:
        """Hub-centre displacements (N, d) [mm]."""
        return self.q[:, : (2 if self.q.shape[1] == 3 else 3)]


def _perp(v):
    """2D vectors turned by +90 degrees (the derivative of a rotation at angle 0)."""
    return np.stack([-v[..., 1], v[..., 0]], axis=-1)


def _dot(a, b):
    return np.einsum("...d,...d->...", a, b)


def _row(v, D):
    """``v^T D`` per strut: (m, 3) vectors times (m, 3, k) derivatives."""
    return np.einsum("ma,mak->mk", v, D)


def _skew(v):
    """(m, 3, 3) matrices with ``skew(v) t = v x t``."""
    s = np.zeros(v.shape[:-1] + (3, 3), dtype=v.dtype)
    s[..., 0, 1], s[..., 0, 2], s[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    return s - np.swapaxes(s, -1, -2)


def _rotation_coefficients(s):
    """``sin r / r, (1 - cos r) / r^2, (r - sin r) / r^3`` of ``r^2 = s``, analytic in s (complex ok): their
    Taylor series below s = 1 (exact to round-off, no cancellation as r -> 0), closed forms above."""
    small = s.real < 1.0
    r = np.sqrt(np.where(small, 1.0, s))
    A = np.sin(r) / r
    closed = (A, (1 - np.cos(r)) / r ** 2, (1 - A) / r ** 2)
    series = [sum((-s) ** k / math.factorial(2 * k + 1 + c) for k in range(11)) for c in range(3)]
    return tuple(np.where(small, lo, hi) for lo, hi in zip(series, closed))


def _rotated_triad(theta, *vectors):
    """``R(theta) v`` and ``d(R v)/d theta = -skew(R v) J(theta)`` (m, 3, 3) of each of ``vectors`` (m, 3),
    for rotation vectors ``theta`` (m, 3) [rad] (Rodrigues; J is the rotation's left Jacobian)."""
    A, B, C = _rotation_coefficients(_dot(theta, theta))
    S = _skew(theta)
    J = np.eye(3) + B[:, None, None] * S + C[:, None, None] * (S @ S)
    out, ders = [], []
    for v in vectors:
        tv = np.cross(theta, v)
        Rv = v + A[:, None] * tv + B[:, None] * np.cross(theta, tv)
        out.append(Rv)
        ders.append(-_skew(Rv) @ J)
    return (*out, *ders)


@dataclass(frozen=True)
class JointCompliance:
    """Root compliances of a strut end in a 2D sheet: ``c_a = alpha_a(w/R) / (E t)`` [mm/N] and
    ``c_r = alpha_r(w/R) / (E t w^2)`` [1/(N mm)], each ``alpha(s) = c0 + c1 s + c2 ln s`` (dimensionless;
    :data:`FEM_JOINTS` is the fit to linear FEM of benchmarks/joint_calibration.py)."""

    alpha_a: tuple[float, float, float]
    alpha_r: tuple[float, float, float]

    def alphas(self, s):
        """(alpha_a, alpha_r) at width over hub radius ``s`` (complex ok)."""
        return tuple(c[0] + c[1] * s + c[2] * np.log(s) for c in (self.alpha_a, self.alpha_r))

    def compliances(self, w, E, t: float, R: float):
        """(c_a, c_r) of struts of width ``w`` [mm] (complex ok), modulus ``E`` [MPa], thickness ``t`` and
        hub radius ``R`` [mm]."""
        aa, ar = self.alphas(w / R)
        return aa / (E * t), ar / (E * t * w ** 2)


FEM_JOINTS = JointCompliance((0.7116, -0.04678, -0.5929), (7.194, -2.725, 1.274))
"""Fit to linear FEM coupons (tpu95a sheet, t = 3 mm, R = 2.4 mm, w = 0.8-3.2 mm; docs/frame_joints.md)."""


def default_joints(dim: int) -> JointCompliance | None:
    """The joints a part's frame uses by default: calibrated semi-rigid ones for sheets, rigid in 3D."""
    return FEM_JOINTS if dim == 2 else None


class Frame:
    """Rigid hubs at ``x`` (N, d) [mm] joined by struts ``edges`` (E, 2) of Young's modulus ``E`` [MPa] and
    Poisson ratio ``nu``, hubs of radius ``R`` [mm]; ``thickness`` [mm] of a 2D sheet (None in 3D: round
    struts); ``pinned`` node ids (translation fixed, rotation free); ``joints``: semi-rigid strut ends (2D
    only; None: rigid); ``fused_ends`` (3D only): end offsets out to where neighbouring struts part
    (:meth:`end_offsets`)."""

    def __init__(self, x, edges, E: float, nu: float, R: float, thickness: float | None = None, pinned=(),
                 joints: JointCompliance | None = None, fused_ends: bool = False):
        self.x = np.asarray(x, float)
        self.edges = np.asarray(edges, np.int64).reshape(-1, 2)
        self.dim = self.x.shape[1] if self.x.ndim == 2 else 0
        if self.dim not in (2, 3):
            raise MechcllnError(f"frame: positions must be (N, 2) or (N, 3), got shape {self.x.shape}")
        if self.dim == 2 and not (thickness is not None and thickness > 0):
            raise MechcllnError("frame: a 2D sheet needs a thickness > 0 mm")
        if not (E > 0 and -1 < nu < 0.5 and R > 0):
            raise MechcllnError(f"frame: need E > 0, -1 < nu < 0.5 and R > 0, got E={E}, nu={nu}, R={R}")
        if joints is not None and self.dim != 2:
            raise MechcllnError("frame: semi-rigid joints are calibrated for 2D sheets only")
        if fused_ends and self.dim != 3:
            raise MechcllnError("frame: fused strut ends are a 3D option (2D sheets use calibrated joints)")
        self.E, self.nu, self.R, self.t = float(E), float(nu), float(R), thickness
        self.joints = joints
        self.modulus_factor = np.ones(len(np.asarray(edges).reshape(-1, 2)))   # per-strut E / E (print scatter)
        self.G = self.E / (2 * (1 + self.nu))
        self.nd = 3 if self.dim == 2 else 6                  # dofs per hub
        self.n = len(self.x)
        self.ndof = self.n * self.nd
        self.pinned = np.unique(np.asarray(pinned, np.int64).ravel())
        d = self.x[self.edges[:, 1]] - self.x[self.edges[:, 0]]
        self.L = np.linalg.norm(d, axis=1)
        if np.any(self.L <= 2 * self.R):
            bad = int(np.argmax(self.L <= 2 * self.R))
            raise MechcllnError(f"frame: hubs of radius {R} mm overlap along strut {bad} (length {self.L[bad]:.3g} mm)")
        self.e0 = d / self.L[:, None]
        if self.dim == 3:   # two unit vectors perpendicular to each axis: the bending planes
            helper = np.where(np.abs(self.e0[:, [0]]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
            n1 = np.cross(self.e0, helper)
            self.n1 = n1 / np.linalg.norm(n1, axis=1)[:, None]
            self.n2 = np.cross(self.e0, self.n1)
        self._end_pairs = self._neighbour_ends() if fused_ends else None
        dofs = np.arange(self.ndof).reshape(self.n, self.nd)
        self.edofs = np.concatenate([dofs[self.edges[:, 0]], dofs[self.edges[:, 1]]], axis=1)   # (E, 2 nd)
        self._fixed = self._fixed_rows()

    @classmethod
    def of_part(cls, part, pinned=None, joints: JointCompliance | None | str = "fem") -> "Frame":
        """The frame of a geometry part (:class:`mechclln.geometry.part.Part`: mm, its material and hubs).

        ``joints``: ``"fem"`` (default) the calibrated semi-rigid joints :data:`FEM_JOINTS` for sheets and
        rigid joints in 3D; None: rigid; or a :class:`JointCompliance`."""
        m = part.material
        return cls(part.nodes, part.edges, m.youngs_modulus, m.poisson_ratio, part.hub_radius,
                   part.thickness if part.dim == 2 else None, part.pinned if pinned is None else pinned,
                   default_joints(part.dim) if joints == "fem" else joints)

    # --------------------------------------------------------------------------- end offsets
    def _neighbour_ends(self):
        """Ordered pairs of strut ends sharing a hub, not collinear: (end slot 2e+s, strut e, strut f,
        cos phi, sin phi) with phi the angle between the two struts' axes leaving the hub."""
        ends = np.concatenate([self.edges[:, 0], self.edges[:, 1]])
        axes = np.concatenate([self.e0, -self.e0])
        slot = np.concatenate([2 * np.arange(len(self.edges)), 2 * np.arange(len(self.edges)) + 1])
        i, j = np.nonzero((ends[:, None] == ends[None, :]) & (slot[:, None] // 2 != slot[None, :] // 2))
        c = np.clip(_dot(axes[i], axes[j]), -1.0, 1.0)
        sn = np.sqrt(1 - c * c)
        keep = sn > 1e-9
        return slot[i][keep], slot[i][keep] // 2, slot[j][keep] // 2, c[keep], sn[keep]

    def end_offsets(self, w, jacobian: bool = False):
        """Rigid end offsets ``a`` (E, 2) [mm] of the struts' ends at hubs ``edges[:, 0], edges[:, 1]`` for
        widths ``w`` (E,) [mm] (complex ok); with ``jacobian`` also ``da/dw`` (2E, E) (sparse, real part).

        Every end sits at least where the strut's surface leaves the hub sphere, ``sqrt(R^2 - r^2)``,
        ``r = w/2``. With ``fused_ends`` (3D) also where it leaves each present neighbour's (w > 0) at that
        hub: struts ``i, j`` of radii ``r_i, r_j`` leave the hub centre at angle ``phi``. The cross-section
        of ``i`` at ``s`` along its axis comes nearest to ``j``'s axis on the generator facing ``j``, at
        distance ``s sin(phi) - r_i cos(phi)``, so it meets strut ``j`` up to the crotch where that generator
        leaves ``j``'s surface::

            s_ij = (r_j + r_i cos(phi)) / sin(phi)

        (``s_ji`` likewise; the pair counts where both are > 0: the crotch in front of the hub on both
        struts). ``a`` is the largest candidate by real part: each candidate is analytic in the widths, so
        ``a`` is too away from ties, where its derivative is the active candidate's."""
        w = np.asarray(w)
        E = len(self.edges)
        a = np.repeat(np.sqrt(self.R ** 2 - w ** 2 / 4)[:, None], 2, axis=1).reshape(-1)
        d_own = np.repeat(-w.real / (4 * a[::2].real), 2)          # d a / d (the end's own width)
        nb_slot, nb_width, d_nb = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        if self._end_pairs is not None:
            slot, e, f, c, sn = self._end_pairs
            s_ef, s_fe = (w[f] + w[e] * c) / (2 * sn), (w[e] + w[f] * c) / (2 * sn)
            ok = np.flatnonzero((w[f].real > 0) & (s_ef.real > 0) & (s_fe.real > 0))
            order = ok[np.lexsort((s_ef[ok].real, slot[ok]))]
            best = order[np.diff(slot[order], append=-1) != 0]          # each end's largest crotch
            won = best[s_ef[best].real > a[slot[best]].real]
            a = a.copy()
            a[slot[won]], d_own[slot[won]] = s_ef[won], c[won] / (2 * sn[won])
            nb_slot, nb_width, d_nb = slot[won], f[won], 1 / (2 * sn[won])
        if not jacobian:
            return a.reshape(E, 2)
        rows = np.concatenate([np.arange(2 * E), nb_slot])
        cols = np.concatenate([np.repeat(np.arange(E), 2), nb_width])
        return a.reshape(E, 2), sp.csr_matrix((np.concatenate([d_own, d_nb]), (rows, cols)), shape=(2 * E, E))

    # --------------------------------------------------------------------------- one element
    def section(self, w, a=None):
        """(EA, EI, GJ, kappa G A, end offsets a (m, 2), free length L_f) of the present struts of width ``w``
        (complex ok); ``a`` defaults to the offsets :meth:`_use` found for the present widths."""
        if self.dim == 2:
            A, I, J, kappa = w * self.t, self.t * w ** 3 / 12, 0 * w, 5.0 / 6.0
        else:
            A, I = np.pi * w ** 2 / 4, np.pi * w ** 4 / 64
            J, kappa = 2 * I, 6 * (1 + self.nu) / (7 + 6 * self.nu)
        a = self._a if a is None else a
        f = self.modulus_factor[self._idx]
        return f * self.E * A, f * self.E * I, f * self.G * J, f * kappa * self.G * A, a, self._L - a[:, 0] - a[:, 1]

    def _stiffness(self, w, a):
        """Natural stiffnesses (axial, twist, bending k11, k12) of struts of width ``w``; with joints the
        strut in series with its two ends' compliances (bending: on the symmetric and antisymmetric end
        rotations, the eigenvectors of both the 2 x 2 bending block and ``c_r I``)."""
        EA, EI, GJ, GAs, _, Lf = self.section(w, a)
        phi = 12 * EI / (GAs * Lf ** 2)
        c = EI / (Lf * (1 + phi))
        ka, k11, k12 = EA / Lf, c * (4 + phi), c * (2 - phi)
        if self.joints is None:
            return ka, GJ / Lf, k11, k12
        ca, cr = self.joints.compliances(w, self.modulus_factor[self._idx] * self.E, self.t, self.R)
        ks, kd = 1 / (1 / (k11 + k12) + cr), 1 / (1 / (k11 - k12) + cr)
        return 1 / (1 / ka + 2 * ca), GJ / Lf, (ks + kd) / 2, (ks - kd) / 2

    def _natural(self, qe, w, a, linear: bool):
        """Natural deformations p (m, k) of struts ``self._idx`` with end dofs ``qe`` (m, 2 nd), and their
        first derivatives dp/dq (m, k, 2 nd), with end offsets ``a`` (m, 2). 2D: (axial, phi_1, phi_2); 3D:
        (axial, twist, phi_1a, phi_2a, phi_1b, phi_2b)."""
        _, _, _, _, a, Lf = self.section(w, a)
        e0 = self._e0
        if self.dim == 3:
            if not linear:
                return self._corotational3(qe, a, Lf)
            D = self._map3(a, Lf)
            return np.einsum("mkc,mc->mk", D, qe), D
        ui, uj, ti, tj = qe[:, 0:2], qe[:, 3:5], qe[:, 2], qe[:, 5]
        if linear:
            ri, rj = a[:, [0]] * e0, -a[:, [1]] * e0
            e, l = e0, Lf
            axial = _dot(e0, uj - ui)
            alpha = _dot(_perp(e0), uj - ui + tj[:, None] * _perp(rj) - ti[:, None] * _perp(ri)) / Lf
        else:
            rot = lambda t, v: np.stack([np.cos(t) * v[:, 0] - np.sin(t) * v[:, 1],  # noqa: E731
                                         np.sin(t) * v[:, 0] + np.cos(t) * v[:, 1]], axis=1)
            ri, rj = rot(ti, a[:, [0]] * e0), rot(tj, -a[:, [1]] * e0)
            d = self._L[:, None] * e0 + (uj - ui) + rj - ri          # chord from strut end i to end j
            l = np.sqrt(_dot(d, d))
            e = d / l[:, None]
            s, c = _dot(_perp(e0), e), _dot(e0, e)
            alpha = 2 * np.arctan(s / (1 + c))                         # chord rotation (|alpha| < pi)
            axial = l - Lf
        p = np.stack([axial, ti - alpha, tj - alpha], axis=1)
        z = _perp(e) / l[:, None]                                      # d alpha / d chord
        dd_ti, dd_tj = -_perp(ri), _perp(rj)                           # d chord / d theta at the ends
        dp = np.zeros((len(qe), 3, 6), dtype=p.dtype)
        dp[:, 0, 0:2], dp[:, 0, 3:5], dp[:, 0, 2], dp[:, 0, 5] = -e, e, _dot(e, dd_ti), _dot(e, dd_tj)
        da = np.zeros((len(qe), 6), dtype=p.dtype)
        da[:, 0:2], da[:, 3:5], da[:, 2], da[:, 5] = -z, z, _dot(z, dd_ti), _dot(z, dd_tj)
        dp[:, 1], dp[:, 2] = -da, -da
        dp[:, 1, 2] += 1
        dp[:, 2, 5] += 1
        return p, dp

    def _map3(self, a, Lf):
        """dp/dq (m, 6, 12) of the linear 3D natural deformations (they are linear in q), end offsets a (m, 2)."""
        e0, n1, n2 = self._e0, self.n1[self._idx], self.n2[self._idx]
        m = len(e0)
        eye = np.broadcast_to(np.eye(3), (m, 3, 3))
        sk = _skew(e0)
        # chord change du = u_j - u_i - (a_1 theta_i + a_2 theta_j) x e0
        #                 = u_j - u_i + skew(e0) (a_1 theta_i + a_2 theta_j)
        Ddu = np.concatenate([-eye, a[:, 0, None, None] * sk, eye, a[:, 1, None, None] * sk], axis=2)
        Dom = np.einsum("mab,mbk->mak", sk, Ddu) / Lf[:, None, None]     # chord rotation e0 x du / L_f
        Dti = np.concatenate([np.zeros((m, 3, 3)), eye, np.zeros((m, 3, 6))], axis=2)
        Dtj = np.concatenate([np.zeros((m, 3, 9)), eye], axis=2)
        return np.stack([_row(e0, Ddu), _row(e0, Dtj - Dti), _row(n1, Dti - Dom), _row(n1, Dtj - Dom),
                         _row(n2, Dti - Dom), _row(n2, Dtj - Dom)], axis=1)

    def _corotational3(self, qe, a, Lf):
        """Natural deformations p (m, 6) and dp/dq (m, 6, 12) of 3D struts at finite hub rotations.

        Hub ``h`` turns by ``R_h = R(theta_h)``; its end triad is ``t, m, k = R_h (e0, n1, n2)``; the chord
        ``d = L e0 + u_j - u_i - a_1 t_i - a_2 t_j`` has length ``l`` and direction ``e``. Then p = (l - L_f,
        twist ``(k_i.m_j - m_i.k_j)/2``, ``e.k_i``, ``e.k_j``, ``-e.m_i``, ``-e.m_j``): sines of the end
        rotations relative to the chord, invariant under a rigid rotation of the strut and equal to
        :meth:`_map3`'s linear deformations to first order."""
        e0, n1, n2 = self._e0, self.n1[self._idx], self.n2[self._idx]
        ti, mi, ki, Dti, Dmi, Dki = _rotated_triad(qe[:, 3:6], e0, n1, n2)
        tj, mj, kj, Dtj, Dmj, Dkj = _rotated_triad(qe[:, 9:12], e0, n1, n2)
        d = self._L[:, None] * e0 + qe[:, 6:9] - qe[:, 0:3] - a[:, [0]] * ti - a[:, [1]] * tj
        l = np.sqrt(_dot(d, d))
        e = d / l[:, None]
        m = len(qe)
        eye = np.broadcast_to(np.eye(3), (m, 3, 3))
        zero = np.zeros((m, 3, 3), dtype=d.dtype)
        Dd = np.concatenate([-eye, -a[:, 0, None, None] * Dti, eye, -a[:, 1, None, None] * Dtj], axis=2)
        De = np.einsum("mab,mbk->mak", eye - e[:, :, None] * e[:, None, :], Dd) / l[:, None, None]
        at_i = lambda D: np.concatenate([zero, D, zero, zero], axis=2)  # noqa: E731
        at_j = lambda D: np.concatenate([zero, zero, zero, D], axis=2)  # noqa: E731
        p = np.stack([l - Lf, (_dot(ki, mj) - _dot(mi, kj)) / 2, _dot(e, ki), _dot(e, kj),
                      -_dot(e, mi), -_dot(e, mj)], axis=1)
        dtwist = (_row(mj, at_i(Dki)) + _row(ki, at_j(Dmj)) - _row(kj, at_i(Dmi)) - _row(mi, at_j(Dkj))) / 2
        dp = np.stack([_row(e, Dd), dtwist, _row(ki, De) + _row(e, at_i(Dki)), _row(kj, De) + _row(e, at_j(Dkj)),
                       -_row(mi, De) - _row(e, at_i(Dmi)), -_row(mj, De) - _row(e, at_j(Dmj))], axis=1)
        return p, dp

    def _generalised(self, p, w, a):
        """Natural forces K_l p (axial force, moments, torque) of natural deformations p."""
        ka, kt, k11, k12 = self._stiffness(w, a)
        if self.dim == 2:
            return np.stack([ka * p[:, 0], k11 * p[:, 1] + k12 * p[:, 2], k12 * p[:, 1] + k11 * p[:, 2]], 1)
        return np.stack([ka * p[:, 0], kt * p[:, 1], k11 * p[:, 2] + k12 * p[:, 3], k12 * p[:, 2] + k11 * p[:, 3],
                         k11 * p[:, 4] + k12 * p[:, 5], k12 * p[:, 4] + k11 * p[:, 5]], 1)

    def _element_energy(self, qe, w, linear, a=None):
        p, _ = self._natural(qe, w, a, linear)
        return 0.5 * np.sum(p * self._generalised(p, w, a), axis=1)

    def _element_forces(self, qe, w, linear, a=None):
        p, dp = self._natural(qe, w, a, linear)
        return np.einsum("mkc,mk->mc", dp, self._generalised(p, w, a))

    def _width_derivative(self, element_fn, qe, we, linear, weights):
        """``d/dw`` (S, E) of ``sum_e weights_se . element_fn_e`` with ``weights`` (S, m[, c]) at fixed end
        dofs: the complex step in each present strut's own width and in its two end offsets, the offsets'
        width Jacobian chained in (with ``fused_ends`` a strut's offsets depend on its neighbours' widths)."""
        m = len(we)
        wts = np.reshape(weights, (len(weights), m, -1))
        dot = lambda val: np.einsum("smc,mc->sm", wts, val.imag.reshape(m, -1) / H_CS)  # noqa: E731
        own = dot(element_fn(qe, we + 1j * H_CS, linear))
        d_a = np.empty(own.shape + (2,))
        for s in (0, 1):
            a = self._a.astype(complex)
            a[:, s] += 1j * H_CS
            d_a[..., s] = dot(element_fn(qe, we, linear, a))
        out = np.zeros((len(own), len(self.edges)))
        out[:, self._idx] = own
        J = self.end_offsets(self._w, jacobian=True)[1][(2 * self._idx[:, None] + np.arange(2)).ravel()]
        return out + (J.T @ d_a.reshape(len(own), -1).T).T

    def _element_tangent(self, qe, w, linear):
        """(m, 2 nd, 2 nd) tangent stiffness: complex step of the end forces, one end dof at a time."""
        nc = qe.shape[1]
        Kt = np.empty((len(qe), nc, nc))
        for c in range(nc):
            qc = qe.astype(complex)
            qc[:, c] += 1j * H_CS
            Kt[:, :, c] = self._element_forces(qc, w, linear).imag / H_CS
        return 0.5 * (Kt + np.swapaxes(Kt, 1, 2))

    def _use(self, w):
        """Select the present struts (w > 0) and their end offsets; returns their widths and end dofs."""
        w = np.asarray(w, float)
        if w.shape != (len(self.edges),):
            raise MechcllnError(f"frame: need one width per strut ({len(self.edges)}), got shape {w.shape}")
        if np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(w >= 2 * self.R):
            raise MechcllnError(f"frame: widths must be finite, >= 0 and below the hub diameter {2 * self.R} mm")
        self._idx = np.flatnonzero(w > 0)
        self._e0, self._L = self.e0[self._idx], self.L[self._idx]
        self._w, self._a = w, self.end_offsets(w)[self._idx]
        return w[self._idx], self.edofs[self._idx]

    # --------------------------------------------------------------------------- element quantities
    def energies(self, q, w, linear: bool = True) -> np.ndarray:
        """Strain energy of every strut (E,) [N mm] at hub dofs ``q``; 0 for removed struts."""
        we, ed = self._use(w)
        out = np.zeros(len(self.edges))
        out[self._idx] = self._element_energy(np.asarray(q).ravel()[ed], we, linear)
        return out

    def energy_width_derivative(self, q, w, linear: bool = True) -> np.ndarray:
        """``dU/dw_e`` (E,) [N] of the total strain energy at fixed hub dofs ``q`` (the local rules' element
        gradient: strut e's own energy, plus with ``fused_ends`` its neighbours' through their end offsets)."""
        we, ed = self._use(w)
        qe = np.asarray(q).ravel()[ed]
        return self._width_derivative(self._element_energy, qe, we, linear, np.ones((1, len(we))))[0]

    # --------------------------------------------------------------------------- assembly
    def internal_force(self, q, w, linear: bool = True) -> np.ndarray:
        we, ed = self._use(w)
        f = np.zeros(self.ndof)
        np.add.at(f, ed, self._element_forces(np.asarray(q).ravel()[ed], we, linear))
        return f

    def element_tangents(self, q, w, linear: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Tangent stiffnesses (m, 2 nd, 2 nd) of the m present struts (w > 0, in strut order) at hub dofs
        ``q`` (ndof,), in global axes on their end dofs, and those end dofs (m, 2 nd): hub ``edges[:, 0]``'s
        dofs first, then ``edges[:, 1]``'s."""
        we, ed = self._use(w)
        return self._element_tangent(np.asarray(q).ravel()[ed], we, linear), ed

    def strut_sections(self, w):
        """:meth:`section` of the present struts (w > 0, in strut order) of widths ``w`` (E,) [mm]."""
        we, _ = self._use(w)
        return self.section(we)

    def tangent(self, q, w, linear: bool = True) -> sp.csr_matrix:
        """Assembled tangent stiffness (ndof, ndof) [N/mm, N, N mm]."""
        Ke, ed = self.element_tangents(q, w, linear)
        rows = np.repeat(ed, ed.shape[1], axis=1).ravel()
        cols = np.tile(ed, (1, ed.shape[1])).ravel()
        return sp.csr_matrix((Ke.ravel(), (rows, cols)), shape=(self.ndof, self.ndof))

    # --------------------------------------------------------------------------- constraints
    def rigid_modes(self) -> np.ndarray:
        """(ndof, 3 or 6) infinitesimal rigid motions about the centroid (translations, then rotations):
        the hub centres move as :func:`mechclln.gauge.rigid_modes`, each rotation turns every hub by it."""
        r = self.nd
        Z = np.zeros((self.n, self.nd, r))
        Z[:, :self.dim] = gauge.rigid_modes(self.x).reshape(self.n, self.dim, r)
        Z[:, self.dim:, self.dim:] = np.eye(self.nd - self.dim)
        return Z.reshape(self.ndof, r)

    def _fixed_rows(self) -> sp.csr_matrix:
        """Pin rows (translation dofs of pinned hubs) and gauge rows for the rigid motions they leave free."""
        dofs = (self.pinned[:, None] * self.nd + np.arange(self.dim)).ravel()
        P = sp.csr_matrix((np.ones(len(dofs)), (np.arange(len(dofs)), dofs)), shape=(len(dofs), self.ndof))
        Z = self.rigid_modes()
        return sp.vstack([P, sp.csr_matrix((Z @ gauge.free_modes(Z, dofs)).T)]).tocsr()

    def pair_r0(self, pairs) -> np.ndarray:
        """Printed hub-centre distances of ``pairs`` [mm]."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        return np.linalg.norm(self.x[pairs[:, 1]] - self.x[pairs[:, 0]], axis=1)

    def pair_strains(self, q, pairs, linear: bool = True) -> np.ndarray:
        """Pair strains at hub dofs ``q`` (linear: ``b . du / r0``; corotational: ``r / r0 - 1``)."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        u = np.asarray(q).reshape(self.n, self.nd)[:, : self.dim]
        d0 = self.x[pairs[:, 1]] - self.x[pairs[:, 0]]
        r0 = np.linalg.norm(d0, axis=1)
        du = u[pairs[:, 1]] - u[pairs[:, 0]]
        if linear:
            return _dot(d0, du) / r0 ** 2
        d = d0 + du
        return np.sqrt(_dot(d, d)) / r0 - 1

    def pair_gradient(self, q, pairs, linear: bool = True) -> sp.csr_matrix:
        """d(pair strain)/dq (m, ndof)."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        u = np.asarray(q).reshape(self.n, self.nd)[:, : self.dim]
        d0 = self.x[pairs[:, 1]] - self.x[pairs[:, 0]]
        r0 = np.linalg.norm(d0, axis=1)
        d = d0 if linear else d0 + u[pairs[:, 1]] - u[pairs[:, 0]]
        g = d / (np.linalg.norm(d, axis=1) * r0)[:, None]
        m = len(pairs)
        cols = np.concatenate([pairs[:, [1]] * self.nd + np.arange(self.dim), pairs[:, [0]] * self.nd
                               + np.arange(self.dim)], axis=1)
        vals = np.concatenate([g, -g], axis=1)
        return sp.csr_matrix((vals.ravel(), (np.repeat(np.arange(m), 2 * self.dim), cols.ravel())),
                             shape=(m, self.ndof))

    def _pair_curvature(self, q, pairs, weights) -> sp.csr_matrix:
        """sum_k weights_k d^2(strain_k)/dq^2 of corotational pair strains."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        u = np.asarray(q).reshape(self.n, self.nd)[:, : self.dim]
        d = self.x[pairs[:, 1]] - self.x[pairs[:, 0]] + u[pairs[:, 1]] - u[pairs[:, 0]]
        r = np.linalg.norm(d, axis=1)
        r0 = self.pair_r0(pairs)
        n = d / r[:, None]
        B = (weights / (r * r0))[:, None, None] * (np.eye(self.dim) - n[:, :, None] * n[:, None, :])
        ends = np.concatenate([pairs[:, [0]] * self.nd + np.arange(self.dim),
                               pairs[:, [1]] * self.nd + np.arange(self.dim)], axis=1)
        blocks = np.block([[B, -B], [-B, B]])
        rows = np.repeat(ends, 2 * self.dim, axis=1).ravel()
        cols = np.tile(ends, (1, 2 * self.dim)).ravel()
        return sp.csr_matrix((blocks.ravel(), (rows, cols)), shape=(self.ndof, self.ndof))

    # --------------------------------------------------------------------------- equilibria
    def solve(self, w, pairs, strains, linear: bool = True, q0=None, lam0=None, tol: float = 1e-10,
              max_iter: int = 30, soft=None) -> FrameState:
        """Equilibrium of the frame with widths ``w`` (E,) [mm] and the pair ``strains`` imposed on ``pairs``.

        ``soft`` (m,) compliances [1/(N mm)] of the pair rows (0: imposed exactly): a soft row adds the
        energy ``(eps - strain)^2 / (2 soft)`` instead (the nudged state of equilibrium propagation); its
        multiplier row reads ``eps - soft * lam = strain``. Linear: one KKT solve. Corotational: Newton-KKT
        from ``q0`` (default: the printed state), the strains reached in load steps that halve when Newton
        stalls."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        strains = np.asarray(strains, float).ravel()
        nf = self._fixed.shape[0]
        D = np.concatenate([np.zeros(nf), np.zeros(len(pairs)) if soft is None else np.asarray(soft, float)])
        q = np.zeros(self.ndof) if q0 is None else np.asarray(q0, float).ravel().copy()
        lam = np.zeros(nf + len(pairs)) if lam0 is None or len(lam0) != nf + len(pairs) else np.asarray(lam0, float)
        if linear:
            A = sp.vstack([self._fixed, self.pair_gradient(q, pairs, True)]).tocsc()
            K = self.tangent(q, w, True)
            kkt = self._factor(K, A, D)
            sol = kkt.solve(np.concatenate([np.zeros(self.ndof), np.zeros(nf), strains]))
            return FrameState(sol[: self.ndof].reshape(self.n, self.nd), sol[self.ndof:], pairs, strains, True, kkt, 1)
        start = self.pair_strains(q, pairs, False)
        s, ds, its = 0.0, 1.0, 0
        while s < 1.0:
            trial = min(1.0, s + ds)
            goal = start + trial * (strains - start)
            res = self._newton(w, pairs, goal, q, lam, tol, max_iter, D)
            if res is None:
                ds /= 2
                if ds < 1e-3:
                    raise MechcllnError("frame: corotational equilibrium not found (the part snaps or buckles "
                                        "under this actuation); lower the source strains")
                continue
            q, lam, n_it, kkt = res
            its += n_it
            s = trial
            ds = min(1.0, 2 * ds)
        return FrameState(q.reshape(self.n, self.nd), lam, pairs, strains, False, kkt, its)

    def _factor(self, K, A, D):
        nf = A.shape[0]
        M = sp.bmat([[K, A.T], [A, -sp.diags(D)]], format="csc")
        try:
            return _KKT(spla.splu(M), self.ndof, nf)
        except RuntimeError:
            raise MechcllnError("frame: singular stiffness: some hub has no strut or the frame is a mechanism "
                                "(check removed struts)") from None

    def _newton(self, w, pairs, goal, q, lam, tol, max_iter, D):
        nf = self._fixed.shape[0]
        for it in range(1, max_iter + 1):
            A = sp.vstack([self._fixed, self.pair_gradient(q, pairs, False)]).tocsc()
            K = self.tangent(q, w, False) + self._pair_curvature(q, pairs, lam[nf:])
            kkt = self._factor(K, A, D)
            r_c = np.concatenate([self._fixed @ q, self.pair_strains(q, pairs, False) - goal])
            f = self.internal_force(q, w, False)
            sol = kkt.solve(np.concatenate([-f, -r_c]))
            dq, lam = sol[: self.ndof], sol[self.ndof:]
            q = q + dq
            if not np.all(np.isfinite(q)) or np.abs(q.reshape(self.n, self.nd)[:, self.dim:]).max() > 1.5:
                return None
            if np.abs(dq).max() <= tol * max(self.L.mean(), 1.0):
                A = sp.vstack([self._fixed, self.pair_gradient(q, pairs, False)]).tocsc()
                K = self.tangent(q, w, False) + self._pair_curvature(q, pairs, lam[nf:])
                return q, lam, it, self._factor(K, A, D)
        return None

    def adjoint(self, state: FrameState, w, dC_dq) -> np.ndarray:
        """Exact ``dC/dw`` (..., E) of functions C of the state with gradients ``dC_dq`` (..., ndof) at
        ``state``: ``dC/dw_e = -psi . d f_int/dw_e`` with ``KKT psi = [dC/dq; 0]``. Removed struts get 0."""
        g = np.atleast_2d(np.asarray(dC_dq, float))
        rhs = np.concatenate([g, np.zeros((len(g), state.kkt.n_rows))], axis=1).T
        psi = state.kkt.solve(rhs)[: self.ndof].T
        we, ed = self._use(w)
        out = -self._width_derivative(self._element_forces, state.q.ravel()[ed], we, state.linear, psi[:, ed])
        return out.reshape(np.shape(dC_dq)[:-1] + (len(self.edges),))


@dataclass(eq=False)
class _KKT:
    """A factored KKT matrix [[K, A^T], [A, 0]] (symmetric: it serves the adjoint too)."""

    lu: object
    ndof: int
    n_rows: int

    def solve(self, rhs):
        return self.lu.solve(np.asarray(rhs, float))
