"""Printable refinement (mechclln/printable.py) and parts that leave struts out (geometry/part.py).

Physics: a printed strut's stiffness is either within its printable range [k_min_e, k_max_e] or the strut
is left out (modelled by a soft floor k_floor standing for the frame's bending). The refinement must end
with every k in {k_floor} U [k_min_e, k_max_e], keep a printed frame in one piece with every hub holding
at least ``min_struts`` struts, and do better than clipping the stiffness into the printable range. A part
leaves the left-out struts out and is still one watertight body.
"""
import numpy as np
import pytest

from mechclln import lattices, printable
from mechclln.errors import MechcllnError
from mechclln.network import make_network
from mechclln.task import random_task


def _problem(seed=1):
    """A stress-free 5 x 5 triangular network with spread stiffness, a 2-target task, per-edge bounds."""
    base = lattices.triangular(5, 5)
    rng = np.random.default_rng(seed)
    net = make_network(base.x, base.edges, k=np.exp(rng.uniform(np.log(0.05), np.log(3.0), base.n_edges)))
    task = random_task(net, n_targets=2, seed=seed, source_strain=0.02, target_strain=0.02)
    kmin = rng.uniform(0.4, 0.6, net.n_edges)
    return net, task, kmin, 4 * kmin


def _small_config(**kw):
    return printable.RefineConfig(k_floor=0.02, steps_relax=60, steps_round=15, steps_final=30, **kw)


def test_refined_stiffness_is_printable_or_left_out_and_beats_clipping():
    net, task, kmin, kmax = _problem()
    res = printable.refine(net, task, kmin, kmax, _small_config())
    k, out = res.network.k, np.zeros(net.n_edges, bool)
    out[res.left_out] = True
    assert out.any() and not out.all()
    np.testing.assert_array_equal(k[out], 0.02)
    assert np.all(k[~out] >= kmin[~out] * (1 - 1e-12)) and np.all(k[~out] <= kmax[~out] * (1 + 1e-12))
    assert sorted(res.network.meta["left_out_edges"]) == sorted(res.left_out.tolist())
    np.testing.assert_array_equal(res.network.l, net.l)          # only k is learned: the print stays stress-free
    clipped = printable.task_error(net.with_params(k=np.clip(net.k, kmin, kmax)), task, "harmonic")
    assert res.C < 0.5 * clipped
    assert res.C == pytest.approx(printable.task_error(res.network, task, "harmonic"), rel=1e-12)


def test_left_out_struts_keep_the_printed_frame_in_one_piece():
    net, task, kmin, kmax = _problem(seed=2)
    res = printable.refine(net, task, kmin, kmax, _small_config(min_struts=3))
    printed = np.ones(net.n_edges, bool)
    printed[res.left_out] = False
    deg = printable.printed_degree(net.edges, net.n_nodes, printed)
    assert np.all(deg >= np.minimum(3, net.coordination()))      # lattice corners start with 2
    assert len(res.left_out) > 0
    assert printable.frame_connected(net.edges, net.n_nodes, printed)


def test_a_prestressed_network_is_refused():
    net, task, kmin, kmax = _problem()
    with pytest.raises(MechcllnError, match="prestressed"):
        printable.refine(net.with_params(l=net.l * 1.01), task, kmin, kmax, _small_config())


def _leave_out(net, ids):
    from dataclasses import replace

    return replace(net, meta={"left_out_edges": list(ids)})


def _parts_with_two_inner_struts_left_out():
    """(network, the two left-out inner edges, the full part, the part without them): triangular 4 x 4."""
    from mechclln.geometry.part import build_part

    net = lattices.triangular(4, 4)
    task = random_task(net, n_targets=1, seed=2)
    deg = net.coordination()
    inner = [e for e, (i, j) in enumerate(net.edges) if deg[i] == 6 and deg[j] == 6][:2]
    full = build_part(net, task=task, x_print=net.x)
    return net, inner, full, build_part(_leave_out(net, inner), task=task, x_print=net.x)


def test_part_leaves_out_the_left_out_struts(tmp_path):
    from mechclln.geometry.part import load_part, save_part

    net, inner, full, part = _parts_with_two_inner_struts_left_out()
    keep = np.setdiff1d(np.arange(net.n_edges), inner)
    np.testing.assert_array_equal(part.edge_ids, keep)
    np.testing.assert_array_equal(part.edges, net.edges[keep])
    assert part.kappa == full.kappa                     # the stiffness scale is the whole network's
    np.testing.assert_allclose(part.width_raw, full.width_raw[keep])
    again = load_part(save_part(part, tmp_path / "part.json"))
    np.testing.assert_array_equal(again.edge_ids, keep)
    assert load_part(save_part(full, tmp_path / "full.json")).edge_ids is None


