"""The command line: outputs that can be recomputed independently, and one-line errors on bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mechclln import lattices, network as netio
from mechclln.cli import main
from mechclln.equilibrium import respond
from mechclln.task import load_task, random_task, save_task


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mechclln.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def files(tmp_path):
    net = lattices.triangular(7, 7)
    netio.save(net, tmp_path / "net.json")
    save_task(random_task(net, n_targets=2, seed=1), tmp_path / "task.json")
    return tmp_path


def test_train_metrics_match_independent_recomputation(files):
    """Target strains in metrics.json equal a fresh solve from the saved network and task (1e-6 rel)."""
    out = files / "run"
    assert main(["train", files / "net.json", files / "task.json", "--out", out, "--steps", "30", "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    net = netio.load(out / "network.json")
    task = load_task(out / "task.json", net)
    r = respond(net, task, m["model"])
    saved = np.array(m["final"]["target_strains"])
    assert np.allclose(saved, r.target_strains, rtol=1e-6, atol=1e-12)
    assert m["model"] == "nonlinear" and len(m["history"]["C"]) == m["steps"]
    for png in ("training", "stiffness", "rest_length_change", "response"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 10_000
    # an existing run directory is not overwritten without --force
    assert main(["train", files / "net.json", files / "task.json", "--out", out, "--steps", "3", "--quiet"]) == 2
    assert json.loads((out / "metrics.json").read_text()) == m


BAD_NETWORKS = {
    "malformed": ('{"nodes": [[0, 0], [1, 0]], "edges": [[0, 1]', "malformed JSON"),
    "missing": ('{"nodes": [[0, 0], [1, 0]]}', "field 'edges'"),
    "range": ('{"nodes": [[0, 0], [1, 0]], "edges": [[0, 5]]}', "out of range"),
    "duplicate": ('{"nodes": [[0,0],[1,0],[0,1]], "edges": [[0,1],[1,0],[1,2]]}', "duplicate edge"),
    "zero_length": ('{"nodes": [[0,0],[0,0],[0,1]], "edges": [[0,1],[1,2]]}', "zero-length"),
    "stiffness": ('{"nodes": [[0,0],[1,0]], "edges": [[0,1]], "stiffness": [-1]}', "stiffness[0]"),
    "nan": ('{"nodes": [[0,0],[NaN,0]], "edges": [[0,1]]}', "NaN"),
}


@pytest.mark.parametrize("case", sorted(BAD_NETWORKS))
def test_bad_network_gives_one_line_error(tmp_path, case):
    text, expected = BAD_NETWORKS[case]
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    save_task(random_task(lattices.triangular(5, 5), n_targets=1), tmp_path / "task.json")
    r = run_cli("train", bad, tmp_path / "task.json", "--out", tmp_path / "run", "--quiet")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert str(bad) in lines[0] and expected in lines[0]
    assert not (tmp_path / "run").exists()


def test_task_for_another_network_and_floppy_network(tmp_path, files):
    other = lattices.triangular(9, 9)
    netio.save(other, tmp_path / "other.json")
    r = run_cli("train", tmp_path / "other.json", files / "task.json", "--out", tmp_path / "r1", "--quiet")
    assert r.returncode == 2 and "r0" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    floppy = lattices.honeycomb(4, 4, nnn=False)
    netio.save(floppy, tmp_path / "floppy.json")
    save_task(random_task(floppy, n_targets=1), tmp_path / "ftask.json")
    r = run_cli("train", tmp_path / "floppy.json", tmp_path / "ftask.json", "--out", tmp_path / "r2", "--quiet")
    assert r.returncode == 2 and "floppy" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r2").exists()


def test_disconnected_network_is_rejected(tmp_path):
    a = lattices.triangular(4, 4)
    x = np.vstack([a.x, a.x + [10.0, 0.0]])
    edges = np.vstack([a.edges, a.edges + a.n_nodes])
    net = netio.make_network(x, edges)
    netio.save(net, tmp_path / "two.json")
    save_task(random_task(net, n_targets=1, seed=0), tmp_path / "t.json")
    r = run_cli("train", tmp_path / "two.json", tmp_path / "t.json", "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_task_file(tmp_path, files):
    (tmp_path / "t.json").write_text('{"sources": [{"nodes": [0, 1]}], "targets": [], "examples": []}')
    r = run_cli("train", files / "net.json", tmp_path / "t.json", "--out", tmp_path / "r", "--quiet")
    assert r.returncode == 2 and "field 'targets'" in r.stderr


def test_core_imports_no_fem_or_mesh_stack():
    code = ("import sys, mechclln.cli, mechclln.training, mechclln.equilibrium, mechclln.packing, mechclln.plots;"
            "mechclln.cli.build_parser();"
            "bad = [m for m in ('gmsh', 'dolfinx', 'trimesh', 'manifold3d', 'meshio', 'petsc4py') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


COMMANDS = ("network", "task", "train", "evaluate", "demo", "export", "printable", "design", "fem", "finetune",
            "correct", "lab-compare", "fem-bench", "bench", "lab-train", "lab-sim", "report", "sweep")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_registered_and_prints_its_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0 and f"usage: mechclln {command}" in capsys.readouterr().out


def test_option_defaults_are_the_config_dataclasses_fields():
    """train's options are TrainConfig's defaults, lab-train's LabConfig's, the spec options leave
    PartSpec's (or the recorded spec's) values alone: one source for each default."""
    from dataclasses import asdict

    from mechclln.cli import build_parser
    from mechclln.design import DesignConfig
    from mechclln.export.cli import spec_changes
    from mechclln.labtrain import LabConfig
    from mechclln.train_cli import train_config
    from mechclln.training import TrainConfig

    p = build_parser()
    assert asdict(train_config(p.parse_args(["train", "n", "t", "--out", "o"]))) == asdict(TrainConfig())
    assert p.parse_args(["demo"]).steps == DesignConfig().steps
    lab = vars(p.parse_args(["lab-train", "init", "n", "t", "--out", "o"]))
    for name, value in asdict(LabConfig()).items():
        if name in lab and name != "mm_per_unit":
            assert lab[name] == (",".join(value) if name == "learn" else value), name
    assert set(spec_changes(p.parse_args(["export", "r"])).values()) == {None}


def test_evaluate_recomputes_the_response_and_refuses_to_overwrite(files):
    """`evaluate --json`: each model's target strains and C equal a fresh solve; an existing file is kept."""
    from mechclln.task import task_error

    out = files / "eval.json"
    assert main(["evaluate", files / "net.json", files / "task.json", "--json", out]) == 0
    got = json.loads(out.read_text())
    net = netio.load(files / "net.json")
    task = load_task(files / "task.json", net)
    for model in ("nonlinear", "harmonic"):
        r = respond(net, task, model)
        assert np.allclose(got[model]["target_strains"], r.target_strains, rtol=1e-9, atol=1e-14)
        assert got[model]["C"] == pytest.approx(task_error(r.target_strains, task.target_strains), rel=1e-9)
    before = out.read_text()
    assert main(["evaluate", files / "net.json", files / "task.json", "--json", out]) == 2
    assert out.read_text() == before
