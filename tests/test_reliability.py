"""Issue 11, run directories: a `train` killed by SIGKILL resumes with the same command plus --resume and
ends where the uninterrupted run ends; a resume with another task or config is refused; stage folders are
complete or absent (debris of a killed writer is cleaned by the next, a live writer is refused); the FEM
XDMF names an .h5 that exists where it is read; a FEM check too big for the memory is refused before
meshing."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mechclln import lattices
from mechclln.cli import main
from mechclln.errors import MechcllnError
from mechclln.fileio import read_npz
from mechclln.network import save
from mechclln.rundir import staged_directory, staging_folder
from mechclln.task import random_task, save_task

TRAIN = ["--steps", "400", "--tol", "1e-14", "--checkpoint-every", "20", "--quiet"]
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 6 x 6 triangular network (85 edges: ~10 ms a step), a task, another task, and the run of the
    uninterrupted command."""
    d = tmp_path_factory.mktemp("train")
    net = lattices.triangular(6, 6)
    save(net, d / "net.json")
    save_task(random_task(net, n_targets=2, seed=1), d / "task.json")
    save_task(random_task(net, n_targets=2, seed=2), d / "task2.json")
    assert main(["train", d / "net.json", d / "task.json", "--out", d / "ref", *TRAIN]) == 0
    return d


def _train_killed(d: Path, out: Path, at_step: int) -> int:
    """Start `mechclln train` in a subprocess, SIGKILL it once its checkpoint has reached ``at_step``
    (0: as soon as the staging folder exists, before any checkpoint); returns the checkpoint's step."""
    cmd = [sys.executable, "-m", "mechclln.cli", "train", str(d / "net.json"), str(d / "task.json"),
           "--out", str(out), *TRAIN]
    proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.PIPE)
    ckpt = staging_folder(out) / "checkpoint.npz"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if staging_folder(out).is_dir() and (at_step == 0 or ckpt.exists() and int(read_npz(ckpt)["step"]) >= at_step):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "training ended before the kill point: " + proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return int(read_npz(ckpt)["step"]) if ckpt.exists() else 0


