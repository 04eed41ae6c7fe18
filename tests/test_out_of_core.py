"""Memory-mapped X: streamed in chunks (chunk order plus within-chunk order), never loaded."""

import tracemalloc

import numpy as np
import pytest

import fastgd
from fastgd import _preparation
from fastgd._engine import blocks as _streaming
from fastgd.datasets import make_problem
from fastgd.schedules import Constant

from helpers import REDUCED, excess_mse


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 1 << 16)  # 1,000 rows of 8 features


def on_disk(tmp_path, X, name="X.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def test_a_memory_mapped_fit_reaches_lstsq(tmp_path, small_chunks, backend):
    X, y, _, _ = make_problem("tall", random_state=0)
    res = fastgd.fit(on_disk(tmp_path, X), y, random_state=0, backend=backend)
    assert excess_mse(X, y, res) <= 1e-3
    assert res.settings["streamed"] and res.coef.shape == (8,)
    residual = X @ res.coef + res.intercept - y
    assert res.loss_history[-1] == pytest.approx(0.5 * np.mean(residual**2), rel=1e-9)


def test_streamed_fits_are_seeded(tmp_path, small_chunks):
    X, y, _, _ = make_problem("tall", random_state=1)
    X_disk = on_disk(tmp_path, X)
    first, again = (fastgd.fit(X_disk, y, epochs=3, random_state=5) for _ in range(2))
    np.testing.assert_array_equal(first.coef, again.coef)
    other = fastgd.fit(X_disk, y, epochs=3, random_state=6)
    assert not np.array_equal(first.coef, other.coef)


def test_backends_agree_on_streamed_fits_without_shuffle(tmp_path, small_chunks):
    X, y, _, _ = make_problem("tall", random_state=2)
    X_disk = on_disk(tmp_path, X)
    weights = np.random.default_rng(0).random(len(y))
    kwargs = dict(epochs=4, shuffle=False, penalty="l2", alpha=0.01, sample_weight=weights)
    a = fastgd.fit(X_disk, np.column_stack([y, -y]), backend="numba", **kwargs)
    b = fastgd.fit(X_disk, np.column_stack([y, -y]), backend="numpy", **kwargs)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)


def test_a_raw_schedule_streams_too(tmp_path, small_chunks):
    X, y, _, _ = make_problem("tall", random_state=3)
    res = fastgd.fit(on_disk(tmp_path, X), y, learning_rate=Constant(0.01), epochs=20,
                     random_state=0)
    assert excess_mse(X, y, res) <= 1e-2


def test_peak_memory_is_a_small_fraction_of_x(tmp_path, monkeypatch):
    """X of 16 MB (8 MB without the JIT) streamed in 256 kB chunks: Python-tracked memory
    peaks under 1/5 of it."""
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 1 << 18)
    monkeypatch.setattr(_preparation, "CHUNK_BYTES", 1 << 18)  # the passes for "auto" alike
    rng = np.random.default_rng(0)
    n, d = 100_000 if REDUCED else 200_000, 10
    epochs = 1 if REDUCED else 3  # the Python-run kernels are slow under tracemalloc
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float64,
                                  shape=(n, d))
    for start in range(0, n, 20_000):
        X[start:start + 20_000] = rng.standard_normal((20_000, d)) + 3.0
    X.flush()
    X = np.load(tmp_path / "big.npy", mmap_mode="r")
    y = np.zeros(n)
    for start in range(0, n, 20_000):
        y[start:start + 20_000] = X[start:start + 20_000] @ np.arange(d) + 1.0
    y += rng.standard_normal(n)
    fastgd.fit(X, y, epochs=2, random_state=0)  # compile outside the measurement
    tracemalloc.start()
    try:
        res = fastgd.fit(X, y, epochs=epochs, tol=None, random_state=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.n_epochs == epochs
    print(f"peak {peak / 1e6:.2f} MB for X of {X.nbytes / 1e6:.1f} MB")
    assert peak < X.nbytes / 5, f"peak {peak / 1e6:.1f} MB for X of {X.nbytes / 1e6:.1f} MB"


@pytest.mark.parametrize("kwargs, match", [
    (dict(early_stopping=True), "early_stopping cannot be used with memory-mapped X"),
    (dict(average=True), "average cannot be used"),
    (dict(coef_init=np.zeros(8)), "coef_init cannot be used"),
])
def test_options_that_need_x_in_memory_are_refused(tmp_path, kwargs, match):
    X, y, _, _ = make_problem("tall", random_state=0)
    with pytest.raises(ValueError, match=match):
        fastgd.fit(on_disk(tmp_path, X), y, **kwargs)
