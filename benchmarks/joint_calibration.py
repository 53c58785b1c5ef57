"""Calibrate the frame's semi-rigid joints (mechclln.frame.JointCompliance) against linear FEM (docs/frame_joints.md).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/joint_calibration.py [--run /tmp/demo1] [--out /tmp/jc.json]

Coupons (uniform width w, tpu95a, t = 3 mm, R = 2.4 mm, linear FEM at 4 P2 elements across, pair tension
at 1 % source strain, as benchmarks/frame_bench.py's ``slender`` part), at w = 0.8-3.2 mm, spacings 9, 12, 24 mm:

- ``bar``: hubs 0-1, pulled by their pin holes: compliance ``2 c_h + L_f/EA + 2 c_a`` (c_h: the loaded hole);
- ``chain``: hubs 0-1-2 in line, pulled at 0 and 2, hub 1 holeless: ``2 c_h + 2 (L_f/EA + 2 c_a)``.
  chain - bar isolates one strut with its two roots: ``c_a``; bar - that: the holes' ``2 c_h``;
- ``elbow``: hubs 0-1-2 at 90 degrees, pulled at 0 and 2: joint bending; ``c_r`` is the root compliance that
  makes the jointed frame's compliance plus ``2 c_h`` equal FEM's.

Per coupon ``alpha_a = c_a E t`` and ``alpha_r = c_r E t w^2``; each is fitted as ``c0 + c1 s + c2 ln s``,
``s = w/R`` (least squares over all coupons). Then the check: frame / FEM - 1 with and without joints on
benchmarks/frame.json's slender rows (bar, elbow, square and triangular 4x4; FEM values reused from there) and
on the demo run's part (RUN/export/part.json) against RUN/fem/fidelity.json's target strains (linear frame vs
``fem_linear``, corotational frame vs ``fem_finite``).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from frame_bench import small_parts

from mechclln.frame import JointCompliance

REPO = Path(__file__).resolve().parents[1]
STRAIN = 0.01


def _coupons():
    """(name, network, source pairs) of the calibration coupons."""
    from mechclln.network import Network

    parts = {name: (net, src) for name, net, src, _ in small_parts()}
    x = np.array([[0.0, 0], [1, 0], [2, 0]])
    chain = Network(x, np.array([[0, 1], [1, 2]]), np.ones(2), np.ones(2))
    return {"bar": parts["bar"], "chain": (chain, [[0, 2]]), "elbow": parts["elbow"]}


def _gpart(net, src, tgt, scale, w):
    from mechclln.geometry.part import build_part
    from mechclln.geometry.spec import PartSpec
    from mechclln.task import make_task

    pairs = np.asarray(tgt if tgt else src)
    task = make_task(net, src, pairs, [STRAIN], [0.0] * len(pairs), rest=False)
    gpart = build_part(net, PartSpec().with_(scale=scale), "tpu95a", task=task, x_print=net.x, check=False)
    return replace(gpart, width=np.full(net.n_edges, w), width_raw=None), task


def frame_response(gpart, task, joints):
    """Source tension [N] and target strains of the linear frame of ``gpart`` (with ``joints`` or rigid)."""
    from mechclln.frame import Frame

    fr = Frame.of_part(gpart, joints=joints)
    src, tgt = np.asarray(task.source_pairs), np.asarray(task.target_pairs)
    st = fr.solve(np.asarray(gpart.width, float), src, task.source_strains[0], True)
    return float(-st.lam[-1] / fr.pair_r0(src)[-1]), fr.pair_strains(st.q, tgt, True)


def fem_compliances(scales, widths, elements_across=4) -> list[dict]:
    """FEM pair compliance [mm/N] of every coupon at every (scale, width)."""
    from mechclln.fem import fidelity, linear

    rows = []
    for scale in scales:
        for w in widths:
            row = {"scale_mm": scale, "width_mm": w}
            for name, (net, src) in _coupons().items():
                gpart, task = _gpart(net, src, [], scale, w)
                lin = linear.LinearModel(fidelity.mesh_part(gpart, elements_across), pinned=gpart.pinned)
                T = float(lin.solve(task.source_pairs, task.source_strains[0]).tension[0])
                row[name] = STRAIN * np.linalg.norm(np.diff(gpart.nodes[src[0]], axis=0)) / T
            rows.append(row)
            print(f"FEM coupons at spacing {scale} mm, w {w} mm: compliances "
                  + ", ".join(f"{k} {row[k]:.4g}" for k in _coupons()), flush=True)
    return rows


def root_compliances(row) -> dict:
    """c_a, c_h, c_r [mm/N, mm/N, 1/(N mm)] of one (scale, width) from its FEM coupon compliances."""
    from mechclln.frame import JointCompliance

    net, src = _coupons()["bar"]
    gpart, task = _gpart(net, src, [], row["scale_mm"], row["width_mm"])
    lf_ea = STRAIN * gpart.nodes[1, 0] / frame_response(gpart, task, None)[0]       # L_f / EA
    strut = row["chain"] - row["bar"]
    ca, ch2 = (strut - lf_ea) / 2, row["bar"] - strut
    E, t, R, w = gpart.material.youngs_modulus, gpart.thickness, gpart.hub_radius, row["width_mm"]
    net, src = _coupons()["elbow"]
    gpart, task = _gpart(net, src, [], row["scale_mm"], w)
    r0 = STRAIN * np.linalg.norm(np.diff(gpart.nodes[src[0]], axis=0))

    def gap(alpha_r):
        j = JointCompliance((ca * E * t, 0.0, 0.0), (alpha_r, 0.0, 0.0))
        return r0 / frame_response(gpart, task, j)[0] + ch2 - row["elbow"]

    alpha_r = brentq(gap, 0.0, 50.0)
    return {"c_a": ca, "c_h2": ch2, "alpha_a": ca * E * t, "alpha_r": alpha_r, "s": w / R,
            "c_r": alpha_r / (E * t * w ** 2)}


def fit(cal) -> JointCompliance:
    s = np.array([c["s"] for c in cal])
    V = np.stack([np.ones_like(s), s, np.log(s)], axis=1)
    coef = {k: tuple(float(v) for v in np.linalg.lstsq(V, [c[k] for c in cal], rcond=None)[0])
            for k in ("alpha_a", "alpha_r")}
    return JointCompliance(coef["alpha_a"], coef["alpha_r"])


def check_slender(joints) -> list[dict]:
    """Frame / FEM - 1 with and without joints on benchmarks/frame.json's slender rows."""
    data = json.loads((REPO / "benchmarks" / "frame.json").read_text())["slender"]["rows"]
    parts = {name: (net, src, tgt) for name, net, src, tgt in small_parts()}
    out = []
    for row in data:
        net, src, tgt = parts[row["part"]]
        gpart, task = _gpart(net, src, tgt, row["scale_mm"], row["width_mm"])
        res = {"part": row["part"], "free_length_mm": row["free_length_mm"], "width_mm": row["width_mm"],
               "w_over_Lf": row["w_over_Lf"]}
        for key, j in (("rigid", None), ("joints", joints)):
            T, e = frame_response(gpart, task, j)
            res[f"tension_gap_{key}"] = T / row["source_tension_N"]["fem_linear"] - 1
            if tgt:
                res[f"target_gap_{key}"] = float(e[0]) / row["target_strain"]["fem_linear"] - 1
        out.append(res)
    return out


