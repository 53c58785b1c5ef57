"""Small, fast versions of the science examples (examples/*.py --quick): each asserts the physics its
full-size script reproduces. See docs/science.md for the full-size figures and the papers."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import allosteric_training  # noqa: E402
import capacity  # noqa: E402
import digits_classifier  # noqa: E402
import directed_aging  # noqa: E402
import gradient_alignment  # noqa: E402
import power_efficient  # noqa: E402


def test_allosteric_rest_lengths_only_shift_outputs_in_harmonic_model():
    """Claim 1 (PRX 2021), quick: with the rest example, harmonic rest-length learning can only shift all
    outputs by one offset, so C/C_0 -> exactly 1/2; without the rest example it solves the task; learning
    stiffness (with or without l) goes below that floor."""
    final = allosteric_training.run(quick=True)["summary"]["final_C_rel"]
    for M, c in final["l only"].items():
        assert c == pytest.approx(0.5, abs=1e-6), M
    assert max(final["l only without rest example"].values()) < 1e-2
    assert min(final["k and l"].values()) < 0.5
    assert min(final["k only"].values()) < 0.5


def test_coupled_learning_aligns_with_gradient_and_trains_like_it():
    """Claim 3, quick: one target, eta = 1e-3: cos(local, -grad C) >= 0.99 for the stiffness update, the
    rest-length update and both; the stiffness update (second order in strain) is far less aligned at
    eta = 1, so alignment is what eta -> 0 buys; coupled learning and exact gradient descent lower C."""
    data = gradient_alignment.run(quick=True)
    for part, c in data["summary"]["cosine_one_target_eta_1e-3_min"].items():
        assert c >= 0.99, part
    one = data["cosine"]["M=1, task 0"]["k"]
    assert one[0] < 0.9 < 0.99 <= one[-1]
    for label, cur in data["curves"].items():
        assert cur["C_rel"][-1] < 0.5, label


def test_directed_aging_does_worse_than_coupled_learning():
    """Claim 5, quick: on the same tasks and steps, coupled learning ends below directed aging."""
    med = directed_aging.run(quick=True)["summary"]["final_C_rel_median"]
    for M in med["coupled learning"]:
        assert med["coupled learning"][M] < med["directed aging"][M], M


def test_power_efficient_learning_lowers_energy_and_raises_error():
    """Claim 4, quick: the largest regulariser gives a lower free-state energy and a larger error than
    reg = 0, and the energy falls monotonically with reg."""
    s = power_efficient.run(quick=True)["summary"]
    C, U = np.array(s["final_C_rel"]), np.array(s["energy_rel"])
    assert U[-1] < U[0] and C[-1] > C[0]
    assert np.all(np.diff(U) < 0)


def test_capacity_falls_with_targets_per_node():
    """Claim 2, quick: at M/N = 0.1 no task trains to C/C_0 <= 0.01 and the median final error is larger
    than at M/N = 0.01."""
    s = capacity.run(quick=True)["summary"]
    for n, med in s["median_final_C_rel"].items():
        assert med["0.01"] < med["0.1"], n
        assert s["success_fraction"][n]["0.1"] == 0.0


def test_digits_classifier_learns():
    """Claim 6, quick (a third of the data, 40 steps): training lowers C, and the trained network
    classifies the held-out digits 0 vs 1 with at most 5 % error, better than the untrained one."""
    s = digits_classifier.run(quick=True)["summary"]
    assert s["final_C_rel"] < 1.0
    assert s["test_error"] <= 0.05
    assert s["test_error"] < s["untrained_test_error"]
