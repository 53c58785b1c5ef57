"""CG + GAMG and MUMPS solve the same linear problem; the FEM benchmark harness (benchmarks/fem_bench.py,
loaded by the one benchmark loader) runs end to end.

Both solvers see the same regularised stiffness (determinate dofs fixed, pin penalty), so the target
strains and source tensions of the same bordered (Schur-complement) solve must agree to the CG tolerance:
within 1e-6 relative. No timings are asserted.
"""
import json

import numpy as np
import pytest

pytestmark = pytest.mark.fem


def _states(monkeypatch, method):
    from fixtures import fem_sheets
    from mechclln.fem import linear, part
    x = np.array([[0.0, 0.0], [30.0, 0.0], [15.0, 26.0], [45.0, 26.0]])
    edges = [[0, 1], [1, 2], [0, 2], [1, 3], [2, 3]]
    g = fem_sheets.build_sheet(x, edges, 1.2, 2.4, 0.75, h=0.8)
    pt = part.from_gmsh(g, E=26.0, nu=0.48, thickness=3.0)
    monkeypatch.setenv("MECHCLLN_FEM_SOLVER", method)
    model = linear.LinearModel(pt, pinned=[0])
    free = model.solve([[0, 3]], [0.02])
    clamped = model.solve([[0, 3], [1, 2]], [0.02, -0.01])
    out = (model.fac.method, list(model.fac.iterations), model.strains(free, [[1, 2]]), clamped.tension)
    model.destroy()
    return out


def test_gamg_and_direct_give_the_same_states(monkeypatch):
    method_d, _, eps_d, ten_d = _states(monkeypatch, "direct")
    method_g, its, eps_g, ten_g = _states(monkeypatch, "gamg")
    assert (method_d, method_g) == ("direct", "gamg")
    assert len(its) == 2 + 1 + 2 + 2 and min(its) > 0      # one CG solve per constraint column
    assert abs(eps_d[0]) > 1e-4                             # the target does respond
    assert np.abs(eps_g - eps_d).max() <= 1e-6 * np.abs(eps_d).max()
    assert np.abs(ten_g - ten_d).max() <= 1e-6 * np.abs(ten_d).max()


def test_solver_choice_follows_size_and_override(monkeypatch):
    from mechclln.errors import MechcllnError
    from mechclln.fem.solver import GAMG_MIN_DOFS, choose_method
    monkeypatch.delenv("MECHCLLN_FEM_SOLVER", raising=False)
    assert choose_method(GAMG_MIN_DOFS - 1) == "direct"
    assert choose_method(GAMG_MIN_DOFS) == "gamg"
    monkeypatch.setenv("MECHCLLN_FEM_SOLVER", "gamg")
    assert choose_method(10) == "gamg"
    monkeypatch.setenv("MECHCLLN_FEM_SOLVER", "mumps")
    with pytest.raises(MechcllnError, match="MECHCLLN_FEM_SOLVER"):
        choose_method(10)


def test_bench_harness_runs_on_a_tiny_part(tmp_path):
    """Serial and mpirun -n 2 workers, both methods: files written, phases measured, solvers agree."""
    from mechclln.bench import load_benchmark
    bench = load_benchmark("fem_bench")
    res = bench.run(sizes=(1,), ranks=(1, 2), out_dir=tmp_path, lattices=((4, 4),), log=lambda *_: None)
    assert [c["ranks"] for c in res["cases"]] == [1, 2]
    for c in res["cases"]:
        assert c["struts"] == 33 and c["dofs"] > 1000
        assert all(t > 0 for t in c["phases"].values())
        assert set(c["methods"]) == {"direct", "gamg"}
        assert c["agreement"]["target_strains"] <= 1e-6
        assert c["agreement"]["clamped_source_tension"] <= 1e-6
    assert res["cases"][0]["dofs"] == res["cases"][1]["dofs"]   # the same mesh, partitioned
    saved = json.loads((tmp_path / bench.RESULTS_JSON).read_text())
    assert len(saved["cases"]) == 2
    md = (tmp_path / bench.RESULTS_MD).read_text()
    assert "Speed-up of `mpirun -n 2`" in md and "| 33 | 1 | 2 |" in md
    assert (tmp_path / bench.PLOT).stat().st_size > 10_000


def test_benchmark_loader_names_the_missing_script():
    """A benchmark that is not in benchmarks/ is refused with the path it looked for, not an ImportError."""
    from mechclln.bench import BENCHMARKS, load_benchmark
    from mechclln.errors import MechcllnError
    with pytest.raises(MechcllnError, match="no_such_bench.py not found; the benchmarks run from a source checkout"):
        load_benchmark("no_such_bench")
    assert load_benchmark("fem_bench").__file__ == str(BENCHMARKS / "fem_bench.py")
