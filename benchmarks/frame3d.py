"""3D frame vs DOLFINx FEM on cubic-diagonal strut lattices (docs/frame3d.md); results in benchmarks/frame3d.json.

Stages (one FEM run at a time; run under ``nice -n 10`` with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1):

    .venv/bin/python benchmarks/frame3d.py widths          # 3 x 2 x 2 hubs, random 2-target task (seed 1):
                                                           # default and random U(1.6, 2.6) mm widths, frame
                                                           # (hub and fused end offsets) vs linear FEM
    .venv/bin/python benchmarks/frame3d.py design RUN_DIR  # 1-target task (seed 3) designed in the frame
                                                           # (min width 1.6 mm), written as a run; linear FEM
                                                           # check, then the FEM correction (finite strain)

FEM: P2 tets, 3 across the thinnest strut (``fem.fidelity.mesh_part``). Each stage records its wall times,
FEM unknowns, the memory estimate (``fem.memory``) and the process's peak resident memory.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from mechclln import lattices
from mechclln.design import DesignConfig, PairTask, respond
from mechclln.fem import memory
from mechclln.fem.fidelity import fem_responses, mesh_part
from mechclln.frame import Frame
from mechclln.geometry.part import build_part
from mechclln.task import random_task

OUT = Path(__file__).with_suffix(".json")
ACROSS = 3


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def save(stage: str, result, t0: float) -> None:
    """Record ``result`` under ``stage`` in benchmarks/frame3d.json (after each FEM step: a stopped run keeps
    what it measured)."""
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[stage] = {"result": result, "wall_seconds": time.perf_counter() - t0, "peak_rss_GiB": peak_gib()}
    OUT.write_text(json.dumps(data, indent=1, default=lambda o: np.asarray(o).tolist()) + "\n")


def frames(gp, pt) -> dict:
    """Actuated-example target strains of the part's frame: linear and corotational, hub end offsets, and
    linear with fused end offsets."""
    w = np.asarray(gp.width, float)
    fr = Frame.of_part(gp)
    fused = Frame(fr.x, fr.edges, fr.E, fr.nu, fr.R, pinned=fr.pinned, fused_ends=True)
    t = time.perf_counter()
    out = {"frame_linear": respond(fr, w, pt, True)[1][-1], "frame_corotational": respond(fr, w, pt, False)[1][-1],
           "frame_linear_fused": respond(fused, w, pt, True)[1][-1]}
    return {**{k: v.tolist() for k, v in out.items()}, "frame_seconds": time.perf_counter() - t}


def fem_check(gp, pt, finite: bool) -> dict:
    """Linear (and finite-strain) FEM target strains of the actuated example, with sizes and times."""
    est = memory.estimate(gp, ACROSS)
    t = time.perf_counter()
    mesh = mesh_part(gp, ACROSS)
    t_mesh = time.perf_counter() - t
    t = time.perf_counter()
    _, res = fem_responses(mesh, gp, pt, finite_strain=finite)
    out = {"fem_dofs": int(mesh.n_owned), "est_dofs": est["dofs"], "est_GiB": est["bytes"] / 2 ** 30,
           "mesh_seconds": t_mesh, "fem_seconds": time.perf_counter() - t, "fem_linear": res["linear"][-1].tolist()}
    if finite:
        out["fem_finite"] = res["finite"][-1].tolist()
    return out


def gaps(rec: dict) -> dict:
    """(model - linear FEM) / |linear FEM| per target."""
    fem = np.asarray(rec["fem_linear"])
    return {f"gap_{k}": ((np.asarray(rec[k]) - fem) / np.abs(fem)).tolist()
            for k in ("frame_linear", "frame_linear_fused") if k in rec}


def widths_stage() -> list:
    net = lattices.cubic_diagonal(3, 2, 2)
    task = random_task(net, n_targets=2, seed=1)
    pt, base = PairTask.of(task), build_part(net, task=task)
    rng = np.random.default_rng(0)
    rows = []
    for label, gp in (("default, k = 1", base),
                      ("random U(1.6, 2.6) mm", replace(base, width=rng.uniform(1.6, 2.6, base.n_struts)))):
        rec = {"label": label, "w_range_mm": [float(np.min(gp.width)), float(np.max(gp.width))],
               **frames(gp, pt), **fem_check(gp, pt, finite=False)}
        rec.update(gaps(rec))
        print(json.dumps(rec), flush=True)
        rows.append(rec)
    return rows


def design_stage(run_dir: str, t0: float) -> dict:
    from mechclln.fem.correct import correct_run
    from mechclln.geometry.design_run import design_network, designed_network, write_design_run
    from mechclln.geometry.spec import PartSpec

    net = lattices.cubic_diagonal(3, 2, 2)
    task = random_task(net, n_targets=1, seed=3)
    spec = PartSpec(min_width=1.6, nominal_width=2.0)     # 1.6 mm floor: 3 across at 0.53 mm elements
    cfg = DesignConfig(model="corotational", tol=1e-8)
    t = time.perf_counter()
    fp, res, _ = design_network(net, task, spec, config=cfg)
    rec = {"lattice": "cubic_diagonal(3, 2, 2)", "task": "random_task(n_targets=1, seed=3)",
           "spec": "PartSpec(min_width=1.6, nominal_width=2.0)", "design_seconds": time.perf_counter() - t,
           "C_rel_frame": res.C / res.C_start, "n_struts": int(np.count_nonzero(res.widths)),
           "n_edges": len(res.widths), "wanted": task.target_strains[-1].tolist()}
    write_design_run(run_dir, fp, res, task, cfg, force=True, source="benchmarks/frame3d.py")
    gp = build_part(designed_network(fp, res.widths), spec, task=task, x_print=net.x)
    pt = PairTask.of(task)
    rec.update(frames(gp, pt))
    rec.update(fem_check(gp, pt, finite=False))
    rec.update(gaps(rec))
    print(json.dumps(rec), flush=True)
    save("design", rec, t0)
    t = time.perf_counter()
    rec["correction"] = correct_run(run_dir, rounds=2, tol=2e-4, elements_across=ACROSS,
                                    progress=lambda r, c: print(f"correction round {r}: FEM C/C0 {c:.3g}",
                                                                flush=True)).to_json()
    rec["correction_wall_seconds"] = time.perf_counter() - t
    return rec


if __name__ == "__main__":
    stage = sys.argv[1]
    t0 = time.perf_counter()
    save(stage, widths_stage() if stage == "widths" else design_stage(sys.argv[2], t0), t0)
    print(f"{stage}: {time.perf_counter() - t0:.0f} s, peak {peak_gib():.2f} GiB", flush=True)
