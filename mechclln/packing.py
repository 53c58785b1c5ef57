"""Disordered spring networks cut from jammed soft-sphere packings (the Liu / Nagel / Rocks / Stern recipe).

Recipe of :func:`jammed_network`, all seeded:

1. *Packing*: a 50:50 bidisperse mixture (diameters 1 and ``size_ratio`` = 1.4) of soft spheres with
   harmonic repulsion ``U = sum_overlapping 1/2 (1 - r_ij/sigma_ij)^2`` (sigma_ij = sum of radii) placed at
   random in a *periodic* box and quenched to the nearest energy minimum (FIRE on the vectorised forces,
   a Verlet neighbour list from a periodic k-d tree). Just above jamming (phi_J ~ 0.84 in 2D, 0.64 in 3D)
   the contact network is isostatic (Z ~ 2d); its excess coordination grows like sqrt(phi - phi_J), so
   the packing is compressed as far above jamming as needed for the contact network to hold
   ``z_target`` plus a margin of bonds to prune: a first packing fraction from a measured Z(phi) fit,
   then raised in small steps (radii grown, minimum re-found from the previous one) if Z falls short.
2. *Contact network*: nodes at particle centres, edges between overlapping pairs; rattlers (fewer than
   d + 1 contacts) removed repeatedly.
3. *Free sheet*: the periodic box is opened: bonds that cross the box boundary are cut (they would be
   long bonds across the part) and nodes left with fewer than d + 1 bonds are removed repeatedly, so the
   result is a compact, hole-free patch with free edges, printable as it is.
4. *Pruning*: bonds are removed in rounds, each round taking the bonds whose end nodes have the highest
   coordination (one bond per node per round, random tie-breaks), never letting a node drop below d + 1,
   until the mean coordination is ``z_target``. The rigidity module then checks for floppy modes; removed
   bonds at the reported nodes are put back until none is left (so Z can end slightly above the target).
5. Positions are shifted to start at the origin and scaled so the mean bond length is 1 (lattice units);
   the network is unstressed (l = r, k = 1).

``net.meta`` records the recipe: kind, seed, dim, size ratio, packing fraction, particle count, Z of the
contact network, of the free sheet before pruning and after, the target, and the bonds restored.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .errors import fail
from .minimise import fire
from .network import Network, make_network
from .rigidity import floppy_modes

PHI_J = {2: 0.84, 3: 0.64}        # jamming density of the 50:50, 1.4 bidisperse mixture
# Measured (seed 0, FIRE quench from random): contact Z after rattler removal near packing fraction phi_a is
# about z_a + slope (phi - phi_a), and opening the box lowers Z by about loss / N^(1/d). Used for the
# first guess of the packing fraction; it is then raised in PHI_STEP steps until Z suffices.
Z_OF_PHI = {2: dict(phi_a=0.90, z_a=4.89, slope=7.0, loss=5.7), 3: dict(phi_a=0.68, z_a=7.45, slope=25.0, loss=9.2)}
PHI_STEP = 0.01
PHI_MAX = {2: 0.98, 3: 0.80}
LOST_AT_EDGE = {2: 1.3, 3: 1.9}   # opening the box keeps about 1 - c / N^(1/d) of the particles (measured)
FORCE_TOL = 1e-5                  # FIRE stops at max |force| below this (contact stiffness x diameter units)
FIRE_DT, FIRE_DT_MAX, FIRE_ALPHA, FIRE_N_MIN, FIRE_MAX_STEPS = 0.05, 0.5, 0.1, 5, 200000
Z_MARGIN = 0.2                    # excess coordination over z_target wanted before pruning


def default_z_target(dim: int) -> float:
    """A margin above isostaticity (Z_iso = 2d), as in the coupled-learning papers: 4.6 in 2D, 6.6 in 3D."""
    return 2 * dim + 0.6


def jammed_network(n_nodes: int, dim: int = 2, z_target: float | None = None, seed: int = 0,
                   size_ratio: float = 1.4, check_rigidity: bool = True, progress=None) -> Network:
    """A rigid disordered network of about ``n_nodes`` nodes (the exact count depends on the packing).

    ``z_target``: mean coordination after pruning (default :func:`default_z_target`), between 2d
    (isostatic) and 2d + 1.5; small sheets offer less (their edge nodes have few bonds: about Z <= 4.9 at
    300 nodes in 2D), which raises a MechcllnError naming the largest reachable value. ``check_rigidity``: run the
    floppy-mode check and repair (turn off only to time the packing itself on very large networks).
    ``progress(stage, fraction)``: called during the work (``stage``: "quench at phi=0.xxx", with the
    fraction of the decades of force the quench has to fall done; "pruning"; "rigidity check"), or None.
    Same arguments give identical arrays.
    """
    tick = progress or (lambda stage, fraction: None)
    if dim not in (2, 3):
        raise fail(None, "dim", f"must be 2 or 3, got {dim}", "choose dim=2 (sheet) or dim=3")
    if int(n_nodes) < 20:
        raise fail(None, "n_nodes", f"{n_nodes} is too few for a disordered network", "ask for at least 20")
    z_target = default_z_target(dim) if z_target is None else float(z_target)
    if not 2 * dim <= z_target <= 2 * dim + 1.5:
        raise fail(None, "z_target", f"{z_target} is outside [{2 * dim}, {2 * dim + 1.5}] for dim={dim}",
                   f"choose a mean coordination between isostatic ({2 * dim}) and {2 * dim + 1.5}")
    rng = np.random.default_rng(seed)
    n_particles = int(np.ceil(n_nodes / (1 - LOST_AT_EDGE[dim] / n_nodes ** (1 / dim))))
    x, edges, phi, z_contact = _compress(n_particles, dim, size_ratio, z_target, rng, tick)
    z_free = 2 * len(edges) / len(x)
    if z_free < z_target:
        raise fail(None, "z_target", f"the packing reached only Z = {z_free:.2f} at packing fraction {phi:.3f}",
                   f"choose z_target <= {z_free:.2f}")
    tick("pruning", 0.0)
    edges, removed = _prune(edges, len(x), dim, z_target, rng)
    restored = 0
    if check_rigidity:
        tick("rigidity check", 0.0)
        edges, restored = restore_rigidity(x, edges, removed)
    tick("done", 1.0)
    scale = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1).mean()
    x = (x - x.min(0)) / scale
    meta = {"kind": "jammed", "seed": int(seed), "dim": dim, "size_ratio": size_ratio,
            "packing_fraction": round(float(phi), 6), "n_particles": n_particles,
            "boundary": "periodic packing, box opened (boundary-crossing bonds cut)",
            "z_contact": round(float(z_contact), 4), "z_before_pruning": round(float(z_free), 4),
            "z_target": z_target, "z_after_pruning": round(2 * len(edges) / len(x), 4),
            "bonds_restored_for_rigidity": int(restored), "rigidity_checked": bool(check_rigidity)}
    return make_network(x, edges, meta=meta)


# ---------------------------------------------------------------------------------------------- packing


def _compress(n, dim, size_ratio, z_target, rng, tick):
    """Random bidisperse packing, quenched and compressed until its opened contact network has Z high enough.

    Returns (positions and edges of the opened contact network, packing fraction, Z of the periodic
    contact network without rattlers).
    """
    radii = np.where(np.arange(n) < n // 2, 0.5, 0.5 * size_ratio)
    unit_ball = np.pi if dim == 2 else 4 * np.pi / 3
    volume = unit_ball * np.sum(radii ** dim)
    fit = Z_OF_PHI[dim]
    z_needed = z_target + Z_MARGIN + fit["loss"] / n ** (1 / dim)
    phi = fit["phi_a"] + (z_needed - fit["z_a"]) / fit["slope"] + PHI_STEP  # one step of margin: a second
    phi = float(np.clip(phi, PHI_J[dim] + 0.02, PHI_MAX[dim]))             # quench costs more than it saves
    box = (volume / phi) ** (1 / dim)
    pos = rng.random((n, dim)) * box
    while True:
        pos = _minimise(pos, radii, box, tick=lambda f, phi=phi: tick(f"quench at phi={phi:.3f}", f))
        contacts = _remove_rattlers(_contacts(pos, radii, box), n, dim)
        x, edges = _open_box(pos, contacts, box, dim)
        if 2 * len(edges) >= (z_target + Z_MARGIN) * len(x) or phi + PHI_STEP > PHI_MAX[dim] + 1e-9:
            return x, edges, phi, 2 * len(contacts) / len(np.unique(contacts))
        radii = radii * ((phi + PHI_STEP) / phi) ** (1 / dim)
        phi += PHI_STEP


def _minimise(pos, radii, box, ftol=FORCE_TOL, tick=None):
    """Nearest energy minimum of the harmonic soft-sphere packing in the periodic box, by FIRE
    (:func:`mechclln.minimise.fire`, the 2006 variant, unit masses, dt_max = 0.5 in units of the contact
    stiffness). Stops at max |F| < ``ftol``. Returns positions wrapped into [0, box). ``tick(fraction)``:
    every 100 FIRE steps, the fraction of the decades from the largest force seen down to ``ftol`` done.
    """
    top, count = [0.0], [0]

    def done(x, f):
        fmax = np.abs(f).max()
        if tick is not None and count[0] % 100 == 0:
            top[0] = max(top[0], fmax)
            tick(float(np.clip(np.log(top[0] / max(fmax, ftol)) / np.log(top[0] / ftol), 0, 1))
                 if top[0] > ftol else 1.0)
        count[0] += 1
        return fmax < ftol

    x, _, _ = fire(pos.copy(), _force_field(radii, box), done, FIRE_DT, FIRE_DT_MAX, FIRE_MAX_STEPS,
                   alpha0=FIRE_ALPHA, n_min=FIRE_N_MIN)
    return np.mod(x, box)


def _force_field(radii, box):
    """Force function of the soft-sphere packing with a Verlet neighbour list (rebuilt after a move of skin/2).

    Pairs within ``sigma_ij + skin`` are kept with their periodic image shift, so a force evaluation is a
    few vector operations and one sparse product (the pair-to-node incidence matrix).
    """
    n = len(radii)
    skin = 0.5 * radii.min()
    state = {"ref": None}

    def rebuild(x):
        tree = cKDTree(np.mod(x, box), boxsize=box)
        p = tree.query_pairs(2 * radii.max() + skin, output_type="ndarray")
        dx = x[p[:, 0]] - x[p[:, 1]]
        shift = box * np.round(dx / box)
        sigma = radii[p[:, 0]] + radii[p[:, 1]]
        near = np.linalg.norm(dx - shift, axis=1) < sigma + skin
        p, shift, sigma = p[near], shift[near], sigma[near]
        m = len(p)
        pair = np.r_[np.arange(m), np.arange(m)]
        inc = sp.csr_matrix((np.r_[np.ones(m), -np.ones(m)], (np.r_[p[:, 0], p[:, 1]], pair)), shape=(n, m))
        state.update(ref=x.copy(), p=p, shift=shift, sigma=sigma, inc=inc)

    def force(x):
        if state["ref"] is None or np.abs(x - state["ref"]).max() > skin / 2:
            rebuild(x)
        p, sigma = state["p"], state["sigma"]
        dx = x[p[:, 0]] - x[p[:, 1]] - state["shift"]
        r = np.sqrt(np.einsum("ij,ij->i", dx, dx))
        overlap = np.maximum(1 - r / sigma, 0)
        return state["inc"] @ ((overlap / (sigma * r))[:, None] * dx)

    return force


def _wrap(dx, box):
    """Minimum-image displacement in the periodic box."""
    return dx - box * np.round(dx / box)


def _contacts(pos, radii, box):
    """Overlapping pairs (i < j), sorted."""
    pairs = cKDTree(pos, boxsize=box).query_pairs(2 * radii.max(), output_type="ndarray")
    r = np.linalg.norm(_wrap(pos[pairs[:, 0]] - pos[pairs[:, 1]], box), axis=1)
    pairs = np.sort(pairs[r < radii[pairs[:, 0]] + radii[pairs[:, 1]]], axis=1)
    return pairs[np.lexsort(pairs.T[::-1])]


def _remove_rattlers(edges, n, dim):
    """Drop, repeatedly, the edges of nodes with fewer than d + 1 edges."""
    while len(edges):
        z = np.bincount(edges.ravel(), minlength=n)
        keep = ((z[edges] >= dim + 1) | (z[edges] == 0)).all(1)
        if keep.all():
            break
        edges = edges[keep]
    return edges


def _open_box(pos, contacts, box, dim):
    """Cut the bonds that cross the periodic boundary, drop under-coordinated nodes, re-index.

    Returns (positions of the kept nodes, edges in the new numbering).
    """
    direct = pos[contacts[:, 0]] - pos[contacts[:, 1]]
    inside = np.all(np.abs(direct) < box / 2, axis=1)
    edges = _remove_rattlers(contacts[inside], len(pos), dim)
    used = np.unique(edges)
    new = -np.ones(len(pos), dtype=np.int64)
    new[used] = np.arange(len(used))
    return pos[used], new[edges]


# ---------------------------------------------------------------------------------------------- pruning


def _prune(edges, n, dim, z_target, rng):
    """Remove bonds at the most coordinated nodes until Z = z_target, keeping every node at >= d + 1.

    Returns (kept edges, removed edges in removal order).
    """
    keep = np.ones(len(edges), bool)
    order = []
    target_edges = int(np.ceil(z_target * n / 2))
    while keep.sum() > target_edges:
        z = np.bincount(edges[keep].ravel(), minlength=n)
        idx = np.flatnonzero(keep & (z[edges] > dim + 1).all(1))
        if idx.size == 0:
            break
        score = z[edges[idx]].sum(1) + rng.random(idx.size)
        used = np.zeros(n, bool)
        budget = keep.sum() - target_edges
        for e in idx[np.argsort(-score, kind="stable")]:
            i, j = edges[e]
            if used[i] or used[j]:
                continue
            used[i] = used[j] = True
            keep[e] = False
            order.append(e)
            budget -= 1
            if budget == 0:
                break
    return edges[keep], edges[np.array(order, dtype=np.int64)]


def restore_rigidity(x, edges, removed, max_rounds=20):
    """Put removed bonds back at the floppy nodes until the network has no floppy modes.

    Returns (edges, number of bonds restored).
    """
    restored = 0
    for _ in range(max_rounds):
        report = floppy_modes(make_network(x, edges))
        if report.rigid:
            return edges, restored
        at = np.isin(removed, report.nodes)
        pick = np.flatnonzero(at.all(1))
        if pick.size == 0:
            pick = np.flatnonzero(at.any(1))
        if pick.size == 0:
            break
        pick = pick[: max(report.n_floppy, 1)]
        edges = np.vstack([edges, removed[pick]])
        removed = np.delete(removed, pick, axis=0)
        restored += pick.size
    raise fail(None, "seed", f"pruning left a floppy network that could not be repaired ({report.message})",
               "try another seed or a higher z_target")
