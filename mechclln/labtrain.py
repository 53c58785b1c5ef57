"""In-situ coupled learning of a physical network, as a protocol over files (``mechclln lab-train``).

A bench network (2D; every edge's rest length adjustable, e.g. by a turnbuckle, and/or its stiffness) is
trained without a computer model: each round the lab imposes the free and then the clamped states, tracks
every hub, and every edge changes by the local coupled-learning rule of :mod:`mechclln.learning` evaluated
on the *measured* edge lengths::

    dk_e = -(alpha_k/eta) 1/2 [(r_C - l)^2 - (r_F - l)^2]      dl_e = (alpha_l/eta) k_e (r_C - r_F)

averaged over the task's examples. A round has two phases, each a file written here and a file the lab
brings back:

1. ``round_NNN/free_actuation.csv``: per frame (= example) the source pairs and the strain (distance) to
   impose. The lab returns a tracks CSV (the format ``mechclln lab-compare`` reads: ``frame, hub, x, y`` in
   mm; frame 0 = the network at rest, nothing imposed; frame e+1 = example e) with every hub.
2. ``round_NNN/clamped_actuation.csv``: sources again plus every target pair nudged from its *measured*
   free strain towards the desired one, ``eps_C = eps_F + eta (eps_T - eps_F)``. The lab returns the
   tracks of the clamped states; ``round_NNN/adjust.csv`` then says what to turn on which edge (whole
   clicks of the adjuster's resolution), and round NNN+1 begins.

Units: positions in the tracks and distances in the actuation files are in mm; the network's lengths are
in its own units, ``mm_per_unit`` mm each (1 for a network in mm). Strains are ``r / r0 - 1`` with r0 the
reference distance of the network file. Learning rates are dimensionless: ``alpha_l`` in units of
1 / mean(k0) and ``alpha_k`` in units of mean(k0) / mean(r0)^2 (k0, r0: the network as built).

Each update is clipped to ``max_step`` per round, quantised to whole clicks of ``resolution`` (the
unapplied remainder is kept per edge and added to the next round's update, so updates smaller than a
click accumulate instead of vanishing), and kept within the bounds (``k_bounds`` absolute, ``l_bounds``
relative to r0, as in :class:`mechclln.training.TrainConfig`). With zero resolution, no step limit and
exact measurements the rounds are the steps of :func:`mechclln.training.train` with fixed learning rates.

Measurements are validated before use (one-line errors ``file: field: problem; fix``): every frame of the
phase present and no other, every hub in every frame, frame 0 matching the network (a similarity fit:
scale within ``scale_tol`` of 1 = the units are right; rms misfit below ``frame_tol`` mean bond lengths =
the hub numbering is the network's), no outlier hub (a hub whose edges are
strained beyond ``max_edge_strain`` against their current rest lengths: mistracked or swapped), and the
imposed pairs within ``actuation_tol`` (absolute strain) of what was asked.

The folder (resumable between days; every write atomic, ``lab.json`` written last as the commit point):
``lab.json`` (config, parameters, phase, pending free-state lengths, history), ``network_initial.json``,
``network.json`` (current parameters), ``task.json``, ``history.csv``, ``round_NNN/`` (the actuation
files, a copy of each accepted tracks file, ``adjust.csv``).
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import network as netio
from . import task as taskio
from .errors import MechcllnError, fail
from .fileio import read_data, read_text, write_bytes, write_json, write_text
from .learning import SpringElements, contrastive
from .network import Network
from .rundir import Run
from .schema import Fields, header
from .task import Task, task_error
from .tracks import read_tracks

FORMAT = "mechclln.labtrain"
VERSION = 1
ACTUATION_COLUMNS = ("frame", "example", "state", "role", "i", "j", "strain", "distance_mm")
ADJUST_COLUMNS = ("edge", "i", "j", "parameter", "current", "new", "change", "clicks")
HISTORY_COLUMNS = ("round", "C", "C_rel", "edges_adjusted", "clicks_total", "max_change_l", "max_change_k")


@dataclass
class LabConfig:
    """Settings of a lab training (units: see module docstring)."""

    learn: tuple = ("l",)
    eta: float = 0.5
    alpha_l: float = 0.5           # x 1/mean(k0)
    alpha_k: float = 0.5           # x mean(k0)/mean(r0)^2
    resolution_l: float = 0.0      # network length units per click; 0 = continuous
    resolution_k: float = 0.0      # stiffness units per click; 0 = continuous
    max_step_l: float = float("inf")   # largest |dl| per round, network length units
    max_step_k: float = float("inf")   # largest |dk| per round
    k_bounds: tuple = (0.01, 100.0)
    l_bounds: tuple = (0.5, 1.5)   # relative to r0
    mm_per_unit: float = 1.0
    actuation_tol: float = 0.01    # |measured - asked| strain of an imposed pair (above the tracking noise)
    max_edge_strain: float = 0.3   # |r/l - 1| of an edge beyond which a hub is called an outlier
    frame_tol: float = 0.25        # rms misfit of frame 0 to the network, in mean bond lengths
    scale_tol: float = 0.1         # |fitted scale - 1| of frame 0
    tol: float = 1e-2              # C/C0 at which the task counts as reached

    def validate(self) -> "LabConfig":
        if not self.learn or any(p not in SpringElements.names for p in self.learn):
            raise MechcllnError(f"learn={','.join(self.learn)}: choose l, k or k,l")
        for name in ("eta", "mm_per_unit", "actuation_tol", "max_edge_strain", "frame_tol", "scale_tol", "tol"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise MechcllnError(f"{name} must be a positive number, got {getattr(self, name)}")
        for name in ("alpha_l", "alpha_k", "resolution_l", "resolution_k"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise MechcllnError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("max_step_l", "max_step_k"):
            if not getattr(self, name) > 0:
                raise MechcllnError(f"{name} must be > 0 (inf: no limit), got {getattr(self, name)}")
        if not 0 < self.k_bounds[0] < self.k_bounds[1]:
            raise MechcllnError(f"k_bounds {self.k_bounds}: need 0 < k_min < k_max")
        if not 0 < self.l_bounds[0] < 1 < self.l_bounds[1]:
            raise MechcllnError(f"l_bounds {self.l_bounds}: need 0 < low < 1 < high (relative to r0)")
        return self


@dataclass
class LabState:
    """What ``lab.json`` holds: the parameters the lab has set, where the protocol stands, the history."""

    config: LabConfig
    round: int = 1
    phase: str = "free"                                    # the measurement expected next
    k: np.ndarray = None
    l: np.ndarray = None
    carry_k: np.ndarray = None                             # unapplied remainder of the quantised updates
    carry_l: np.ndarray = None
    C0: float | None = None
    free_lengths: np.ndarray | None = None                 # (n_ex, E) measured r_F of this round
    free_strains: np.ndarray | None = None                 # (n_ex, T) measured target strains eps_F
    accepted: list = field(default_factory=list)           # sha256 of every accepted tracks file (the last
                                                           # one is refused again: a file submitted twice)
    history: list = field(default_factory=list)            # one dict per completed round (HISTORY_COLUMNS)


@dataclass(frozen=True)
class Frame:
    """One frame of an actuation file: what to impose for one example in one state."""

    frame: int
    example: int
    state: str
    pairs: np.ndarray          # (m, 2)
    roles: tuple               # "source" / "target" per pair
    strains: np.ndarray        # (m,)


# ---------------------------------------------------------------------------------------------- folder
def bench_scale(net: Network, mm_per_unit: float | None) -> float:
    """mm per network length unit on the bench: 1 for a network in mm (``mm_per_unit`` must then be None
    or 1), else ``mm_per_unit``, which a network in lattice units requires."""
    if net.units["length"] == "mm":
        if mm_per_unit not in (None, 1.0):
            raise MechcllnError(f"--mm-per-unit {mm_per_unit:g}: the network is in mm already; leave it out")
        return 1.0
    if mm_per_unit is None:
        raise MechcllnError("--mm-per-unit: missing; the network is in lattice units, say how many mm one unit is "
                            "on the bench (e.g. the mean bond length in mm)")
    return mm_per_unit


def _round_dir(lab: Path, rnd: int) -> Path:
    return lab / f"round_{rnd:03d}"


def actuation_path(lab, state: LabState) -> Path:
    """The actuation file the lab must apply next."""
    return _round_dir(Path(lab), state.round) / f"{state.phase}_actuation.csv"


def check_network(net: Network, task: Task, source: str) -> None:
    """A bench network for lab-train: 2D, pair sources and targets only."""
    if net.dim != 2:
        raise fail(source, "dim", f"lab-train tracks hubs in x, y; the network is {net.dim}D", "give a 2D network")
    if len(task.source_nodes) or len(task.target_nodes) or not len(task.source_pairs) or not len(task.target_pairs):
        raise fail(source, "sources", "lab-train needs pair sources and targets only (no node terminals)",
                   "use a pair-strain task")


def init(net: Network, task: Task, cfg: LabConfig, lab, force: bool = False) -> LabState:
    """Create the lab folder for training ``net`` (as built) on ``task``; writes round 1's free actuation."""
    cfg.validate()
    task.validate(net)
    check_network(net, task, "task")
    r0 = net.lengths()
    k = np.asarray(net.k, float).copy()
    l = np.asarray(net.l, float).copy()
    if np.any(k < cfg.k_bounds[0]) or np.any(k > cfg.k_bounds[1]) or np.any(l < cfg.l_bounds[0] * r0) \
            or np.any(l > cfg.l_bounds[1] * r0):
        raise MechcllnError("network: k or l of the network as built is outside the lab-train bounds; widen "
                            "--k-min/--k-max or --l-bounds")
    state = LabState(cfg, k=k, l=l, carry_k=np.zeros_like(k), carry_l=np.zeros_like(l))
    lab = Path(lab)
    with Run(lab).staged(force=force) as tmp:
        netio.save(net, tmp.initial_file)
        taskio.save_task(task, tmp.task_file)
        _write_round_outputs(tmp.path, net, task, state, files={})
    return state


