"""The core installs and trains with numpy, scipy, matplotlib and tqdm alone (pyproject's ``dependencies``);
the stages' packages come with the extras ``[fem]``, ``[export]``, ``[examples]``.

Checked without a second environment: a subprocess hides every extra's package (an import hook makes
``import dolfinx`` etc. fail as it does where the package is not installed), then runs the CLI. Training
and frame design must finish; a stage that needs a hidden package must stop with one line naming the extra.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ("dolfinx", "dolfinx_solver", "petsc4py", "slepc4py", "mpi4py", "gmsh", "trimesh", "manifold3d",
          "networkx", "lxml", "sklearn")

RUNNER = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)")
sys.meta_path.insert(0, Hide())
from mechclln.cli import main
sys.exit(main(sys.argv[1:]))
"""


def core_cli(*args):
    code = RUNNER.format(hidden=HIDDEN)
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_pyproject_core_dependencies_are_the_four_and_extras_carry_the_stages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {d.split(">")[0].split("=")[0] for d in project["dependencies"]}
    assert core == {"numpy", "scipy", "matplotlib", "tqdm"}
    extras = project["optional-dependencies"]
    assert any(d.startswith("dolfinx-solver-real") for d in extras["fem"])
    assert any(d.startswith("trimesh") for d in extras["export"])
    assert extras["all"] == ["mechclln[fem,export,examples]"]


def test_core_trains_and_designs_without_the_stage_packages(tmp_path):
    steps = [("network", "--kind", "triangular", "--size", "6", "6", "--out", tmp_path / "net.json"),
             ("task", tmp_path / "net.json", "--targets", "1", "--seed", "1", "--out", tmp_path / "task.json"),
             ("train", tmp_path / "net.json", tmp_path / "task.json", "--out", tmp_path / "run", "--steps", "30",
              "--quiet"),
             ("design", tmp_path / "run", "--out", tmp_path / "design", "--quiet")]
    for args in steps:
        r = core_cli(*args)
        assert r.returncode == 0, f"{args[0]}: {r.stdout}\n{r.stderr}"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["C_rel_final"] < 0.9     # it learned, not just ran
    design = json.loads((tmp_path / "design" / "design.json").read_text())
    assert design["C_rel_frame"][design["model"]] < 1e-3          # the frame design does the task


@pytest.mark.parametrize("stage, extra", [("export", "export"), ("fem", "fem")])
def test_a_stage_without_its_extra_stops_with_one_line_naming_it(tmp_path, stage, extra):
    for args in [("network", "--kind", "triangular", "--size", "6", "6", "--out", tmp_path / "net.json"),
                 ("task", tmp_path / "net.json", "--targets", "1", "--seed", "1", "--out", tmp_path / "task.json"),
                 ("train", tmp_path / "net.json", tmp_path / "task.json", "--out", tmp_path / "run", "--steps",
                  "5", "--quiet")]:
        assert core_cli(*args).returncode == 0
    r = core_cli(stage, tmp_path / "run")
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    assert f"mechclln[{extra}]" in lines[0]
