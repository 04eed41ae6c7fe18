"""Accuracy against np.linalg.lstsq on the problem families of fastgd.datasets."""

import numpy as np
import pytest

import fastgd
from fastgd import schedules
from fastgd.datasets import FAMILIES, make_problem
from helpers import excess_mse, lstsq_fit, weighted_excess_mse

# family -> batch size of the check: the lecture's 16 for its problem, the default elsewhere
FAMILY_BATCH = {name: (16 if name == "one_feature" else 32) for name in FAMILIES}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_defaults_match_lstsq(family, backend):
    X, y, _, _ = make_problem(family, random_state=0)
    fit_intercept = FAMILIES[family].fit_intercept
    res = fastgd.fit(X, y, batch_size=FAMILY_BATCH[family], epochs=200,
                     fit_intercept=fit_intercept, random_state=1, backend=backend)
    assert excess_mse(X, y, res, fit_intercept) <= 1e-3
    if FAMILIES[family].well_conditioned:  # well conditioned: the coefficients themselves are close
        coef, intercept = lstsq_fit(X, y, fit_intercept)
        assert np.max(np.abs(res.coef - coef)) <= 5e-3 * np.max(np.abs(coef))
    assert res.loss_history.shape == (res.n_epochs,)
    assert res.backend == backend


@pytest.mark.parametrize("family", ["one_feature", "several", "badly_scaled"])
@pytest.mark.parametrize("batch_size", [1, 16, 37, None])  # 37 divides neither 100 nor 1000
def test_batch_sizes_match_lstsq(family, batch_size):
    X, y, _, _ = make_problem(family, random_state=2)
    batch_size = batch_size or len(X)
    res = fastgd.fit(X, y, batch_size=batch_size, epochs=200, random_state=3)
    assert excess_mse(X, y, res) <= 1e-3


def test_lecture_one_feature_with_lecture_schedule(backend):
    """The lecture's own recipe, t0 / (t + t1) on raw data, recovers the line.

    Its 1/t decay is slower than "auto": after 1000 epochs it is within 1% of lstsq's MSE.
    """
    X, y, _, _ = fastgd.datasets.lecture_problem(1, random_state=4)
    res = fastgd.fit(X, y, batch_size=16, epochs=1000, tol=None, random_state=0,
                     learning_rate=schedules.InverseTime(5, 50), backend=backend)
    assert excess_mse(X, y, res) <= 1e-2


def test_full_batch_constant_step_reaches_lstsq(backend):
    X, y, _, _ = make_problem("several", random_state=5)
    A = np.column_stack([X, np.ones(len(X))])
    lipschitz = np.linalg.eigvalsh(A.T @ A / len(X))[-1]
    res = fastgd.fit(X, y, batch_size=len(X), epochs=2000, tol=None, shuffle=False,
                     learning_rate=schedules.Constant(1.0 / lipschitz), backend=backend)
    assert excess_mse(X, y, res) <= 1e-6


def test_large_intercept_is_recovered(backend):
    X, y, coef, intercept = make_problem("large_intercept", random_state=6)
    res = fastgd.fit(X, y, epochs=200, random_state=0, backend=backend)
    assert abs(res.intercept - lstsq_fit(X, y)[1]) <= 1e-4 * abs(intercept)


def test_float32_accuracy_and_dtype(backend):
    X, y, _, _ = make_problem("several", random_state=7)
    res = fastgd.fit(X.astype(np.float32), y.astype(np.float32), epochs=200, random_state=0,
                     backend=backend)
    assert res.coef.dtype == np.float32
    assert isinstance(res.intercept, np.float32)
    assert res.predict(X.astype(np.float32)).dtype == np.float32
    assert excess_mse(X, y, res) <= 1e-3


@pytest.mark.parametrize("weighted", [False, True])
def test_float32_batch_arithmetic_keeps_accuracy_on_far_off_centre_data(weighted):
    # a batch's sums are float32 arithmetic: residuals of columns and targets far from 0
    # (means 1,000 times their spreads) are differences of large float32 terms
    rng = np.random.default_rng(3)
    n, d = 20_000, 20
    X = (1e3 + rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d)).astype(np.float32)
    y = (X.astype(np.float64) @ rng.standard_normal(d) + 3e3
         + rng.standard_normal(n)).astype(np.float32)
    weights = rng.uniform(0.0, 2.0, n) if weighted else None
    res = fastgd.fit(X, y, sample_weight=weights, random_state=0)
    assert res.coef.dtype == np.float32
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    assert weighted_excess_mse(X64, y64, weights, res) <= 1e-3

