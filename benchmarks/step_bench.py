"""Performance harness (``mechclln bench``, which runs this file; or ``benchmarks/run.py``): the cost of a
learning step against the limit and against the strongest alternatives, measured in one process on the
same matrices. The networks are :func:`mechclln.bench.bench_network` and :func:`mechclln.bench.peer_network`.

Per network size it records, all wall-clock seconds:

* ``step``: one learning step (coupled learning, M = 3 targets plus the rest example, eta = 0.1), averaged
  over steps 1..n of a short training run (step 0, which factorises and calibrates the learning rates, is
  reported separately as ``step0``), for three variants: k and l in the harmonic model, rest lengths only
  in the harmonic model, and k and l in the nonlinear model. The cosine diagnostic (an adjoint solve per
  example) is switched off: it is not part of the learning rule.
* ``factor``: one fresh sparse factorisation of the stiffness matrix K (free dofs) at the trained k, with
  the project's factoriser (:func:`mechclln.linalg.factorize`), best of up to 3; ``refactor``: a numeric
  refactorisation reusing the symbolic analysis (MUMPS only).
* ``fresh``: a fresh direct solve of each state's full constrained (KKT) system ``[K A^T; A 0]`` (free and
  clamped state of every example of a step), summed over the states: what a learning step costs without
  reuse. It is checked against the states the trainer found.
* ``fire``: FIRE relaxation (vectorised numpy, constraint rows by projection) of the same states, each
  warm-started from the previous step's state, to a relative force tolerance ``fire_tol`` (default 1e-8,
  looser than the Newton solver's 1e-11, which favours FIRE), summed over the states.
* Both baselines are averaged over the same run as the step: over up to ``samples`` (default 5) steps
  evenly spaced through the k+l harmonic run (``baseline_steps``), each from the parameters before that
  step to those after it (a warm start is easier late in a run, when the parameters move less).
* ``peak_rss_mib``: the process's peak resident memory after the case (monotone over the run).

Networks are lattices with every node displaced by a Gaussian of 0.08 bond lengths and then made
unstressed (l = r): triangular in 2D, cubic with face diagonals in 3D. (Jammed packings of 1e4+ particles
took minutes to build on a 2-core machine, see docs/performance.md.)
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mechclln.bench import SIZES, VARIANTS, bench_network, machine, peer_network
from mechclln.errors import MechcllnError
from mechclln.fileio import write_json, write_text
from mechclln.linalg import factorize
from mechclln.minimise import fire
from mechclln.springs import incidence, pair_measure
from mechclln.task import random_task
from mechclln.training import TrainConfig, Trainer

RESULTS_JSON, RESULTS_MD, PLOT = "results.json", "RESULTS.md", "step_time.png"


# ------------------------------------------------------------------------------------------ pieces
def time_factorization(K, repeats: int = 3) -> dict:
    """Best-of-``repeats`` fresh factorisation of K, and one numeric refactorisation (MUMPS)."""
    best, fac = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        fac = factorize(K)
        best = min(best, time.perf_counter() - t)
    t = time.perf_counter()
    fac.refactor(K * 1.01)
    return {"factor_s": best, "refactor_s": time.perf_counter() - t, "backend": fac.name}


def fresh_kkt_solve(eq, k, l, rows, x0):
    """Solve one state's full constrained system afresh (one Newton step from x0: exact for the harmonic
    model); returns positions."""
    lam0 = np.zeros(rows.m)
    r1, r2, egeo, rgeo, soft = eq.residual(x0, lam0, k, l, rows)
    H = eq.hessian(k, l, lam0, egeo, rgeo, rows.pair)
    A = eq.jacobian(rows, rgeo)
    KKT = sp.bmat([[H, A.T], [A, -sp.diags(soft)]], format="csr")
    rhs = -np.concatenate([r1, r2])
    if len(rhs) >= 5000:
        sol = factorize(KKT).solve(rhs)          # MUMPS LDL^T handles the indefinite KKT matrix
    else:
        sol = spla.spsolve(KKT.tocsc(), rhs)
    x = x0.copy()
    x.ravel()[eq.free] += sol[: len(eq.free)]
    return x


def fire_relax(eq, k, l, rows, x0, tol: float = 1e-8, max_steps: int = 200000):
    """FIRE (:func:`mechclln.minimise.fire`, the FIRE 2.0 variant, unit masses) on the free dofs with the
    constraint rows held by projection: forces and velocities are projected onto the rows' tangent space
    and positions corrected back onto the rows. Converged when ``|projected force|_inf <= tol * mean(k) *
    mean bond length`` and every row holds to 1e-10. Returns (positions, steps, converged)."""
    X, E = eq.X, eq.net.edges
    N, d = X.shape
    free = eq.free
    D = incidence(N, E).T.tocsr()          # (E, N): edge difference vectors x_i - x_j
    Dt = D.T.tocsr()
    harmonic = eq.model == "harmonic"
    r0, n_ref, _ = pair_measure("harmonic", X, X, E)
    DX = D @ X
    target = rows.values
    fscale = float(np.mean(k)) * eq.rbar
    x = x0.copy()
    xf = x.ravel()          # view

    def on_rows():
        """Row residuals, Jacobian and (A A^T)^-1 at the current positions."""
        vals, geo = eq.measure_rows(x, rows)
        A = eq.jacobian(rows, geo).toarray()
        return vals - target, A, np.linalg.inv(A @ A.T) if len(A) else np.zeros((0, 0))

    def project(v):
        A, G = at["A"], at["G"]
        return v - A.T @ (G @ (A @ v)) if len(A) else v

    def correct(q):
        """Move q (the free dofs) back onto the rows."""
        c, at["A"], at["G"] = on_rows()
        if len(c):
            q -= at["A"].T @ (at["G"] @ c)
            xf[free] = q

    def force(q):
        xf[free] = q
        if not harmonic:
            correct(q)
        dx = D @ x
        if harmonic:
            n = n_ref
            p = r0 + np.einsum("md,md->m", n, dx - DX)
        else:
            p = np.linalg.norm(dx, axis=1)
            n = dx / p[:, None]
        return project(-(Dt @ ((k * (p - l))[:, None] * n)).ravel()[free])

    def done(q, f):
        c = on_rows()[0] if not harmonic else (eq.measure_rows(x, rows)[0] - target)
        return np.abs(f).max() <= tol * fscale and (not len(c) or np.abs(c).max() <= 1e-10)

    at = {}
    q = xf[free].copy()
    for _ in range(3):      # start on the rows
        correct(q)
    dt_max = 1.0 / np.sqrt(np.max(np.bincount(E.ravel(), weights=np.repeat(k, 2), minlength=N)))
    q, steps, ok = fire(q, force, done, 0.25 * dt_max, dt_max, max_steps, variant="fire2", project=project)
    xf[free] = q
    return x, steps, ok


def _clamped_rows(tr, ex, free_state, eta):
    """The clamped rows coupled learning imposes for the free state of example ``ex``."""
    eq, task = tr.eq, tr.task
    T = len(task.target_pairs)
    vals, _ = eq.measure_rows(free_state.x, eq.target_rows(np.zeros(T), np.zeros(len(eq.tgt_dofs))))
    tv = vals + eta * (task.targets_desired()[ex] - vals)
    return eq.join(free_state.rows, eq.target_rows(tv[:T], tv[T:]))


def _states(tr, k, l, warm, free=None):
    """Free and clamped states of every example at (k, l), warm-started from ``warm`` (the free and
    clamped states of every example, as returned here), else the free states from ``free`` (one per
    example) and the clamped ones from those, else cold."""
    out = []
    for ex in range(tr.task.n_examples):
        w = warm[2 * ex] if warm else (free[ex] if free else None)
        fr = tr.eq.solve(k, l, tr.eq.source_rows(ex), w.x if w else tr.eq.initial_x(ex),
                         w.lam if w else None, slot=ex)
        rows = _clamped_rows(tr, ex, fr, tr.cfg.eta)
        wc = warm[2 * ex + 1] if warm else None
        lam0 = wc.lam if wc else np.concatenate([fr.lam, np.zeros(rows.m - fr.rows.m)])
        cl = tr.eq.solve(k, l, rows, wc.x if wc else fr.x, lam0, slot=ex)
        out += [fr, cl]
    return out


# ------------------------------------------------------------------------------------------ one case
def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_case(n_nodes: int, dim: int, steps: int = 8, variants=tuple(VARIANTS), fire_max_nodes: int = 10000,
               fresh_max_nodes: int = 100000, fire_tol: float = 1e-8, seed: int = 0, samples: int = 5,
               log=print) -> dict:
    """Measure one network size (see module docstring); returns a JSON-ready dict."""
    net = bench_network(n_nodes, dim, seed)
    task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=seed)
    out = {"dim": dim, "n_nodes": int(net.n_nodes), "n_edges": int(net.n_edges), "network": net.meta["kind"],
           "n_examples": int(task.n_examples), "n_targets": int(task.n_targets), "steps": steps, "variants": {}}
    kl_trainer = None
    for name in variants:
        model, learn = VARIANTS[name]
        cfg = TrainConfig(model=model, learn=learn, steps=steps + 1, tol=0.0, report_cosine=False,
                          checkpoint_every=0)
        tr = Trainer(net, task, cfg, check_rigidity=False)
        t = time.perf_counter()
        tr.step()
        step0 = time.perf_counter() - t
        f0, b0 = tr.eq.n_factorizations, sum(s.n_backsolve for s in tr.eq.solvers)
        times, params = [], []
        for _ in range(steps):
            params.append((tr.k.copy(), tr.l.copy()))
            t = time.perf_counter()
            tr.step()
            times.append(time.perf_counter() - t)
        res = {"step_s": float(np.mean(times)), "step_min_s": float(np.min(times)), "step0_s": step0,
               "factorizations": int(tr.eq.n_factorizations - f0),
               "backsolved_columns": int(sum(s.n_backsolve for s in tr.eq.solvers) - b0),
               "C_rel": float(tr.history.C_rel[-1])}
        out["variants"][name] = res
        log(f"  {dim}D N={net.n_nodes} {name}: step {res['step_s']:.4f} s (step0 {step0:.3f} s), "
            f"{res['factorizations']} factorisations in {steps} steps, C/C0 {res['C_rel']:.3f}")
        if name == "harmonic_kl":
            kl_trainer, kl_params = tr, params + [(tr.k.copy(), tr.l.copy())]
    out["peak_rss_mib_after_training"] = _rss_mib()
    tr = kl_trainer or tr
    k, l = tr.k, tr.l
    K = tr.eq.stiffness(k, l)
    out.update(time_factorization(K, repeats=3 if K.shape[0] < 50000 else 1))
    out["dofs"] = int(K.shape[0])
    log(f"  factorisation of K ({K.shape[0]} dofs, {out['backend']}): {out['factor_s']:.4f} s, "
        f"numeric refactor {out['refactor_s']:.4f} s")
    if kl_trainer is not None and len(kl_params) >= 2:
        # baselines on the same steps as the average: pairs of consecutive parameter sets (i -> i + 1) at up
        # to ``samples`` evenly spaced steps of the run; the states at i + 1 are what a step computes
        picks = np.unique(np.linspace(0, len(kl_params) - 2, min(samples, len(kl_params) - 1)).round().astype(int))
        fresh_t, fire_t, fire_steps, fire_ok, fresh_dx, fire_dx = [], [], [], [], [], []
        for i in picks:
            (ko, lo), (kp, lp) = kl_params[i], kl_params[i + 1]
            old = _states(tr, ko, lo, None)
            new = _states(tr, kp, lp, old)
            if net.n_nodes <= fresh_max_nodes:
                t = time.perf_counter()
                xs = [fresh_kkt_solve(tr.eq, kp, lp, st.rows, tr.eq.initial_x(j // 2)) for j, st in enumerate(new)]
                fresh_t.append(time.perf_counter() - t)
                fresh_dx.append(max(np.abs(x - st.x).max() for x, st in zip(xs, new)) / tr.eq.rbar)
            if net.n_nodes <= fire_max_nodes:
                t = time.perf_counter()
                fire = [fire_relax(tr.eq, kp, lp, st.rows, o.x, tol=fire_tol) for st, o in zip(new, old)]
                fire_t.append(time.perf_counter() - t)
                fire_steps.append([int(f[1]) for f in fire])
                fire_ok.append(all(f[2] for f in fire))
                fire_dx.append(max(np.abs(f[0] - st.x).max() for f, st in zip(fire, new)) / tr.eq.rbar)
        out["baseline_steps"] = [int(i) + 1 for i in picks]
        if fresh_t:
            out.update(fresh_s=float(np.mean(fresh_t)), fresh_s_samples=fresh_t, fresh_max_dx=float(max(fresh_dx)))
            log(f"  fresh KKT solves of {len(new)} states, mean of {len(picks)} steps: {out['fresh_s']:.4f} s "
                f"(max |x - x_newton| / bond = {out['fresh_max_dx']:.1e})")
        if fire_t:
            out.update(fire_s=float(np.mean(fire_t)), fire_s_samples=fire_t, fire_steps=fire_steps,
                       fire_converged=bool(all(fire_ok)), fire_max_dx=float(max(fire_dx)), fire_tol=fire_tol)
            log(f"  FIRE of {len(new)} states (warm), mean of {len(picks)} steps: {out['fire_s']:.3f} s, steps "
                f"{fire_steps}, converged {out['fire_converged']}, max |x - x_newton| / bond = "
                f"{out['fire_max_dx']:.1e}")
    out["peak_rss_mib"] = _rss_mib()
    v = out["variants"]
    if "harmonic_kl" in v:
        s = v["harmonic_kl"]["step_s"]
        out["ratios"] = {"kl_step_per_factor": s / out["factor_s"]}
        if "fresh_s" in out:
            out["ratios"]["fresh_over_kl_step"] = out["fresh_s"] / s
        if "fire_s" in out:
            out["ratios"]["fire_over_kl_step"] = out["fire_s"] / s
    for name, key in (("harmonic_l", "l_step_per_factor"), ("nonlinear_kl", "nonlinear_step_per_factor")):
        if name in v:
            out.setdefault("ratios", {})[key] = v[name]["step_s"] / out["factor_s"]
    return out


# ------------------------------------------------------------------------------------------ crossover
def crossover(cases, steps: int = 10, backends=("dense", "superlu"), variants=("harmonic_kl", "nonlinear_kl"),
              seed: int = 0, log=print) -> list:
    """Learning-step time (s, mean of ``steps`` steps after step 0) of the same training run with each
    factoriser of ``backends`` ($MECHCLLN_FACTORIZER), per case and variant, and the largest difference of
    the final free states between the backends (in mean bond lengths). The dense/sparse crossover sets
    :data:`mechclln.linalg.DENSE_MAX_DOFS`."""
    saved, rows = os.environ.get("MECHCLLN_FACTORIZER"), []
    try:
        for dim, n in cases:
            net = bench_network(n, dim, seed)
            task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=seed)
            for name in variants:
                model, learn = VARIANTS[name]
                row, xs = {"dim": dim, "n_nodes": int(net.n_nodes), "variant": name}, []
                for b in backends:
                    os.environ["MECHCLLN_FACTORIZER"] = b
                    cfg = TrainConfig(model=model, learn=learn, steps=steps + 1, tol=0.0, report_cosine=False,
                                      checkpoint_every=0)
                    tr = Trainer(net, task, cfg, check_rigidity=False)
                    tr.step()
                    t = time.perf_counter()
                    for _ in range(steps):
                        tr.step()
                    row[f"{b}_step_s"] = (time.perf_counter() - t) / steps
                    row["dofs"] = int(len(tr.eq.free))
                    xs.append(np.array([s.x for s in tr.states]))
                row["max_dx"] = float(max(np.abs(x - xs[0]).max() for x in xs) / np.mean(net.lengths()))
                rows.append(row)
                log(f"  {dim}D N={row['n_nodes']} ({row['dofs']} dofs) {name}: " +
                    ", ".join(f"{b} {row[f'{b}_step_s'] * 1e3:.2f} ms" for b in backends) +
                    f"; states differ by {row['max_dx']:.1e} bond lengths")
    finally:
        if saved is None:
            os.environ.pop("MECHCLLN_FACTORIZER", None)
        else:
            os.environ["MECHCLLN_FACTORIZER"] = saved
    return rows


# ------------------------------------------------------------------------------------------ time to solution
def time_to_solution(case: str, model: str = "harmonic", tol: float = 1e-3, max_steps: int = 3000,
                     fire_samples: int = 3, fire_max_nodes: int = 10000, tether: float = 1e-2,
                     symmetric: bool = False, within: float | None = None, log=print) -> dict:
    """Train one case to C/C0 <= ``tol`` (coupled learning): wall seconds of training (Trainer construction
    included; building the network and task is timed apart, as ``build_seconds``),
    steps, factorisations, peak RSS (MiB, of the process so far), the seconds at which C/C0 first fell to
    0.49 (the peers' final error), and the project's FIRE baseline for the same trajectory: the mean warm
    FIRE time of a step's states at ``fire_samples`` steps spread over the run, times the steps (an
    estimate; FIRE is not run for every step; not for tethered networks, which :func:`fire_relax` does not
    model).

    ``case``: ``"2:1e4"`` (a :func:`bench_network` of that dimension and size, 3 targets + the rest example,
    k and l learned) or ``"peer"`` (:func:`peer_network`, k learned, tethered by ``tether``); ``symmetric``:
    the two-sided nudge (``TrainConfig.symmetric``, docs/core.md); ``within``: the targets only among bonds
    within that distance (length units: the lattice spacing; bonds are 1.0 long on average in 2D, 1.21 in
    3D) of the source (:func:`mechclln.task.random_task`), a task of the same size at every network size;
    None: the farther half of the whole network."""
    t_build = time.perf_counter()
    if case == "peer":
        if within is not None:
            raise MechcllnError("--tts-within: the peer case has its own task (one target); leave it out for peer")
        net, task = peer_network()
        cfg = TrainConfig(learn=("k",), model=model, steps=max_steps, tol=tol, report_cosine=False,
                          checkpoint_every=0, symmetric=symmetric)
    else:
        dim, n = parse_cases(case)[0]
        net = bench_network(n, dim)
        task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=0, within=within)
        cfg = TrainConfig(model=model, steps=max_steps, tol=tol, report_cosine=False, checkpoint_every=0,
                          symmetric=symmetric)
        tether = 0.0
    cfg.tether = tether
    t0 = time.perf_counter()
    build_seconds = t0 - t_build
    tr = Trainer(net, task, cfg)
    kept, stride, t_peer = [], 1, None     # (k, l, free states as warm start) before and after sampled steps
    while tr.step_index < cfg.steps and not tr.converged:
        before = (tr.k.copy(), tr.l.copy(), tr.states) if tr.step_index % stride == 0 else None
        tr.step()
        if before:
            kept.append((before, (tr.k.copy(), tr.l.copy())))
            if len(kept) > 16:             # a bounded, evenly spaced sample of the steps
                kept, stride = kept[::2], 2 * stride
        if t_peer is None and tr.history.C_rel[-1] <= 0.49:
            t_peer = time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    out = {"case": case, "model": model, "symmetric": symmetric, "within": within, "dim": int(net.dim), "n_nodes": int(net.n_nodes),
           "n_edges": int(net.n_edges), "learn": list(cfg.learn), "tether": tether, "tol": tol,
           "seconds": seconds, "build_seconds": build_seconds, "steps": tr.step_index,
           "C_rel": float(tr.history.C_rel[-1]),
           "converged": bool(tr.converged), "factorizations": int(tr.eq.n_factorizations),
           "seconds_to_C_rel_0.49": t_peer, "peak_rss_mib": _rss_mib()}
    log(f"  {case} ({net.n_nodes} nodes, {model}): C/C0 {out['C_rel']:.2e} after {out['steps']} steps in "
        f"{seconds:.2f} s, {out['factorizations']} factorisations, peak {out['peak_rss_mib']:.0f} MiB")
    if net.n_nodes <= fire_max_nodes and not tether and kept:   # (FIRE here knows no tethers)
        picks = np.unique(np.linspace(0, len(kept) - 1, min(fire_samples, len(kept))).round().astype(int))
        times, lost = [], 0
        for i in picks:
            (ko, lo, warm), (kp, lp) = kept[i]
            try:    # from the trainer's own warm start (a cold 5 % strain solve of a trained network can fail)
                old = _states(tr, ko, lo, None, warm)
                new = _states(tr, kp, lp, old)
            except (MechcllnError, ArithmeticError):     # EquilibriumNotFound, a singular matrix
                lost += 1
                continue
            t = time.perf_counter()
            for st, o in zip(new, old):
                fire_relax(tr.eq, kp, lp, st.rows, o.x)
            times.append(time.perf_counter() - t)
        if lost:
            out["fire_samples_lost"] = lost
            log(f"  FIRE: {lost} of {len(picks)} sampled steps left out (their states were not found again)")
        if times:
            out.update(fire_step_s=float(np.mean(times)), fire_seconds_estimate=float(np.mean(times)) * out["steps"])
            log(f"  FIRE: {out['fire_step_s']:.3f} s per step -> {out['fire_seconds_estimate']:.1f} s for the run "
                f"({out['fire_seconds_estimate'] / seconds:.1f}x)")
    return out


# ------------------------------------------------------------------------------------------ run + report
def run(cases, steps: int = 8, out_dir=None, variants=tuple(VARIANTS), fire_max_nodes: int = 10000,
        fire_tol: float = 1e-8, merge: bool = False, command: str | None = None, samples: int = 5,
        log=print) -> dict:
    """Measure every (dim, n_nodes) in ``cases``; write results.json, RESULTS.md and step_time.png to
    ``out_dir`` (merging with existing results of other sizes when ``merge``)."""
    results = {"machine": machine(), "command": command or " ".join(sys.argv), "cases": []}
    for dim, n in cases:
        log(f"{dim}D, {n} nodes")
        results["cases"].append(bench_case(n, dim, steps, variants, fire_max_nodes, fire_tol=fire_tol,
                                           samples=samples, log=log))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / RESULTS_JSON
        if merge and path.exists():
            old = json.loads(path.read_text())
            new_keys = {(c["dim"], c["n_nodes"]) for c in results["cases"]}
            kept = [c for c in old["cases"] if (c["dim"], c["n_nodes"]) not in new_keys]
            runs = old["runs"]
            for c in results["cases"]:
                c["run"] = len(runs)
            runs.append({"machine": results["machine"], "command": results["command"]})
            results = {"runs": runs, "cases": sorted(kept + results["cases"], key=lambda c: (c["dim"], c["n_nodes"]))}
        else:
            for c in results["cases"]:
                c["run"] = 0
            results = {"runs": [{"machine": results["machine"], "command": results["command"]}],
                       "cases": results["cases"]}
        write_json(path, results)
        write_text(out / RESULTS_MD, markdown(results))
        plot(results, out / PLOT)
    return results


def _f(x, fmt="{:.3g}"):
    return "-" if x is None else fmt.format(x)


def markdown(results: dict) -> str:
    """The results as Markdown tables (times in seconds)."""
    lines = ["# Benchmark results", "",
             "Generated by `mechclln bench` (benchmarks/step_bench.py; its docstring defines every column). "
             "Wall-clock seconds; ratios are from one process and one run. Steps are averaged over the timed "
             "steps of a short training run; the baselines (fresh KKT, warm FIRE with its iteration count "
             "summed over the states) over up to 5 of those same steps.", ""]
    for i, r in enumerate(results["runs"]):
        m = r["machine"]
        lines += [f"Run {i}: `{r['command']}`", "",
                  f"- {m.get('processor')}, {m.get('cpus')} CPUs, {m.get('memory_gib')} GiB; {m.get('platform')}; "
                  f"Python {m.get('python')}, NumPy {m.get('numpy')}, SciPy {m.get('scipy')}; "
                  f"OPENBLAS_NUM_THREADS={m.get('OPENBLAS_NUM_THREADS')}; load average at start "
                  f"{', '.join(f'{x:.1f}' for x in m.get('load_average_at_start', []))}", ""]
    lines += ["| dim | nodes | dofs | run | factor (backend) | refactor | k+l step | l step | nonlinear step | "
              "fresh KKT | FIRE (its) | peak RSS MiB |", "|" + "---|" * 12]
    for c in results["cases"]:
        v = c["variants"]
        g = lambda name: v.get(name, {}).get("step_s")
        fire = f"{_f(c.get('fire_s'))} ({np.mean([sum(f) for f in c['fire_steps']]):.0f})" if "fire_s" in c else "-"
        lines.append(f"| {c['dim']} | {c['n_nodes']} | {c['dofs']} | {c.get('run', 0)} | "
                     f"{_f(c['factor_s'])} ({c['backend']}) | {_f(c['refactor_s'])} | {_f(g('harmonic_kl'))} | "
                     f"{_f(g('harmonic_l'))} | {_f(g('nonlinear_kl'))} | {_f(c.get('fresh_s'))} | {fire} | "
                     f"{c['peak_rss_mib']:.0f} |")
    lines += ["", "Ratios (step time / factorisation time; baseline time / k+l step time):", "",
              "| dim | nodes | k+l step / factor | l step / factor | nonlinear step / factor | fresh / k+l step | "
              "FIRE / k+l step | k+l steps per s |", "|" + "---|" * 8]
    for c in results["cases"]:
        q = c.get("ratios", {})
        s = c["variants"].get("harmonic_kl", {}).get("step_s")
        lines.append(f"| {c['dim']} | {c['n_nodes']} | {_f(q.get('kl_step_per_factor'))} | "
                     f"{_f(q.get('l_step_per_factor'))} | {_f(q.get('nonlinear_step_per_factor'))} | "
                     f"{_f(q.get('fresh_over_kl_step'))} | {_f(q.get('fire_over_kl_step'))} | "
                     f"{_f(1 / s if s else None)} |")
    lines += ["", "Factorisations counted inside the timed steps (k+l / l / nonlinear) and the final C/C0:", ""]
    for c in results["cases"]:
        v = c["variants"]
        lines.append(f"- {c['dim']}D {c['n_nodes']}: " + ", ".join(
            f"{n} {v[n]['factorizations']} factorisations, {v[n]['backsolved_columns']} back-solved columns, "
            f"C/C0 {v[n]['C_rel']:.3f}" for n in v))
    return "\n".join(lines) + "\n"


def tts_key(c: dict) -> tuple:
    """A time-to-solution row replaces an older one of the same case, model, nudge and task size."""
    return c["case"], c["model"], c.get("symmetric", False), c.get("within")


def tts_markdown(results: dict) -> str:
    """The time-to-solution results (:func:`time_to_solution`) as a Markdown table with the commands."""
    lines = ["# Time to C/C0 <= 1e-3", "", "Generated by `mechclln bench --tts` (benchmarks/step_bench.py, "
             "`time_to_solution`). Coupled learning; bench networks: 3 targets at 5 % + the rest example, k and l "
             "learned, the targets in the farther half of the whole network or, where `targets within` gives R "
             "(`--tts-within R`), of the bonds within R length units (lattice spacings) of the source (the same "
             "task size at every network size); `peer`: the issue-14 below-isostatic network (k learned, tether 1e-2). FIRE: the mean warm "
             "FIRE time of a step's states at 3 steps of the run times the steps (estimate). Seconds are training "
             "from the Trainer's construction on; runs 0-7 also counted building the network and task (the jammed "
             "packing: 0.04 s of CPU for `peer`), later runs record that apart (`build_seconds` in the JSON).", ""]
    for i, r in enumerate(results["runs"]):
        lines.append(f"- run {i}: `{r['command']}`, load average at start "
                     f"{', '.join(f'{x:.1f}' for x in r['machine'].get('load_average_at_start', []))}")
    lines += ["", "| case | nodes | targets within | model | nudge | steps | seconds | C/C0 | reached | factorisations | s to C/C0 0.49 | "
              "peak RSS MiB | FIRE s/step | FIRE estimate s | FIRE / ours | run |", "|" + "---|" * 16]
    for c in results["cases"]:
        fire = c.get("fire_seconds_estimate")
        lines.append(f"| {c['case']} | {c['n_nodes']} | {_f(c.get('within'), '{:g}')} | {c['model']} | "
                     f"{'symmetric' if c.get('symmetric') else 'one-sided'} | {c['steps']} | {c['seconds']:.2f} | "
                     f"{c['C_rel']:.2e} | {c['converged']} | {c['factorizations']} | "
                     f"{_f(c.get('seconds_to_C_rel_0.49'))} | {c['peak_rss_mib']:.0f} | {_f(c.get('fire_step_s'))} | "
                     f"{_f(fire, '{:.0f}')} | {_f(fire / c['seconds'] if fire else None)} | {c['run']} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path) -> None:
    """Log-log step time vs N, with the factorisation, fresh-solve and FIRE references."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, dim in zip(axes, (2, 3)):
        cs = [c for c in results["cases"] if c["dim"] == dim]
        if not cs:
            ax.set_visible(False)
            continue
        N = np.array([c["n_nodes"] for c in cs])
        series = [("k+l step (harmonic)", lambda c: c["variants"].get("harmonic_kl", {}).get("step_s"), "o-", "C0"),
                  ("l step (harmonic)", lambda c: c["variants"].get("harmonic_l", {}).get("step_s"), "s-", "C2"),
                  ("k+l step (nonlinear)", lambda c: c["variants"].get("nonlinear_kl", {}).get("step_s"), "^-", "C3"),
                  ("one factorisation of K", lambda c: c["factor_s"], "k--", None),
                  ("fresh KKT solves (all states)", lambda c: c.get("fresh_s"), "x:", "C1"),
                  ("warm FIRE (all states)", lambda c: c.get("fire_s"), "d:", "C4")]
        for label, get, style, color in series:
            y = np.array([get(c) if get(c) is not None else np.nan for c in cs], float)
            if np.isfinite(y).any():
                kw = {"color": color} if color else {}
                ax.loglog(N[np.isfinite(y)], y[np.isfinite(y)], style, label=label, **kw)
        ax.set_xlabel("nodes N")
        ax.set_title(f"{dim}D")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=8)
    fig.suptitle("mechclln learning step vs one factorisation, fresh solves and FIRE (coupled learning, M = 3)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_cases(text: str) -> list:
    """``"2:100,1000;3:1000"`` -> [(2, 100), (2, 1000), (3, 1000)]."""
    cases = []
    for part in text.split(";"):
        if not part.strip():
            continue
        dim, sizes = part.split(":")
        cases += [(int(dim), int(float(n))) for n in sizes.split(",")]
    return cases


def main(args) -> int:
    """Run the harness for the options of ``mechclln bench`` (:func:`mechclln.bench.add_arguments`)."""
    try:
        cases = parse_cases(args.sizes) if args.sizes else [(d, n) for d in (2, 3) for n in SIZES[d]]
    except ValueError:
        raise MechcllnError(f"--sizes {args.sizes!r}: write dim:n,n;dim:n (for example 2:1e3,1e4;3:1e3)") from None
    bad = [v for v in args.variants.split(",") if v not in VARIANTS]
    if bad:
        raise MechcllnError(f"--variants: unknown {bad}; choose from {', '.join(VARIANTS)}")
    if args.steps < 2:
        raise MechcllnError("--steps must be at least 2 (the baselines need a step before the timed ones)")
    if args.samples < 1:
        raise MechcllnError("--samples must be at least 1")
    if args.tts:
        path = Path(args.out) / "time_to_solution.json"
        at_start = machine()          # the load average before the runs, not when the file is written
        new = [time_to_solution(c, args.tts_model, max_steps=args.tts_steps, fire_max_nodes=args.fire_max_nodes,
                                symmetric=args.tts_symmetric, within=args.tts_within) for c in args.tts.split(";")]
        # read only now, so that runs another process appended meanwhile are kept
        old = json.loads(path.read_text()) if path.exists() else {"runs": [], "cases": []}
        run_no = len(old["runs"])
        for c in new:
            c["run"] = run_no
        keys = {tts_key(c) for c in new}
        old["cases"] = [c for c in old["cases"] if tts_key(c) not in keys] + new
        old["runs"].append({"machine": at_start, "command": "mechclln bench " + " ".join(sys.argv[2:])})
        write_json(path, old)
        write_text(Path(args.out) / "TIME_TO_SOLUTION.md", tts_markdown(old))
        print(f"wrote {path} and TIME_TO_SOLUTION.md")
        return 0
    if args.crossover:
        rows = crossover(cases, args.steps)
        path = Path(args.out) / "crossover.json"
        write_json(path, {"machine": machine(), "command": "mechclln bench " + " ".join(sys.argv[2:]),
                          "cases": rows})
        print(f"wrote {path}")
        return 0
    run(cases, args.steps, args.out, tuple(args.variants.split(",")), args.fire_max_nodes, args.fire_tol,
        args.merge, command="mechclln bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else None,
        samples=args.samples)
    print(f"wrote {Path(args.out) / RESULTS_MD}, {RESULTS_JSON}, {PLOT}")
    return 0


