"""A simulated bench that runs the lab-train protocol (:mod:`mechclln.labtrain`) file by file.

The bench is the physical network: the network file's k and l plus fabrication errors the lab does not
know. Each phase the simulator reads the actuation file lab-train wrote, imposes every frame (each
imposed pair strain off by Gaussian *actuation error*), finds the state, writes the hub positions as a
tracks CSV (in mm, in a rotated and shifted camera frame, each coordinate off by Gaussian *measurement
noise*) and hands it to :func:`mechclln.labtrain.submit`; after the clamped phase it applies the turns of
``adjust.csv`` to its own parameters. Nothing of the rule is re-implemented here.

*Thermal noise* (finite temperature kT): instead of the energy minimum, each measured state is a sample
of the harmonic Boltzmann distribution about it, ``x = x_eq + dx`` with ``dx ~ N(0, kT K_c^-1)``, ``K_c``
the Hessian of U (constraint curvature included) restricted to the motions the imposed pairs leave free.

Two rules are compared on the same bench: *measured* (lab-train fed by the bench: in-situ coupled
learning) and *model* (lab-train fed by a noise-free twin built from the network file, i.e. the update a
computer model predicts, applied to the bench). The reported error is always the bench's own noise-free
``C/C0`` at the task's source strains, with the lab's measured one beside it.

Units: ``position`` in mm, ``actuation`` in strain, ``temperature`` in units of mean(k0) mean(r0)^2,
``fabrication_k`` relative, ``fabrication_l`` in units of each edge's r0.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.linalg as sla

from . import labtrain
from .equilibrium import Equilibria, State, free_states
from .errors import MechcllnError
from .fileio import write_json, write_text
from .network import Network
from .rows import Rows, no_rows
from .task import Task
from .training import task_error


@dataclass(frozen=True)
class BenchNoise:
    """Noise and errors of a simulated bench (units: module docstring)."""

    position: float = 0.0
    actuation: float = 0.0
    temperature: float = 0.0
    fabrication_k: float = 0.0
    fabrication_l: float = 0.0
    seed: int = 0


def bench_task(net: Network, n_targets: int = 2, strain: float = 0.05, seed: int = 0) -> Task:
    """An allosteric task for a bench network whose pairs are *not* edges (nodes about two bonds apart), so
    no edge can meet a target by its own rest length: one source pair strained by ``strain``, targets among
    the pairs in the farther half of the network asked for ``+-strain``. One example, no rest example: a
    bench network keeps the prestress its adjusters set, so pre-deforming it is a legitimate solution (the
    rest example guards stress-free prints, docs/core.md: conventions)."""
    from .task import make_task

    rng = np.random.default_rng(seed)
    rbar = float(np.mean(net.lengths()))
    i, j = np.triu_indices(net.n_nodes, 1)
    d = np.linalg.norm(net.x[i] - net.x[j], axis=1)
    bonded = {tuple(e) for e in np.sort(net.edges, 1).tolist()}
    ok = (d > 1.6 * rbar) & (d < 2.1 * rbar) & np.array([(a, b) not in bonded for a, b in zip(i, j)])
    pairs = np.column_stack([i[ok], j[ok]])
    mid = 0.5 * (net.x[pairs[:, 0]] + net.x[pairs[:, 1]])
    src = pairs[np.argmin(np.linalg.norm(mid - net.x[rng.integers(net.n_nodes)], axis=1))]
    dist = np.linalg.norm(mid - 0.5 * (net.x[src[0]] + net.x[src[1]]), axis=1)
    far = np.flatnonzero((dist >= np.median(dist)) & ~np.isin(pairs, src).any(1))
    if len(far) < n_targets:
        raise MechcllnError(f"bench_task: only {len(far)} candidate target pairs; use fewer targets")
    tgt = pairs[rng.choice(far, n_targets, replace=False)]
    return make_task(net, [src], tgt, [strain], rng.choice([-1.0, 1.0], n_targets) * strain, rest=False,
                     meta={"generator": "labsim.bench_task", "seed": seed, "strain": strain})


def thermal_sample(eq: Equilibria, state: State, k, l, kT: float, rng) -> np.ndarray:
    """Positions (N, d) drawn from ``N(x_eq, kT K_c^-1)`` (dense: meant for bench networks of <= ~1e3 nodes)."""
    _, _, egeo, rgeo, _ = eq.residual(state.x, state.lam, k, l, state.rows)
    H = eq.hessian(k, l, state.lam, egeo, rgeo, state.rows.pair).toarray()
    A = eq.jacobian(state.rows, rgeo).toarray()
    Z = sla.null_space(A) if A.shape[0] else np.eye(len(H))
    L = np.linalg.cholesky(Z.T @ H @ Z)
    y = sla.solve_triangular(L.T, rng.standard_normal(L.shape[0]), lower=False)   # cov (L L^T)^-1
    x = state.x.copy()
    x.ravel()[eq.free] += np.sqrt(kT) * (Z @ y)
    return x


class Bench:
    """A physical network: true parameters, noisy actuation and tracking (one instance per simulated lab)."""

    def __init__(self, net: Network, task: Task, noise: BenchNoise, mm_per_unit: float, model: str = "nonlinear"):
        self.net, self.task, self.noise, self.mm_per_unit = net, task, noise, mm_per_unit
        self.rng = np.random.default_rng(noise.seed)
        r0 = net.lengths()
        self.k = net.k * (1 + noise.fabrication_k * self.rng.standard_normal(net.n_edges))
        self.l = net.l + noise.fabrication_l * r0 * self.rng.standard_normal(net.n_edges)
        if np.any(self.k <= 0) or np.any(self.l <= 0):
            raise MechcllnError("fabrication error: a built k or l came out <= 0; lower the fabrication error")
        self.eq = Equilibria(net, task, model)
        self.kT = noise.temperature * float(np.mean(net.k)) * float(np.mean(r0)) ** 2
        angle = self.rng.uniform(0, 2 * np.pi)
        self.rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        self.offset = self.rng.uniform(-100, 100, 2)          # mm: the camera's origin is anywhere
        self._warm: dict = {}

    def rows(self, frame: labtrain.Frame | None) -> Rows:
        """The rows ``frame`` imposes (its pair strains with actuation noise); none at rest."""
        if frame is None:
            return no_rows()
        m = len(frame.pairs)
        if not np.array_equal(np.sort(frame.pairs, 1), np.sort(self.eq.term_pairs[:m], 1)):
            raise MechcllnError(f"actuation frame {frame.frame}: pairs are not the task's sources then targets")
        value = frame.strains + self.noise.actuation * self.rng.standard_normal(m)
        return Rows(np.arange(m), value, np.zeros(m))

    def state(self, frame: labtrain.Frame | None) -> np.ndarray:
        """Positions (N, 2), network units, of the bench with ``frame`` imposed (None: at rest)."""
        key = None if frame is None else (frame.state, frame.example)
        rows = self.rows(frame)
        warm = self._warm.get(key)
        x0 = warm.x if warm is not None else self.net.x.copy()
        lam0 = warm.lam if warm is not None and len(warm.lam) == rows.m else None
        st = self.eq.solve(self.k, self.l, rows, x0, lam0, slot=0 if frame is None else 1 + frame.example)
        self._warm[key] = st
        return thermal_sample(self.eq, st, self.k, self.l, self.kT, self.rng) if self.kT > 0 else st.x

    def tracks(self, frames: list[labtrain.Frame]) -> str:
        """The tracks CSV (frame, hub, x, y in mm; frame 0 at rest) of the bench under ``frames``."""
        lines = ["frame,hub,x,y"]
        for f, frame in [(0, None)] + [(fr.frame, fr) for fr in frames]:
            mm = self.mm_per_unit * self.state(frame) @ self.rotation.T + self.offset
            mm = mm + self.noise.position * self.rng.standard_normal(mm.shape)
            lines += [f"{f},{h},{x!r},{y!r}" for h, (x, y) in enumerate(mm.tolist())]
        return "\n".join(lines) + "\n"

    def adjust(self, adjustments: dict) -> None:
        """Turn the adjusters as ``adjust.csv`` says: each parameter changes by its listed change."""
        for name, (edges, change, _) in adjustments.items():
            getattr(self, name)[edges] += change

    def error(self) -> float:
        """Noise-free task error C of the bench at the task's source strains."""
        states = free_states(self.eq, self.k, self.l, self._warm.get("error"))
        self._warm["error"] = states
        return task_error(self.eq, states)[0]


