"""Claim 6: a mechanical classifier of handwritten digits 0 vs 1, exported as a printable part.

The project's seed cites an in-silico showcase of coupled learning: a flow network classifying MNIST 0 vs 1
at about 5 % test error. Here, with an elastic network:

- part: :func:`part_spec` (TPU sheet); the stiffness bounds of training are the printable range of every
  strut of that part, so the trained network exports as it is;
- data: scikit-learn's bundled 8x8 digits (no download), classes 0 and 1, split half/half into training
  and test sets (stratified, fixed seed);
- inputs: the first ``n_pca`` principal components (PCA fitted on the training half), each scaled so its
  training standard deviation is a 1 % strain, imposed on ``n_pca`` random source edges of a 2D jammed
  network (about 100 nodes); the mean digit is the zero-strain state, so no separate rest example;
- outputs: two target edges; class 0 asks (+0.05 %, -0.05 %), class 1 the opposite; the predicted class is the
  target with the larger strain;
- learning: coupled learning (eta = 0.1) of stiffness and rest length, full batch over the training set,
  fixed learning rates ``ALPHA_K``, ``ALPHA_L`` (the automatic first-step calibration overshot on this
  many-example task, C/C_0 rising to 1e5 in the first steps; these were picked from a short scan),
  *harmonic* model (the classifier is linear in the inputs: rest lengths learn the offset, stiffnesses the
  gain);
- baseline: logistic regression on the same PCA inputs (scikit-learn).

The trained network is written as a run directory (``digits_run/``: network, task, metrics) and exported
by :mod:`mechclln.export` into ``digits_run/export/`` (STL, 3MF, DXF, SVG, lab sheet). Run::

    python examples/digits_classifier.py [--quick] [--out DIR]
"""
from __future__ import annotations

import time

import numpy as np

try:
    from . import common
except ImportError:   # run as a script
    import common

from mechclln.errors import MechcllnError
from mechclln.training import TrainConfig, train

DELTA = 0.01         # std of each input strain
DELTA_OUT = 0.0005   # desired target strain magnitude (only its sign matters for the class)
ALPHA_K, ALPHA_L = 1e6, 3.0   # fixed learning rates (see the module docstring)


