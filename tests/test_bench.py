"""The performance harness (benchmarks/step_bench.py, run by `mechclln bench`) runs on a small size and its
baselines solve the same physics; the harmonic fast path (one block solve shared by every state) and the
MUMPS backend give the same equilibria."""
import json

import numpy as np
import pytest

from mechclln import bench
from mechclln.equilibrium import Equilibria, free_states
from mechclln.linalg import ReusableSolver, SuperLUFactor, backend_for, factorize
from mechclln.task import random_task

step_bench = bench.load_benchmark("step_bench")


def test_harness_writes_results_table_and_plot(tmp_path):
    """One tiny 2D case: results.json, RESULTS.md and a PNG appear; the fresh KKT solves reproduce the
    trainer's states to 1e-10 bond lengths and warm FIRE converges to within 1e-3 bond lengths of them."""
    res = step_bench.run([(2, 64)], steps=2, out_dir=tmp_path, fire_tol=1e-8, log=lambda *a: None)
    case = res["cases"][0]
    assert case["fresh_max_dx"] < 1e-10
    assert case["fire_converged"] and case["fire_max_dx"] < 1e-3
    assert set(case["variants"]) == set(bench.VARIANTS)
    saved = json.loads((tmp_path / step_bench.RESULTS_JSON).read_text())
    assert saved["cases"][0]["n_nodes"] == case["n_nodes"]
    assert "| 2 | 64 |" in (tmp_path / step_bench.RESULTS_MD).read_text()
    assert (tmp_path / step_bench.PLOT).read_bytes()[:4] == b"\x89PNG"
    step_bench.run([(3, 27)], steps=2, out_dir=tmp_path, variants=("harmonic_kl",), merge=True, log=lambda *a: None)
    merged = json.loads((tmp_path / step_bench.RESULTS_JSON).read_text())
    assert [(c["dim"], c["run"]) for c in merged["cases"]] == [(2, 0), (3, 1)] and len(merged["runs"]) == 2


@pytest.mark.parametrize("model", ["harmonic", "nonlinear"])
def test_fire_reaches_the_newton_equilibrium(model):
    """FIRE with projected constraint rows, started at the reference, ends at the Newton-KKT state."""
    net = bench.bench_network(49, 2, seed=3)
    task = random_task(net, n_targets=2, source_strain=0.03, seed=1)
    eq = Equilibria(net, task, model)
    st = free_states(eq, net.k, net.l)[1]
    x, steps, ok = step_bench.fire_relax(eq, net.k, net.l, st.rows, eq.initial_x(1), tol=1e-10)
    assert ok and steps > 10
    assert np.abs(x - st.x).max() < 1e-6


@pytest.mark.parametrize("backend", ["superlu", "mumps"])
def test_stale_factor_cg_solves_the_current_matrix(backend):
    """After a 5 % random change of every stiffness, CG preconditioned by the old factor solves the new
    system to a backward error of 1e-13 without refactoring, in few iterations."""
    net = bench.bench_network(400, 2, seed=0)
    eq = Equilibria(net, None, "harmonic", check_rigidity=False)
    K0 = eq.stiffness(net.k, net.l)
    k1 = net.k * (1 + 0.05 * np.random.default_rng(0).uniform(-1, 1, net.n_edges))
    K1 = eq.stiffness(k1, net.l)
    s = ReusableSolver(backend=backend)
    s.set_matrix(K0)
    assert s.lu.name == backend
    s.set_matrix(K1)
    b = np.random.default_rng(1).standard_normal((K1.shape[0], 3))
    x = s.solve(b)
    assert s.n_factor == 1 and 0 < s.n_iter <= 3 * 12
    assert np.abs(K1 @ x - b).max() <= 1e-12 * (abs(K1).sum(1).max() * np.abs(x).max() + np.abs(b).max())


def test_mumps_and_superlu_factors_agree():
    """Both backends solve K x = b to the same answer (relative 1e-10); the auto choice is SuperLU for
    small matrices."""
    net = bench.bench_network(900, 2, seed=2)
    eq = Equilibria(net, None, "harmonic", check_rigidity=False)
    K = eq.stiffness(net.k, net.l)
    b = np.random.default_rng(0).standard_normal(K.shape[0])
    xs = [factorize(K, name).solve(b) for name in ("superlu", "mumps")]
    assert np.abs(xs[0] - xs[1]).max() <= 1e-10 * np.abs(xs[0]).max()
    assert backend_for(1000) == "superlu" and isinstance(factorize(K[:100, :100] + 0, "superlu"), SuperLUFactor)


