"""Variance-reduced epochs (``fastgd._engine.variance``): an ``"auto"`` least-squares fit on
rows in memory (dense or sparse) ends with SVRG epochs, which reach least squares far below
averaged SGD's noise in a few epochs, on raw, weighted, penalised and multi-target data alike,
and cannot blow up."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import fastgd
from fastgd._curvature import IMPORTANCE_GAIN, curvature, importance_sampling
from fastgd._engine import driver
from fastgd._engine.groups import Sampling
from fastgd._engine.sampling import draw_rows
from fastgd._engine.stopping import CONVERGED, RUNNING, variance_reduced_progress
from fastgd.datasets import make_messy_problem

from helpers import REDUCED, excess_mse, lsqr_mse, lstsq_fit, weighted_excess_mse

N = 1000 if REDUCED else 4000


def problem(seed, n=N, d=60, k=1):
    """Correlated columns of scales 0.1 to 10 with offsets, a dense truth and unit noise."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    Z[:, 1:] = 0.6 * Z[:, :-1] + 0.8 * Z[:, 1:]
    X = Z * np.logspace(-1, 1, d) + rng.uniform(-3, 3, d)
    W = rng.uniform(-2, 2, (d, k)) / np.logspace(-1, 1, d)[:, None]
    Y = X @ W + 1.5 + rng.standard_normal((n, k))
    return X, (Y[:, 0] if k == 1 else Y)


def test_auto_ends_with_variance_reduced_epochs_at_least_squares(backend):
    for seed in range(3):
        X, y = problem(seed)
        res = fastgd.fit(X, y, random_state=seed, backend=backend)
        assert res.converged and res.settings["variance_reduced_epochs"] >= 1
        assert res.n_epochs <= 20
        assert excess_mse(X, y, res) <= 1e-4


def test_small_problems_too():
    X, y = problem(0, n=1000, d=5)
    res = fastgd.fit(X, y, random_state=0)
    assert res.settings["variance_reduced_epochs"] >= 1 and res.n_epochs <= 10
    assert excess_mse(X, y, res) <= 1e-4


def test_other_losses_and_tight_tolerances_keep_averaged_sgd():
    X, y = problem(0, n=1000, d=10)
    for kwargs in (dict(loss="huber"), dict(early_stopping=True), dict(tol=1e-5),
                   dict(average=True)):
        assert "variance_reduced_epochs" not in fastgd.fit(X, y, random_state=0,
                                                           **kwargs).settings


@pytest.mark.parametrize("penalty", [None, "l2", "l1"])
def test_sparse_rows_fit_as_the_same_dense_rows(backend, penalty):
    """The sparse kernel keeps the drift as one more direction of the model (without a
    penalty) or adds it to its dense step (with one): without shuffling, the same rows sparse
    and dense give the same fit."""
    import scipy.sparse as sp

    X, y = problem(10, n=600, d=60)
    X = np.where(np.abs(X - X.mean(0)) > X.std(0), X, 0.0)  # a third of the entries stored
    kwargs = dict(shuffle=False, tol=None, epochs=6, penalty=penalty, alpha=0.01,
                  backend=backend)
    dense = fastgd.fit(X, y, **kwargs)
    sparse = fastgd.fit(sp.csr_matrix(X), y, **kwargs)
    assert sparse.settings["variance_reduced_epochs"] == 4
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sparse.loss_history, dense.loss_history, rtol=1e-9)


def test_sparse_rows_reach_least_squares(backend):
    from fastgd.datasets import make_sparse_problem

    for family in ("random", "one_hot"):
        X, y, _, _ = make_sparse_problem(family, random_state=0, size=0.25 if REDUCED else 1)
        res = fastgd.fit(X, y, random_state=0, backend=backend)
        # (the reduced problems have 2.5 rows a column: 39 epochs)
        assert res.settings["variance_reduced_epochs"] >= 1 and res.n_epochs <= (
            60 if REDUCED else 20)
        assert np.mean((res.predict(X) - y) ** 2) / lsqr_mse(X, y) - 1 <= 1e-4


def test_several_threads_give_way_to_one_variance_reduced_thread(monkeypatch):
    from fastgd._engine import threads

    monkeypatch.setattr(threads, "MIN_SHARE_ENTRIES", 0)  # threads even for small data
    X, y = problem(0, n=2400)  # 150 batches: enough for two threads
    res = fastgd.fit(X, y, batch_size=16, random_state=0, n_jobs=2)
    assert res.settings["n_jobs"] == 1 and res.settings["variance_reduced_epochs"] >= 1
    raw = fastgd.fit(X, y, batch_size=16, random_state=0, n_jobs=2, epochs=3,
                     learning_rate=fastgd.schedules.Constant(1e-5))
    assert raw.settings["n_jobs"] == 2


