"""Frame model benchmarks (issue 10), written to ``benchmarks/frame.json`` and ``benchmarks/frame.md``.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/frame_bench.py [--parts design,solve,slender]
        [--out benchmarks] [--work /tmp/frame_bench]

Parts (each measured in this one run, so every ratio compares numbers taken under the same load):

- ``design``: the demo task (``mechclln demo``'s network and task) designed in the frame model
  (``design_network``), the same design after the FEM correction (``correct_run``), and today's spring path
  (``mechclln train`` with its defaults, then ``mechclln printable``); each part checked in finite-strain
  FEM (``check_run``). Wall time and FEM C/C0 of each; C0 is each run's own (``design.json`` or
  ``metrics.json``), and C / C_zero (C_zero: the error of a part that does not move, the same for all) is
  the common yardstick.
- ``solve``: one solve of the frame design's part at the task's actuation, frame (linear, corotational)
  against FEM (mesh, assembly + factorisation, linear solve; finite-strain solve), as ratios.
- ``slender``: where the frame model stops being accurate. Uniform-width struts on small parts (one bar,
  an elbow of two struts at 90 degrees, a 4 x 4 triangular and a 4 x 4 square lattice), frame (rigid
  joints, and the calibrated semi-rigid joints ``FEM_JOINTS``) vs linear FEM at 4 P2 elements across,
  swept over the strut's free length L_f (scale) and width w: the pair tension (bar, elbow: axial and
  joint-bending stiffness) and the target strains (lattices).

``--parts`` runs a subset; the parts not run keep their previous entry in ``frame.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MECHCLLN = str(Path(sys.executable).with_name("mechclln"))


def _c_zero(wanted) -> float:
    """C of a part that does not move (zero target strains)."""
    return 0.5 * float(np.mean(np.sum(np.asarray(wanted) ** 2, axis=1)))


def _fem_entry(run: Path, C0: float) -> dict:
    from mechclln.fem.fidelity import check_run

    t = time.perf_counter()
    rep = check_run(run, finite_strain=True)
    wanted = np.asarray(rep.wanted_target_strains)
    out = {"fem_check_s": time.perf_counter() - t, "C0": C0, "C_zero": _c_zero(wanted),
           "wanted_actuated": wanted[-1].tolist(), "dofs": rep.mesh["dofs"]}
    for key in ("frame_linear", "frame_corotational", "fem_linear", "fem_finite"):
        if key in rep.models:
            m = rep.models[key]
            out[key] = {"C": m["C"], "C_rel": m["C"] / C0, "C_over_C_zero": m["C"] / out["C_zero"],
                        "actuated": np.asarray(m["target_strains"])[-1].tolist()}
    return out


def part_design(work: Path) -> dict:
    """Frame design (+ FEM correction) vs spring training + printable refinement of the demo task."""
    from mechclln import network as netio
    from mechclln.demo import demo_problem
    from mechclln.design import DesignConfig
    from mechclln.export.printer import fitting_spec
    from mechclln.fem.correct import correct_run
    from mechclln.geometry.design_run import design_network, write_design_run
    from mechclln.task import save_task

    net, task = demo_problem()
    out = {}
    cfg = DesignConfig()
    t = time.perf_counter()
    fp, res, _ = design_network(net, task, fitting_spec(net), "tpu95a", cfg)
    t_design = time.perf_counter() - t
    rep = write_design_run(work / "frame", fp, res, task, cfg, force=True, source="frame_bench")
    out["frame_design"] = {"seconds": t_design, "struts": rep.n_edges - rep.n_removed,
                           "removed": rep.n_removed, "frame_C_rel": rep.C_rel_frame,
                           **_fem_entry(work / "frame", rep.C0)}
    subprocess.run(["rm", "-rf", str(work / "corrected")], check=True)
    subprocess.run(["cp", "-r", str(work / "frame"), str(work / "corrected")], check=True)
    rec = correct_run(work / "corrected")
    out["frame_design_corrected"] = {
        "seconds": t_design + rec.seconds, "correction_s": rec.seconds,
        "correction_rounds_C_rel_fem_finite": [r["C_rel_fem_finite"] for r in rec.rounds],
        **_fem_entry(work / "corrected", rep.C0)}
    netio.save(net, work / "net.json")
    save_task(task, work / "task.json")
    times = {}
    for name, cmd in (("train", [MECHCLLN, "train", str(work / "net.json"), str(work / "task.json"), "--out",
                                 str(work / "springs"), "--force", "--quiet"]),
                      ("printable", [MECHCLLN, "printable", str(work / "springs"), "--out",
                                     str(work / "springs_printable"), "--force", "--quiet"])):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        times[name] = time.perf_counter() - t
    metrics = json.loads((work / "springs_printable" / "metrics.json").read_text())
    pr = json.loads((work / "springs_printable" / "printable.json").read_text())
    out["spring_printable"] = {"seconds": sum(times.values()), "train_s": times["train"],
                               "printable_s": times["printable"], "struts": pr["n_edges"] - pr["n_left_out"],
                               "removed": pr["n_left_out"], "spring_C_rel_refined": pr["C_rel_refined"],
                               **_fem_entry(work / "springs_printable", float(metrics["C0"]))}
    return out


def _timed(fn, repeat: int):
    """(result, median seconds) of ``repeat`` calls of ``fn``."""
    ts, res = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t)
    return res, float(np.median(ts))


def part_solve(work: Path) -> dict:
    """One frame solve vs one FEM solve of the frame design's part (``work/frame``, from ``design``)."""
    from mechclln import network as netio
    from mechclln.design import PairTask, respond
    from mechclln.fem import fidelity, finite, linear
    from mechclln.frame import Frame
    from mechclln.geometry.design_run import load_design
    from mechclln.geometry.part import build_part
    from mechclln.task import load_task

    run = work / "frame"
    rec = load_design(run)
    net, task = netio.load(run / "network.json"), load_task(run / "task.json")
    gpart = build_part(net, rec["spec"], rec["material"], task=task, x_print=net.x)
    act = int(np.argmax(np.abs(task.source_strains).max(axis=1)))
    pt1 = PairTask(task.source_pairs, task.target_pairs, task.source_strains[[act]], task.target_strains[[act]])
    w = np.asarray(gpart.width, float)
    (fr, t_frame_build) = _timed(lambda: Frame.of_part(gpart), 3)
    (st_fl, eps_fl), t_fl = _timed(lambda: respond(fr, w, pt1, True), 5)
    (st_fc, eps_fc), t_fc = _timed(lambda: respond(fr, w, pt1, False), 3)
    t = time.perf_counter()
    pt = fidelity.mesh_part(gpart, 2)
    t_mesh = time.perf_counter() - t
    t = time.perf_counter()
    lin = linear.LinearModel(pt, pinned=gpart.pinned)
    t_factor = time.perf_counter() - t
    st, t_lsolve = _timed(lambda: lin.solve(task.source_pairs, task.source_strains[act]), 3)
    eps_lin = lin.strains(st, task.target_pairs)
    nh = finite.FiniteStrainModel(pt, pinned=gpart.pinned)
    steps = max(1, int(np.ceil(np.abs(task.source_strains[act]).max() / 0.05)))
    t = time.perf_counter()
    fs = nh.solve(task.source_pairs, task.source_strains[act], steps=steps, u0=np.zeros(pt.n_owned))
    t_finite = time.perf_counter() - t
    eps_fin = nh.strains(fs, task.target_pairs)
    t_fem_lin = t_mesh + t_factor + t_lsolve
    r0 = np.linalg.norm(np.diff(fr.x[task.source_pairs], axis=1)[:, 0], axis=1)
    n_src = len(task.source_pairs)
    tension = {"frame_linear": (-st_fl[0].lam[-n_src:] / r0).tolist(),
               "frame_corotational": (-st_fc[0].lam[-n_src:] / r0).tolist(),
               "fem_linear": np.asarray(st.tension).tolist(), "fem_finite": np.asarray(fs.tension).tolist()}
    return {"part": str(run), "struts": int(len(w)), "hubs": int(len(gpart.nodes)),
            "frame_dofs": int(fr.ndof), "fem_dofs": int(pt.comm.allreduce(pt.n_owned)),
            "seconds": {"frame_build": t_frame_build, "frame_linear_solve": t_fl, "frame_corotational_solve": t_fc,
                        "fem_mesh": t_mesh, "fem_assemble_factor": t_factor, "fem_linear_solve": t_lsolve,
                        "fem_linear_total": t_fem_lin, "fem_finite_solve": t_finite, "fem_finite_steps": steps},
            "ratios": {"fem_linear_total_over_frame_linear": t_fem_lin / t_fl,
                       "fem_linear_solve_only_over_frame_linear": (t_factor + t_lsolve) / t_fl,
                       "fem_finite_over_frame_corotational": t_finite / t_fc,
                       "fem_finite_plus_mesh_over_frame_corotational": (t_finite + t_mesh) / t_fc},
            "actuated_target_strains": {"frame_linear": eps_fl[0].tolist(), "frame_corotational": eps_fc[0].tolist(),
                                        "fem_linear": eps_lin.tolist(), "fem_finite": eps_fin.tolist()},
            "source_tension_N": tension,
            "relative_gap_frame_to_fem": {"linear": ((eps_fl[0] - eps_lin) / np.abs(eps_lin)).tolist(),
                                          "finite": ((eps_fc[0] - eps_fin) / np.abs(eps_fin)).tolist()}}


