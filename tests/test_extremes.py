"""Numerical extremes: tiny and huge magnitudes, degenerate columns and targets, d > n, threads."""

import threading

import numpy as np
import pytest

import fastgd
from fastgd import schedules
from fastgd.datasets import make_problem
from helpers import excess_mse, lstsq_fit


@pytest.mark.parametrize("x_power, y_power", [(-150, 0), (150, 0), (0, -150), (0, 150), (-170, 0),
                                              (160, 0), (0, -170),
                                              (-150, 150), (140, -140)])
def test_tiny_and_huge_magnitudes_fit_like_unit_data(x_power, y_power, backend):
    X, y, _, _ = make_problem("several", random_state=0)
    sx, sy = 10.0**x_power, 10.0**y_power
    res = fastgd.fit(X * sx, y * sy, epochs=200, random_state=0, backend=backend)
    assert np.all(np.isfinite(res.coef)) and np.isfinite(res.intercept)

    class Unscaled:  # the fit mapped back to the unit-scale problem
        coef = res.coef * sx / sy
        intercept = res.intercept / sy

    assert excess_mse(X, y, Unscaled) <= 1e-3


def test_targets_whose_squares_overflow_are_refused():
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.raises(ValueError, match="y has values beyond 1e.153.*Divide y"):
        fastgd.fit(X, y * 1e160)


def test_columns_of_wildly_different_magnitudes(backend):
    X, y, _, _ = make_problem("several", random_state=1)
    scales = np.array([1e-150, 1e-20, 1.0, 1e20, 1e150])
    res = fastgd.fit(X * scales, y, epochs=200, random_state=0, backend=backend)
    assert excess_mse(X * scales, y, res) <= 1e-3


def test_constant_and_duplicated_columns(backend):
    X, y, _, _ = make_problem("several", random_state=2)
    X2 = np.column_stack([X, np.full(len(X), 7.0), X[:, 0]])  # a constant and a duplicate
    res = fastgd.fit(X2, y, epochs=200, random_state=0, backend=backend)
    assert res.coef[5] == 0.0  # a constant column is the intercept's job
    assert res.coef[0] == pytest.approx(res.coef[6], rel=1e-6)  # duplicates share the weight
    assert excess_mse(X2, y, res) <= 1e-3


@pytest.mark.parametrize("value", [-2.5, 0.99999])  # 0.99999: its mean is not exact
def test_constant_target(value, backend):
    X, _, _, _ = make_problem("several", random_state=3)
    X[:, 0] = 0.0
    X[0, 0] = 1e-26  # a column that magnifies any left-over rounding by 1e26
    res = fastgd.fit(X, np.full(len(X), value), epochs=20, backend=backend)
    np.testing.assert_array_equal(res.coef, 0.0)
    assert res.intercept == value


def test_one_row_and_one_column(backend):
    res = fastgd.fit([[1.0, 2.0, 3.0]], [4.0], epochs=5, backend=backend)
    assert res.predict([[1.0, 2.0, 3.0]])[0] == pytest.approx(4.0)
    X, y, _, _ = make_problem("one_feature", random_state=4)
    assert excess_mse(X, y, fastgd.fit(X, y, batch_size=16, epochs=200, random_state=0,
                                       backend=backend)) <= 1e-3


def test_more_features_than_rows_reaches_the_minimum_norm_solution(backend):
    """Gradient descent from zero stays in the row space: it converges to lstsq's answer."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20, 50))
    y = rng.standard_normal(20)
    step = 1.0 / np.linalg.eigvalsh(X @ X.T / len(X))[-1]
    res = fastgd.fit(X, y, batch_size=20, epochs=3000, tol=None, fit_intercept=False,
                     shuffle=False, learning_rate=schedules.Constant(step), backend=backend)
    coef, _ = lstsq_fit(X, y, fit_intercept=False)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-6, atol=1e-9)


def test_concurrent_fits_equal_sequential_fits():
    problems = [make_problem(name, random_state=6) for name in ("several", "tall", "wide")]
    sequential = [fastgd.fit(X, y, epochs=30, random_state=1).coef for X, y, _, _ in problems]
    results = [None] * len(problems)

    def work(k):
        X, y, _, _ = problems[k]
        results[k] = fastgd.fit(X, y, epochs=30, random_state=1).coef

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(problems))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, expected in zip(results, sequential, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_nothing_to_learn_is_not_divergence(backend):
    """All-zero features without an intercept: the loss cannot move, and that is no blow-up."""
    y = np.r_[0.0, np.ones(33)].astype(np.float32)
    res = fastgd.fit(np.zeros((34, 1), dtype=np.float32), y, batch_size=1, epochs=6,
                     fit_intercept=False, tol=None, backend=backend)
    assert res.coef[0] == 0.0 and res.n_epochs == 6


@pytest.mark.parametrize("x, dtype", [(1.4e-44, np.float32), (1.1e-308, np.float64)])
def test_coefficients_beyond_the_dtype_range_are_refused(x, dtype, backend):
    X = np.full((2, 1), x, dtype=dtype)  # the fit needs a weight of 2 / x
    with pytest.raises(ValueError, match=f"exceed the range of {np.dtype(dtype)}"):
        fastgd.fit(X, np.full(2, 2.0, dtype=dtype), epochs=5, fit_intercept=False,
                   backend=backend)


def test_many_constant_columns_leave_only_the_intercept(backend):
    """Over 64 columns the curvature comes from power iteration, which must survive zero."""
    rng = np.random.default_rng(7)
    X = np.ones((30, 70)) * np.arange(70)
    y = rng.standard_normal(30)
    res = fastgd.fit(X, y, epochs=30, random_state=0, backend=backend)
    np.testing.assert_array_equal(res.coef, 0.0)
    assert res.intercept == pytest.approx(y.mean(), rel=1e-6)