@dataclass
class SimResult:
    """History of one simulated lab training (``C_rel``: the bench's true C/C0; ``C_rel_measured``: lab-train's)."""

    rule: str
    noise: BenchNoise
    C_rel: list = field(default_factory=list)
    C_rel_measured: list = field(default_factory=list)
    rounds_to_tol: int | None = None


def simulate(net: Network, task: Task, cfg: labtrain.LabConfig, noise: BenchNoise, lab, rounds: int,
             rule: str = "measured", model: str = "nonlinear", force: bool = False) -> SimResult:
    """Train the simulated bench through the lab-train files in folder ``lab`` for up to ``rounds`` rounds
    (stops at the round whose true C/C0 <= cfg.tol)."""
    if rule not in ("measured", "model"):
        raise MechcllnError(f"rule {rule!r}: choose measured or model")
    lab = Path(lab)
    labtrain.init(net, task, cfg, lab, force=force)
    bench = Bench(net, task, noise, cfg.mm_per_unit, model)
    source = bench if rule == "measured" else Bench(net, task, BenchNoise(seed=noise.seed), cfg.mm_per_unit, model)
    res = SimResult(rule, noise)
    C0 = bench.error()
    with tempfile.TemporaryDirectory(prefix="labsim.") as tmp:
        for rnd in range(rounds + 1):
            res.C_rel.append(bench.error() / C0 if C0 > 0 else 0.0)
            if res.C_rel[-1] <= cfg.tol:
                res.rounds_to_tol = rnd
            if res.rounds_to_tol is not None or rnd == rounds:
                break
            for phase in ("free", "clamped"):
                _, _, state = labtrain.load(lab)
                frames = labtrain.read_actuation(labtrain.actuation_path(lab, state))
                path = write_text(Path(tmp) / f"round_{rnd + 1:03d}_{phase}.csv", source.tracks(frames))
                out = labtrain.submit(lab, path)
                if phase == "free":
                    res.C_rel_measured.append(out["C_rel"])
            adj = labtrain.read_adjustments(out["adjust"])
            bench.adjust(adj)
            if source is not bench:
                source.adjust(adj)
    return res