@pytest.mark.parametrize("at_step", [0, 100])
def test_killed_train_resumes_to_the_uninterrupted_result(inputs, tmp_path, at_step, capsys):
    d, out = inputs, tmp_path / "run"
    saved = _train_killed(d, out, at_step)
    assert not out.exists() and staging_folder(out).is_dir()
    args = ["train", d / "net.json", d / "task.json", "--out", out, *TRAIN]
    if saved:
        assert saved >= at_step
        assert main(args) == 2                           # a plain rerun names the checkpoint and the options
        assert "--resume" in capsys.readouterr().err
        assert main([*args, "--resume"]) == 0
    else:                                                # no checkpoint yet: nothing to resume, debris cleaned
        assert main([*args, "--resume"]) == 2
        assert main(args) == 0
    ref = json.loads((d / "ref" / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["history"]["C"] == ref["history"]["C"]
    assert json.loads((out / "network.json").read_text())["stiffness"] == \
        json.loads((d / "ref" / "network.json").read_text())["stiffness"]
    assert not staging_folder(out).exists()


def test_resume_with_another_task_or_config_is_refused_and_keeps_the_checkpoint(inputs, tmp_path, capsys):
    d, out = inputs, tmp_path / "run"
    _train_killed(d, out, 40)
    before = (staging_folder(out) / "checkpoint.npz").read_bytes()
    other_task = ["train", d / "net.json", d / "task2.json", "--out", out, *TRAIN, "--resume"]
    assert main(other_task) == 2
    err = capsys.readouterr().err.strip()
    assert "fingerprint_task" in err and "\n" not in err
    other_cfg = ["train", d / "net.json", d / "task.json", "--out", out, *TRAIN, "--eta", "0.2", "--resume"]
    assert main(other_cfg) == 2
    assert "fingerprint_config" in capsys.readouterr().err
    assert (staging_folder(out) / "checkpoint.npz").read_bytes() == before


KILLED_WRITER = """
import os, signal, sys
from mechclln.rundir import staged_directory
with staged_directory(sys.argv[1], force=True) as tmp:
    (tmp / "half.txt").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_debris_of_a_killed_stage_writer_is_cleaned_by_the_next(tmp_path):
    dest = tmp_path / "export"
    dest.mkdir()
    (dest / "old.txt").write_text("complete old folder")
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(dest)], env=ENV)
    assert (dest / "old.txt").exists() and (staging_folder(dest) / "half.txt").exists()
    with staged_directory(dest, force=True) as tmp:
        assert list(tmp.iterdir()) == []                 # the debris is not carried into the new folder
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_writer_killed_between_its_renames_leaves_the_old_folder_restored(tmp_path):
    dest = tmp_path / "fem"
    old = tmp_path / ".fem.old"
    old.mkdir()
    (old / "fidelity.json").write_text("{}")
    staging_folder(dest).mkdir()                         # killed after `fem -> .fem.old`, before the stage's rename
    with pytest.raises(MechcllnError, match="exists and is not empty"):
        with staged_directory(dest):
            pass
    assert (dest / "fidelity.json").exists() and not old.exists()


def test_a_live_writer_is_refused(tmp_path):
    dest = tmp_path / "export"
    with staged_directory(dest):
        with pytest.raises(MechcllnError, match="another mechclln process is writing it"):
            with staged_directory(dest):
                pass
    assert dest.is_dir()


def test_failed_stage_leaves_nothing(tmp_path):
    dest = tmp_path / "export"
    with pytest.raises(RuntimeError):
        with staged_directory(dest) as tmp:
            (tmp / "a").write_text("a")
            raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------- FEM
@pytest.fixture(scope="module")
def fem_run(tmp_path_factory):
    from mechclln.fem.fidelity import check_run

    from fixtures.runs import untrained_run

    run = untrained_run(tmp_path_factory.mktemp("femrun"))
    (run / "fem").mkdir()
    (run / "fem" / "convergence.json").write_text('{"from": "fem --convergence"}')
    (run / "fem" / "stale.png").write_text("from an older check")
    return run, check_run(run, elements_across=2, finite_strain=False)


@pytest.mark.fem
def test_fem_folder_is_replaced_whole_and_keeps_the_convergence_study(fem_run):
    run, _ = fem_run
    names = sorted(p.name for p in (run / "fem").iterdir())
    assert names == ["convergence.json", "deformed_linear.h5", "deformed_linear.xdmf", "energy_linear.png",
                     "fidelity.json"]
    assert sorted(p.name for p in run.iterdir()) == ["fem", "network.json", "task.json"]


@pytest.mark.fem
def test_xdmf_references_the_h5_beside_it_and_reads_back(fem_run):
    from mechclln.fem import stack

    run, rep = fem_run
    xdmf = run / "fem" / "deformed_linear.xdmf"
    refs = set(re.findall(r">\s*([^<>:\s]+\.h5):/", xdmf.read_text()))
    assert refs == {"deformed_linear.h5"}
    dfx = stack.dolfinx()
    with dfx.io.XDMFFile(stack.mpi().COMM_SELF, str(xdmf), "r") as f:
        mesh = f.read_mesh(name="mesh")
    assert mesh.topology.index_map(2).size_local == rep.mesh["cells"]


@pytest.mark.fem
def test_memory_estimate_is_within_a_factor_two_of_the_mesh(fem_run):
    from mechclln.fem.fidelity import load_geometry_part
    from mechclln.fem.memory import estimate
    from mechclln.geometry.print_state import compare_printed
    from mechclln.network import load
    from mechclln.task import load_task

    run, rep = fem_run
    net, task = load(run / "network.json"), load_task(run / "task.json")
    gpart = load_geometry_part(run, net, task, compare_printed(net, task).x_print)
    assert 0.5 < estimate(gpart, 2)["dofs"] / rep.mesh["dofs"] < 2


@pytest.mark.fem
def test_fem_of_a_big_3d_lattice_is_refused_before_meshing(tmp_path, capsys):
    """A 6 x 6 x 6 fcc lattice (~3000 struts; one 36-strut cell measured 7.5 GiB): refused in seconds, one
    line naming the size and the override, nothing written."""
    net = lattices.fcc(6, 6, 6)
    save(net, tmp_path / "network.json")
    save_task(random_task(net, n_targets=2, seed=1), tmp_path / "task.json")
    t = time.perf_counter()
    assert main(["fem", tmp_path, "--linear-only"]) == 2
    assert time.perf_counter() - t < 60
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "GiB" in err and "--ignore-memory-limit" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.json", "task.json"]


def test_memory_limit_follows_the_available_memory(monkeypatch):
    from mechclln.fem import memory
    from mechclln.geometry.part import build_part

    net = lattices.triangular(4, 4)
    gpart = build_part(net, task=random_task(net, n_targets=2, seed=1), x_print=net.x)
    need = memory.estimate(gpart, 2)["bytes"]
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * need)
    memory.require_fits(gpart, 2)
    monkeypatch.setattr(memory, "available_bytes", lambda: need)
    with pytest.raises(MechcllnError, match="over the"):
        memory.require_fits(gpart, 2)


def test_checkpoint_of_an_older_config_resumes_while_new_options_keep_their_defaults(tmp_path):
    """A checkpoint made before a config option existed (no field list; digest without `symmetric`, as
    written before that option) is accepted while the option is at its default and refused when it is
    set; a checkpoint listing its fields ignores a field added later at its default. Any other change of
    the config is still refused."""
    from dataclasses import asdict, replace

    from mechclln.rundir import check_fingerprint, config_fields, fingerprint
    from mechclln.training import TrainConfig, Trainer

    net = lattices.triangular(5, 5)
    task = random_task(net, n_targets=1, seed=0)
    cfg = TrainConfig(model="harmonic", steps=3, checkpoint_every=0)
    tr = Trainer(net, task, cfg)
    for _ in range(2):
        tr.step()
    stored = read_npz(tr.save_checkpoint(tmp_path / "c.npz"))
    assert list(stored["fingerprint_config_fields"]) == config_fields(cfg)
    check_fingerprint("c.npz", stored, net, task, cfg)

    legacy = {k: v for k, v in stored.items() if k != "fingerprint_config_fields"}
    legacy["fingerprint_config"] = fingerprint(net, task, cfg, [n for n in config_fields(cfg)
                                                                if n != "symmetric"])["config"]
    check_fingerprint("old.npz", legacy, net, task, cfg)
    with pytest.raises(MechcllnError, match="fingerprint_config"):
        check_fingerprint("old.npz", legacy, net, task, replace(cfg, symmetric=True))

    listed = dict(stored, fingerprint_config_fields=np.array([n for n in config_fields(cfg) if n != "tether"]))
    listed["fingerprint_config"] = fingerprint(net, task, cfg, list(listed["fingerprint_config_fields"]))["config"]
    check_fingerprint("listed.npz", listed, net, task, cfg)
    for other in (replace(cfg, tether=1e-2), replace(cfg, eta=0.2)):
        with pytest.raises(MechcllnError, match="fingerprint_config"):
            check_fingerprint("listed.npz", listed, net, task, other)
    assert asdict(cfg)["steps"] == 3      # steps and tol are not fingerprinted: a resume may extend the run
    check_fingerprint("c.npz", stored, net, task, replace(cfg, steps=50, tol=1e-6))
