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