def load(lab) -> tuple[Network, Task, LabState]:
    """(network with the current parameters, task, state) of a lab folder, validated."""
    lab = Path(lab)
    path = lab / "lab.json"
    if not path.exists():
        raise MechcllnError(f"{path}: file not found; give a folder made by `mechclln lab-train init`")
    net0 = netio.load(Run(lab).initial_file)
    task = taskio.load_task(Run(lab).task_file, net0)
    f = Fields(read_data(path), str(path)).known(("format", "version", *LabState.__dataclass_fields__))
    header(f, FORMAT, VERSION, required=True)
    cfg = _config(f.obj("config"))
    E, n_ex, T = net0.n_edges, task.n_examples, len(task.target_pairs)
    arr = lambda key, shape: f.array(key, shape=shape)     # noqa: E731
    phase = f.string("phase", choices=("free", "clamped"))
    state = LabState(cfg, round=f.integer("round", ge=1), phase=phase, k=arr("k", (E,)), l=arr("l", (E,)),
                     carry_k=arr("carry_k", (E,)), carry_l=arr("carry_l", (E,)),
                     C0=f.number("C0", nullable=True, ge=0),
                     free_lengths=f.array("free_lengths", shape=(n_ex, E), nullable=True),
                     free_strains=f.array("free_strains", shape=(n_ex, T), nullable=True),
                     accepted=[str(a) for a in f.data.get("accepted", [])],
                     history=[dict(h.data) for h in f.objects("history")])
    if phase == "clamped" and state.free_lengths is None:
        raise f.fail("free_lengths", "missing in the clamped phase", "restore lab.json from its round folder")
    return net0.with_params(k=state.k, l=state.l), task, state


