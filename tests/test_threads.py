"""One fit on several threads (``n_jobs``): model replicas on shares of the rows, averaged.

What must hold: ``n_jobs=1`` (and small data) is today's exact algorithm; several threads are
reproducible for a fixed ``random_state``, reach least squares with the defaults on clean and
messy data (sorted rows included: the shares change every epoch), keep the options that make
sense (weights, penalties with exact zeros, sparse X, warm starts, raw schedules) and refuse
the rest with a message that says what to do.
"""

import os

import numpy as np
import pytest

import fastgd
from fastgd import schedules
from fastgd._engine import threads
from fastgd._engine.groups import csr_of
from fastgd._engine.threads import MIN_SHARE_BATCHES, mix_shares, share_bounds, thread_count
from fastgd.datasets import make_messy_problem, make_problem, make_sparse_problem

from helpers import REDUCED, excess_mse, lsqr_mse, lstsq_fit, weighted_excess_mse

#: Rows enough for two threads at batch 16 (the tests use batch 16 to keep problems small).
TWO_THREADS_ROWS = 2 * MIN_SHARE_BATCHES * 16
#: An ``"auto"`` least-squares fit ends with variance-reduced epochs on one thread
#: (``tests/test_variance.py``); below ``tol=1e-4`` it does not average, nor reduce variance,
#: and its threads are what these tests check.
THREADED_TOL = 5e-5


@pytest.fixture(autouse=True)
def small_shares(monkeypatch, request):
    """Threads on small problems: the least work a share takes is a matter of speed, which
    ``test_thread_count_...`` checks; the rest of this file checks what the threads compute."""
    if "thread_count" not in request.node.name:
        monkeypatch.setattr(threads, "MIN_SHARE_ENTRIES", 0)