def small_parts():
    """(name, network, source pairs, target pairs) of the small test parts, lattice spacing 1."""
    from mechclln.lattices import square_diagonal, triangular
    from mechclln.network import Network

    def net(x, edges):
        x, edges = np.asarray(x, float), np.asarray(edges, np.int64)
        r = np.linalg.norm(x[edges[:, 0]] - x[edges[:, 1]], axis=1)
        return Network(x, edges, np.ones(len(edges)), r)

    sq = square_diagonal(4, 4)
    r = np.linalg.norm(sq.x[sq.edges[:, 0]] - sq.x[sq.edges[:, 1]], axis=1)
    tri = triangular(4, 4)
    parts = [("bar", net([[0, 0], [1, 0]], [[0, 1]]), [[0, 1]], []),
             ("elbow", net([[1, 0], [0, 0], [0, 1]], [[0, 1], [1, 2]]), [[0, 2]], [])]
    for name, n in (("triangular 4x4", net(tri.x, tri.edges)), ("square 4x4", net(sq.x, sq.edges[np.isclose(r, 1.0)]))):
        mid = n.x[n.edges].mean(axis=1)
        src = int(np.argmin(np.linalg.norm(mid - n.x.mean(axis=0), axis=1)))        # the central strut
        apart = ~np.isin(n.edges, n.edges[src]).any(axis=1)
        dist = np.where(apart, np.abs(np.linalg.norm(mid - mid[src], axis=1) - 1.5), np.inf)
        parts.append((name, n, [n.edges[src].tolist()], [n.edges[int(np.argmin(dist))].tolist()]))
    return parts


