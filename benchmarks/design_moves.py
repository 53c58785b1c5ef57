"""Frame design alone (mechclln.design, topology moves at the printable minimum) on the demo network's
3-target tasks and on small networks: frame C/C0, moves, time. Writes benchmarks/design_moves.json; run:
nice -n 10 .venv/bin/python benchmarks/design_moves.py
"""
import sys
import time
from dataclasses import asdict
from pathlib import Path

from mechclln.design import DesignConfig, PairTask, design
from mechclln.export.printer import fitting_spec
from mechclln.fileio import write_json
from mechclln.geometry.design_run import frame_part
from mechclln.packing import jammed_network
from mechclln.task import random_task

CASES = [(300, 3, 3), (300, 3, 7), (300, 3, 11),                      # (nodes, network seed, task seed)
         (60, 1, 1), (80, 2, 2), (100, 3, 3), (60, 4, 4), (100, 5, 5)]


def main():
    cfg, rows = DesignConfig(), []
    for n, net_seed, seed in CASES:
        net = jammed_network(n, dim=2, seed=net_seed)
        fp = frame_part(net, fitting_spec(net))
        task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=seed, rest=True)
        t0 = time.perf_counter()
        res = design(fp.frame, PairTask.of(task), fp.w0, fp.lo, fp.hi, cfg)
        end = {h["phase"]: h["C"] / res.C_start for h in res.history}      # C/C0 where each phase ended
        rows.append({"nodes": n, "network_seed": net_seed, "task_seed": seed, "frame_C_rel": res.C / res.C_start,
                     "removed": int(res.removed.size), "moves": [h["move"] for h in res.history if "move" in h],
                     "phase_end_C_rel": end, "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    write_json(Path(__file__).with_name("design_moves.json"),
               {"command": "nice -n 10 .venv/bin/python benchmarks/design_moves.py", "config": asdict(cfg),
                "tasks": "random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed, rest=True)",
                "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