def _gaussian(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.uniform(-2, 2, d)
    y = X @ rng.standard_normal(d) + 1.5 + 0.5 * rng.standard_normal(n)
    return X, y


def test_thread_count_gives_each_thread_enough_batches_and_work():
    def rows(n, d=10):
        return np.empty((n, d))

    assert thread_count(1, rows(10**6), 32) == 1
    assert thread_count(2, rows(10**6), 32) == 2
    assert thread_count(4, rows(10**6), 32) == 4
    assert thread_count(8, rows(10**6), 32) == 4  # 10^7 entries: 4 shares of 2^21 or more
    assert thread_count(2, rows(10**5), 32) == 1  # an epoch too short to share
    assert thread_count(2, rows(20_000, 1000), 64) == 2
    assert thread_count(2, rows(2 * MIN_SHARE_BATCHES * 32 - 1, 10**4), 32) == 1
    assert thread_count(2, rows(100), 16) == 1
    one_hot = csr_of(make_sparse_problem("one_hot", random_state=0, size=10)[0])
    assert thread_count(2, one_hot, 32) == 2  # 200,000 rows, 3 entries a row
    assert thread_count(2, one_hot._replace(shape=(20_000, one_hot.shape[1]),
                                            data=one_hot.data[:60_000]), 32) == 1


def test_mixing_keeps_a_permutation_and_moves_rows_between_shares():
    n, J = 1003, 3
    bounds = share_bounds(n, J)
    index = np.arange(n, dtype=np.int32)
    rng = np.random.default_rng(0)
    for j in range(J):  # each share shuffled, as its thread does before an epoch
        rng.shuffle(index[bounds[j]:bounds[j + 1]])
    before = [set(index[bounds[j]:bounds[j + 1]]) for j in range(J)]
    mix_shares(index, bounds)
    assert np.array_equal(np.sort(index), np.arange(n))
    for j in range(J):
        after = set(index[bounds[j]:bounds[j + 1]])
        for other in range(J):
            # every share now holds about a third of every share's rows
            assert abs(len(after & before[other]) - (bounds[j + 1] - bounds[j]) / J) <= 2


def test_one_thread_and_small_data_run_the_one_thread_algorithm(backend):
    X, y = _gaussian(500, 4)
    base = fastgd.fit(X, y, random_state=3, backend=backend)
    for n_jobs in (1, 2, -1):
        res = fastgd.fit(X, y, random_state=3, backend=backend, n_jobs=n_jobs)
        assert res.settings["n_jobs"] == 1
        assert np.array_equal(res.coef, base.coef) and res.intercept == base.intercept
        assert np.array_equal(res.loss_history, base.loss_history)


def test_several_threads_are_reproducible(backend):
    X, y = _gaussian(TWO_THREADS_ROWS + 77, 5)
    runs = [fastgd.fit(X, y, batch_size=16, random_state=7, backend=backend, n_jobs=2,
                       tol=THREADED_TOL) for _ in range(2)]
    assert runs[0].settings["n_jobs"] == 2
    assert np.array_equal(runs[0].coef, runs[1].coef)
    assert np.array_equal(runs[0].loss_history, runs[1].loss_history)
    other_seed = fastgd.fit(X, y, batch_size=16, random_state=8, backend=backend, n_jobs=2,
                            tol=THREADED_TOL)
    assert not np.array_equal(other_seed.coef, runs[0].coef)


def test_backends_agree_in_order():
    """``shuffle=False``: each thread walks its share in order, so the compiled kernels and the
    NumPy twin make the same updates and the same averages."""
    X, y = _gaussian(TWO_THREADS_ROWS + 5, 6)
    kwargs = dict(batch_size=16, epochs=4, tol=None, shuffle=False, n_jobs=2,
                  learning_rate=schedules.Constant(0.01))
    compiled = fastgd.fit(X, y, backend="numba", **kwargs)
    twin = fastgd.fit(X, y, backend="numpy", **kwargs)
    assert compiled.settings["n_jobs"] == 2
    np.testing.assert_allclose(compiled.coef, twin.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(compiled.loss_history, twin.loss_history, rtol=1e-9)


@pytest.mark.parametrize("family", ["tall", "correlated", "badly_scaled"])
def test_defaults_reach_least_squares_on_the_families(family, backend):
    X, y, _, _ = make_problem(family, random_state=0)
    reps = -(-TWO_THREADS_ROWS // len(y))  # the small families, repeated with fresh noise
    rng = np.random.default_rng(1)
    X = np.tile(X, (reps, 1))
    y = np.tile(y, reps) + 0.1 * rng.standard_normal(len(y) * reps)
    res = fastgd.fit(X, y, batch_size=16, random_state=0, backend=backend, n_jobs=2,
                     tol=THREADED_TOL)
    assert res.settings["n_jobs"] == 2
    assert excess_mse(X, y, res) <= 1e-3


@pytest.mark.parametrize("family", ["rare_indicators", "one_hot", "weight_mask",
                                    "heavy_weights", "heavy_rows", "outlying_rows"])
def test_defaults_reach_least_squares_on_messy_data(family, backend):
    for seed in range(1 if REDUCED or backend == "numpy" else 3):
        X, y, weights = make_messy_problem(family, random_state=seed)
        res = fastgd.fit(X, y, sample_weight=weights, batch_size=8, random_state=seed,
                         backend=backend, n_jobs=2, tol=THREADED_TOL)
        assert res.settings["n_jobs"] == 2
        assert weighted_excess_mse(X, y, weights, res) <= 1e-3, (family, seed)


def test_rows_sorted_by_the_target_reach_least_squares(backend):
    """Contiguous shares of sorted rows would each fit a different part of the data: the
    shares change every epoch, so the average reaches the fit of all the rows."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3 * TWO_THREADS_ROWS, 4))
    y = X @ rng.standard_normal(4) + 1.5 + 0.5 * rng.standard_normal(len(X))
    order = np.argsort(y)
    X, y = X[order], y[order]
    res = fastgd.fit(X, y, batch_size=16, random_state=0, backend=backend, n_jobs=2,
                     tol=THREADED_TOL)
    assert res.settings["n_jobs"] == 2 and excess_mse(X, y, res) <= 1e-3
    # a constant step shows it best: fixed halves of the rows end 4e-2 above least squares
    res = fastgd.fit(X, y, batch_size=16, epochs=40, tol=None, random_state=0, backend=backend,
                     learning_rate=schedules.Constant(0.01), n_jobs=2)
    assert excess_mse(X, y, res) <= 1e-3


def test_raw_schedule_reaches_least_squares_and_diverges_loudly(backend):
    X, y = _gaussian(TWO_THREADS_ROWS, 3, seed=4)
    X = (X - X.mean(0)) / X.std(0)
    res = fastgd.fit(X, y, batch_size=16, epochs=30, learning_rate=schedules.Constant(0.02),
                     random_state=0, backend=backend, n_jobs=2)
    assert res.settings["n_jobs"] == 2
    assert excess_mse(X, y, res) <= 1e-3
    with pytest.raises(fastgd.DivergenceError):
        fastgd.fit(X * 1e3, y, batch_size=16, epochs=30, learning_rate=schedules.Constant(1.0),
                   random_state=0, backend=backend, n_jobs=2)


def test_l1_zeros_weights_and_warm_start(backend):
    rng = np.random.default_rng(5)
    X, _ = _gaussian(TWO_THREADS_ROWS, 8, seed=5)
    y = X[:, :3] @ np.array([2.0, -1.0, 0.5]) + 0.5 * rng.standard_normal(len(X))
    res = fastgd.fit(X, y, batch_size=16, penalty="l1", alpha=0.3, random_state=0,
                     backend=backend, n_jobs=2, tol=THREADED_TOL)
    assert res.settings["n_jobs"] == 2 and np.any(res.coef == 0.0)
    weights = rng.integers(0, 2, len(y)).astype(float)
    weighted = fastgd.fit(X, y, sample_weight=weights, batch_size=16, random_state=0,
                          backend=backend, n_jobs=2, tol=THREADED_TOL)
    assert weighted_excess_mse(X, y, weights, weighted) <= 1e-3
    coef, intercept = lstsq_fit(X, y)
    warm = fastgd.fit(X, y, batch_size=16, coef_init=coef, intercept_init=intercept,
                      random_state=0, backend=backend, n_jobs=2, tol=THREADED_TOL)
    assert warm.settings["n_jobs"] == 2 and excess_mse(X, y, warm) <= 1e-4


def test_sparse_rows_reach_least_squares(backend):
    X, y, _, _ = make_sparse_problem("one_hot", random_state=0, size=0.25 if REDUCED else 1)
    res = fastgd.fit(X, y, random_state=0, backend=backend, n_jobs=2, tol=THREADED_TOL)
    assert res.settings["n_jobs"] == 2
    assert np.mean((res.predict(X) - y) ** 2) / lsqr_mse(X, y) - 1 <= 1e-3


def test_estimator_and_cores():
    X, y = _gaussian(TWO_THREADS_ROWS, 4)
    model = fastgd.MBGDRegressor(batch_size=16, random_state=0, n_jobs=2,
                                 tol=THREADED_TOL).fit(X, y)
    assert model.get_params()["n_jobs"] == 2
    assert model.fit_result_.settings["n_jobs"] == 2
    assert model.score(X, y) > 0.9
    every_core = fastgd.fit(X, y, batch_size=16, random_state=0, n_jobs=-1, tol=THREADED_TOL)
    assert every_core.settings["n_jobs"] == min(os.cpu_count(), 2)


@pytest.mark.parametrize("n_jobs, error, message", [
    (0, ValueError, "n_jobs must not be 0"),
    (1.5, TypeError, "n_jobs must be None or a non-zero integer"),
    (True, TypeError, "n_jobs must be None or a non-zero integer"),
])
def test_bad_n_jobs_is_refused(n_jobs, error, message):
    X, y = _gaussian(100, 2)
    with pytest.raises(error, match=message):
        fastgd.fit(X, y, n_jobs=n_jobs)


def test_options_of_one_thread_are_refused_with_the_fix():
    X, y = _gaussian(100, 2)
    with pytest.raises(ValueError, match="early_stopping cannot be used with n_jobs=2.*n_jobs=1"):
        fastgd.fit(X, y, n_jobs=2, early_stopping=True)
    with pytest.raises(ValueError, match="average cannot be used with n_jobs=2"):
        fastgd.fit(X, y, n_jobs=2, average=True)
