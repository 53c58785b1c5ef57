"""`mechclln sweep`: the grid of a spec, the gathered table, resumption without rerunning finished points,
and the same table from 2 MPI ranks as from one process."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mechclln import sweep
from mechclln.errors import MechcllnError

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"networks": [{"kind": "lattice", "dim": 2}, {"kind": "peer"}], "sizes": [36, 49],
        "tasks": {"targets": [1, 2], "seeds": [0]}, "rules": ["coupled"],
        "train": {"model": "harmonic", "steps": 15}, "tether": 1e-2}


def _spec(tmp_path) -> dict:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return sweep.load_spec(path)


def _table(out: Path) -> list[dict]:
    with open(out / "results.csv") as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def test_grid_is_the_product_and_peer_ignores_sizes_and_targets(tmp_path):
    pts = sweep.grid(_spec(tmp_path))
    assert len(pts) == 2 * 2 + 1 and len({p["id"] for p in pts}) == len(pts)


def test_capacity_example_is_at_least_1000_runs_on_30_to_100_node_2d_networks():
    spec = sweep.load_spec(ROOT / "examples" / "sweeps" / "capacity.json")
    pts = sweep.grid(spec)
    assert len(pts) >= 1000 and len({p["id"] for p in pts}) == len(pts)
    assert all(30 <= p["size"] <= 100 and p["network"].get("dim", 2) == 2 for p in pts)


def test_spec_errors_name_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"networks": [{"kind": "honeycomb"}]}))
    with pytest.raises(MechcllnError, match="networks\\[0\\].kind"):
        sweep.load_spec(bad)


def test_within_draws_targets_near_the_source_and_keeps_old_ids(tmp_path):
    """``tasks.within`` reaches random_task (every target bond's midpoint within R of the source's), a spec
    without it keeps the grid ids of earlier sweeps (so their finished runs are still skipped), and a bad
    value names the field."""
    import numpy as np

    plain = sweep.grid(_spec(tmp_path))
    (tmp_path / "w.json").write_text(json.dumps({**SPEC, "tasks": {**SPEC["tasks"], "within": 2.5}}))
    near = sweep.grid(sweep.load_spec(tmp_path / "w.json"))
    assert all("within" not in p["task"] for p in plain)
    assert {p["id"] for p in near if p["network"]["kind"] != "peer"}.isdisjoint(p["id"] for p in plain)
    p = next(q for q in near if q["network"]["kind"] == "lattice" and q["size"] == 49)
    net, task = sweep.build_point(p)
    mid = lambda pair: net.x[pair].mean(0)
    assert max(np.linalg.norm(mid(t) - mid(task.source_pairs[0])) for t in task.target_pairs) <= 2.5
    (tmp_path / "bad.json").write_text(json.dumps({**SPEC, "tasks": {"within": -1}}))
    with pytest.raises(MechcllnError, match="tasks.within"):
        sweep.load_spec(tmp_path / "bad.json")


def test_sweep_gathers_a_table_and_resumes_without_rerunning(tmp_path, monkeypatch):
    spec, out = _spec(tmp_path), tmp_path / "out"
    rows = sweep.run_sweep(spec, out, jobs=2, log=lambda *a: None)
    assert [r["status"] for r in rows] == ["done"] * 5
    assert (out / "capacity.png").stat().st_size > 0 and len(_table(out)) == 5
    peer = [r for r in rows if r["network"] == "peer"][0]
    assert peer["n_edges"] == 123 and peer["tether_energy_ratio"] > 0
    # "converged" (what the capacity plot counts) is C/C0 <= tol, reached within the step limit
    assert all(r["converged"] == (r["C_rel"] <= spec["train"]["tol"]) for r in rows)
    assert all(r["steps"] <= spec["train"]["steps"] for r in rows)
    # a crash that lost one result: only that point runs again
    lost = sweep.grid(spec)[2]["id"]
    (out / "runs" / f"{lost}.json").unlink()
    ran = []
    real = sweep.run_point
    monkeypatch.setattr(sweep, "run_point", lambda p: ran.append(p["id"]) or real(p))
    again = sweep.run_sweep(spec, out, jobs=1, log=lambda *a: None)
    assert ran == [lost]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again] == \
           [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_two_mpi_ranks_give_the_one_process_table(tmp_path):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(SPEC))
    mpirun = Path(sys.executable).parent / "mpirun"
    if not mpirun.exists():
        pytest.skip("no mpirun in the environment")
    for n, out in ((1, "one"), (2, "two")):
        subprocess.run([str(mpirun), "-n", str(n), sys.executable, "-m", "mechclln.sweep_cli", str(spec_path),
                        "--out", str(tmp_path / out), "--jobs", "1"], check=True, capture_output=True, timeout=300)
    assert _table(tmp_path / "one") == _table(tmp_path / "two")
