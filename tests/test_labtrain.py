"""The lab loop (mechclln.labtrain over files, driven by the simulated bench of mechclln.labsim).

Physics checked: with exact measurements the file protocol *is* coupled learning (its parameters after
five rounds equal those of `train` with the same fixed rates to round-off); a noisy, quantised bench with
fabrication errors still reaches the task through the files, while the model-driven rule (updates
predicted by the network file's model) is left at the error the fabrication errors cause; quantisation
with a carried remainder applies on average what the rule asked for; thermal samples obey equipartition;
bad measurements are refused with one-line errors that name the file and field.
"""
import numpy as np
import pytest

from mechclln import labsim, labtrain
from mechclln.bench import bench_network
from mechclln.cli import main
from mechclln.errors import MechcllnError
from mechclln.training import TrainConfig, train

MM = 20.0      # mm per network unit: a bench with 20 mm bonds


@pytest.fixture(scope="module")
def bench():
    net = bench_network(36, 2, 0)
    return net, labsim.bench_task(net, n_targets=2, seed=1)


def test_zero_noise_rounds_equal_coupled_learning(bench, tmp_path):
    net, task = bench
    cfg = labtrain.LabConfig(learn=("k", "l"), eta=0.5, alpha_l=0.2, alpha_k=0.2, mm_per_unit=MM, tol=1e-12)
    res = labsim.simulate(net, task, cfg, labsim.BenchNoise(), tmp_path / "lab", rounds=5)
    _, _, state = labtrain.load(tmp_path / "lab")
    rates = labtrain.physical_rates(net, cfg)
    ref = train(net, task, TrainConfig(rule="coupled", learn=("k", "l"), eta=0.5, alpha_k=rates["k"],
                                       alpha_l=rates["l"], adapt_up=1.0, adapt_down=1.0, max_rise=np.inf,
                                       steps=5, tol=1e-300, report_cosine=False))
    assert state.round == 6 and len(ref.history.C) == 5
    assert np.abs(state.k - ref.network.k).max() <= 1e-9 * np.abs(ref.network.k - net.k).max()
    assert np.abs(state.l - ref.network.l).max() <= 1e-9 * np.abs(ref.network.l - net.l).max()
    C_lab = np.array([h["C"] for h in state.history])
    assert np.allclose(C_lab, ref.history.C, rtol=1e-9, atol=0)
    assert res.C_rel[-1] < 0.5       # and it learns


def test_noisy_bench_reaches_task_measured_not_model(bench, tmp_path):
    """Tracking noise 0.05 mm, actuation error 1e-3, 0.05 mm turnbuckle clicks, 10 % stiffness and
    1 % rest-length fabrication errors: the in-situ rule reaches C/C0 <= 1e-3; the model-driven rule, blind
    to the fabrication errors, does not."""
    net, task = bench
    cfg = labtrain.LabConfig(eta=0.5, alpha_l=0.3, resolution_l=0.05 / MM, mm_per_unit=MM, tol=1e-3,
                             actuation_tol=0.03)
    noise = labsim.BenchNoise(position=0.05, actuation=1e-3, fabrication_k=0.1, fabrication_l=0.01, seed=1)
    measured = labsim.simulate(net, task, cfg, noise, tmp_path / "m", rounds=40)
    model = labsim.simulate(net, task, cfg, noise, tmp_path / "p", rounds=40, rule="model")
    assert measured.rounds_to_tol is not None and measured.rounds_to_tol <= 30
    assert model.rounds_to_tol is None and min(model.C_rel) > 3 * cfg.tol     # stalls at the fabrication floor
    assert model.C_rel_measured[-1] < 1e-4      # while its model believes the task is done
    adjust = labtrain.read_adjustments(tmp_path / "m" / "round_001" / "adjust.csv")["l"]
    assert np.allclose(adjust[1], adjust[2] * cfg.resolution_l, rtol=0, atol=1e-12)     # whole clicks only


def test_quantised_step_carries_the_remainder():
    """A constant asked step of 0.3 clicks per round: 0 or 1 click each round, 30 +- 1 clicks after 100."""
    value, carry = np.array([1.0]), np.zeros(1)
    total = 0
    for _ in range(100):
        new, clicks, carry = labtrain.quantised_step(value, np.array([0.003]), carry, 0.01, np.inf,
                                                     np.array([0.5]), np.array([2.0]))
        assert clicks[0] in (0, 1) and np.isclose(new[0] - value[0], clicks[0] * 0.01)
        value, total = new, total + clicks[0]
    assert abs(total - 30) <= 1
    new, clicks, carry = labtrain.quantised_step(value, np.array([5.0]), np.zeros(1), 0.01, 0.1,
                                                 np.array([0.5]), np.array([1.355]))
    assert clicks[0] == 5 and np.isclose(new[0], value[0] + 0.05) and carry[0] == 0   # bound wins over step


def test_thermal_samples_obey_equipartition(bench):
    """<dx^T K_c dx>/2 = kT/2 per degree of freedom the imposed pairs leave free."""
    net, task = bench
    b = labsim.Bench(net, task, labsim.BenchNoise(temperature=1e-4, seed=3), MM)
    fr = labtrain.actuation_frames(task, labtrain.LabState(labtrain.LabConfig()))[0]
    rows = b.rows(fr)
    st = b.eq.solve(b.k, b.l, rows, net.x.copy(), slot=1)
    _, _, egeo, rgeo, _ = b.eq.residual(st.x, st.lam, b.k, b.l, rows)
    H = b.eq.hessian(b.k, b.l, st.lam, egeo, rgeo, rows.pair).toarray()
    n_dof = len(b.eq.free) - rows.m
    e = [0.5 * (d := (labsim.thermal_sample(b.eq, st, b.k, b.l, b.kT, b.rng) - st.x).ravel()[b.eq.free]) @ H @ d
         for _ in range(400)]
    assert abs(np.mean(e) / (0.5 * b.kT * n_dof) - 1) < 0.03


