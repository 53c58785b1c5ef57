"""End-to-end FEM fidelity on a small run directory: a 4 x 4 triangular lattice with one source and two
targets, untrained (k = 1, l = r0), so the as-printed springs equal the trained ones and FEM differs only
through the strut geometry (hubs, bending, finite width)."""
import json

import numpy as np
import pytest

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from mechclln.fem.fidelity import check_run
    from fixtures.runs import untrained_run
    run = untrained_run(tmp_path_factory.mktemp("run"))
    return run, check_run(run, elements_across=2)


def test_fidelity_files_are_written(report):
    run, rep = report
    data = json.loads((run / "fem" / "fidelity.json").read_text())
    assert set(data["models"]) == {"trained_springs", "printed_springs", "built_springs", "frame_linear",
                                   "frame_corotational", "fem_linear",
                                   "fem_finite"}
    assert (run / "fem" / "energy_linear.png").stat().st_size > 10_000
    assert (run / "fem" / "deformed_linear.xdmf").exists()
    assert (run / "fem" / "deformed_linear.h5").exists()


def test_rest_example_is_at_rest_in_every_model(report):
    """Zero source strain gives zero target strain: no spurious load or rigid-motion leak."""
    _, rep = report
    for name, m in rep.models.items():
        assert np.abs(np.asarray(m["target_strains"])[0]).max() < 1e-10, name


def test_fem_follows_the_spring_model_on_a_rigid_lattice(report):
    """A triangulated lattice is stretching-dominated: FEM target strains have the springs' sign and
    lie within a factor 2 of them (hubs and strut bending account for the rest)."""
    _, rep = report
    springs = np.asarray(rep.models["printed_springs"]["target_strains"])[1]
    fem = np.asarray(rep.models["fem_linear"]["target_strains"])[1]
    big = np.abs(springs) > 1e-3
    assert big.any()
    ratio = fem[big] / springs[big]
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_linear_and_finite_fem_agree_at_five_percent_actuation(report):
    """At 5 % source strain, the neo-Hookean and linear target strains differ by under 20 % of the largest
    target strain (geometric nonlinearity is a correction, not the answer)."""
    _, rep = report
    lin = np.asarray(rep.models["fem_linear"]["target_strains"])[1]
    nh = np.asarray(rep.models["fem_finite"]["target_strains"])[1]
    assert np.abs(nh - lin).max() < 0.2 * np.abs(lin).max()


def test_built_springs_equal_printed_springs_when_no_width_is_clipped(report):
    """k = 1 everywhere maps to the nominal width, inside the printable range: nothing is clipped, so the
    as-built springs (k scaled by printed/wanted section) are the as-printed springs."""
    _, rep = report
    np.testing.assert_allclose(rep.models["built_springs"]["target_strains"],
                               rep.models["printed_springs"]["target_strains"], atol=1e-12)


def test_tolerance_spread_is_reported_beside_the_fidelity(report):
    """Width errors of +-0.1 mm spread the actuated FEM target strains around the nominal linear FEM ones."""
    _, rep = report
    tol = rep.tolerances["widths"]
    np.testing.assert_allclose(tol["target_strains_nominal"], rep.models["fem_linear"]["target_strains"])
    assert np.all(np.asarray(tol["target_strains_std"])[1] > 0)


def test_mesh_convergence_study_converges(report, capsys):
    """`mechclln fem RUN --convergence 1,2,3`: the target strains converge under refinement (each level is
    closer to the finest than the one before, the middle level within 2 % of it), convergence.json is
    written, and the coarsest level within 1 % is the reported choice."""
    from mechclln.cli import main

    run, _ = report
    assert main(["fem", str(run), "--convergence", "1,2,3"]) == 0
    data = json.loads((run / "fem" / "convergence.json").read_text())
    change = [lv["max_relative_change_to_finest"] for lv in data["levels"]]
    assert [lv["elements_across"] for lv in data["levels"]] == [1, 2, 3]
    assert change[0] > change[1] > change[2] == 0 and change[1] < 0.02
    ok = [lv["elements_across"] for lv in data["levels"][:-1] if lv["max_relative_change_to_finest"] <= 0.01]
    assert data["coarsest_within_tol"] == (min(ok) if ok else None)
    assert main(["fem", str(run), "--convergence", "2"]) == 2
    assert "at least two" in capsys.readouterr().err
