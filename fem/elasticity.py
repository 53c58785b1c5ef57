"""Constitutive laws in UFL: linear plane stress (sheets, thickness t) and 3D, and a finite-strain
compressible neo-Hookean solid.

Units: E and the Lame constants in MPa, lengths in mm, so energies are in N mm (mJ) and stiffnesses N/mm.
Plane stress uses ``lambda* = 2 mu lambda / (lambda + 2 mu) = E nu / (1 - nu^2)`` and integrates over the
area times the thickness t. The finite-strain energy is ``W = mu/2 (I1 - d - 2 ln J) + lambda/2 (ln J)^2``
(d = 2 or 3, I1 = tr F^T F, J = det F); for sheets it uses the plane-stress lambda*, i.e. it is the 2D
neo-Hookean membrane whose small-strain limit is exactly the linear plane-stress law (the thickness
change is not tracked).
"""
from __future__ import annotations


def lame(part):
    """(mu, lambda) in MPa; lambda is the plane-stress value for a sheet."""
    E, nu = part.E, part.nu
    mu = E / (2 * (1 + nu))
    if part.gdim == 2:
        return mu, E * nu / (1 - nu ** 2)
    return mu, E * nu / ((1 + nu) * (1 - 2 * nu))


def thickness_factor(part) -> float:
    """Out-of-plane measure: the sheet thickness [mm] in 2D, 1 for a 3D solid."""
    return part.thickness if part.gdim == 2 else 1.0


def strain(u):
    import ufl
    return ufl.sym(ufl.grad(u))


def stress(part, u, factor=1.0):
    """Linear Cauchy stress [MPa]; ``factor`` (a number or a DG0 field) scales the modulus cell-wise."""
    import ufl
    mu, lam = lame(part)
    e = strain(u)
    return factor * (2 * mu * e + lam * ufl.tr(e) * ufl.Identity(part.gdim))


def linear_energy_density(part, u, factor=1.0):
    """1/2 sigma : eps [MPa = N mm / mm^3] of the linear model."""
    import ufl
    return 0.5 * ufl.inner(stress(part, u, factor), strain(u))


def stiffness_form(part, factor=1.0):
    """Bilinear form a(u, v) = t int sigma(u) : eps(v) dx; returns (form, trial, test).

    ``factor`` scales the modulus per cell (FEM-in-the-loop learning uses it as each strut's width
    relative to the meshed one: the axial stiffness E w t of a strip scales with w)."""
    import ufl
    u, v = ufl.TrialFunction(part.V), ufl.TestFunction(part.V)
    return thickness_factor(part) * ufl.inner(stress(part, u, factor), strain(v)) * ufl.dx, u, v


def neo_hookean_density(part, u):
    """Stored energy per reference volume [MPa] of the compressible neo-Hookean law."""
    import ufl
    mu, lam = lame(part)
    d = part.gdim
    F = ufl.Identity(d) + ufl.grad(u)
    J = ufl.det(F)
    return mu / 2 * (ufl.tr(F.T * F) - d - 2 * ufl.ln(J)) + lam / 2 * ufl.ln(J) ** 2


def green_strain(u):
    """Green-Lagrange strain E = (F^T F - I)/2 (used for the peak-strain check at finite strain)."""
    import ufl
    F = ufl.Identity(len(u)) + ufl.grad(u)
    return 0.5 * (F.T * F - ufl.Identity(len(u)))
