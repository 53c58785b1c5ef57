"""Wall and process CPU time of the harmonic k+l learning step, as ``mechclln bench`` times it (the same
network, task and training settings; step 0, which factorises, untimed), with the block-CG iterations and
back-solved columns of the timed steps. On a shared machine the wall figure includes waiting for a core; the
CPU figure (``time.process_time``, all threads of the process) does not. Prints one JSON line, e.g.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/step_cpu.py --nodes 1e5 --steps 12
"""
import argparse
import json
import os
import time

import numpy as np

from mechclln.bench import bench_network
from mechclln.task import random_task
from mechclln.training import TrainConfig, Trainer


def step_times(n_nodes: int, dim: int = 2, steps: int = 12) -> dict:
    """Per-step wall and CPU seconds (mean, min) of ``steps`` harmonic k+l steps after step 0."""
    net = bench_network(n_nodes, dim, 0)
    task = random_task(net, n_targets=3, source_strain=0.05, target_strain=0.05, seed=0)
    cfg = TrainConfig(model="harmonic", learn=("k", "l"), steps=steps + 1, tol=0.0, report_cosine=False,
                      checkpoint_every=0)
    tr = Trainer(net, task, cfg, check_rigidity=False)
    tr.step()
    counts = lambda: (tr.eq.n_factorizations, sum(s.n_iter for s in tr.eq.solvers),
                      sum(s.n_backsolve for s in tr.eq.solvers))
    before = counts()
    wall, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        tr.step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    f, it, bs = (a - b for a, b in zip(counts(), before))
    return {"dim": dim, "n_nodes": int(net.n_nodes), "steps": steps, "wall_s": float(np.mean(wall)),
            "wall_min_s": float(np.min(wall)), "cpu_s": float(np.mean(cpu)), "cpu_min_s": float(np.min(cpu)),
            "factorizations": int(f), "cg_iterations": int(it), "backsolved_columns": int(bs),
            "C_rel": float(tr.history.C_rel[-1]), "load_average_at_start": list(os.getloadavg())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=float, default=1e5)
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    a = parser.parse_args()
    print(json.dumps(step_times(int(a.nodes), a.dim, a.steps)))