def part_slender(work: Path, scales=(6.0, 7.0, 9.0, 12.0, 24.0), widths=(0.8, 1.6, 3.2),
                 elements_across: int = 4) -> dict:
    """Frame (rigid joints, and the calibrated semi-rigid joints) vs linear FEM on small parts of uniform
    width, over w / L_f."""
    from mechclln.design import PairTask, respond
    from mechclln.fem import fidelity, linear
    from mechclln.frame import Frame
    from mechclln.geometry.part import build_part
    from mechclln.geometry.spec import PartSpec
    from mechclln.task import make_task

    rows = []
    for name, net, src, tgt in small_parts():
        pairs = np.asarray(tgt if tgt else src)
        task = make_task(net, src, pairs, [0.01], [0.0] * len(pairs), rest=False)
        for scale in scales:
            for w in widths:
                spec = PartSpec().with_(scale=scale)
                gpart = build_part(net, spec, "tpu95a", task=task, x_print=net.x, check=False)
                gpart = replace(gpart, width=np.full(net.n_edges, w), width_raw=None)
                t = time.perf_counter()
                pt = fidelity.mesh_part(gpart, elements_across)
                lin = linear.LinearModel(pt, pinned=gpart.pinned)
                st = lin.solve(task.source_pairs, task.source_strains[0])
                row = {"part": name, "scale_mm": scale, "width_mm": w, "fem_dofs": int(pt.n_owned),
                       "fem_s": time.perf_counter() - t, "fem_linear": {"source_tension_N": float(st.tension[0])}}
                if tgt:
                    row["fem_linear"]["target_strain"] = float(lin.strains(st, task.target_pairs)[0])
                for label, joints in (("rigid", None), ("joints", "fem")):
                    fr = Frame.of_part(gpart, joints=joints)
                    fst = respond(fr, np.full(net.n_edges, w), PairTask.of(task), True)[0][0]
                    r0 = np.linalg.norm(np.diff(fr.x[src[0]], axis=0))
                    f = {"source_tension_N": float(-fst.lam[-1] / r0)}
                    if tgt:
                        f["target_strain"] = float(fr.pair_strains(fst.q, task.target_pairs, True)[0])
                    row[f"frame_{label}"] = f
                    row[f"gap_{label}"] = {k: v / row["fem_linear"][k] - 1 for k, v in f.items()}
                lf = float(np.min(fr.L) - 2 * np.sqrt(fr.R ** 2 - w ** 2 / 4))
                row.update(free_length_mm=lf, w_over_Lf=w / lf)
                rows.append(row)
                print(f"slender: {name}, L_f {lf:.2f} mm, w {w} mm: frame/FEM - 1 rigid {row['gap_rigid']}, "
                      f"joints {row['gap_joints']}", flush=True)
    return {"elements_across": elements_across, "material": "tpu95a", "thickness_mm": PartSpec().thickness,
            "hub_radius_mm": PartSpec().hub_radius, "rows": rows}