# ------------------------------------------------------------------------------------ validation
@pytest.fixture
def lab(bench, tmp_path):
    """A lab folder waiting for round 1's free tracks, and the bench's correct tracks text for them."""
    net, task = bench
    cfg = labtrain.LabConfig(mm_per_unit=MM)
    state = labtrain.init(net, task, cfg, tmp_path / "lab")
    b = labsim.Bench(net, task, labsim.BenchNoise(position=0.01, seed=2), MM)
    text = b.tracks(labtrain.read_actuation(labtrain.actuation_path(tmp_path / "lab", state)))
    return tmp_path / "lab", text


def _lines(text):
    head, *rows = text.strip().split("\n")
    return head, [r.split(",") for r in rows]


def _join(head, rows):
    return "\n".join([head] + [",".join(r) for r in rows]) + "\n"


def _refused(lab, tmp_path, text, *words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MechcllnError) as exc:
        labtrain.submit(lab, path)
    msg = str(exc.value)
    assert str(path) in msg and "field '" in msg and "\n" not in msg and all(w in msg for w in words), msg
    assert labtrain.load(lab)[2].phase == "free"          # nothing accepted


def test_missing_hub_and_frame_are_refused(lab, tmp_path):
    lab, text = lab
    head, rows = _lines(text)
    _refused(lab, tmp_path, _join(head, [r for r in rows if not (r[0] == "1" and r[1] == "7")]), "lacks hubs [7]")
    _refused(lab, tmp_path, _join(head, [r for r in rows if r[0] != "1"]), "only the rest frame")
    _refused(lab, tmp_path, _join(head, rows + [["2", "0", "0.0", "0.0"]]), "extra [2]")


def test_outlier_units_and_numbering_are_refused(lab, tmp_path):
    lab, text = lab
    head, rows = _lines(text)
    moved = [r[:2] + [str(float(r[2]) + 8.0), r[3]] if r[:2] == ["1", "20"] else r for r in rows]
    _refused(lab, tmp_path, _join(head, moved), "hub 20 is an outlier")
    inches = [r[:2] + [str(float(r[2]) / 25.4), str(float(r[3]) / 25.4)] for r in rows]
    _refused(lab, tmp_path, _join(head, inches), "is an outlier")     # every edge 25x too short
    scaled = [r[:2] + [str(float(r[2]) * 1.2), str(float(r[3]) * 1.2)] for r in rows]
    _refused(lab, tmp_path, _join(head, scaled), "scaled by 1.2")
    perm = np.random.default_rng(0).permutation(36)
    shuffled = [[r[0], str(perm[int(r[1])])] + r[2:] if r[0] == "0" else r for r in rows]
    _refused(lab, tmp_path, _join(head, shuffled), "outlier")


def test_wrong_actuation_is_refused_and_resubmission_too(lab, tmp_path, bench):
    lab, text = lab
    net, task = bench
    i, j = task.source_pairs[0]
    head, rows = _lines(text)
    pulled = [r[:2] + [str(float(r[2]) * 1.0005), r[3]] if r[0] == "1" and r[1] == str(j) else r for r in rows]
    b = labsim.Bench(net, task, labsim.BenchNoise(actuation=0.02, seed=5), MM)
    _, _, state = labtrain.load(lab)
    wrong = b.tracks(labtrain.actuation_frames(task, state))
    _refused(lab, tmp_path, wrong, "the actuation asked")
    good = tmp_path / "good.csv"
    good.write_text(_join(head, pulled))
    assert labtrain.submit(lab, good)["phase"] == "free"
    with pytest.raises(MechcllnError, match="just accepted"):
        labtrain.submit(lab, good)
    assert labtrain.load(lab)[2].phase == "clamped"


def test_cli_round_trip(bench, tmp_path):
    """init -> submit free -> submit clamped -> status, each a separate command (resumable on disk)."""
    from mechclln import network as netio
    from mechclln.task import save_task

    net, task = bench
    netio.save(net, tmp_path / "net.json")
    save_task(task, tmp_path / "task.json")
    lab = tmp_path / "lab"
    assert main(["lab-train", "init", tmp_path / "net.json", tmp_path / "task.json", "--out", lab,
                 "--mm-per-unit", MM, "--resolution-l", 0.0025]) == 0
    b = labsim.Bench(net, task, labsim.BenchNoise(position=0.01), MM)
    for phase in ("free", "clamped"):
        _, _, state = labtrain.load(lab)
        frames = labtrain.read_actuation(labtrain.actuation_path(lab, state))
        (tmp_path / f"{phase}.csv").write_text(b.tracks(frames))
        assert main(["lab-train", "submit", lab, tmp_path / f"{phase}.csv"]) == 0
    assert main(["lab-train", "status", lab]) == 0
    assert (lab / "round_001" / "adjust.csv").exists() and (lab / "round_002" / "free_actuation.csv").exists()
    assert main(["lab-train", "init", tmp_path / "net.json", tmp_path / "task.json", "--out", lab]) == 2
