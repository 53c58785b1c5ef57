"""Every loader rejects bad input with the one-line ``file: field 'f': problem; fix`` message (issue 11).

The property-based tests mutate valid files (wrong types, null, NaN/inf, negative and huge numbers, huge
ids, deleted, duplicated and unknown fields; for the tracks CSV bad cells, duplicated columns, truncation
and non-UTF-8 bytes) and require each loader to either return an object that passes the invariants of its
kind, or raise MechcllnError naming the file and a field: never another exception. The default suite runs
a few dozen mutations per file kind; the slow variant 1000 per kind.
"""
import copy
import json
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mechclln import lattices
from mechclln import network as netio
from mechclln.errors import MechcllnError
from mechclln.geometry.spec import PartSpec
from mechclln.task import load_task, random_task, save_task

BAD_VALUES = [None, "x", "", True, False, 0, 1, -1, 0.5, -0.0, 1e9, 10**30, 1e300, math.nan, math.inf, -math.inf,
              [], {}, [0], [[0, 1]], [[0, 1], [0, 1]], {"a": 1}, [None], ["1"], [math.nan, 1]]
CSV_CELLS = ["", "nan", "inf", "-inf", "1.", ".5", "1e", "1_0", "0x10", "\u0663", " 3 ", "-1", "1e9", "1e999",
             "99999999999999999999", "2", "0", '"', "a,b"]


# --------------------------------------------------------------------------------------- valid inputs
@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small valid network, task, part, printable.json, fidelity.json and tracks CSV."""
    from dataclasses import replace

    from mechclln.fileio import write_json
    from mechclln.geometry.part import build_part, save_part

    d = tmp_path_factory.mktemp("valid")
    net = lattices.triangular(4, 4)
    net = replace(net, pinned=np.array([0]), meta={"left_out_edges": [2]})
    task = random_task(net, n_targets=2, seed=1)
    netio.save(net, d / "network.json")
    save_task(task, d / "task.json")
    part = build_part(replace(net, meta={}), task=task, x_print=net.x, check=False)
    save_part(part, d / "part.json")
    write_json(d / "printable.json", {"spec": PartSpec().to_dict(), "material": "tpu95a"})
    strains = np.zeros_like(task.target_strains)
    write_json(d / "fidelity.json", {"models": {"fem_linear": {"target_strains": strains},
                                                "trained_springs": {"target_strains": strains}}})
    x = 12.0 * net.x
    rows = ["frame,hub,x,y"]
    for f, s in enumerate((1.0, 1.01, 0.99)):
        rows += [f"{f},{n},{s * x[n, 0]:.4f},{x[n, 1]:.4f}" for n in range(net.n_nodes)]
    (d / "tracks.csv").write_text("\n".join(rows) + "\n")
    return {"dir": d, "net": net, "task": task}


# --------------------------------------------------------------------------------------- loaders + invariants
def load_network(path, files):
    net = netio.load(path)
    assert np.isfinite(net.x).all() and (net.k > 0).all() and (net.l > 0).all()
    assert ((net.edges >= 0) & (net.edges < net.n_nodes)).all() and len(np.unique(net.pinned)) == len(net.pinned)


def load_task_file(path, files):
    task = load_task(path, files["net"])
    assert np.isfinite(task.source_strains).all() and np.isfinite(task.targets_desired()).all()
    assert ((task.source_pairs >= 0) & (task.source_pairs < files["net"].n_nodes)).all()


def load_part_file(path, files):
    from mechclln.geometry.part import load_part

    part = load_part(path)
    assert np.isfinite(part.nodes).all() and (part.width > 0).all() and np.isfinite(part.width).all()
    assert part.hub_radius > part.hole_radius > 0 and part.kappa > 0 and part.scale > 0
    assert ((part.edges >= 0) & (part.edges < len(part.nodes))).all()
    assert len(np.unique(np.sort(part.edges, axis=1), axis=0)) == part.n_struts
    assert np.isin(part.pinned, part.hole_nodes).all() and part.spec.validate() is part.spec


def load_printable(path, files):
    from mechclln.geometry.design_run import recorded_spec

    spec, material = recorded_spec(path.parent)      # reads RUN/printable.json
    assert spec.validate() is spec and material in ("tpu95a", "pla", "petg")


def load_fidelity(path, files):
    from mechclln.fem.labcompare import fem_predictions

    task = files["task"]
    out = fem_predictions(path, task, task.source_strains)
    assert all(np.isfinite(v).all() and v.shape == task.target_strains.shape for v in out.values())


def load_tracks(path, files):
    from mechclln.tracks import measured_strains, read_tracks

    frames = read_tracks(path, files["net"].n_nodes)
    eps = measured_strains(frames, files["task"].source_pairs, path, "source")
    assert np.isfinite(eps).all() and (np.abs(eps) < 1).all()


JSON_KINDS = {"network.json": load_network, "task.json": load_task_file, "part.json": load_part_file,
              "printable.json": load_printable, "fidelity.json": load_fidelity}


def assert_clean(loader, path, files):
    """The loader returns a valid object or raises MechcllnError naming ``path`` and a field, on one line."""
    try:
        loader(path, files)
    except MechcllnError as exc:
        msg = str(exc)
        assert str(path) in msg and "\n" not in msg, msg
        assert "field '" in msg or "not UTF-8" in msg or "malformed" in msg, msg
        return "rejected"
    return "loaded"


# --------------------------------------------------------------------------------------- JSON mutations
def _slots(doc, out):
    """Every (container, key) in a JSON tree."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        out.append((doc, k))
        _slots(v, out)
    return out


