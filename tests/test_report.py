"""The HTML report: one self-contained file (no external resource) with every figure of a training run and
of a lab-train folder, rendered by headless Chromium into a non-blank page whose figures all decode.
The demo run with its part and FEM check (part, fidelity, tolerance, lab sheet sections) is the slow
test."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mechclln import labsim, labtrain
from mechclln.bench import bench_network
from mechclln.cli import main
from mechclln.trainrun import train_run
from mechclln.report import build_report, write_report
from mechclln.training import TrainConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                                    "(apt-get install -y chromium); the HTML itself is still checked")
RUN_FIGURES = ("training", "parameters", "animation")


def _self_contained(text: str) -> None:
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text)
    assert "<script src" not in text and "<link" not in text


def _render(html: Path, tmp_path: Path) -> tuple[str, np.ndarray]:
    """Chromium's DOM after the page's scripts ran, and its screenshot as an RGB array."""
    from PIL import Image

    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=2000"]
    dom = subprocess.run(args + ["--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120).stdout
    shot = tmp_path / "shot.png"
    subprocess.run(args + [f"--screenshot={shot}", "--window-size=1200,3000", html.as_uri()],
                   capture_output=True, timeout=120)
    return dom, np.asarray(Image.open(shot).convert("RGB"))


def _check_page(dom: str, img: np.ndarray, figures) -> None:
    for fid in figures:
        assert f'id="{fid}"' in dom, fid
    assert f'data-figures="{len(figures)}"' in dom and 'data-images-ok="yes"' in dom
    grey = img.mean(axis=2)
    assert grey.std() > 10 and (grey < 128).mean() > 0.005     # not blank: dark lines and text on white
    assert len(np.unique(img.reshape(-1, 3)[::7], axis=0)) > 50   # coloured figures, not one flat colour


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    net = bench_network(36, 2, 0)
    task = labsim.bench_task(net, n_targets=2, seed=1)
    out = tmp_path_factory.mktemp("report") / "run"
    train_run(net, task, TrainConfig(steps=20), out, force=False, progress=False)
    return out


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    net = bench_network(36, 2, 0)
    task = labsim.bench_task(net, n_targets=2, seed=1)
    out = tmp_path_factory.mktemp("report") / "lab"
    cfg = labtrain.LabConfig(alpha_l=0.3, resolution_l=0.0025, mm_per_unit=20.0, tol=1e-3, actuation_tol=0.03)
    labsim.simulate(net, task, cfg, labsim.BenchNoise(position=0.05, actuation=1e-3, seed=0), out, rounds=6)
    return out


def test_run_report_html(run_dir, tmp_path):
    text = build_report(run_dir)
    _self_contained(text)
    for fid in RUN_FIGURES:
        assert f'id="{fid}"' in text
    assert text.count("data:image/png;base64,") == 3          # curve, k, change of l
    assert main(["report", run_dir, "--out", tmp_path / "r.html"]) == 0
    assert main(["report", run_dir, "--out", tmp_path / "r.html"]) == 2       # no silent overwrite


def test_lab_report_html(lab_dir):
    text = build_report(lab_dir)
    _self_contained(text)
    for fid in (*RUN_FIGURES, "labsheet"):
        assert f'id="{fid}"' in text
    assert "free_actuation.csv" in text and "adjust.csv" in text


@needs_chromium
def test_run_report_renders_in_chromium(run_dir, tmp_path):
    dom, img = _render(write_report(run_dir, tmp_path / "run.html"), tmp_path)
    _check_page(dom, img, RUN_FIGURES)


@needs_chromium
def test_lab_report_renders_in_chromium(lab_dir, tmp_path):
    dom, img = _render(write_report(lab_dir, tmp_path / "lab.html"), tmp_path)
    _check_page(dom, img, RUN_FIGURES)


@pytest.mark.slow
@needs_chromium
def test_demo_report_renders_every_section(demo_run, tmp_path):
    """The demo (frame design -> FEM correction -> FEM check -> export): its part in the frame model (the
    animation), part, fidelity, tolerance and lab sheet as well."""
    html = write_report(demo_run, tmp_path / "demo.html")
    dom, img = _render(html, tmp_path)
    _check_page(dom, img, (*RUN_FIGURES, "part"))
    for sid in ("fidelity", "tolerance", "labsheet"):
        assert f'id="{sid}"' in dom
