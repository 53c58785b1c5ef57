"""The 1/2 trap of k+l coupled learning with the rest example (docs/core.md, "A trap"): steps to C/C0 <= tol
and the fraction of seeds reaching it, for TrainConfig variants over bench networks ``bench_network(n, 2,
seed)``. Prints one line per run and a summary per variant; the figures in docs/core.md came from

    nice -n 10 .venv/bin/python benchmarks/trap_sweep.py 100 harmonic 0,1,2,3,4,5 \\
        '{"one-sided": {}, "symmetric": {"symmetric": true}}'

(also with 6,7,8,9,10,11; ``nonlinear``; 1000 nodes, seeds 0,1 and 2,3). ``--targets 1 --tol 1e-2 --steps 600
--task-seed net`` gives the one-target cases (task seed = network seed), nonlinear. ``--within R`` draws the
targets within R length units (lattice spacings) of the source (:func:`mechclln.task.random_task`); the 2D 1e4 rows of
docs/performance.md ("Time to C/C0 <= 1e-3") came from

    nice -n 10 .venv/bin/python benchmarks/trap_sweep.py 10000 harmonic 1,2 '{"symmetric": {"symmetric": true}}' \
        --within 16
"""
import argparse
import json
import time

from mechclln.bench import bench_network
from mechclln.task import random_task
from mechclln.training import TrainConfig, Trainer


def run_one(n: int, seed: int, model: str, steps: int, tol: float, targets: int, task_seed: int, variant: dict,
            within: float | None = None):
    """(steps taken, final C/C0, reached, seconds, rejections) of one training run."""
    net = bench_network(n, 2, seed)
    task = random_task(net, n_targets=targets, source_strain=0.05, target_strain=0.05, seed=task_seed,
                       within=within)
    kw = {k: tuple(v) if k == "k_bounds" else v for k, v in variant.items()}
    cfg = TrainConfig(model=model, steps=steps, tol=tol, report_cosine=False, checkpoint_every=0, **kw)
    t0 = time.perf_counter()
    tr = Trainer(net, task, cfg).run()
    return tr.step_index, tr.history.C_rel[-1], tr.converged, time.perf_counter() - t0, tr.rejections


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("nodes", type=int)
    p.add_argument("model", choices=("harmonic", "nonlinear"))
    p.add_argument("seeds", help="network seeds, comma separated")
    p.add_argument("variants", help='JSON {name: {TrainConfig fields}}, e.g. {"symmetric": {"symmetric": true}}')
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--targets", type=int, default=3)
    p.add_argument("--task-seed", default="0", help="task seed, or 'net' for the network's seed")
    p.add_argument("--within", type=float, default=None, help="targets within this distance of the source")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    for name, variant in json.loads(a.variants).items():
        runs = []
        for s in seeds:
            ts = s if a.task_seed == "net" else int(a.task_seed)
            r = run_one(a.nodes, s, a.model, a.steps, a.tol, a.targets, ts, variant, a.within)
            runs.append(r)
            print(f"{name} seed {s}: {r[0]} steps, C/C0 {r[1]:.3g}, reached {r[2]}, {r[3]:.1f} s, "
                  f"{r[4]} rejections", flush=True)
        ok = sorted(r[0] for r in runs if r[2])
        print(f"== {name}: {len(ok)}/{len(runs)} reached {a.tol:g}; steps {ok}; "
              f"final C/C0 {[f'{r[1]:.2g}' for r in runs]}", flush=True)


if __name__ == "__main__":
    main()
