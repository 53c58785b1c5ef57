"""`mechclln lab-compare`: measured target strains of a printed part against the models (fem/labcompare.py).

Physics: tracks synthesised from the as-printed spring model's own free states (frame 0 = the print
positions, the stress-free rest of the printed part), scaled to mm and perturbed by tracking noise, must
be reproduced by that model to the noise level, while the trained springs (which carry rest-length
prestress the print loses) predict them worse. Strains are scale-free, so the mm scale drops out.
"""
import json

import numpy as np
import pytest

SCALE_MM = 10.8
NOISE_MM = 2e-4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from mechclln import lattices
    from mechclln.geometry.print_state import compare_printed
    from mechclln.network import save
    from mechclln.task import random_task, save_task
    from dataclasses import replace

    run = tmp_path_factory.mktemp("run")
    net = lattices.triangular(4, 4)
    rng = np.random.default_rng(0)
    net = net.with_params(l=net.l * (1 + 0.05 * rng.standard_normal(len(net.l))))   # prestressed "trained"
    task = random_task(net, n_targets=2, seed=1)
    save(net, run / "network.json")
    save_task(task, run / "task.json")
    levels = np.linspace(-0.04, 0.06, 6)[:, None] * np.ones((1, len(task.source_pairs)))
    probe = replace(task, source_strains=levels, target_strains=np.zeros((6, len(task.target_pairs))),
                    source_displacements=None, target_displacements=None)
    sp = compare_printed(net, probe)
    frames = [sp.x_print] + list(sp.printed.x)
    lines = ["frame,hub,x,y"]
    for f, x in enumerate(frames):
        xy = SCALE_MM * x + (NOISE_MM * rng.standard_normal(x.shape) if f else 0)
        lines += [f"{f},{n},{xy[n, 0]:.6f},{xy[n, 1]:.6f}" for n in range(len(x))]
    (run / "tracks.csv").write_text("\n".join(lines) + "\n")
    return run


def test_the_model_that_made_the_tracks_matches_them_to_the_noise(run):
    from mechclln.fem.labcompare import compare
    rep = compare(run, run / "tracks.csv")
    data = json.loads((run / "lab" / "compare.json").read_text())
    assert data["fem_included"] is False and set(data["models"]) == {"trained_springs", "printed_springs"}
    assert (run / "lab" / "compare.png").stat().st_size > 5_000
    noise_strain = NOISE_MM / SCALE_MM                       # per-hub noise over a unit-length pair
    assert rep.models["printed_springs"]["rms_error"] < 3 * noise_strain
    assert rep.models["trained_springs"]["rms_error"] > 3 * rep.models["printed_springs"]["rms_error"]


@pytest.mark.parametrize("text, needle", [
    ("frame,hub,x\n0,0,1.0\n", "field 'y'"),
    ("frame,hub,x,y\n0,zero,1.0,2.0\n", "field 'hub'"),
    ("frame,hub,x,y\n1,0,1.0,2.0\n1,1,1.0,2.0\n", "no frame 0"),
    ("frame,hub,x,y\n0,999,1.0,2.0\n", "not in the network"),
])
def test_malformed_csv_gives_one_line_error_naming_the_column(run, tmp_path, text, needle):
    from mechclln.errors import MechcllnError
    from mechclln.fem.labcompare import compare
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(MechcllnError) as err:
        compare(run, bad)
    msg = str(err.value)
    assert needle in msg and "bad.csv" in msg and "\n" not in msg


def test_missing_target_hub_in_a_frame_is_named(run, tmp_path):
    from mechclln.errors import MechcllnError
    from mechclln.fem.labcompare import compare
    from mechclln.task import load_task
    hub = int(load_task(run / "task.json").target_pairs[0, 0])
    rows = [r for r in (run / "tracks.csv").read_text().splitlines() if not r.startswith(f"2,{hub},")]
    bad = tmp_path / "gap.csv"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(MechcllnError, match=rf"frame 2 lacks the target hubs \[{hub}"):
        compare(run, bad)
