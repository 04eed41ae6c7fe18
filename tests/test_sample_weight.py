"""Sample weights: weighted least squares, zero weights, repeated rows, clear errors."""

import numpy as np
import pytest

import fastgd
from fastgd.datasets import make_problem


def weighted_lstsq(X, y, weights):
    """Weighted least squares with an intercept, by lstsq on rows scaled by sqrt(weight)."""
    A = np.column_stack([X, np.ones(len(X))]) * np.sqrt(weights)[:, None]
    solution = np.linalg.lstsq(A, y * np.sqrt(weights), rcond=None)[0]
    return solution[:-1], solution[-1]


def weighted_mse(X, y, weights, coef, intercept):
    residual = X @ coef + intercept - y
    return weights @ residual**2 / weights.sum()


def test_weighted_fit_reaches_weighted_lstsq(backend):
    X, y, _, _ = make_problem("several", random_state=0)
    rng = np.random.default_rng(1)
    y = y + 3 * X[:, 0] ** 2  # misspecified, so that the weights change the optimum
    weights = rng.exponential(size=len(y))
    weights_before = weights.copy()
    res = fastgd.fit(X, y, sample_weight=weights, tol=1e-5, random_state=0, backend=backend)
    coef, intercept = weighted_lstsq(X, y, weights)
    best = weighted_mse(X, y, weights, coef, intercept)
    assert (weighted_mse(X, y, weights, res.coef, res.intercept) - best) / best <= 1e-4
    unweighted = fastgd.fit(X, y, tol=1e-5, random_state=0, backend=backend)
    assert (weighted_mse(X, y, weights, unweighted.coef, unweighted.intercept) - best) / best > 1e-3
    np.testing.assert_array_equal(weights, weights_before)
    assert res.settings["sample_weight"] is True
    assert res.loss_history[-1] == pytest.approx(
        0.5 * weighted_mse(X, y, weights, res.coef, res.intercept), rel=1e-9)


def test_zero_weights_leave_rows_out(backend):
    X, y, _, _ = make_problem("several", random_state=2)
    weights = np.ones(len(y))
    weights[::3] = 0.0
    y_bad = y.copy()
    y_bad[::3] = 1e6  # outliers that must not count
    res = fastgd.fit(X, y_bad, sample_weight=weights, tol=1e-6, random_state=0,
                     backend=backend)
    keep = weights > 0
    coef, intercept = weighted_lstsq(X[keep], y[keep], weights[keep])
    best = weighted_mse(X[keep], y[keep], weights[keep], coef, intercept)
    assert weighted_mse(X[keep], y[keep], weights[keep], res.coef, res.intercept) <= (
        1 + 1e-4) * best


def test_integer_weights_act_like_repeated_rows():
    X, y, _, _ = make_problem("several", random_state=3)
    counts = np.random.default_rng(0).integers(1, 4, size=len(y))
    weighted = fastgd.fit(X, y, sample_weight=counts, tol=1e-6, random_state=0)
    repeated = fastgd.fit(np.repeat(X, counts, axis=0), np.repeat(y, counts), tol=1e-6,
                          random_state=0)
    np.testing.assert_allclose(weighted.coef, repeated.coef, atol=2e-3)


@pytest.mark.parametrize("weights, match", [
    (-np.ones(20), "must be non-negative, got -1.0 at index 0"),
    (np.r_[np.ones(19), np.nan], "sample_weight contains nan at index"),
    (np.ones(19), r"must have shape \(20,\)"),
    (np.zeros(20), "zero everywhere"),
    (np.ones((20, 1)), r"must have shape \(20,\)"),
])
def test_bad_weights_are_refused(weights, match):
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.raises(ValueError, match=match):
        fastgd.fit(X[:20], y[:20], sample_weight=weights)


def test_weights_of_complex_type_are_refused():
    with pytest.raises(TypeError, match="sample_weight is complex"):
        fastgd.fit(np.ones((3, 1)), np.ones(3), sample_weight=np.ones(3) * 1j)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_weights_fit_like_unit_weights(backend, dtype):
    """Weights of 2e-313 (Hypothesis found them): their mean's inverse overflows, which made
    the kernels' relative weights infinite; the fit does not depend on the weights' scale."""
    X, y, _, _ = make_problem("several", random_state=0)
    X, y = X[:200].astype(dtype), y[:200].astype(dtype)
    kwargs = dict(batch_size=8, epochs=5, tol=None, random_state=0, backend=backend)
    unit = fastgd.fit(X, y, **kwargs)
    tiny = fastgd.fit(X, y, sample_weight=np.full(200, 2.22507386e-313), **kwargs)
    np.testing.assert_allclose(tiny.coef, unit.coef, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tiny.loss_history, unit.loss_history, rtol=1e-5)
