"""Memory: a fit of C-ordered float data makes no copy of X; other layouts make one."""

import tracemalloc

import numpy as np

import fastgd


def peak_bytes_of_fit(X, y):
    fastgd.fit(X[:100], y[:100], epochs=2)  # compile and import outside the measurement
    tracemalloc.start()
    try:
        fastgd.fit(X, y, epochs=3, random_state=0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_c_ordered_input_is_not_copied():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400_000, 10))  # 32 MB
    y = X @ np.arange(10.0)
    assert peak_bytes_of_fit(X, y) < 0.5 * X.nbytes


def test_fortran_input_is_copied_once():
    rng = np.random.default_rng(1)
    X = np.asfortranarray(rng.standard_normal((400_000, 10)))
    y = X @ np.arange(10.0)
    assert peak_bytes_of_fit(X, y) < 1.5 * X.nbytes
