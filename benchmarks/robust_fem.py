"""Sampled FEM check of the robust design: width errors (+-0.1 mm, 95 %) and per-strut modulus errors
(+-10 %) applied to the real part (re-meshed per sample), linear FEM; nominal demo design vs robust.

Run after `mechclln demo --out /tmp/demo2` and `mechclln design SRC --out /tmp/rob16 --robust 16`, SRC a
run with the demo's network and task (docs/frame.md); writes benchmarks/robust_fem.json."""
import json

import numpy as np
from mechclln.fem import fidelity, linear, stack
from mechclln.fem.finetune import _strut_cells
from mechclln.geometry.design_run import designed_network, frame_part, load_design
from mechclln.geometry.part import build_part
from mechclln import network as netio
from mechclln.task import load_task, task_error
from mechclln.design import PrintErrors
out = {}
for name, run in (("design", "/tmp/demo2"), ("robust", "/tmp/rob16")):
    rec = load_design(run); start = netio.load(f"{run}/network_initial.json"); task = load_task(f"{run}/task.json")
    fp = frame_part(start, rec["spec"], rec["material"]); w = np.asarray(rec["widths_mm"])
    C0 = float(rec["C0"]); on = w > 0
    err = PrintErrors.draw(len(w), 12, seed=7)
    cs = []
    for s in range(len(err)):
        ws = np.where(on, np.maximum(w + err.dw[s], fp.lo), 0.0)
        gp = build_part(designed_network(fp, ws), fp.spec, fp.material, task=task, x_print=start.x, check=False)
        pt = fidelity.mesh_part(gp, 2)
        dfx = stack.dolfinx()
        f = dfx.fem.Function(dfx.fem.functionspace(pt.mesh, ("DG", 0))); f.x.array[:] = 1.0
        cells, ce = _strut_cells(pt, gp.n_struts); f.x.array[cells] = err.factor[s][on][ce]
        lin = linear.LinearModel(pt, pinned=gp.pinned, factor=f)
        eps = np.array([lin.strains(lin.solve(task.source_pairs, x), task.target_pairs) for x in task.source_strains])
        lin.destroy()
        cs.append(task_error(eps, task.target_strains) / C0)
        print(name, s, cs[-1], flush=True)
    cs = np.array(cs)
    out[name] = {"samples": len(cs), "C_rel": cs.tolist(), "median": float(np.median(cs)), "max": float(cs.max()),
                 "q90": float(np.quantile(cs, 0.9))}
    print(name, out[name], flush=True)
json.dump(out, open(__file__.replace(".py", ".json"), "w"), indent=1)