def test_backends_agree_without_shuffling():
    X, y = problem(1, n=600)
    fits = [fastgd.fit(X, y, shuffle=False, tol=None, epochs=6, backend=backend)
            for backend in ("numba", "numpy")]
    assert fits[0].settings["variance_reduced_epochs"] == 4
    np.testing.assert_allclose(fits[0].coef, fits[1].coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fits[0].loss_history, fits[1].loss_history, rtol=1e-9)


@pytest.mark.parametrize("weights", ["mask", "lognormal"])
def test_weighted_rows(backend, weights):
    X, y = problem(2)
    rng = np.random.default_rng(5)
    w = ((rng.random(len(y)) < 0.25).astype(float) if weights == "mask"
         else rng.lognormal(0.0, 2.0, len(y)))
    res = fastgd.fit(X, y, sample_weight=w, random_state=0, backend=backend)
    assert res.settings["variance_reduced_epochs"] >= 1
    assert weighted_excess_mse(X, y, w, res) <= 1e-4


def test_several_targets_and_float32(backend):
    X, Y = problem(3, d=20, k=3)
    res = fastgd.fit(X, Y, random_state=0, backend=backend)
    assert res.settings["variance_reduced_epochs"] >= 1
    for t in range(3):
        best = lstsq_fit(X, Y[:, t])
        residual = X @ best[0] + best[1] - Y[:, t]
        ours = X @ res.coef[t] + res.intercept[t] - Y[:, t]
        assert ours @ ours / (residual @ residual) - 1 <= 1e-4
    X, y = problem(4)
    res = fastgd.fit(X.astype(np.float32), y.astype(np.float32), random_state=0,
                     backend=backend)
    assert res.coef.dtype == np.float32 and res.settings["variance_reduced_epochs"] >= 1
    assert excess_mse(X, y, res) <= 1e-4


def test_one_hot_rows():
    X, y, w = make_messy_problem("one_hot", random_state=0)
    res = fastgd.fit(X, y, sample_weight=w, random_state=0)
    assert res.settings["variance_reduced_epochs"] >= 1
    assert weighted_excess_mse(X, y, w, res) <= 1e-4


