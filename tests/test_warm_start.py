"""The harmonic block solve's initial guess (mechclln.harmonic.guess_basis, ReusableSolver.solve(basis=)):
along a smooth path of stiffnesses, as a training run makes, the Galerkin solution in the span of the last
solution and its extrapolation is closer to the new solution (energy norm) than the last solution alone,
and CG from it reaches the same backward error with fewer back-solves."""
import numpy as np

from mechclln import bench
from mechclln.equilibrium import Equilibria
from mechclln.harmonic import guess_basis
from mechclln.linalg import ReusableSolver, _orthonormal


def test_galerkin_guess_in_the_span_of_earlier_solutions_beats_the_last_solution():
    net = bench.bench_network(400, 2, seed=0)
    eq = Equilibria(net, None, "harmonic", check_rigidity=False)
    rng = np.random.default_rng(4)
    d1, d2 = rng.uniform(-1, 1, (2, net.n_edges))
    K = [eq.stiffness(net.k * (1 + 0.01 * t * d1 + 0.002 * t * t * d2), net.l) for t in range(4)]
    B = rng.standard_normal((K[0].shape[0], 5))
    exact = ReusableSolver(backend="superlu")
    X = []
    for Kt in K:
        exact.set_matrix(Kt, refactor=True)
        X.append(exact.solve(B))
    history = [X[2], X[1], X[0]]                        # newest first, as harmonic_solutions keeps them
    V = _orthonormal(np.column_stack(guess_basis(history)))
    G = V.T @ (K[3] @ V)
    X0 = V @ np.linalg.solve(G, V.T @ B)
    energy = lambda E: np.einsum("ij,ij->", E, K[3] @ E)
    assert energy(X0 - X[3]) < 1e-2 * energy(X[2] - X[3])       # measured: 8.6e-5

    solvers = {}
    for name, basis in (("last", history[0]), ("galerkin", np.column_stack(guess_basis(history)))):
        s = ReusableSolver(backend="superlu")
        s.set_matrix(K[0])                              # the stale factor, as between refactorisations
        s.set_matrix(K[3])
        s.n_backsolve = 0
        x = s.solve(B, 1e-12, basis=basis)
        scale = abs(K[3]).sum(1).max() * np.abs(x).max(0) + np.abs(B).max(0)
        assert (np.abs(K[3] @ x - B).max(0) <= 1e-12 * scale).all()
        solvers[name] = s
    assert solvers["galerkin"].n_backsolve < solvers["last"].n_backsolve     # measured: 20 vs 25