def scan(net: Network, task: Task, cfg: labtrain.LabConfig, noises: list[BenchNoise], rounds: int, out,
         rules=("measured", "model"), model: str = "nonlinear") -> list[dict]:
    """Rounds to reach ``cfg.tol`` for every noise setting and rule; one lab folder each under ``out``
    (``out/<rule>_<i>``). A training whose measurements lab-train refuses (e.g. a step size that crumples
    the network) is reported with the refusal, not retried."""
    out = Path(out)
    table = []
    for i, noise in enumerate(noises):
        for rule in rules:
            row = {"rule": rule, **{k: getattr(noise, k) for k in BenchNoise.__dataclass_fields__},
                   "rounds_to_tol": None, "C_rel_final": None, "C_rel_measured_final": None, "refused": None}
            try:
                r = simulate(net, task, cfg, noise, out / f"{rule}_{i}", rounds, rule, model, force=True)
                row.update(rounds_to_tol=r.rounds_to_tol, C_rel_final=r.C_rel[-1],
                           C_rel_measured_final=r.C_rel_measured[-1] if r.C_rel_measured else None)
            except MechcllnError as exc:
                row["refused"] = str(exc)
            table.append(row)
    return table


def write_scan(out, cfg: labtrain.LabConfig, network, task, rounds: int, table: list[dict]) -> Path:
    """Write ``out/scan.json`` of a :func:`scan`: the config, the network and task files, the most rounds
    per run and the table; returns its path."""
    path = Path(out) / "scan.json"
    write_json(path, {"config": vars(cfg), "network": str(network), "task": str(task), "rounds": rounds,
                      "runs": table})
    return path