def _config(c: Fields) -> LabConfig:
    """The config object of lab.json (``learn`` as "k,l"; a step limit written as null is no limit)."""
    c.known(tuple(LabConfig.__dataclass_fields__))
    values = {}
    for name in LabConfig.__dataclass_fields__:
        if name == "learn":
            values[name] = tuple(c.string(name).split(","))
        elif name.endswith("_bounds"):
            values[name] = tuple(c.array(name, shape=(2,)))
        elif name.startswith("max_step"):
            values[name] = c.number(name, gt=0, nullable=True) or np.inf
        else:
            values[name] = c.number(name)
    return LabConfig(**values).validate()


def _state_dict(state: LabState) -> dict:
    cfg = asdict(state.config)
    cfg["learn"] = ",".join(state.config.learn)
    d = {n: getattr(state, n) for n in LabState.__dataclass_fields__ if n != "config"}
    return {"format": FORMAT, "version": VERSION, "config": cfg, **d}


def _write_round_outputs(lab: Path, net: Network, task: Task, state: LabState, files: dict) -> None:
    """Write ``files`` (relative path -> bytes), the next actuation, history, network.json, then lab.json."""
    for rel, data in files.items():
        write_bytes(lab / rel, data)
    write_text(actuation_path(lab, state), actuation_csv(net, task, state))
    write_text(lab / "history.csv", _csv(HISTORY_COLUMNS, [[h[c] for c in HISTORY_COLUMNS] for h in state.history]))
    netio.save(net.with_params(k=state.k, l=state.l), Run(lab).network_file)
    write_json(lab / "lab.json", _state_dict(state))


