"""The FEM check of a corrected design reuses the correction's last FEM solve (mechclln demo: correct, then
check the same part) instead of meshing and solving the same part in finite-strain FEM again, and gives what
a fresh check gives."""
import json
from dataclasses import replace

import numpy as np
import pytest

from mechclln.design import DesignConfig
from mechclln.geometry.design_run import design_network, write_design_run
from mechclln.geometry.spec import PartSpec
from mechclln.packing import jammed_network
from mechclln.task import random_task

pytestmark = pytest.mark.fem

CFG = DesignConfig(model="corotational", steps=10, rounds=1)


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
    """A small frame design run (80-node jammed network, two targets), corrected with no re-design
    (``rounds=0``: one finite-strain FEM solve of the design as it came)."""
    from mechclln.fem.correct import correct_run

    net = jammed_network(80, dim=2, seed=2)
    task = random_task(net, n_targets=2, source_strain=0.05, target_strain=0.05, seed=4, rest=True)
    fp, res, _ = design_network(net, task, PartSpec(scale=14.0), "tpu95a", CFG)
    run = tmp_path_factory.mktemp("reuse") / "d"
    write_design_run(run, fp, res, task, CFG)
    return run, correct_run(run, rounds=0)


def counting_finite_solves(monkeypatch) -> list:
    """Every finite-strain FEM solve appends to the returned list."""
    from mechclln.fem.finite import FiniteStrainModel

    calls, solve = [], FiniteStrainModel.solve

    def counted(self, *args, **kwargs):
        calls.append(args)
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(FiniteStrainModel, "solve", counted)
    return calls


def test_check_reuses_the_corrections_last_solve_and_equals_a_fresh_check(corrected, monkeypatch):
    """With the correction's solution the check runs no finite-strain solve, says so in fidelity.json, still
    writes every file (XDMF, energy map), and its numbers equal those of a check that solves afresh to 1e-10;
    the solution is not written into design.json."""
    from mechclln.fem.fidelity import check_run

    run, rec = corrected
    assert rec.solution is not None and "solution" not in rec.to_json()
    assert "solution" not in json.loads((run / "design.json").read_text())["fem_correction"]
    calls = counting_finite_solves(monkeypatch)
    reused = check_run(run, solution=rec.solution)
    assert reused.reused_solution and calls == []
    data = json.loads((run / "fem" / "fidelity.json").read_text())
    assert data["reused_solution"] is True and "fem_finite" in data["models"]
    assert (run / "fem" / "energy_linear.png").stat().st_size > 10_000
    assert (run / "fem" / "deformed_linear.xdmf").exists() and (run / "fem" / "deformed_linear.h5").exists()
    assert np.array_equal(reused.models["fem_finite"]["target_strains"], rec.rounds[-1]["fem_target_strains"])

    fresh = check_run(run, write=False)
    assert not fresh.reused_solution and len(calls) == rec.solution.source_strains.shape[0]
    for key in ("fem_linear", "fem_finite"):
        assert np.allclose(reused.models[key]["target_strains"], fresh.models[key]["target_strains"],
                           rtol=0, atol=1e-10), key
        assert reused.models[key]["C"] == pytest.approx(fresh.models[key]["C"], rel=1e-8, abs=1e-14)
    for key in ("max_tensile", "max_compressive", "peak"):
        assert reused.peak_strain[key] == pytest.approx(fresh.peak_strain[key], rel=1e-8)
    b, b_fresh = reused.buckling["first_factor"], fresh.buckling["first_factor"]
    assert (b is None and b_fresh is None) or b == pytest.approx(b_fresh, rel=1e-6)
    assert reused.mesh == fresh.mesh


def test_a_solution_of_another_part_or_mesh_is_not_reused(corrected):
    """The solution matches only the same part description, mesh parameters and actuation."""
    from mechclln.fem.fidelity import load_geometry_part
    from mechclln.geometry.print_state import as_printed_task, print_positions
    from mechclln.rundir import Run

    run, rec = corrected
    sol = rec.solution
    net, task = Run(run).network_and_task()
    x = print_positions(net)
    gpart, ptask = load_geometry_part(run, net, task, x), as_printed_task(task, x)
    assert sol.matches(gpart, ptask, sol.elements_across, sol.mesh_size, True)
    wider = replace(gpart, width=gpart.width * (1 + 1e-9))
    assert not sol.matches(wider, ptask, sol.elements_across, sol.mesh_size, True)
    assert not sol.matches(gpart, ptask, sol.elements_across + 1, sol.mesh_size, True)
    assert not sol.matches(gpart, ptask, sol.elements_across, 0.5, True)
    assert not sol.matches(gpart, replace(ptask, source_strains=ptask.source_strains * 2), sol.elements_across,
                           sol.mesh_size, True)