@st.composite
def mutated(draw, doc):
    """``doc`` with 1-3 random mutations."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(doc, [])
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "scale", "unknown"]))
        if op == "replace":
            container[key] = copy.deepcopy(draw(st.sampled_from(BAD_VALUES)))
        elif op == "delete":
            del container[key]
        elif op == "duplicate" and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        elif op == "scale" and isinstance(container[key], (int, float)) and not isinstance(container[key], bool):
            container[key] = container[key] * draw(st.sampled_from([-1, 0, 1e9, -1e-12, 10**12, math.nan]))
        elif op == "unknown" and isinstance(container, dict):
            container["bogus_field"] = 1
    return doc


def fuzz_json(name, n_examples, files, outcomes):
    valid = json.loads((files["dir"] / name).read_text())
    path = files["dir"] / "fuzz" / name
    path.parent.mkdir(exist_ok=True)

    @settings(max_examples=n_examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(valid))
    def check(doc):
        path.write_text(json.dumps(doc))
        outcomes.append(assert_clean(JSON_KINDS[name], path, files))

    check()


# --------------------------------------------------------------------------------------- CSV mutations
@st.composite
def mutated_csv(draw, text):
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "cell", "header", "truncate", "bytes", "row"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "cell":
            cells = lines[i].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(CSV_CELLS))
            lines[i] = ",".join(cells)
        elif op == "header":
            lines[0] = draw(st.sampled_from(["frame,hub,x,y,x", "frame,hub,x", "frame,hub,x,y,z", "", "hub,frame,y,x",
                                             "frame,,x,y", "\ufeffframe,hub,x,y"]))
        elif op == "truncate":
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
        elif op == "row":
            lines.insert(i + 1, lines[i])
    data = "\n".join(lines).encode()
    if draw(st.booleans()) and draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff\xfe" + data[at:]
    return data


def fuzz_csv(n_examples, files, outcomes):
    text = (files["dir"] / "tracks.csv").read_text()
    path = files["dir"] / "fuzz" / "tracks.csv"
    path.parent.mkdir(exist_ok=True)

    @settings(max_examples=n_examples, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutated_csv(text))
    def check(data):
        path.write_bytes(data)
        outcomes.append(assert_clean(load_tracks, path, files))

    check()


# --------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("name", sorted(JSON_KINDS))
def test_valid_files_load(files, name):
    """The unmutated files load (so the fuzzer starts from valid input, and a rejection is the mutation's)."""
    assert assert_clean(JSON_KINDS[name], files["dir"] / name, files) == "loaded"
    assert assert_clean(load_tracks, files["dir"] / "tracks.csv", files) == "loaded"


@pytest.mark.parametrize("name", sorted(JSON_KINDS))
def test_fuzzed_json_loads_or_fails_cleanly(files, name):
    outcomes = []
    fuzz_json(name, 40, files, outcomes)
    assert "rejected" in outcomes                       # the mutations do reach the checks


def test_fuzzed_tracks_csv_loads_or_fails_cleanly(files):
    outcomes = []
    fuzz_csv(60, files, outcomes)
    assert "rejected" in outcomes


@pytest.mark.slow
@pytest.mark.parametrize("name", [*sorted(JSON_KINDS), "tracks.csv"])
def test_fuzz_1000_mutations_per_file_kind(files, name):
    outcomes = []
    fuzz_csv(1000, files, outcomes) if name == "tracks.csv" else fuzz_json(name, 1000, files, outcomes)
    print(f"{name}: {len(outcomes)} mutated inputs, {outcomes.count('rejected')} rejected cleanly, "
          f"{outcomes.count('loaded')} loaded valid")
    assert len(outcomes) >= 1000


# --------------------------------------------------------------------------------------- known failures (issue 11)
def _edit(files, name, tmp_path, **changes):
    """``name``'s valid content with top-level fields replaced (a key mapped to ... is deleted)."""
    d = json.loads((files["dir"] / name).read_text())
    for key, value in changes.items():
        if value is ...:
            del d[key]
        else:
            d[key] = value
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("name, changes, field, problem", [
    ("network.json", {"version": None}, "version", "is null"),
    ("network.json", {"dim": "x"}, "dim", "must be an integer"),
    ("network.json", {"meta": None}, "meta", "is null"),
    ("network.json", {"pinned": 0}, "pinned", "must be a list"),
    ("network.json", {"pinned": [1, 1]}, "pinned", "listed twice"),
    ("network.json", {"units": {"length": "cm"}}, "units.length", "not one of"),
    ("network.json", {"meta": {"left_out_edges": [10**9]}}, "meta.left_out_edges[0]", "out of range"),
    ("network.json", {"version": 2}, "version", "newer"),
    ("task.json", {"version": 99}, "version", "newer"),
    ("task.json", {"version": None}, "version", "is null"),
    ("task.json", {"meta": None}, "meta", "is null"),
    ("part.json", {"nodes": 0}, "nodes", "must be a list"),
    ("part.json", {"width": 0}, "width", "must be a list"),
    ("part.json", {"edges": []}, "edges", "no struts"),
    ("part.json", {"edges": [[0, 1e9]]}, "edges[0][1]", "out of range"),
    ("part.json", {"edges": [[0, math.inf]]}, "edges[0][1]", "NaN or infinite"),
    ("part.json", {"edges": [[0, 1], [1, 0]]}, "edges", "listed twice"),
    ("part.json", {"hole_radius": -0.5}, "hole_radius", "must be > 0"),
    ("part.json", {"scale_mm": -12.0}, "scale_mm", "must be > 0"),
    ("part.json", {"stiffness_scale_N_per_mm": -1.0}, "stiffness_scale_N_per_mm", "must be > 0"),
    ("part.json", {"spec": {**PartSpec().to_dict(), "scale": -1.0}}, "spec.scale", "must be > 0"),
    ("part.json", {"spec": {**PartSpec().to_dict(), "segments": 10**9}}, "spec.segments", "outside"),
    ("part.json", {"version": None}, "version", "is null"),
    ("part.json", {"material": None}, "material", "is null"),
])
def test_issue_11_inputs_are_rejected_naming_file_and_field(files, tmp_path, name, changes, field, problem):
    path = _edit(files, name, tmp_path, **changes)
    with pytest.raises(MechcllnError) as err:
        JSON_KINDS[name](path, files)
    msg = str(err.value)
    assert msg.startswith(f"{path}: field '{field}': ") and problem in msg and "; " in msg, msg


def test_nan_width_is_rejected_not_dropped(files, tmp_path):
    d = json.loads((files["dir"] / "part.json").read_text())
    d["width"][3] = math.nan
    (tmp_path / "part.json").write_text(json.dumps(d))          # json writes NaN, as a user's tool might
    with pytest.raises(MechcllnError, match=r"field 'width\[3\]': is NaN or infinite"):
        load_part_file(tmp_path / "part.json", files)


def test_duplicate_json_key_is_rejected(files, tmp_path):
    text = (files["dir"] / "network.json").read_text().replace('"dim":', '"dim": 2, "dim":', 1)
    (tmp_path / "n.json").write_text(text)
    with pytest.raises(MechcllnError, match=r"field 'dim': appears twice"):
        netio.load(tmp_path / "n.json")


def test_huge_part_is_refused_by_its_size_not_a_hang(files, tmp_path):
    from mechclln.geometry.part import MAX_STRUTS

    n = MAX_STRUTS + 1
    path = _edit(files, "part.json", tmp_path, edges=[[0, 1]] * n, width=[1.0] * n)
    t = time.perf_counter()
    with pytest.raises(MechcllnError, match=rf"field 'edges': {n} entries exceed the limit of {MAX_STRUTS}"):
        load_part_file(path, files)
    assert time.perf_counter() - t < 10


@pytest.mark.parametrize("text, field, problem", [
    ("frame,hub,x,y,x\n0,0,1,2,3\n", "x", "appears twice"),
    ("frame,hub,x,y\n0,0,1.,2\n1,0,1,2\n", "x", "not a number written out in full"),
    ("frame,hub,x,y\n0,0,1,2\n1,0,1e7,2\n", "x", "beyond"),
    ("frame,hub,x,y\n0,0,1,2\n1,0,1\n", "row", "truncated"),
    ("frame,hub,x,y\n0,0,1_0,2\n", "x", "not a number"),
])
def test_bad_tracks_are_rejected(files, tmp_path, text, field, problem):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(MechcllnError) as err:
        load_tracks(path, files)
    assert f"field '{field}'" in str(err.value) and problem in str(err.value) and str(path) in str(err.value)


def test_tracks_non_utf8_header_and_folder_are_rejected(files, tmp_path):
    (tmp_path / "t.csv").write_bytes(b"fr\xffame,hub,x,y\n0,0,1,2\n")
    with pytest.raises(MechcllnError, match="not UTF-8"):
        load_tracks(tmp_path / "t.csv", files)
    with pytest.raises(MechcllnError, match="is a folder"):
        load_tracks(tmp_path, files)


# --------------------------------------------------------------------------------------- outputs not overwritten
@pytest.mark.parametrize("argv, output", [
    (["fem", "{run}"], "fem/fidelity.json"),
    (["fem", "{run}", "--convergence", "1,2"], "fem/convergence.json"),
    (["finetune", "{run}"], "finetune/part.json"),
    (["lab-compare", "{run}", "{run}/tracks.csv"], "lab/compare.json"),
    (["export", "{run}"], "export/part.json"),
    (["printable", "{run}", "--out", "{run}/p"], "p/network.json"),
])
def test_existing_output_is_refused_before_any_work(tmp_path, capsys, argv, output):
    """Without --force the command exits 2 naming --force and leaves the old output as it was. The run
    directory holds no network: any work started before the check would fail on that instead."""
    from mechclln.cli import main

    run = tmp_path / "run"
    (run / output).parent.mkdir(parents=True)
    (run / output).write_text("old")
    assert main([a.format(run=run) for a in argv]) == 2
    assert "pass --force to replace it" in capsys.readouterr().err
    assert (run / output).read_text() == "old"