def write_md(data: dict, path: Path) -> None:
    """``frame.md``: the tables of ``data`` (``frame.json``)."""
    L = ["# Frame model benchmarks (issue 10)", "",
         "Written by `benchmarks/frame_bench.py` (numbers below are from `frame.json`):", "",
         "```", "OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/frame_bench.py --parts design,solve,slender", "```",
         "", f"Machine: {data.get('machine', '?')}.", ""]
    d = data.get("design")
    if d:
        L += ["## (a) Frame design vs spring printable refinement (demo task; finite-strain FEM judges)", "",
              "The frame: `frame_part`'s, with the part's default joints (`mechclln.frame.default_joints`: the "
              "calibrated semi-rigid joints in 2D).", "",
              "| path | wall time s | struts printed / removed | FEM finite C/C0 | FEM finite C/C_zero | FEM linear C/C0 "
              "| FEM finite actuated target strains (wanted " + ", ".join(f"{v:+.2f}" for v in
                                                              d["frame_design"]["wanted_actuated"]) + ") |",
              "|---|---|---|---|---|---|---|"]
        labels = {"frame_design": "frame design (`design_network`, corotational)",
                  "frame_design_corrected": "frame design + FEM correction (`correct_run`)",
                  "spring_printable": "`mechclln train` (defaults) + `mechclln printable`"}
        for key, label in labels.items():
            e = d[key]
            struts = f"{e['struts']} / {e['removed']}" if "struts" in e else "same as above"
            L.append(f"| {label} | {e['seconds']:.1f} | {struts} | {e['fem_finite']['C_rel']:.3g} | "
                     f"{e['fem_finite']['C_over_C_zero']:.3g} | {e['fem_linear']['C_rel']:.3g} | "
                     + ", ".join(f"{v:+.4f}" for v in e["fem_finite"]["actuated"]) + " |")
        f, s = d["frame_design_corrected"], d["spring_printable"]
        L += ["", f"C0: the frame design's {d['frame_design']['C0']:.4g} (design.json), the spring run's "
              f"{s['C0']:.4g} (metrics.json); C_zero = {s['C_zero']:.4g} (a part that does not move). "
              f"Ratios (spring path / frame path + correction): wall time {s['seconds'] / f['seconds']:.2f}, "
              f"FEM finite C {s['fem_finite']['C'] / f['fem_finite']['C']:.3g}. Correction rounds (FEM finite C/C0): "
              + ", ".join(f"{v:.3g}" for v in f["correction_rounds_C_rel_fem_finite"])
              + f". FEM check of each part: {d['frame_design']['fem_check_s']:.0f}, {f['fem_check_s']:.0f}, "
              f"{s['fem_check_s']:.0f} s ({s['dofs']} dofs spring part). Spring training {s['train_s']:.1f} s, "
              f"printable refinement {s['printable_s']:.1f} s.", ""]
    s = data.get("solve")
    if s:
        t, r = s["seconds"], s["ratios"]
        L += ["## (b) One frame solve vs one FEM solve of the same part (frame design of the demo)", "",
              f"{s['hubs']} hubs, {s['struts']} struts; frame {s['frame_dofs']} dofs, FEM {s['fem_dofs']} dofs (2 P2 "
              "elements across). Actuated example; frame times are medians of repeated solves.", "",
              "| model | seconds | actuated target strains |", "|---|---|---|"]
        ts = s["actuated_target_strains"]
        for label, sec, key in (("frame linear (KKT solve)", t["frame_linear_solve"], "frame_linear"),
                                ("frame corotational (Newton-KKT)", t["frame_corotational_solve"], "frame_corotational"),
                                ("FEM linear: mesh + assemble/factor + solve",
                                 f"{t['fem_mesh']:.2f} + {t['fem_assemble_factor']:.2f} + {t['fem_linear_solve']:.2f}",
                                 "fem_linear"),
                                (f"FEM finite strain ({t['fem_finite_steps']} load step(s), mesh excluded)",
                                 t["fem_finite_solve"], "fem_finite")):
            sec = f"{sec:.4f}" if isinstance(sec, float) else sec
            L.append(f"| {label} | {sec} | " + ", ".join(f"{v:+.5f}" for v in ts[key]) + " |")
        L += ["", "| ratio (same run) | value |", "|---|---|"]
        L += [f"| {k.replace('_', ' ')} | {v:.0f} |" for k, v in r.items()]
        L += ["", "Frame vs FEM per target: linear " + ", ".join(f"{100 * v:+.1f} %" for v in
                                                                s["relative_gap_frame_to_fem"]["linear"])
              + "; corotational vs finite " + ", ".join(f"{100 * v:+.1f} %" for v in
                                                         s["relative_gap_frame_to_fem"]["finite"]) + ". Source "
              "tension (the actuation force) [N]: " + ", ".join(f"{k.replace('_', ' ')} {v[0]:.3g}"
                                                                for k, v in s["source_tension_N"].items()) + ".", ""]
    sl = data.get("slender")
    if sl:
        L += ["## (c) Where the frame model stops being accurate: frame vs linear FEM over w / L_f", "",
              f"Uniform width w on every strut, hub radius {sl['hub_radius_mm']} mm, t = {sl['thickness_mm']} mm, "
              f"{sl['material']}, FEM at {sl['elements_across']} P2 elements across. L_f: the shortest strut's "
              "free length (hub edge to hub edge). Gaps = frame / FEM - 1 of the source pair's tension (the part's "
              "stiffness at its source) and, on the lattices, of a target strain 1.5 spacings from the central "
              "source strut (source strain 0.01).", "",
              "| part | L_f mm | w mm | w / L_f | tension gap, rigid | tension gap, joints | target gap, rigid "
              "| target gap, joints |", "|---|---|---|---|---|---|---|---|"]
        pct = lambda g, k: f"{100 * g[k]:+.1f} %" if k in g else "-"  # noqa: E731
        for row in sorted(sl["rows"], key=lambda q: (q["part"], q["w_over_Lf"])):
            L.append(f"| {row['part']} | {row['free_length_mm']:.2f} | {row['width_mm']} | {row['w_over_Lf']:.3f} | "
                     + " | ".join(pct(row[f"gap_{j}"], k) for k in ("source_tension_N", "target_strain")
                                  for j in ("rigid", "joints")) + " |")
        L.append("")
    path.write_text("\n".join(L))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="design,solve,slender")
    p.add_argument("--out", default=str(REPO / "benchmarks"))
    p.add_argument("--work", default="/tmp/frame_bench")
    a = p.parse_args(argv)
    out, work = Path(a.out), Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    path = out / "frame.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["machine"] = (f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start, "
                       f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    parts = {"design": part_design, "solve": part_solve, "slender": part_slender}
    for name in a.parts.split(","):
        data[name] = parts[name](work)
        from mechclln.fileio import write_json
        write_json(path, data)
        write_md(data, out / "frame.md")
        print(f"frame_bench: {name} done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
