"""The built-in demo, end to end (slow: minutes): training reaches C/C0 <= 1e-3 with the rest example, the
saved target strains match an independent recomputation, the printable design (RUN/printable) leaves out
the struts its network lists and prints the rest, its part is one watertight body whose volume is outline
area x thickness (computed without the mesh), and prusa-slicer turns the demo part's STL into G-code."""
import json

import numpy as np
import pytest

from mechclln import network as netio
from mechclln.cli import main
from mechclln.equilibrium import respond
from mechclln.task import load_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--out", out, "--quiet"]) == 0
    return out


def test_demo_trains_and_metrics_recompute(demo_run):
    m = json.loads((demo_run / "metrics.json").read_text())
    assert m["converged"] and m["C_rel_final"] <= 1e-3 and m["model"] == "nonlinear"
    net = netio.load(demo_run / "network.json")
    task = load_task(demo_run / "task.json", net)
    assert task.n_examples == 2 and np.all(task.source_strains[0] == 0) and np.all(task.target_strains[0] == 0)
    r = respond(net, task, "nonlinear")
    assert np.allclose(np.array(m["final"]["target_strains"]), r.target_strains, rtol=1e-6, atol=1e-12)


def test_demo_part_is_one_body_and_slices(demo_run):
    from mechclln.export.printer import get_printer
    from mechclln.export.slicer import slice_to_gcode

    from mechclln.geometry.outline import exact_area
    from mechclln.geometry.part import load_part

    export = demo_run / "printable" / "export"
    rep = json.loads((export / "report.json").read_text())
    assert rep["mesh"]["bodies"] == 1 and rep["mesh"]["watertight"] and rep["mesh"]["winding_consistent"]
    part = load_part(export / "part.json")
    net = netio.load(demo_run / "printable" / "network.json")
    left_out = net.meta["left_out_edges"]
    assert len(left_out) > 0 and part.n_struts == net.n_edges - len(left_out)
    assert not set(left_out) & set(part.edge_ids.tolist())
    assert rep["mesh"]["volume_mm3"] == pytest.approx(exact_area(part) * part.spec.thickness, rel=0.01)
    assert (demo_run / "printable" / "fem" / "fidelity.json").exists()
    gcode = slice_to_gcode(export / "part.stl", export / "part.gcode", get_printer("generic"))
    assert gcode.stat().st_size > 0 and "G1" in gcode.read_text()[:200000]