def test_harmonic_states_match_with_and_without_the_shared_block_solve():
    """The harmonic fast path (K^-1 of every terminal row, shared across states) gives the states that a
    direct KKT solve of each state gives, for free and clamped states and node-source tasks alike."""
    net = bench.bench_network(100, 2, seed=4)
    task = random_task(net, n_targets=3, seed=2)
    eq = Equilibria(net, task, "harmonic")
    for ex, st in enumerate(free_states(eq, net.k, net.l)):
        x = step_bench.fresh_kkt_solve(eq, net.k, net.l, st.rows, eq.initial_x(ex))
        assert np.abs(x - st.x).max() < 1e-11 * eq.rbar


def test_cg_warm_started_from_the_previous_solution_solves_the_new_matrix():
    """Starting CG from the solution for the previous stiffnesses (what a learning step does) reaches the
    same backward error on the changed matrix as a start from the stale factor, with no more back-solves."""
    net = bench.bench_network(400, 2, seed=0)
    eq = Equilibria(net, None, "harmonic", check_rigidity=False)
    K0 = eq.stiffness(net.k, net.l)
    K1 = eq.stiffness(net.k * (1 + 0.03 * np.random.default_rng(2).uniform(-1, 1, net.n_edges)), net.l)
    b = np.random.default_rng(3).standard_normal((K0.shape[0], 4))
    cold, warm = ReusableSolver(backend="superlu"), ReusableSolver(backend="superlu")
    for s in (cold, warm):
        s.set_matrix(K0)
    x_prev = warm.solve(b)
    for s in (cold, warm):
        s.set_matrix(K1)
        s.n_backsolve = 0
    x_cold, x_warm = cold.solve(b), warm.solve(b, basis=x_prev)
    scale = abs(K1).sum(1).max() * np.abs(x_warm).max() + np.abs(b).max()
    assert np.abs(K1 @ x_warm - b).max() <= 1e-12 * scale
    assert np.abs(x_warm - x_cold).max() <= 1e-10 * np.abs(x_cold).max()
    assert 0 < warm.n_backsolve <= cold.n_backsolve and warm.n_factor == 1


def test_block_cg_handles_dependent_and_badly_scaled_columns():
    """Block CG on a stale factor: right-hand sides that are dependent (b, 2b, b + c) or 1e-9 apart in scale
    each reach a backward error of 1e-12, and the block needs no more iterations than the hardest single
    column solved alone (its Krylov space contains every column's)."""
    net = bench.bench_network(400, 2, seed=0)
    eq = Equilibria(net, None, "harmonic", check_rigidity=False)
    K0 = eq.stiffness(net.k, net.l)
    K1 = eq.stiffness(net.k * (1 + 0.05 * np.random.default_rng(5).uniform(-1, 1, net.n_edges)), net.l)
    rng = np.random.default_rng(6)
    b, c = rng.standard_normal((2, K0.shape[0]))
    B = np.column_stack([b, 2 * b, b + c, 1e-9 * c])

    def solver():
        s = ReusableSolver(backend="superlu")
        s.set_matrix(K0)
        s.set_matrix(K1)
        return s

    block = solver()
    X = block.solve(B)
    scale = abs(K1).sum(1).max() * np.abs(X).max(0) + np.abs(B).max(0)
    assert np.all(np.abs(K1 @ X - B).max(0) <= 1e-12 * scale) and block.n_factor == 1
    singles = []
    for col in B.T:
        s = solver()
        s.solve(col)
        singles.append(s.n_iter)
    assert 0 < block.n_iter <= max(singles)


def test_time_to_solution_row_records_the_task_size_and_learns():
    """The time-to-solution harness on a 64-node lattice, targets within 3 bond lengths of the source: after
    40 coupled-learning steps C/C0 has fallen (the harmonic k+l learner decreases the task error), the row
    says how the task was drawn, and the Markdown table keeps rows of different task sizes apart."""
    row = step_bench.time_to_solution("2:64", "harmonic", max_steps=40, fire_samples=1, within=3.0,
                                      log=lambda *a: None)
    assert row["within"] == 3.0 and row["n_nodes"] == 64 and 0 < row["steps"] <= 40
    assert row["C_rel"] < 0.2 and row["factorizations"] >= 1 and row["fire_step_s"] > 0
    whole = dict(row, within=None, run=0)
    assert step_bench.tts_key(whole) != step_bench.tts_key(row)
    table = step_bench.tts_markdown({"runs": [{"command": "x", "machine": {}}], "cases": [whole, dict(row, run=0)]})
    lines = [ln for ln in table.splitlines() if ln.startswith("| 2:64 ")]
    assert [ln.split(" | ")[2] for ln in lines] == ["-", "3"]
    assert all(ln.count("|") == 17 for ln in lines)
