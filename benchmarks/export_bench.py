"""Time the export of a sheet of about N struts: ``python benchmarks/export_bench.py [N]`` (default 1000).

Builds a triangular lattice with varied k and slightly incompatible rest lengths (what training leaves),
a random 3-target task, writes a run directory in a temporary folder, and runs :func:`export_run` (all
formats, no slicing); prints the total and per-step seconds.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(n_struts: int = 1000) -> dict:
    from mechclln import lattices
    from mechclln.export.pipeline import export_run
    from mechclln.export.printer import Printer
    from mechclln.rundir import Run
    from mechclln import network as netio
    from mechclln.fileio import write_json
    from mechclln.task import random_task, save_task

    side = int(np.ceil(np.sqrt(n_struts / 3)))
    net = lattices.triangular(side, side)
    rng = np.random.default_rng(0)
    net = net.with_params(k=rng.uniform(0.7, 1.6, net.n_edges), l=net.l * rng.uniform(0.99, 1.01, net.n_edges))
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        netio.save(net, Run(run).network_file)       # export reads the network, the task and the model only
        save_task(random_task(net, n_targets=3), Run(run).task_file)
        write_json(Run(run).metrics_file, {"model": "nonlinear"})
        big = Printer("large-format", (1000.0, 1000.0, 500.0), 0.4)
        t = time.perf_counter()
        rep = export_run(run, printer=big)
        wall = time.perf_counter() - t
    print(f"{net.n_edges} struts, {net.n_nodes} hubs: export {wall:.2f} s wall; steps "
          + ", ".join(f"{k} {v:.2f}" for k, v in rep.timings.items()))
    return {"struts": net.n_edges, "wall_s": wall, **rep.timings}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
