"""Small networks (issue 14): the dense factorisation path gives the sparse path's states, and the tether
regularisation makes networks below isostatic solvable and trainable."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

from mechclln import linalg
from mechclln.bench import bench_network, peer_network
from mechclln.equilibrium import Equilibria, free_states
from mechclln.errors import MechcllnError
from mechclln.task import random_task
from mechclln.training import TrainConfig, Trainer


def test_auto_backend_is_dense_below_the_crossover_only():
    assert linalg.backend_for(linalg.DENSE_MAX_DOFS - 1) == "dense"
    assert linalg.backend_for(linalg.DENSE_MAX_DOFS) == "superlu"


def test_dense_factor_solves_indefinite_and_refuses_singular():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    A = Q @ np.diag(np.r_[-1.0, np.linspace(1, 3, 29)]) @ Q.T     # indefinite: the LU branch
    b = rng.standard_normal((30, 2))
    assert np.abs(A @ linalg.DenseFactor(sp.csr_matrix(A)).solve(b) - b).max() < 1e-12
    with pytest.raises(linalg.SingularMatrixError):
        linalg.DenseFactor(np.diag(np.r_[0.0, -1.0, np.ones(5)]))


@pytest.mark.parametrize("model", ["harmonic", "nonlinear"])
def test_dense_and_sparse_paths_train_to_the_same_states(monkeypatch, model):
    """Five k+l learning steps with each factoriser: same free states (1e-10 bond lengths), same k."""
    net = bench_network(64, 2)
    task = random_task(net, n_targets=3, seed=0)
    out = {}
    for backend in ("dense", "superlu"):
        monkeypatch.setenv("MECHCLLN_FACTORIZER", backend)
        tr = Trainer(net, task, TrainConfig(model=model, steps=6, tol=0.0, checkpoint_every=0))
        for _ in range(5):
            tr.step()
        assert {s.lu.name for s in tr.eq.solvers} == {backend}
        out[backend] = (np.array([s.x for s in tr.states]), tr.k.copy())
    assert np.abs(out["dense"][0] - out["superlu"][0]).max() < 1e-10
    assert np.abs(out["dense"][1] - out["superlu"][1]).max() < 1e-10


def test_floppy_network_is_refused_without_tether_and_solved_with_it():
    net, task = peer_network()
    assert 2 * net.n_edges / net.n_nodes < 4
    with pytest.raises(MechcllnError, match="floppy"):
        Equilibria(net, task, "nonlinear")
    eq = Equilibria(net, task, "nonlinear", tether=1e-2)
    st = free_states(eq, net.k, net.l)[0]
    assert st.residual < 1e-11
    strain = eq.measure_rows(st.x, eq.source_rows(0))[0]
    assert abs(strain[0] - 0.2) < 1e-12
    share = eq.tether_share(st, net.k, net.l)
    assert share["tether"] == 1e-2 and 0 < share["force_ratio"] < 1


def test_weak_tether_on_a_rigid_network_changes_the_state_by_order_tether():
    net = bench_network(100, 2)
    task = random_task(net, n_targets=2, seed=1)
    x = {}
    for t in (0.0, 1e-7):
        eq = Equilibria(net, task, "nonlinear", tether=t)
        x[t] = eq.aligned(free_states(eq, net.k, net.l)[1].x)
    dx = np.abs(x[0.0] - x[1e-7]).max() / np.mean(net.lengths())
    assert 0 < dx < 1e-5
    assert Equilibria(net, task).tether_share(free_states(eq, net.k, net.l)[0], net.k, net.l)["energy_ratio"] == 0


def test_peer_network_trains_with_tether():
    """The issue's below-isostatic task: k by coupled learning passes the peers' final error C/C0 ~ 0.49."""
    net, task = peer_network()
    cfg = TrainConfig(learn=("k",), steps=120, tol=0.49, checkpoint_every=0, report_cosine=False, tether=1e-2)
    tr = Trainer(net, task, cfg, check_rigidity=False)
    while tr.step_index < cfg.steps and not tr.converged:
        tr.step()
    assert tr.converged, tr.history.C_rel[-1]


def test_cli_trains_the_peer_network_as_it_is_with_an_explicit_tether(tmp_path, capsys):
    """`mechclln train` takes the peers' below-isostatic network unchanged: without a tether it refuses it
    with a one-line error naming --tether; with --tether 1e-2 coupled learning of k reaches C/C0 <= 1e-3
    and metrics.json reports the tether's share, which equals the tether energy over the spring energy of
    the trained network's free state recomputed here; `evaluate --tether` reproduces the saved strain."""
    from mechclln import network as netio
    from mechclln.cli import main
    from mechclln.task import load_task, save_task

    net, task = peer_network()
    netio.save(net, tmp_path / "peer.json")
    save_task(task, tmp_path / "task.json")
    args = ["train", tmp_path / "peer.json", tmp_path / "task.json", "--learn", "k", "--quiet", "--out"]
    assert main(args + [tmp_path / "none"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "floppy" in err and "--tether 1e-2" in err
    assert not list(tmp_path.glob("*none*")), "a refused network left a (partial) run directory"
    assert main(args + [tmp_path / "run", "--tether", "1e-2"]) == 0
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["converged"] and m["C_rel_final"] <= 1e-3 and m["tether"]["tether"] == 1e-2
    trained = netio.load(tmp_path / "run" / "network.json")
    eq = Equilibria(trained, load_task(tmp_path / "task.json", trained), "nonlinear", tether=1e-2)
    st = free_states(eq, trained.k, trained.l)[0]
    ratio = 1e-2 * np.sum((st.x - eq.X) ** 2) / np.sum(trained.k * (st.p - trained.l) ** 2)
    assert m["tether"]["energy_ratio"] == pytest.approx(ratio, rel=1e-6) and 0.01 < ratio < 0.5
    assert main(["evaluate", tmp_path / "run" / "network.json", tmp_path / "task.json", "--model", "nonlinear",
                 "--tether", "1e-2", "--json", tmp_path / "ev.json"]) == 0
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["nonlinear"]["target_strains"][0] == pytest.approx(m["final"]["target_strains"][0], rel=1e-8)
    assert main(["report", tmp_path / "run", "--out", tmp_path / "run.html"]) == 0     # solves as trained
    assert "free state" in (tmp_path / "run.html").read_text()


def test_tether_share_sums_the_energies_of_every_example():
    """With a rest example (two states), the reported share is the tethers' energy over the springs' energy,
    each summed over the examples' free states of the trained network, and the force ratio the largest
    tether force over the largest tension, recomputed here from the states."""
    from mechclln.training import train

    net = bench_network(49, 2, seed=1)
    task = random_task(net, n_targets=2, seed=1)
    assert task.n_examples == 2
    res = train(net, task, TrainConfig(model="harmonic", steps=20, checkpoint_every=0, tether=1e-2))
    eq = Equilibria(res.network, task, "harmonic", tether=1e-2)
    sts = free_states(eq, res.network.k, res.network.l)
    k, l = res.network.k, res.network.l
    e_t = sum(0.5e-2 * np.sum((st.x - eq.X) ** 2) for st in sts)
    e_s = sum(0.5 * np.sum(k * (st.p - l) ** 2) for st in sts)
    f_t = max(1e-2 * np.linalg.norm(st.x - eq.X, axis=1).max() for st in sts)
    f_s = max(np.abs(k * (st.p - l)).max() for st in sts)
    assert res.tether["energy_ratio"] == pytest.approx(e_t / e_s, rel=1e-6)
    assert res.tether["force_ratio"] == pytest.approx(f_t / f_s, rel=1e-6)
