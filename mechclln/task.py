"""Tasks: which node pairs are inputs (sources) and outputs (targets), and the examples to learn.

A pair's strain is ``eps = r / r0 - 1`` with ``r0`` the pair's distance in the network's reference
configuration (stored in the file too, so a task is checked against the network it was made for).
Node terminals (optional) prescribe (source) or ask for (target) one displacement component of one node,
in the network's length units. Example e imposes ``source_strains[e]`` (and ``source_displacements[e]``)
and asks for ``target_strains[e]`` (and ``target_displacements[e]``).

File (JSON, or TOML for hand-written specs)::

    {"format": "mechclln.task", "version": 1,
     "sources": [{"nodes": [i, j], "r0": 1.02}, {"node": n, "axis": 0}],
     "targets": [{"nodes": [a, b], "r0": 0.98}],
     "examples": [{"sources": [0.0, 0.0], "targets": [0.0]}, {"sources": [0.05, 0.1], "targets": [-0.05]}]}

Values in ``examples`` follow the order of ``sources``/``targets``: strains for pairs, displacements for
node terminals. An allosteric task contains the rest example (all zeros) unless removed on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MechcllnError, fail
from .fileio import read_data, write_json
from .network import Network
from .schema import Fields, header

FORMAT = "mechclln.task"
VERSION = 1
FIELDS = ("format", "version", "sources", "targets", "examples", "meta")


def _i2(a=()):
    return np.array(a, dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class Task:
    """Pair terminals (strains) and optional node terminals (displacement components)."""

    source_pairs: np.ndarray
    source_r0: np.ndarray
    target_pairs: np.ndarray
    target_r0: np.ndarray
    source_strains: np.ndarray          # (n_ex, S)
    target_strains: np.ndarray          # (n_ex, T)
    source_nodes: np.ndarray = field(default_factory=_i2)     # (Sn, 2): node, axis
    target_nodes: np.ndarray = field(default_factory=_i2)     # (Tn, 2)
    source_displacements: np.ndarray | None = None            # (n_ex, Sn)
    target_displacements: np.ndarray | None = None            # (n_ex, Tn)
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = self.source_strains.shape[0]
        if self.source_displacements is None:
            object.__setattr__(self, "source_displacements", np.zeros((n, len(self.source_nodes))))
        if self.target_displacements is None:
            object.__setattr__(self, "target_displacements", np.zeros((n, len(self.target_nodes))))

    @property
    def n_examples(self) -> int:
        return self.source_strains.shape[0]

    @property
    def n_targets(self) -> int:
        return len(self.target_pairs) + len(self.target_nodes)

    def targets_desired(self) -> np.ndarray:
        """(n_ex, T + Tn): desired target strains, then desired target displacements."""
        return np.hstack([self.target_strains, self.target_displacements])

    def validate(self, net: Network, source: str | None = None) -> "Task":
        """Check the task against ``net``: ids in range, r0 matching the network, finite values."""
        n = net.n_nodes
        if len(self.source_pairs) + len(self.source_nodes) == 0:
            raise fail(source, "sources", "the task has no sources", "add at least one source pair")
        if self.n_targets == 0:
            raise fail(source, "targets", "the task has no targets", "add at least one target pair")
        if self.n_examples == 0:
            raise fail(source, "examples", "the task has no examples", "add examples")
        for name, pairs, r0 in (("sources", self.source_pairs, self.source_r0),
                                ("targets", self.target_pairs, self.target_r0)):
            for q, (i, j) in enumerate(pairs):
                if not (0 <= i < n and 0 <= j < n):
                    raise fail(source, f"{name}[{q}].nodes", f"node id out of range 0..{n - 1} in [{i}, {j}]",
                               "use node ids of the network this task is for")
                if i == j:
                    raise fail(source, f"{name}[{q}].nodes", f"pair joins node {i} to itself", "use two nodes")
            if len(pairs):
                r = np.linalg.norm(net.x[pairs[:, 0]] - net.x[pairs[:, 1]], axis=1)
                bad = np.flatnonzero(np.abs(r - r0) > 1e-6 * np.maximum(r, 1e-12))
                if bad.size:
                    q = bad[0]
                    raise fail(source, f"{name}[{q}].r0",
                               f"is {r0[q]:.6g} but the network's distance is {r[q]:.6g}",
                               "the task was made for another network; regenerate it with `mechclln task`")
        for name, nodes in (("sources", self.source_nodes), ("targets", self.target_nodes)):
            for q, (i, ax) in enumerate(nodes):
                if not 0 <= i < n:
                    raise fail(source, f"{name}.node", f"node id {i} out of range 0..{n - 1}", "use existing nodes")
                if not 0 <= ax < net.dim:
                    raise fail(source, f"{name}.axis", f"axis {ax} out of range 0..{net.dim - 1}", "use 0, 1 (or 2)")
        for name, arr in (("examples.sources", np.hstack([self.source_strains, self.source_displacements])),
                          ("examples.targets", self.targets_desired())):
            if not np.all(np.isfinite(arr)):
                raise fail(source, name, "contains NaN or infinite values", "give finite numbers")
        if np.any(self.source_strains <= -1) or np.any(self.target_strains <= -1):
            raise fail(source, "examples", "a strain <= -1 would collapse a pair", "use strains > -1")
        return self


def task_error(strains, wanted) -> float:
    """Task error ``C = 1/2 mean over examples of sum over targets (eps - eps_T)^2``.

    ``strains`` and ``wanted`` are (n_ex, T) arrays (or broadcast to them); any model's target strains
    (springs, frame, FEM, bench) are judged by this one definition.
    """
    return 0.5 * float(np.mean(np.sum((np.asarray(strains, float) - wanted) ** 2, axis=1)))


def make_task(net: Network, source_pairs, target_pairs, source_strains, target_strains, rest=True,
              meta=None) -> Task:
    """Build a pair task on ``net`` (r0 taken from the network); ``rest`` prepends the rest example."""
    sp, tp = _i2(source_pairs), _i2(target_pairs)
    ss = np.atleast_2d(np.array(source_strains, float)).reshape(-1, len(sp))
    ts = np.atleast_2d(np.array(target_strains, float)).reshape(-1, len(tp))
    if rest and not np.any(np.all(ss == 0, axis=1) & np.all(ts == 0, axis=1)):
        ss, ts = np.vstack([np.zeros(len(sp)), ss]), np.vstack([np.zeros(len(tp)), ts])
    r = lambda p: np.linalg.norm(net.x[p[:, 0]] - net.x[p[:, 1]], axis=1) if len(p) else np.zeros(0)
    task = Task(sp, r(sp), tp, r(tp), ss, ts, meta=dict(meta or {}))
    return task.validate(net)


def random_task(net: Network, n_targets: int = 3, source_strain: float = 0.05, target_strain: float = 0.05,
                seed: int = 0, rest: bool = True, n_sources: int = 1, within: float | None = None) -> Task:
    """A random allosteric task in the style of Rocks et al. (PNAS 2017) / Stern et al. (PRX 2021).

    Sources are bonded pairs near a random point; targets are bonded pairs chosen at random among those
    farthest from the sources (the farther half, by midpoint distance, of the bonds whose midpoints lie
    within ``within`` length units of the sources' mean midpoint; of the whole network when None) whose
    nodes are not sources. ``within`` keeps the task's size fixed as the network grows (a scaling study's
    task); without it the targets move away with the network's size. The actuated example strains every
    source by ``source_strain`` and asks each target for ``+-target_strain`` (random sign); ``rest`` adds
    the rest example (zero in -> zero out).
    """
    if within is not None and not within > 0:
        raise MechcllnError(f"random_task: within={within}; give a positive distance (length units) or None")
    rng = np.random.default_rng(seed)
    mid = 0.5 * (net.x[net.edges[:, 0]] + net.x[net.edges[:, 1]])
    centre = net.x[rng.integers(net.n_nodes)]
    order = np.argsort(np.linalg.norm(mid - centre, axis=1))
    src = net.edges[order[:n_sources]]
    used = set(src.ravel().tolist())
    dist = np.linalg.norm(mid - mid[order[:n_sources]].mean(0), axis=1)
    pool = np.argsort(-dist)
    if within is not None:
        pool = pool[dist[pool] <= within]
    far = [e for e in pool[: max(n_targets, len(pool) // 2)] if not (set(net.edges[e].tolist()) & used)]
    if len(far) < n_targets:
        where = f" within {within:g} of the source" if within is not None else ""
        raise MechcllnError(f"random_task: only {len(far)} candidate target pairs{where} for n_targets={n_targets}; "
                            "use a larger network" + (" or a larger within" if within is not None else "")
                            + " or fewer targets")
    tgt = net.edges[rng.choice(far, size=n_targets, replace=False)]
    signs = rng.choice([-1.0, 1.0], size=n_targets)
    meta = {"generator": "random_task", "seed": seed, "n_targets": n_targets, "source_strain": source_strain,
            "target_strain": target_strain} | ({} if within is None else {"within": within})
    return make_task(net, src, tgt, [source_strain] * n_sources, signs * target_strain, rest=rest, meta=meta)


# ----------------------------------------------------------------------------------------------- files


def to_dict(task: Task) -> dict:
    sources = [{"nodes": p.tolist(), "r0": float(r)} for p, r in zip(task.source_pairs, task.source_r0)]
    sources += [{"node": int(n), "axis": int(a)} for n, a in task.source_nodes]
    targets = [{"nodes": p.tolist(), "r0": float(r)} for p, r in zip(task.target_pairs, task.target_r0)]
    targets += [{"node": int(n), "axis": int(a)} for n, a in task.target_nodes]
    ex_s = np.hstack([task.source_strains, task.source_displacements])
    ex_t = task.targets_desired()
    return {"format": FORMAT, "version": VERSION, "sources": sources, "targets": targets,
            "examples": [{"sources": s.tolist(), "targets": t.tolist()} for s, t in zip(ex_s, ex_t)],
            "meta": task.meta}


def _terminals(f: Fields, key: str):
    """(pairs, r0 (NaN where absent), node terminals (node, axis), order) of the ``key`` list."""
    pairs, r0, nodes, order = [], [], [], []
    for t in f.objects(key, min_len=1):
        if "nodes" in t.data:
            t.known(("nodes", "r0"))
            p = t.ids("nodes", None, shape=(2,))
            if p[0] == p[1]:
                raise t.fail("nodes", f"pair joins node {p[0]} to itself", "use two different nodes")
            pairs.append(p)
            r0.append(t.number("r0", np.nan, gt=0))
            order.append(("pair", len(pairs) - 1))
        elif "node" in t.data:
            t.known(("node", "axis"))
            nodes.append([t.integer("node", ge=0), t.integer("axis", choices=(0, 1, 2))])
            order.append(("node", len(nodes) - 1))
        else:
            raise fail(f.source, t.prefix, "has neither 'nodes' (a pair) nor 'node'",
                       'write {"nodes": [i, j]} or {"node": n, "axis": a}')
    pairs, nodes = _i2(pairs), _i2(nodes)
    for what, arr in (("pair", np.sort(pairs, axis=1)), ("node terminal", nodes)):
        _, first, counts = np.unique(arr, axis=0, return_index=True, return_counts=True)
        if (counts > 1).any():
            raise f.fail(key, f"{what} {arr[first[np.argmax(counts > 1)]].tolist()} is listed twice",
                         "list each terminal once")
    return pairs, np.array(r0, float), nodes, order


def _overlap(f: Fields, a: np.ndarray, b: np.ndarray, what: str) -> None:
    common = {tuple(r) for r in a.tolist()} & {tuple(r) for r in b.tolist()}
    if common:
        raise f.fail("targets", f"{what} {list(min(common))} is also a source",
                     "a terminal is either a source or a target")


def from_dict(data: dict, net: Network | None = None, source: str | None = None) -> Task:
    """Parse a task dict (every field checked, :mod:`mechclln.schema`); with ``net`` it is validated
    against that network (missing r0 filled in)."""
    f = Fields(data, source).known(FIELDS)
    header(f, FORMAT, VERSION)
    sp, sr0, sn, s_order = _terminals(f, "sources")
    tp, tr0, tn, t_order = _terminals(f, "targets")
    _overlap(f, np.sort(sp, axis=1), np.sort(tp, axis=1), "pair")
    _overlap(f, sn, tn, "node terminal")

    def split(ex: Fields, key, order, n_pair, n_node):
        vals = ex.array(key, shape=(len(order),))
        pv, nv = np.zeros(n_pair), np.zeros(n_node)
        for v, (kind, idx) in zip(vals, order):
            (pv if kind == "pair" else nv)[idx] = v
        return pv, nv

    ss, sd, ts, td = [], [], [], []
    for ex in f.objects("examples", min_len=1):
        ex.known(("sources", "targets"))
        a, b = split(ex, "sources", s_order, len(sp), len(sn))
        c, d = split(ex, "targets", t_order, len(tp), len(tn))
        ss.append(a), sd.append(b), ts.append(c), td.append(d)
    meta = dict(f.obj("meta", {}).data)
    if net is not None:
        for pairs, r0 in ((sp, sr0), (tp, tr0)):
            miss = np.isnan(r0)
            if miss.any() and pairs.max() < net.n_nodes:
                r0[miss] = np.linalg.norm(net.x[pairs[miss, 0]] - net.x[pairs[miss, 1]], axis=1)
    elif np.isnan(sr0).any() or np.isnan(tr0).any():
        raise fail(source, "r0", "missing for a pair", "add r0 or load the task together with its network")
    rows = lambda v, n: np.array(v, float).reshape(len(v), n)  # noqa: E731
    task = Task(sp, sr0, tp, tr0, rows(ss, len(sp)), rows(ts, len(tp)), sn, tn, rows(sd, len(sn)),
                rows(td, len(tn)), meta=meta)
    return task.validate(net, source) if net is not None else task


def save_task(task: Task, path) -> Path:
    return write_json(path, to_dict(task))


def load_task(path, net: Network | None = None) -> Task:
    """Read and validate a task file (JSON or TOML), against ``net`` when given."""
    return from_dict(read_data(path), net, str(path))