def test_stl_without_left_out_struts_is_one_watertight_body():
    """The two left-out struts' strips are gone from the solid: its volume drops by their strip volume."""
    from mechclln.export.solid import solid, to_trimesh
    from mechclln.geometry.outline import exact_area

    net, inner, full, part = _parts_with_two_inner_struts_left_out()
    mesh = to_trimesh(solid(part))
    assert len(mesh.split(only_watertight=False)) == 1 and mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(exact_area(part) * part.thickness, rel=5e-3)
    assert exact_area(part) < exact_area(full)


def test_malformed_left_out_list_names_the_field():
    from mechclln.geometry.part import build_part

    net = lattices.triangular(3, 3)
    with pytest.raises(MechcllnError, match="left_out_edges"):
        build_part(_leave_out(net, [0, 0]), x_print=net.x)
    with pytest.raises(MechcllnError, match="left_out_edges"):
        build_part(_leave_out(net, [net.n_edges]), x_print=net.x)


def test_refine_run_writes_a_stress_free_printable_run(tmp_path):
    """refine_run: the new run's network sits at the print positions with l = r, its k are printable for
    the part spec or left out, its task loads against it, and its export leaves the left-out struts out."""
    from mechclln.fileio import write_json
    from mechclln.geometry.part import build_part
    from mechclln.geometry.printable import refine_run
    from mechclln.geometry.sections import k_bounds
    from mechclln.geometry.spec import PartSpec
    from mechclln.network import save
    from mechclln.rundir import Run
    from mechclln.task import save_task

    net, task, _, _ = _problem(seed=3)
    net = net.with_params(l=net.l * np.random.default_rng(0).uniform(0.99, 1.01, net.n_edges))  # trained l
    run = tmp_path / "run"
    run.mkdir()
    save(net, run / "network.json")
    save_task(task, run / "task.json")
    write_json(run / "metrics.json", {"C0": 1e-3, "model": "nonlinear"})
    spec = PartSpec()
    rep = refine_run(run, tmp_path / "printable", spec, config=_small_config())
    _, new, ptask, metrics = Run(tmp_path / "printable").load()      # validates the task's r0 against it
    np.testing.assert_allclose(new.l, new.lengths(), rtol=1e-12)
    kmin, kmax = k_bounds(new.with_params(k=np.ones(new.n_edges)), spec)
    out = np.zeros(new.n_edges, bool)
    out[rep.left_out_edges] = True
    assert out.any()
    assert np.all((new.k[~out] >= kmin[~out] * (1 - 1e-9)) & (new.k[~out] <= kmax[~out] * (1 + 1e-9)))
    assert metrics["C_final"] == rep.C_refined and rep.C0 == 1e-3
    part = build_part(new, spec, task=ptask, x_print=new.x)
    assert part.n_struts == new.n_edges - out.sum()


def test_printable_and_export_commands_share_the_recorded_spec(tmp_path, capsys):
    """`mechclln printable RUN --out OUT --scale 9` records its part spec; `mechclln export OUT` reuses it (the
    k bounds hold for that spec only), so the exported part leaves out exactly the listed struts and has
    the recorded scale; a missing run gives a one-line error and exit code 2, and writes nothing."""
    from mechclln.cli import main
    from mechclln.fileio import write_json
    from mechclln.geometry.part import load_part
    from mechclln.network import load, save
    from mechclln.task import save_task

    net, task, _, _ = _problem(seed=5)
    run = tmp_path / "run"
    run.mkdir()
    save(net, run / "network.json")
    save_task(task, run / "task.json")
    write_json(run / "metrics.json", {"C0": 1e-3, "model": "nonlinear"})
    out = tmp_path / "printable"
    assert main(["printable", str(run), "--out", str(out), "--scale", "9", "--floor", "0.05", "--quiet"]) == 0
    assert main(["export", str(out), "--formats", "stl"]) == 0
    part, refined = load_part(out / "export" / "part.json"), load(out / "network.json")
    assert part.spec.scale == 9 and part.n_struts == net.n_edges - len(refined.meta["left_out_edges"])
    # a part with its own widths (what `mechclln finetune` writes) is exported as it is, beside its file
    from dataclasses import replace

    from mechclln.geometry.part import save_part

    lo, hi = part.spec.width_range(part.material)
    tuned = replace(part, width=np.clip(part.width * 0.9, lo, hi))   # narrower: the hub caps still hold
    save_part(tuned, out / "finetune" / "part.json")
    fem = np.full(task.target_strains.shape, 0.0123)     # its FEM prediction, as finetune.json holds it
    write_json(out / "finetune" / "finetune.json", {"target_strains_reexported": fem})
    assert main(["export", str(out), "--part", str(out / "finetune" / "part.json"), "--formats", "stl"]) == 0
    np.testing.assert_allclose(load_part(out / "finetune" / "export" / "part.json").width, tuned.width)
    sheet = (out / "finetune" / "export" / "lab_sheet.md").read_text()
    assert "FEM strain (this part)" in sheet and "0.0123" in sheet
    assert main(["printable", str(tmp_path / "nothing"), "--out", str(tmp_path / "p2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0] and not (tmp_path / "p2").exists()