def digits_01(n_pca: int, seed: int = 0):
    """(z_train, y_train, z_test, y_test): PCA inputs in units of their training std, labels 0/1."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    X, y = load_digits(n_class=2, return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, stratify=y, random_state=seed)
    pca = PCA(n_components=n_pca).fit(Xtr)
    ztr, zte = pca.transform(Xtr), pca.transform(Xte)
    s = ztr.std(axis=0)
    return ztr / s, ytr, zte / s, yte


def classifier_task(net, z, y, seed: int = 0):
    """Sources: one random edge per input; targets: two edges sharing no node with them."""
    from mechclln.task import make_task

    rng = np.random.default_rng(seed)
    src = net.edges[rng.choice(net.n_edges, size=z.shape[1], replace=False)]
    cand = np.flatnonzero(~np.isin(net.edges, src.ravel()).any(axis=1))
    tgt = net.edges[rng.choice(cand, size=2, replace=False)]
    return make_task(net, src, tgt, DELTA * z, readout_targets(y), rest=False,
                     meta={"generator": "examples/digits_classifier.py", "classes": [0, 1]})


def readout_targets(y):
    return DELTA_OUT * np.where(np.asarray(y)[:, None] == 0, [1.0, -1.0], [-1.0, 1.0])


def predict(net, task, z) -> np.ndarray:
    """Predicted class of each input row of z (0 if the first target strains more than the second)."""
    from mechclln.equilibrium import respond
    from mechclln.task import make_task

    probe = make_task(net, task.source_pairs, task.target_pairs, DELTA * z, np.zeros((len(z), 2)), rest=False)
    eps = respond(net, probe, "harmonic", check_rigidity=False).target_strains
    return (eps[:, 1] > eps[:, 0]).astype(int)


def part_spec():
    """The part: TPU 95A sheet 3 mm thick, 16 mm per lattice unit, hubs of radius 3.6 mm.

    The jammed network has bonds meeting at small angles; with the default 12 mm scale and 2.4 mm hubs the
    widest printable struts overlap at 20 hubs (the export's check), so hubs are larger and the part is
    scaled up (about 157 mm across, within a 200 mm bed).
    """
    from mechclln.geometry.part import PartSpec

    return PartSpec(scale=16.0, hub_radius=3.6)


def printable_k_range(net) -> tuple:
    """One (k_min, k_max) every edge can print with :func:`part_spec` (the narrowest per-edge range)."""
    from mechclln.geometry.sections import k_bounds

    lo, hi = k_bounds(net, part_spec())
    return float(np.max(lo)), float(np.min(hi))


def export(run_dir, net0, result, task) -> dict:
    """Write the trained classifier as a run directory and export it with mechclln.export."""
    from mechclln.export.pipeline import export_run
    from mechclln.rundir import Run, TrainReport

    run_dir.mkdir(parents=True, exist_ok=True)
    Run(run_dir).save(net0, result.network, task, TrainReport.of(result, task, {"train_s": result.seconds}))
    try:
        rep = export_run(run_dir, spec=part_spec(), force=True)
    except MechcllnError as exc:
        return {"error": str(exc)}
    fid, mesh = rep.fidelity, rep.mesh
    return {"files": rep.files, "C_trained": fid.get("C_trained"), "C_as_printed": fid.get("C_as_printed"),
            "fidelity_model": fid.get("model"), "bodies": mesh.get("bodies"), "watertight": mesh.get("watertight")}


def run(quick: bool = False, out=None) -> dict:
    n_pca, n_nodes, steps = (4, 100, 40) if quick else (4, 100, 80)
    ztr, ytr, zte, yte = digits_01(n_pca)
    if quick:   # a third of the data
        ztr, ytr, zte, yte = ztr[::3], ytr[::3], zte[::3], yte[::3]
    from sklearn.linear_model import LogisticRegression

    logreg = LogisticRegression().fit(ztr, ytr)
    net = common.jammed(n_nodes)
    task = classifier_task(net, ztr, ytr)
    kb = printable_k_range(net)
    cfg = TrainConfig(rule="coupled", model="harmonic", learn=("k", "l"), eta=0.1, steps=steps, tol=1e-4,
                      alpha_k=ALPHA_K, alpha_l=ALPHA_L, k_bounds=kb, report_cosine=False, checkpoint_every=0)
    t0 = time.perf_counter()
    res = train(net.with_params(k=np.clip(net.k, *kb)), task, cfg, check_rigidity=False)
    seconds = time.perf_counter() - t0
    err = lambda n, z, y: float(np.mean(predict(n, task, z) != y))
    summary = {"train_error": err(res.network, ztr, ytr), "test_error": err(res.network, zte, yte),
               "untrained_test_error": err(net, zte, yte),
               "logistic_regression_train_error": float(np.mean(logreg.predict(ztr) != ytr)),
               "logistic_regression_test_error": float(np.mean(logreg.predict(zte) != yte)),
               "final_C_rel": float(res.history.C_rel[-1]), "train_seconds": seconds,
               "n_train": len(ytr), "n_test": len(yte), "n_pca": n_pca, "k_bounds": kb}
    data = {"network": {"nodes": net.n_nodes, "edges": net.n_edges}, "model": "harmonic", "steps": steps,
            "history_C_rel": res.history.C_rel, "summary": summary}
    if out is not None:
        data["export"] = export(out / "digits_run", net, res, task)
    z2 = np.vstack([ztr, zte])[:, :2]
    data["scatter"] = {"z": z2, "y": np.r_[ytr, yte], "test": np.r_[np.zeros(len(ytr)), np.ones(len(yte))],
                       "pred": np.r_[predict(res.network, task, ztr), predict(res.network, task, zte)]}
    return data


def figure(data: dict):
    import matplotlib.pyplot as plt

    s, sc = data["summary"], data["scatter"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.semilogy(data["history_C_rel"])
    a.set_xlabel("training step (full batch)")
    a.set_ylabel("C / C$_0$")
    a.set_title(f"training, jammed N = {data['network']['nodes']}, {data['model']} model")
    a.grid(alpha=0.3)
    z, y, pred = np.array(sc["z"]), np.array(sc["y"]), np.array(sc["pred"])
    test = np.array(sc["test"]) == 1
    for cls, c in ((0, "C0"), (1, "C1")):
        m = y == cls
        b.scatter(z[m & ~test, 0], z[m & ~test, 1], s=10, color=c, marker="o", alpha=0.5, label=f"digit {cls} (train)")
        b.scatter(z[m & test, 0], z[m & test, 1], s=14, color=c, marker="^", label=f"digit {cls} (test)")
    wrong = pred != y
    b.scatter(z[wrong, 0], z[wrong, 1], s=60, facecolors="none", edgecolors="r", label="misclassified")
    b.set_xlabel("PC 1 (training std)")
    b.set_ylabel("PC 2 (training std)")
    b.set_title(f"test error {100 * s['test_error']:.1f} % (network) vs "
                f"{100 * s['logistic_regression_test_error']:.1f} % (logistic regression)")
    b.legend(fontsize=7)
    fig.suptitle(f"Mechanical classifier, digits 0 vs 1, {s['n_pca']} PCA inputs as source strains, "
                 f"2 target edges")
    return fig


def main(argv=None) -> dict:
    return common.run_script("digits_classifier", __doc__, run, figure, argv, run_takes_out=True)


if __name__ == "__main__":
    main()
