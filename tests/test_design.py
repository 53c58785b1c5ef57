"""Width design in the frame model (mechclln.design, geometry/design_run): printable by construction."""
import json

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mechclln.design import (DesignConfig, PairTask, PrintErrors, design, jacobian, removable, respond, sampled_errors,
                             toggled_strains)
from mechclln.geometry.design_run import design_network, frame_part
from mechclln.geometry.spec import PartSpec
from mechclln.packing import jammed_network
from mechclln.task import random_task

SPEC = PartSpec(scale=14.0)


@pytest.fixture(scope="module")
def small():
    net = jammed_network(80, dim=2, seed=2)
    task = random_task(net, n_targets=2, source_strain=0.05, target_strain=0.05, seed=4, rest=True)
    return net, task


@pytest.fixture(scope="module")
def designed(small):
    net, task = small
    return design_network(net, task, SPEC, "tpu95a", DesignConfig(model="corotational"))


def assert_one_piece_with_two_struts_per_hub(net, present):
    deg = np.bincount(net.edges[present].ravel(), minlength=net.n_nodes)
    assert deg.min() >= 2
    ed = net.edges[present]
    g = coo_matrix((np.ones(len(ed)), (ed[:, 0], ed[:, 1])), shape=(net.n_nodes,) * 2)
    assert connected_components(g, directed=False)[0] == 1


def test_jacobian_matches_finite_differences(small):
    """d(target strain)/dw by the adjoint vs central differences of the corotational frame."""
    net, task = small
    fp = frame_part(net, SPEC)
    pt = PairTask.of(task)
    w = fp.w0
    states, _ = respond(fp.frame, w, pt, False)
    J = jacobian(fp.frame, w, states, pt)
    for e in (0, 7, 19):
        dw = np.zeros_like(w)
        dw[e] = 1e-5
        fd = (respond(fp.frame, w + dw, pt, False)[1] - respond(fp.frame, w - dw, pt, False)[1]).ravel() / 2e-5
        assert np.allclose(J[:, e], fd, rtol=1e-5, atol=1e-10)


def test_design_does_the_task_and_is_printable(small, designed):
    """Frame C/C0 far below 1e-3; every width within [w_min, w_cap] or 0; hubs keep 2 struts; one piece."""
    net, task = small
    fp, res, _ = designed
    assert res.C / res.C_start < 1e-4
    w = res.widths
    on = w > 0
    assert np.all(w[on] >= fp.lo - 1e-12) and np.all(w[on] <= fp.hi[on] + 1e-12)
    assert res.removed.size > 0
    assert_one_piece_with_two_struts_per_hub(net, on)
    # the recorded strains are the frame's own response at the designed widths
    assert np.allclose(respond(fp.frame, w, PairTask.of(task), False)[1], res.strains, atol=1e-12)


def test_toggled_strains_match_solves_of_the_moved_frame(small, designed):
    """A strut removed, or a removed one added at the printable minimum: the Woodbury update of the linear
    frame's target strains equals a new linear solve of the frame with that strut toggled."""
    net, task = small
    fp, res, _ = designed
    pt, w = PairTask.of(task), res.widths
    moved = toggled_strains(fp.frame, w, pt, fp.lo)
    base = respond(fp.frame, w, pt, True)[1]
    for e in (res.removed[0], res.removed[-1], *removable(net.edges, net.n_nodes, w > 0, np.flatnonzero(w > 0))[:2]):
        wt = w.copy()
        wt[e] = 0.0 if w[e] > 0 else fp.lo
        direct = respond(fp.frame, wt, pt, True)[1] - base
        assert np.abs(direct).max() > 1e-6          # the move changes the response
        assert np.allclose(moved[e], direct, rtol=1e-8, atol=1e-12)