def check_demo(run: Path, joints) -> dict:
    """Actuated target strains of the demo part's frame (rigid, jointed) against its FEM: linear frame vs
    ``fem_linear``, corotational frame vs ``fem_finite``."""
    from mechclln.design import PairTask, respond
    from mechclln.frame import Frame
    from mechclln.geometry.part import load_part
    from mechclln.geometry.print_state import as_printed_task, compare_printed
    from mechclln.network import load
    from mechclln.task import load_task

    net, task = load(run / "network.json"), load_task(run / "task.json")
    ptask = PairTask.of(as_printed_task(task, compare_printed(net, task).x_print))
    gpart = load_part(run / "export" / "part.json")
    models = json.loads((run / "fem" / "fidelity.json").read_text())["models"]
    act = int(np.argmax(np.abs(ptask.source_strains).max(axis=1)))
    out = {}
    for linear, ref in ((True, "fem_linear"), (False, "fem_finite")):
        fem = np.asarray(models[ref]["target_strains"])[act]
        out[ref] = {"fem": fem.tolist()}
        for key, j in (("rigid", None), ("joints", joints)):
            e = respond(Frame.of_part(gpart, joints=j), np.asarray(gpart.width, float), ptask, linear)[1][act]
            out[ref][key] = {"target_strains": e.tolist(), "gap": (e / fem - 1).tolist()}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("/tmp/demo1"), help="a `mechclln demo` run directory")
    ap.add_argument("--out", type=Path, default=Path("/tmp/joint_calibration.json"))
    ap.add_argument("--fem", type=Path, help="reuse the FEM coupon compliances of an earlier --out")
    a = ap.parse_args()
    rows = json.loads(a.fem.read_text())["coupons"] if a.fem else \
        fem_compliances((9.0, 12.0, 24.0), (0.8, 1.6, 2.4, 3.2))
    cal = [dict(r, **root_compliances(r)) for r in rows]
    joints = fit(cal)
    print("fitted", joints)
    for c in cal:
        fa, fr = joints.alphas(c["s"])
        print(f"spacing {c['scale_mm']:5.1f} w {c['width_mm']:.1f} w/R {c['s']:.3f}: alpha_a {c['alpha_a']:.4f} "
              f"(fit {fa:.4f}) alpha_r {c['alpha_r']:.4f} (fit {fr:.4f}) 2c_h/bar {c['c_h2'] / c['bar']:.3f}")
    out = {"coupons": rows, "calibration": cal, "alpha_a": joints.alpha_a, "alpha_r": joints.alpha_r,
           "slender": check_slender(joints)}
    if (a.run / "fem" / "fidelity.json").exists():
        out["demo"] = check_demo(a.run, joints)
    a.out.write_text(json.dumps(out, indent=1))
    print("| part | L_f mm | w mm | w / L_f | tension gap rigid | joints | target gap rigid | joints |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out["slender"]:
        gaps = [r.get(f"{k}_gap_{m}") for k in ("tension", "target") for m in ("rigid", "joints")]
        print(f"| {r['part']} | {r['free_length_mm']:.2f} | {r['width_mm']} | {r['w_over_Lf']:.3f} | "
              + " | ".join("-" if g is None else f"{100 * g:+.1f} %" for g in gaps) + " |")
    for ref, d in out.get("demo", {}).items():
        print(f"demo vs {ref}: rigid {np.round(100 * np.array(d['rigid']['gap']), 2)} %, "
              f"joints {np.round(100 * np.array(d['joints']['gap']), 2)} %")


if __name__ == "__main__":
    main()
