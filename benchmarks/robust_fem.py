"""Sampled FEM check of robust design: print errors applied to the real part, each sample re-meshed.

Each sample draws the print errors of :class:`mechclln.design.PrintErrors` (Gaussian, 95 % ranges +-0.1 mm
per strut width, +-10 % per strut modulus): sample k is row k % 12 of ``PrintErrors.draw(n_edges, 12,
seed=7 + k // 12)``, the same errors for every design (common random numbers, so designs compare sample by
sample). The part is rebuilt at the perturbed widths (clipped at the printable minimum), meshed (2 elements
across a strut) and solved in FEM (``--model linear`` or ``finite``: neo-Hookean at the task's actuation)
with each strut's modulus scaled by its factor; ``--model frame`` solves the same samples in the design's
own corotational frame instead (no mesh). The record is C/C0 (C0 of the design run). Every sample is
appended to the record (``--out``, default benchmarks/robust_fem.json) as soon as it is solved, so a run
resumes where it stopped.

    python benchmarks/robust_fem.py --samples 40 design=/tmp/demo2 robust=/tmp/rob16

(runs: `mechclln demo --out /tmp/demo2`; `mechclln design SRC --out /tmp/rob16 --robust 16`, SRC a run with
the demo's network and task, docs/frame.md). The summary per design and model: nominal C/C0 (no errors),
median, 90th and 95th percentile, and a bootstrap 95 % interval of the 95th percentile; per pair of designs
the paired bootstrap interval of the difference of their 95th percentiles.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from mechclln import network as netio
from mechclln.design import PairTask, PrintErrors, sampled_errors
from mechclln.fem import fidelity, stack
from mechclln.geometry.design_run import designed_network, frame_part, load_design
from mechclln.geometry.part import build_part
from mechclln.task import load_task, task_error

OUT = Path(__file__).with_suffix(".json")
BATCH, SEED0, BOOT = 12, 7, 10000


def part_error(run: str, k: int | None, model: str) -> float:
    """C/C0 of the design in ``run`` in FEM under print-error sample ``k`` (None: the nominal part)."""
    rec = load_design(run)
    start, task = netio.load(f"{run}/network_initial.json"), load_task(f"{run}/task.json")
    fp = frame_part(start, rec["spec"], rec["material"])
    w = np.asarray(rec["widths_mm"])
    on = w > 0
    if k is None:
        dw, factor = np.zeros_like(w), np.ones_like(w)
    else:
        err = PrintErrors.draw(len(w), BATCH, seed=SEED0 + k // BATCH)
        dw, factor = err.dw[k % BATCH], err.factor[k % BATCH]
    if model == "frame":
        one = PrintErrors(dw[None], factor[None])
        return float(sampled_errors(fp.frame, w, PairTask.of(task), False, one, fp.lo)[0]) / float(rec["C0"])
    ws = np.where(on, np.maximum(w + dw, fp.lo), 0.0)
    gp = build_part(designed_network(fp, ws), fp.spec, fp.material, task=task, x_print=start.x, check=False)
    pt = fidelity.mesh_part(gp, 2)
    dfx = stack.dolfinx()
    f = dfx.fem.Function(dfx.fem.functionspace(pt.mesh, ("DG", 0)))
    f.x.array[:] = 1.0
    cells, ce = pt.strut_cells()
    f.x.array[cells] = factor[on][ce]
    lin, res = fidelity.fem_responses(pt, gp, task, model == "finite", factor=f)
    lin.destroy()
    return task_error(res[model], task.target_strains) / float(rec["C0"])


def q95_interval(c: np.ndarray, rng) -> list:
    idx = rng.integers(0, len(c), (BOOT, len(c)))
    return np.quantile(np.quantile(c[idx], 0.95, axis=1), [0.025, 0.975]).tolist()


def summarise(data: dict, model: str):
    rng = np.random.default_rng(0)
    recs = {name: d[model] for name, d in data["designs"].items() if model in d}
    for r in recs.values():
        c = np.array([s["C_rel"] for s in r["samples"]])
        if len(c):
            r.update(n=len(c), median=float(np.median(c)), q90=float(np.quantile(c, 0.9)),
                     q95=float(np.quantile(c, 0.95)), q95_ci95=q95_interval(c, rng), max=float(c.max()))
    comp = data.setdefault("q95_difference", {}).setdefault(model, {})
    names = list(recs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ca = {s["k"]: s["C_rel"] for s in recs[a]["samples"]}
            cb = {s["k"]: s["C_rel"] for s in recs[b]["samples"]}
            ks = sorted(set(ca) & set(cb))
            if len(ks) < 2:
                continue
            A, B = np.array([ca[k] for k in ks]), np.array([cb[k] for k in ks])
            idx = rng.integers(0, len(ks), (BOOT, len(ks)))
            d = np.quantile(B[idx], 0.95, axis=1) - np.quantile(A[idx], 0.95, axis=1)
            comp[f"{b} - {a}"] = {"n": len(ks), "q95_diff": float(np.quantile(B, 0.95) - np.quantile(A, 0.95)),
                                  "ci95": np.quantile(d, [0.025, 0.975]).tolist(),
                                  "fraction_of_samples_b_lower": float(np.mean(B < A))}


def save(data: dict, out: Path):
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("designs", nargs="+", metavar="NAME=RUN")
    ap.add_argument("--samples", type=int, required=True, help="samples per design to reach")
    ap.add_argument("--model", choices=("linear", "finite", "frame"), default="linear")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    runs = dict(d.split("=", 1) for d in args.designs)
    data = json.loads(args.out.read_text()) if args.out.exists() else {"designs": {}, "commands": []}
    data["commands"].append("OPENBLAS_NUM_THREADS=1 nice -n 15 .venv/bin/python " + " ".join(sys.argv))
    for name, run in runs.items():
        d = data["designs"].setdefault(name, {"run": run})
        if d["run"] != run:
            sys.exit(f"design {name!r}: recorded for run {d['run']}, not {run}; use another name")
        r = d.setdefault(args.model, {"samples": []})
        if "nominal" not in r:
            r["nominal"] = part_error(run, None, args.model)
            save(data, args.out)
    for k in range(args.samples):
        for name, run in runs.items():
            r = data["designs"][name][args.model]
            if any(s["k"] == k for s in r["samples"]):
                continue
            t0 = time.perf_counter()
            r["samples"].append({"k": k, "C_rel": part_error(run, k, args.model),
                                 "seconds": time.perf_counter() - t0})
            summarise(data, args.model)
            save(data, args.out)
            print(name, k, r["samples"][-1], flush=True)
    summarise(data, args.model)
    save(data, args.out)


if __name__ == "__main__":
    main()
