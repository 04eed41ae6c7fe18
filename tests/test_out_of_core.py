"""Memory-mapped X: streamed in chunks (chunk order plus within-chunk order), never loaded."""

import tracemalloc

import numpy as np
import pytest

import fastgd
from fastgd import _curvature, _preparation
from fastgd._engine import blocks as _streaming
from fastgd._engine import driver as _driver
from fastgd._engine import moments as _moments
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
    for module in (_preparation, _curvature):  # the passes for "auto" alike
        monkeypatch.setattr(module, "CHUNK_BYTES", 1 << 18)
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


def sparse_truth_problem(seed=0):
    """``tall`` rows (a tenth of them without the JIT) with a target that depends on half of
    the features."""
    X, _, _, _ = make_problem("tall", random_state=seed)
    X = X[:2000] if REDUCED else X
    rng = np.random.default_rng(seed)
    y = X @ np.array([1.0, 0, 0, 2.0, 0, -1.0, 0, 0.5]) + rng.standard_normal(len(X))
    return X, y


@pytest.mark.parametrize("penalty", [dict(penalty="l1", alpha=0.05),
                                     dict(penalty="elasticnet", alpha=0.05, l1_ratio=0.5)])
def test_l1_on_memory_maps_reaches_the_in_memory_objective(tmp_path, small_chunks, backend,
                                                           penalty):
    X, y = sparse_truth_problem()
    in_memory = fastgd.fit(X, y, random_state=0, backend=backend, **penalty)
    streamed = fastgd.fit(on_disk(tmp_path, X), y, random_state=0, backend=backend, **penalty)
    assert streamed.loss_history[-1] == pytest.approx(in_memory.loss_history[-1], rel=1e-4)
    np.testing.assert_array_equal(streamed.coef == 0.0, in_memory.coef == 0.0)
    np.testing.assert_array_equal(np.flatnonzero(streamed.coef == 0.0), [1, 2, 4, 6])


@pytest.mark.parametrize("features", [8, 40])  # losses at checks from moments, and by passes
def test_a_streamed_fit_makes_its_start_and_final_passes_once(tmp_path, monkeypatch, features):
    """Per fit, not per chunk: the start loss, the final objective and the closing L1 step are
    each one pass over the chunks; the epochs run the engine once per chunk."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2400, features))
    y = X @ rng.standard_normal(features) + rng.standard_normal(2400)
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 600 * 8 * features)  # 4 chunks
    monkeypatch.setattr(_moments, "MOMENT_LOSS_MIN_ROWS", 2000)
    monkeypatch.setattr(_moments, "MOMENT_LOSS_MIN_CHECKS", 2)
    calls = {"losses": 0, "gradient": 0, "engine": 0}
    counted = {name: getattr(_driver, f"block_{name}") for name in ("losses", "gradient")}
    engine = _streaming.block_epoch

    def counting(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    for name, function in counted.items():
        monkeypatch.setattr(_driver, f"block_{name}", counting(name, function))
    monkeypatch.setattr(_streaming, "block_epoch", counting("engine", engine))
    res = fastgd.fit(on_disk(tmp_path, X), y, epochs=3, tol=None, penalty="l1", alpha=0.01,
                     learning_rate=Constant(0.01), random_state=0)
    assert res.n_epochs == 3
    assert calls["engine"] == 3 * 4
    assert calls["gradient"] == 4  # the closing L1 step, once
    # Once per fit: the start loss and the objective after the closing step; the final
    # objective is a pass of its own when the checks' losses came from moments, and is the
    # last check's when they came from a pass over the chunks (one each epoch).
    passes = 1 + 1 + (1 if features <= 16 else 3)
    assert calls["losses"] == 4 * passes


def test_average_zero_means_off_and_a_chunk_of_zero_weights_is_harmless(tmp_path,
                                                                         small_chunks):
    X, y, _, _ = make_problem("tall", random_state=5)
    X, y = X[:3000], y[:3000]
    X_disk = on_disk(tmp_path, X)
    plain = fastgd.fit(X_disk, y, epochs=3, tol=None, random_state=0)
    off = fastgd.fit(X_disk, y, epochs=3, tol=None, average=0, random_state=0)
    np.testing.assert_array_equal(plain.coef, off.coef)
    for dead in (slice(0, 1000), slice(len(y) - 1000, None)):  # the first chunk, the last
        weights = np.ones(len(y))
        weights[dead] = 0.0
        res = fastgd.fit(X_disk, y, sample_weight=weights, random_state=0)
        kept = weights > 0
        assert np.all(np.isfinite(res.coef))
        assert excess_mse(X[kept], y[kept], res) <= 1e-3
