"""Local rule vs exact-gradient width design of the demo part in the frame model (issue 10, item 3).

Same network, task, part spec, starting widths and frame (linear model, the task's 5 % actuation). Rules:
the exact-gradient design (mechclln.design.design: bound-constrained Gauss-Newton with removal), and the
learning machine's local rules on the widths (coupled learning, equilibrium propagation) and its plain
gradient descent, each (a) within the printable range [w_min, w_cap] with every strut kept and (b) with
struts allowed to thin to 0.02 mm, then struts below w_min removed (if every hub keeps 2 struts) or
raised to w_min, and the rule run again in the printable range (its own removal). Writes
benchmarks/design_rules.json; run: .venv/bin/python benchmarks/design_rules.py
"""
import time
from pathlib import Path

import numpy as np

from mechclln.design import DesignConfig, PairTask, design, local_design, removable, respond, task_error
from mechclln.export.printer import fitting_spec
from mechclln.fileio import write_json
from mechclln.geometry.design_run import frame_part
from mechclln.learner import LearnConfig
from mechclln.packing import jammed_network
from mechclln.task import random_task


def main(steps: int = 300):
    net = jammed_network(300, dim=2, seed=3)
    task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=3, rest=True)
    fp = frame_part(net, fitting_spec(net))
    pt = PairTask.of(task)
    fr, lo, hi = fp.frame, fp.lo, fp.hi
    C0 = task_error(respond(fr, fp.w0, pt, True)[1], pt.wanted)
    rows = []
    t = time.perf_counter()
    res = design(fr, pt, fp.w0, lo, hi, DesignConfig(model="linear"))
    rows.append({"method": "Gauss-Newton design (exact gradient, removal)", "C_rel": res.C / C0,
                 "steps": len(res.history), "removed": int(res.removed.size), "seconds": time.perf_counter() - t})
    for rule, extra in (("coupled", {"eta": 0.1}), ("coupled", {"eta": 1e-3}),
                        ("equilibrium_propagation", {}), ("gradient", {})):
        for removal in (False, True):
            t = time.perf_counter()
            cfg = LearnConfig(rule=rule, steps=steps, tol=1e-6, checkpoint_every=0, **extra)
            w, n_steps = fp.w0.copy(), 0
            if removal:
                L = local_design(fr, pt, w, 0.02, hi, cfg, linear=True)
                w, n_steps = L.params["w"].copy(), L.step_index
                thin = np.flatnonzero(w < lo)
                w[removable(fr.edges, fr.n, w > 0, thin[np.argsort(w[thin])])] = 0.0
                w[(w > 0) & (w < lo)] = lo
            L = local_design(fr, pt, w, lo, hi, cfg, linear=True)
            c = task_error(respond(fr, L.params["w"], pt, True)[1], pt.wanted)
            rows.append({"method": f"{rule} {extra or ''} {'thin to 0.02 mm, remove, rerun' if removal else 'in range'}",
                         "C_rel": c / C0, "steps": n_steps + L.step_index, "rejections": L.rejections,
                         "removed": int(np.sum(L.params["w"] == 0)), "seconds": time.perf_counter() - t})
            print(rows[-1], flush=True)
    out = {"command": ".venv/bin/python benchmarks/design_rules.py", "C0": C0, "model": "linear frame",
           "steps_per_local_run": steps, "rows": rows}
    write_json(Path(__file__).with_name("design_rules.json"), out)
    for r in rows:
        print(f"{r['method']:70s} C/C0 {r['C_rel']:.3g}  steps {r['steps']}  removed {r['removed']}  {r['seconds']:.1f} s")


if __name__ == "__main__":
    main()