def outlying_rows(seed, n=N, d=60):
    """Gaussian rows, one in 200 of them 30 times as far out: they set the step of plain
    SGD."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[rng.choice(n, n // 200, replace=False)] *= 30.0
    return X, X @ rng.uniform(-2, 2, d) + 1.0 + 0.5 * rng.standard_normal(n)


def sampling_of(X, weights=None, batch_size=32):
    """The importance sampling of an ``"auto"`` fit of X (standardised) with ``weights``."""
    w = np.ones(len(X)) if weights is None else weights
    offset = np.average(X, axis=0, weights=w)
    scale = np.sqrt(np.average((X - offset) ** 2, axis=0, weights=w))
    shape = curvature(X, weights, offset, scale, True, batch_size)
    return importance_sampling(X, weights, offset, scale, True, shape, float(w.mean()))


@pytest.mark.parametrize("sparse", [False, True])
def test_outlying_rows_are_drawn_by_importance(backend, sparse):
    """Every row once an epoch, the far rows set a step 60 times too short for the rest: 140
    to 190 epochs to least squares (4,000 rows; 1000 epochs and 0.16 above it with rows 100
    times as far out). Drawn by their norms, 10 epochs (40 to 50 for 1,000 rows)."""
    import scipy.sparse as sp

    X, y = outlying_rows(0)
    res = fastgd.fit(sp.csr_matrix(X) if sparse else X, y, random_state=0, backend=backend)
    assert res.settings["importance_step_factor"] >= 10
    assert res.converged and res.n_epochs <= 60
    assert excess_mse(X, y, res) <= 1e-4


def test_importance_sampling_only_where_it_gains():
    rng = np.random.default_rng(0)
    assert sampling_of(rng.standard_normal((N, 60))) is None  # even norms: each row once
    sampling = sampling_of(outlying_rows(1)[0])
    assert sampling.step_factor >= IMPORTANCE_GAIN
    assert fastgd.fit(*outlying_rows(1), shuffle=False).settings.get(
        "importance_step_factor") is None  # without shuffling the rows are walked in order


def test_rows_are_drawn_unbiased_and_never_those_of_weight_0():
    rng = np.random.default_rng(2)
    X, _ = outlying_rows(2)
    mask = (rng.random(len(X)) < 0.5).astype(float)
    sampling = sampling_of(X, mask)
    p = np.diff(sampling.cumulative, prepend=0.0)
    assert np.all(p[mask == 0] == 0.0) and np.all(sampling.weights[mask == 0] == 0.0)
    np.testing.assert_allclose(p[mask > 0] * len(X) * sampling.weights[mask > 0], 1.0)
    index = np.empty(len(X), dtype=np.int32)
    total = np.zeros(len(X))
    for epoch in range(200):
        draw_rows(sampling, 7, epoch, index)
        counts = np.bincount(index, minlength=len(X))
        assert counts.sum() == len(X) and np.all(np.diff(index) >= 0)
        assert np.all(np.abs(counts - len(X) * p) < 1.0)  # n p rounded down or up
        total += counts
    np.testing.assert_allclose(total / 200, len(X) * p, atol=0.1)
    uniform = Sampling(np.arange(1, 101) / 100, np.ones(100), 1.0)
    draw_rows(uniform, 0, 0, index[:100])
    np.testing.assert_array_equal(index[:100], np.arange(100))


def test_importance_sampled_fits_are_reproducible():
    X, y = outlying_rows(3)
    fits = [fastgd.fit(X, y, random_state=4) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)
    assert fits[0].settings["importance_step_factor"] >= IMPORTANCE_GAIN


def test_l1_keeps_the_exact_zeros_of_coordinate_descent(backend):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((N, 60)) * rng.uniform(0.5, 2, 60)
    truth = np.where(np.arange(60) % 3 == 0, rng.uniform(1, 3, 60), 0.0)
    y = X @ truth + 2 + rng.standard_normal(N)
    reference = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, y)
    res = fastgd.fit(X, y, penalty="l1", alpha=0.05, random_state=0, backend=backend)
    assert res.settings["variance_reduced_epochs"] >= 1

    def objective(coef, intercept):
        residual = X @ coef + intercept - y
        return 0.5 * residual @ residual / len(y) + 0.05 * np.abs(coef).sum()

    best = objective(reference.coef_, reference.intercept_)
    assert objective(res.coef, res.intercept) - best <= 1e-5 * best
    np.testing.assert_array_equal(res.coef == 0.0, reference.coef_ == 0.0)


def test_a_step_too_long_for_the_snapshot_is_undone(monkeypatch, backend):
    """Variance-reduced epochs 1000 times past their stable step end above their snapshot:
    each is undone and the step divided by 5 until they gain; the fit never blows up."""
    real = driver.run_variance_reduced

    def far_too_long(backend, rows, validation, setup, model, iterate, tracker, *rest):
        tracker.values[driver.ETA] *= 1000.0
        return real(backend, rows, validation, setup, model, iterate, tracker, *rest)

    monkeypatch.setattr(driver, "run_variance_reduced", far_too_long)
    X, y = problem(7)
    res = fastgd.fit(X, y, random_state=0, backend=backend)
    assert np.all(np.isfinite(res.loss_history))
    assert np.all(np.diff(res.loss_history[2:]) <= 1e-9 * res.loss_history[2:-1])
    assert res.converged and excess_mse(X, y, res) <= 1e-4


def test_the_loss_history_is_that_of_each_epochs_model(backend):
    X, y = problem(8)
    res = fastgd.fit(X, y, random_state=0, backend=backend)
    assert len(res.loss_history) == res.n_epochs
    residual = res.predict(X) - y
    np.testing.assert_allclose(res.loss_history[-1], 0.5 * residual @ residual / len(y),
                               rtol=1e-9)


def test_a_stop_request_ends_at_the_epochs_end(monkeypatch):
    """Ctrl-C (``control[0]`` set) during the first variance-reduced epoch ends the fit there,
    with that epoch's model and loss."""
    real = driver.run_variance_reduced

    def requested(*args):
        args[8][0] = 1  # control
        return real(*args)

    monkeypatch.setattr(driver, "run_variance_reduced", requested)
    X, y = problem(9)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        res = fastgd.fit(X, y, random_state=0)
    assert res.interrupted and not res.converged
    assert res.n_epochs == 3 and res.settings["variance_reduced_epochs"] == 1
    residual = res.predict(X) - y
    np.testing.assert_allclose(res.loss_history[-1], 0.5 * residual @ residual / len(y),
                               rtol=1e-9)


# the stopping rule of variance-reduced epochs, alone

def test_geometric_gains_stop_once_the_excess_left_is_small():
    excess = 1e-2 * 0.1 ** np.arange(8)  # the factor 0.1 an epoch
    losses = 1.0 + excess
    stops = [variance_reduced_progress(losses[e], losses[e - 1] - losses[e],
                                       losses[e - 2] - losses[e - 1] if e > 1 else np.nan,
                                       1e-4, True) for e in range(1, 8)]
    # stops at the first epoch whose gain, 0.9 of the excess before it, is at most 5e-5
    # (VARIANCE_SAFETY * tol): after 1e-5, at 1e-6
    assert stops.index(CONVERGED) + 1 == 4 and excess[4] == pytest.approx(1e-6)


def test_a_sudden_slowdown_does_not_stop():
    # a gain of 2.3e-2 then one of 9e-4 (rho 0.04) with 1.3e-3 left: the gain is too large
    assert variance_reduced_progress(1.0013, 9e-4, 2.3e-2, 1e-4, True) == RUNNING


def test_no_gain_beyond_rounding_stops_and_no_tol_never_does():
    assert variance_reduced_progress(1.0, 1e-12, 1e-3, 1e-4, True) == CONVERGED
    assert variance_reduced_progress(1.0, 1e-12, 1e-3, 1e-4, False) == RUNNING
    assert variance_reduced_progress(1.0, 1e-5, np.nan, 1e-4, True) == RUNNING