def _csv(columns, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([[repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row] for row in rows])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- actuation
def actuation_frames(task: Task, state: LabState) -> list[Frame]:
    """What to impose in the pending phase: sources (free), sources + nudged targets (clamped)."""
    out = []
    S = len(task.source_pairs)
    for ex in range(task.n_examples):
        pairs, strains, roles = task.source_pairs, task.source_strains[ex], ("source",) * S
        if state.phase == "clamped":
            eps_f = state.free_strains[ex]
            eps_c = eps_f + state.config.eta * (task.target_strains[ex] - eps_f)
            pairs = np.vstack([pairs, task.target_pairs])
            strains = np.concatenate([strains, eps_c])
            roles = roles + ("target",) * len(task.target_pairs)
        out.append(Frame(ex + 1, ex, state.phase, pairs, roles, np.asarray(strains, float)))
    return out


def actuation_csv(net: Network, task: Task, state: LabState) -> str:
    rows = []
    for fr in actuation_frames(task, state):
        r0 = np.linalg.norm(net.x[fr.pairs[:, 0]] - net.x[fr.pairs[:, 1]], axis=1)
        for (i, j), role, eps, r in zip(fr.pairs, fr.roles, fr.strains, r0):
            rows.append([fr.frame, fr.example, fr.state, role, int(i), int(j), float(eps),
                         float(r * (1 + eps) * state.config.mm_per_unit)])
    return _csv(ACTUATION_COLUMNS, rows)


def _read_csv(path, columns, what: str) -> list[dict]:
    """Rows of a CSV written by this module, as dicts of strings (header checked)."""
    text = read_text(path, what)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(h.strip() for h in rows[0]) != columns:
        raise fail(str(path), "header", f"is not {','.join(columns)}", f"give {what} as lab-train wrote it")
    return [dict(zip(columns, r)) for r in rows[1:] if r]


def read_actuation(path) -> list[Frame]:
    """The frames of an actuation file (what the lab, or :mod:`mechclln.labsim`, must impose)."""
    frames: dict[int, list] = {}
    for n, row in enumerate(_read_csv(path, ACTUATION_COLUMNS, "an actuation file"), start=2):
        try:
            frames.setdefault(int(row["frame"]), []).append(
                (int(row["example"]), row["state"], row["role"], int(row["i"]), int(row["j"]), float(row["strain"])))
        except ValueError as exc:
            raise fail(f"{path}:{n}", "row", f"unreadable ({exc})", "regenerate the file with lab-train") from None
    return [Frame(f, rows[0][0], rows[0][1], np.array([[r[3], r[4]] for r in rows], np.int64),
                  tuple(r[2] for r in rows), np.array([r[5] for r in rows])) for f, rows in sorted(frames.items())]


def read_adjustments(path) -> dict:
    """{parameter: (edges, changes, clicks)} of an adjust.csv (changes in the parameter's units)."""
    out: dict = {}
    for row in _read_csv(path, ADJUST_COLUMNS, "an adjust.csv file"):
        e, change, clicks = out.setdefault(row["parameter"], ([], [], []))
        e.append(int(row["edge"]))
        change.append(float(row["change"]))
        clicks.append(int(row["clicks"]))
    return {p: tuple(np.array(v) for v in vals) for p, vals in out.items()}


# ---------------------------------------------------------------------------------------------- measurements
def similarity_fit(P: np.ndarray, Q: np.ndarray):
    """(s, R, t, rms) of the best ``s P R + t ~ Q`` over rows (R orthogonal: a mirrored camera is allowed,
    distances do not see it); rms is the misfit per point."""
    Pc, Qc = P - P.mean(0), Q - Q.mean(0)
    U, sv, Vt = np.linalg.svd(Pc.T @ Qc)
    s = sv.sum() / np.sum(Pc ** 2)
    R = U @ Vt
    rms = float(np.sqrt(max(np.sum(Qc ** 2) - s * sv.sum(), 0.0) / len(P)))
    return s, R, Q.mean(0) - s * P.mean(0) @ R, rms


def read_measurement(path, net: Network, task: Task, state: LabState) -> dict[int, np.ndarray]:
    """{frame: (N, 2) positions in network units} of a tracks CSV, validated against the pending phase."""
    cfg = state.config
    src = str(path)
    frames = read_tracks(Path(path), net.n_nodes)
    wanted = {0} | {fr.frame for fr in actuation_frames(task, state)}
    if set(frames) != wanted:
        missing, extra = sorted(wanted - set(frames)), sorted(set(frames) - wanted)
        raise fail(src, "frame", f"has frames {sorted(frames)}, the {state.phase} phase of round {state.round} "
                   f"expects {sorted(wanted)}" + (f" (missing {missing})" if missing else f" (extra {extra})"),
                   f"give frame 0 (rest) and one frame per example as in {actuation_path('LAB', state).name}")
    out = {}
    r0 = net.lengths()
    rbar = float(r0.mean())
    for f, pos in frames.items():
        missing = [h for h in range(net.n_nodes) if h not in pos]
        if missing:
            raise fail(src, "hub", f"frame {f} lacks hubs {missing[:8]}{' ...' if len(missing) > 8 else ''}",
                       "track every hub of the network in every frame (the rule needs every edge's length)")
        x = np.array([pos[h] for h in range(net.n_nodes)]) / cfg.mm_per_unit
        strain = np.linalg.norm(x[net.edges[:, 0]] - x[net.edges[:, 1]], axis=1) / state.l - 1
        bad = np.abs(strain) > cfg.max_edge_strain
        if bad.any():
            hub = int(np.argmax(np.bincount(net.edges[bad].ravel(), minlength=net.n_nodes)))
            mine = bad & (net.edges == hub).any(1)
            raise fail(src, "x", f"frame {f}: hub {hub} is an outlier ({mine.sum()} of its "
                       f"{(net.edges == hub).any(1).sum()} edges strained beyond {cfg.max_edge_strain:.0%}, up to "
                       f"{np.abs(strain[mine]).max():.2f})", "check the tracking of that hub and measure again")
        out[f] = x
    s, _, _, rms = similarity_fit(out[0], net.x)
    if abs(s - 1) > cfg.scale_tol:
        raise fail(src, "x", f"frame 0 is the network scaled by {1 / s:.4g} (mm_per_unit {cfg.mm_per_unit:g})",
                   "give positions in mm and the lab folder's mm_per_unit")
    if rms > cfg.frame_tol * rbar:
        raise fail(src, "hub", f"frame 0 does not match the network (rms misfit {rms / rbar:.2f} mean bond "
                   f"lengths after the best similarity fit)", "number the hubs as the network's nodes")
    for fr in actuation_frames(task, state):
        x = out[fr.frame]
        r = np.linalg.norm(x[fr.pairs[:, 0]] - x[fr.pairs[:, 1]], axis=1)
        eps = r / np.linalg.norm(net.x[fr.pairs[:, 0]] - net.x[fr.pairs[:, 1]], axis=1) - 1
        off = np.abs(eps - fr.strains)
        q = int(np.argmax(off))
        if off[q] > cfg.actuation_tol:
            raise fail(src, "x", f"frame {fr.frame}: {fr.roles[q]} pair {fr.pairs[q].tolist()} is at strain "
                       f"{eps[q]:.4f}, the actuation asked {fr.strains[q]:.4f} (tolerance {cfg.actuation_tol:g})",
                       "impose it as the actuation file says and measure again")
    return out


# ---------------------------------------------------------------------------------------------- update
def quantised_step(value, step, carry, resolution: float, max_step: float, lo, hi):
    """(new value, clicks, new carry): ``step + carry`` clipped to ``+-max_step``, rounded to whole clicks
    of ``resolution`` (none if 0) and kept within [lo, hi]; the unapplied remainder is carried unless the
    bound or the step limit cut it."""
    want = np.clip(step + carry, -max_step, max_step)
    limited = want != step + carry
    if resolution == 0:
        new = np.clip(value + want, lo, hi)
        return new, np.zeros(len(value), np.int64), np.zeros_like(value)
    clicks = np.round(want / resolution)
    clicks = np.clip(clicks, np.ceil((lo - value) / resolution), np.floor((hi - value) / resolution))
    applied = clicks * resolution
    bounded = applied != np.round(want / resolution) * resolution
    carry = np.where(limited | bounded, 0.0, want - applied)
    return value + applied, clicks.astype(np.int64), carry


def local_update(r_free: np.ndarray, r_clamped: np.ndarray, k, l, eta: float) -> dict:
    """The coupled-learning update (alpha = 1) from measured edge lengths (n_ex, E), averaged over examples."""
    params = {"k": k, "l": l}
    upd = {n: np.zeros_like(k) for n in SpringElements.names}
    for rf, rc in zip(r_free, r_clamped):
        u = contrastive(SpringElements, rf, rc, params, 1.0 / eta)
        for n in upd:
            upd[n] += u[n] / len(r_free)
    return upd


def physical_rates(net0: Network, cfg: LabConfig) -> dict:
    """The dimensionless learning rates in the network's units (see module docstring)."""
    kbar, rbar = float(np.mean(net0.k)), float(np.mean(net0.lengths()))
    return {"l": cfg.alpha_l / kbar, "k": cfg.alpha_k * kbar / rbar ** 2}


def submit(lab, tracks) -> dict:
    """Accept the lab's measurement of the pending phase; returns a summary (what was done, what next)."""
    lab, tracks = Path(lab), Path(tracks)
    net, task, state = load(lab)
    cfg = state.config
    digest = hashlib.sha256(read_text(tracks, "a tracks CSV").encode()).hexdigest()
    if state.accepted and digest == state.accepted[-1]:
        raise fail(str(tracks), "frame", "this file was just accepted (previous phase)", "measure the pending phase and give "
                   f"its new tracks ({actuation_path(lab, state).relative_to(lab)})")
    x = read_measurement(tracks, net, task, state)
    lengths = np.array([net.lengths(x[ex + 1]) for ex in range(task.n_examples)])
    rnd_dir = _round_dir(lab, state.round)
    files = {str((rnd_dir / f"{state.phase}_tracks.csv").relative_to(lab)): tracks.read_bytes()}
    state.accepted.append(digest)
    done = state.phase
    summary = {"round": state.round, "phase": done}
    if done == "free":
        T = len(task.target_pairs)
        eps = np.array([np.linalg.norm(xx[task.target_pairs[:, 0]] - xx[task.target_pairs[:, 1]], axis=1)
                        / task.target_r0 - 1 for xx in (x[ex + 1] for ex in range(task.n_examples))]).reshape(-1, T)
        C = task_error(eps, task.target_strains)
        state.C0 = C if state.C0 is None else state.C0
        state.free_lengths, state.free_strains, state.phase = lengths, eps, "clamped"
        state.history.append({"round": state.round, "C": C, "C_rel": C / state.C0 if state.C0 > 0 else 0.0,
                              "edges_adjusted": 0, "clicks_total": 0, "max_change_l": 0.0, "max_change_k": 0.0})
        summary.update(C=C, C_rel=state.history[-1]["C_rel"])
    else:
        upd = local_update(state.free_lengths, lengths, state.k, state.l, cfg.eta)
        net0 = netio.load(Run(lab).initial_file)
        rates, r0 = physical_rates(net0, cfg), net0.lengths()
        old = {"k": state.k, "l": state.l}
        lo = {"k": np.full_like(r0, cfg.k_bounds[0]), "l": cfg.l_bounds[0] * r0}
        hi = {"k": np.full_like(r0, cfg.k_bounds[1]), "l": cfg.l_bounds[1] * r0}
        rows, new, clicks_all = [], dict(old), {}
        for name in cfg.learn:
            new[name], clicks, carry = quantised_step(old[name], rates[name] * upd[name],
                                                      getattr(state, f"carry_{name}"),
                                                      getattr(cfg, f"resolution_{name}"),
                                                      getattr(cfg, f"max_step_{name}"), lo[name], hi[name])
            setattr(state, f"carry_{name}", carry)
            clicks_all[name] = clicks
            for e, (i, j) in enumerate(net.edges):
                rows.append([e, int(i), int(j), name, float(old[name][e]), float(new[name][e]),
                             float(new[name][e] - old[name][e]), int(clicks[e])])
        h = state.history[-1]
        changed = np.zeros(net.n_edges, bool)
        for name in cfg.learn:
            changed |= new[name] != old[name]
            h[f"max_change_{name}"] = float(np.abs(new[name] - old[name]).max())
        h["edges_adjusted"] = int(changed.sum())
        h["clicks_total"] = int(sum(np.abs(c).sum() for c in clicks_all.values()))
        files[str((rnd_dir / "adjust.csv").relative_to(lab))] = _csv(ADJUST_COLUMNS, rows).encode()
        state.k, state.l = new["k"], new["l"]
        state.round, state.phase, state.free_lengths, state.free_strains = state.round + 1, "free", None, None
        summary.update(adjust=str(rnd_dir / "adjust.csv"), edges_adjusted=h["edges_adjusted"])
    _write_round_outputs(lab, net, task, state, files)
    summary["next"] = str(actuation_path(lab, state))
    return summary
