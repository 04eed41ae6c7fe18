"""Memory: a fit of C-ordered float data makes no copy of X; other layouts make one."""

import tracemalloc

import numpy as np
import pytest

import fastgd
from fastgd import _curvature, _preparation

from helpers import REDUCED

#: Rows of the measured X (32 MB; 3.2 MB with the JIT disabled, with chunks scaled alike, and
#: one epoch: the Python-run kernels' own objects then weigh a few hundred kB).
ROWS, EPOCHS = (40_000, 1) if REDUCED else (400_000, 3)


@pytest.fixture(autouse=True)
def chunks_in_proportion(monkeypatch):
    if REDUCED:
        for module in (_preparation, _curvature):
            monkeypatch.setattr(module, "CHUNK_BYTES", module.CHUNK_BYTES // 10)


def peak_bytes_of_fit(X, y):
    fastgd.fit(X[:100], y[:100], epochs=2)  # compile and import outside the measurement
    tracemalloc.start()
    try:
        fastgd.fit(X, y, epochs=EPOCHS, random_state=0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_c_ordered_input_is_not_copied():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, 10))
    y = X @ np.arange(10.0)
    assert peak_bytes_of_fit(X, y) < 0.5 * X.nbytes


def test_fortran_input_is_copied_once():
    rng = np.random.default_rng(1)
    X = np.asfortranarray(rng.standard_normal((ROWS, 10)))
    y = X @ np.arange(10.0)
    assert peak_bytes_of_fit(X, y) < 1.5 * X.nbytes
