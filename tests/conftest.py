import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: many small solves, threads only slow them

import numpy as np
import pytest

from mechclln import lattices


@pytest.fixture
def tri():
    """A small unstressed triangular sheet (rigid)."""
    return lattices.triangular(8, 8)


def perturbed(net, seed=0, dk=0.3, dl=0.03):
    """The same network with random stiffness and rest lengths (prestressed)."""
    rng = np.random.default_rng(seed)
    return net.with_params(k=net.k * (1 + dk * rng.uniform(-1, 1, net.n_edges)),
                           l=net.l * (1 + dl * rng.uniform(-1, 1, net.n_edges)))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """`mechclln demo` once per test session (slow tests: test_demo, test_exported_part)."""
    from mechclln.cli import main

    out = tmp_path_factory.mktemp("demo") / "run"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    return out
