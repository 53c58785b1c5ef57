"""The demo network on other random tasks (issue 10): frame design -> FEM correction, judged by
finite-strain FEM. Writes benchmarks/other_tasks.json; run: nice -n 10 .venv/bin/python benchmarks/other_tasks.py
(3 targets, seeds 13 and 17: chosen before their results were seen).
"""
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from mechclln.design import DesignConfig
from mechclln.export.printer import fitting_spec
from mechclln.fem.correct import correct_run
from mechclln.fileio import write_json
from mechclln.geometry.design_run import design_network, write_design_run
from mechclln.packing import jammed_network
from mechclln.task import random_task

TASKS = [(1, 5), (1, 7), (3, 11), (3, 7), (3, 13), (3, 17)]      # (targets, seed)


def main():
    net = jammed_network(300, dim=2, seed=3)
    spec, cfg = fitting_spec(net), DesignConfig()
    rows = []
    for n_targets, seed in TASKS:
        task = random_task(net, n_targets=n_targets, source_strain=0.05, target_strain=0.05, seed=seed, rest=True)
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            t0 = time.perf_counter()
            fp, res, _ = design_network(net, task, spec, "tpu95a", cfg)
            rep = write_design_run(run, fp, res, task, cfg)
            t_design = time.perf_counter() - t0
            rec = correct_run(run)
        last = rec.rounds[-1]
        rows.append({"targets": n_targets, "seed": seed, "wanted": task.target_strains[-1],
                     "frame_C_rel": rep.C_rel_frame[cfg.model], "removed": rep.n_removed,
                     "moves": [h["move"] for h in res.history if "move" in h],
                     "design_s": t_design, "correction_rounds": len(rec.rounds) - 1,
                     "fem_finite_C_rel_per_round": [r["C_rel_fem_finite"] for r in rec.rounds],
                     "fem_finite_target_strains": last["fem_target_strains"][-1],
                     "fem_finite_C_rel": last["C_rel_fem_finite"], "correction_s": rec.seconds})
        print(rows[-1], flush=True)
    write_json(Path(__file__).with_name("other_tasks.json"),
               {"command": "nice -n 10 .venv/bin/python benchmarks/other_tasks.py",
                "network": "jammed_network(300, dim=2, seed=3)", "spec": spec.to_dict(), "config": asdict(cfg),
                "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