def test_topology_moves_lower_C_and_keep_the_part_printable(small):
    """From every strut present (no relaxed phases) Gauss-Newton stalls in the printable range; each
    accepted topology move lowers C, and after every move each hub keeps 2 struts and the part is one
    piece (the topology replayed from the recorded moves)."""
    net, task = small
    fp = frame_part(net, SPEC)
    cfg = DesignConfig(model="linear", rounds=0, steps=10, moves=3, move_trials=2, move_steps=8)
    res = design(fp.frame, PairTask.of(task), fp.w0, fp.lo, fp.hi, cfg)
    h = res.history
    at = [i for i, step in enumerate(h) if "move" in step]
    assert len(at) == cfg.moves
    before = [step["C"] for step in h if step["phase"] == "printable linear"][-1]
    assert np.all(np.diff([before] + [h[i]["C"] for i in at]) < 0)
    present = fp.w0 > 0
    for i in at:
        present[h[i]["strut"]] = h[i]["move"] == "added"
        assert_one_piece_with_two_struts_per_hub(net, present)
    assert np.array_equal(present, res.widths > 0)
    on = res.widths > 0
    assert np.all(res.widths[on] >= fp.lo - 1e-12) and np.all(res.widths[on] <= fp.hi[on] + 1e-12)


def test_robust_design_lowers_the_95th_percentile(small, designed):
    """Minimising the mean C over print-error samples lowers the 95th percentile of C on fresh samples."""
    from mechclln.geometry.design_run import robust_design

    net, task = small
    fp, res, _ = designed
    cfg = DesignConfig(model="linear", steps=15)
    _, rep = robust_design(fp, PairTask.of(task), res, cfg, 12, n_check=60)
    assert rep["C_rel_q95_after"] < rep["C_rel_q95_before"]


def test_sampled_errors_are_zero_free_for_a_perfect_print(small, designed):
    """With no print error the sampled C equals the nominal C (the sampler adds nothing of its own)."""
    net, task = small
    fp, res, _ = designed
    none = PrintErrors(np.zeros((2, len(res.widths))), np.ones((2, len(res.widths))))
    c = sampled_errors(fp.frame, res.widths, PairTask.of(task), False, none, fp.lo)
    assert np.allclose(c, res.C, rtol=1e-9)


def test_design_cli_writes_a_run_that_exports(tmp_path, small):
    """`mechclln design` on a network + task run writes a run whose k maps back to the designed widths."""
    from mechclln import network as netio
    from mechclln.cli import main
    from mechclln.geometry.part import build_part
    from mechclln.rundir import Run
    from mechclln.task import save_task

    net, task = small
    src = tmp_path / "src"
    src.mkdir()
    netio.save(net, src / "network.json")
    save_task(task, src / "task.json")
    (src / "metrics.json").write_text(json.dumps({"format": "mechclln.metrics", "version": 1}))
    out = tmp_path / "d"
    assert main(["design", str(src), "--out", str(out), "--scale", "14", "--quiet"]) == 0
    d = json.loads((out / "design.json").read_text())
    _, dnet, dtask, _ = Run(out).load()
    part = build_part(dnet, PartSpec(scale=14.0), task=dtask, x_print=dnet.x)
    w = np.array(d["widths_mm"])
    assert np.allclose(part.width, w[w > 0], rtol=1e-12)
    assert sorted(dnet.meta["left_out_edges"]) == d["removed_edges"]
    assert main(["design", str(src), "--out", str(out), "--quiet"]) == 2      # exists: refused without --force


@pytest.mark.parametrize("field,value,message", [
    ("widths_mm", [1.0, -1.0], "widths_mm"), ("C0", 0.0, "C0"), ("config", {"model": "x"}, "config.model")])
def test_correct_refuses_a_broken_design_file_before_any_fem(tmp_path, small, field, value, message):
    """`mechclln correct` reads design.json back through the schema: a wrong field is a one-line error
    naming the file and the field, before any meshing."""
    from mechclln.cli import main
    from mechclln.errors import MechcllnError
    from mechclln.fem.correct import correct_run
    from mechclln.geometry.design_run import write_design_run

    net, task = small
    fp, res, _ = design_network(net, task, SPEC, "tpu95a", DesignConfig(model="linear", steps=2, rounds=1, moves=0))

    run = tmp_path / "d"
    write_design_run(run, fp, res, task, DesignConfig(model="linear", steps=2, rounds=1, moves=0))
    d = json.loads((run / "design.json").read_text())
    d[field] = value if field != "config" else {**d["config"], **value}
    (run / "design.json").write_text(json.dumps(d))
    with pytest.raises(MechcllnError) as err:
        correct_run(run)
    assert message in str(err.value) and "design.json" in str(err.value) and "\n" not in str(err.value)
    assert main(["correct", str(run)]) == 2
