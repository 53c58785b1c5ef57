"""`mpirun -n 2` gives the serial answer: hole means, multipliers and target strains agree to 1e-8.

The same function runs here serially and, as a script, under the wheel's MPICH with two ranks (the mesh is
partitioned, the hole-mean operator and the Schur complement are reduced over ranks).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.fem


def case() -> dict:
    from fixtures import fem_sheets
    from mechclln.fem import finite, linear, part
    x = np.array([[0.0, 0.0], [30.0, 0.0], [15.0, 26.0], [45.0, 26.0]])
    edges = [[0, 1], [1, 2], [0, 2], [1, 3], [2, 3]]
    g = fem_sheets.build_sheet(x, edges, 1.2, 2.4, 0.75, h=0.8)
    pt = part.from_gmsh(g, E=26.0, nu=0.48, thickness=3.0)
    model = linear.LinearModel(pt, pinned=[0])
    st = model.solve([[0, 3]], [0.02])
    nh = finite.FiniteStrainModel(pt, pinned=[0])
    big = nh.solve([[0, 3]], [0.1], steps=2)
    return {"linear_ubar": st.ubar.ravel().tolist(), "linear_tension": st.tension.tolist(),
            "linear_targets": model.strains(st, [[1, 2]]).tolist(),
            "finite_ubar": big.ubar.ravel().tolist(), "finite_tension": big.tension.tolist()}


def test_two_ranks_match_serial(tmp_path):
    mpirun = Path(sys.executable).parent / "mpirun"
    assert mpirun.exists(), "the dolfinx-solver-real wheel should put mpirun next to python"
    out = tmp_path / "mpi.json"
    proc = subprocess.run([str(mpirun), "-n", "2", sys.executable, __file__, str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parallel = json.loads(out.read_text())
    serial = case()
    for key, ref in serial.items():
        ref, got = np.array(ref), np.array(parallel[key])
        assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max(), key


if __name__ == "__main__":
    from mpi4py import MPI
    result = case()
    if MPI.COMM_WORLD.rank == 0:
        Path(sys.argv[1]).write_text(json.dumps(result))
