"""Penalties: L2 against the closed-form ridge solution, L1 and elastic net against
scikit-learn's coordinate descent (Lasso, ElasticNet), exact zeros, unpenalised intercept."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso

import fastgd
from fastgd.schedules import InverseTime

RHO = {"l2": 0.0, "l1": 1.0}


def sparse_problem(seed=0, n=2000):
    """Columns of different scales and offsets; the truth has zeros the L1 optimum keeps."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8)) * [1, 2, 0.5, 1, 3, 1, 1, 0.2] + [0, 1, 0, 5, 0, 0, -2, 0]
    y = X @ np.array([3.0, 0, -2, 0, 0.5, 0, 0, 1.0]) + 4 + rng.standard_normal(n)
    return X, y


def objective(X, y, coef, intercept, alpha, rho):
    """The documented objective, computed directly."""
    residual = X @ coef + intercept - y
    penalty = alpha * (rho * np.abs(coef).sum() + (1 - rho) / 2 * coef @ coef)
    return 0.5 * residual @ residual / len(y) + penalty


def ridge(X, y, alpha, fit_intercept):
    """Closed form of ``(1/2n)|Xw + b - y|^2 + alpha/2 |w|^2`` (b unpenalised)."""
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    y_mean = y.mean() if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean
    coef = np.linalg.solve(Xc.T @ Xc / len(y) + alpha * np.eye(X.shape[1]), Xc.T @ yc / len(y))
    return coef, y_mean - x_mean @ coef


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l2_reaches_the_closed_form_ridge_solution(backend, fit_intercept):
    X, y = sparse_problem()
    coef, intercept = ridge(X, y, 0.5, fit_intercept)
    res = fastgd.fit(X, y, penalty="l2", alpha=0.5, fit_intercept=fit_intercept, tol=1e-6,
                     random_state=0, backend=backend)
    best = objective(X, y, coef, intercept, 0.5, 0.0)
    assert objective(X, y, res.coef, res.intercept, 0.5, 0.0) - best <= 1e-6 * best
    np.testing.assert_allclose(res.coef, coef, atol=1e-3)


@pytest.mark.parametrize("penalty, alpha, l1_ratio", [("l1", 0.1, 0.15),
                                                      ("elasticnet", 0.2, 0.5),
                                                      ("elasticnet", 0.05, 0.9)])
def test_l1_and_elastic_net_reach_coordinate_descent_with_its_exact_zeros(
        backend, penalty, alpha, l1_ratio):
    X, y = sparse_problem()
    rho = RHO.get(penalty, l1_ratio)
    solver = Lasso(alpha=alpha) if penalty == "l1" else ElasticNet(alpha=alpha, l1_ratio=rho)
    reference = solver.set_params(tol=1e-12, max_iter=100_000).fit(X, y)
    res = fastgd.fit(X, y, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, random_state=0,
                     backend=backend)
    best = objective(X, y, reference.coef_, reference.intercept_, alpha, rho)
    assert objective(X, y, res.coef, res.intercept, alpha, rho) - best <= 1e-4 * best
    zeros = reference.coef_ == 0.0
    assert zeros.sum() >= 3
    np.testing.assert_array_equal(res.coef == 0.0, zeros)


def test_l1_zeros_with_a_raw_decaying_schedule(backend):
    X, y = sparse_problem()
    X = X - X.mean(axis=0)  # raw steps need centred columns to converge in few epochs
    reference = Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, y)
    res = fastgd.fit(X, y, penalty="l1", alpha=0.1, learning_rate=InverseTime(), epochs=100,
                     random_state=0, backend=backend)
    gradient = X.T @ (X @ reference.coef_ + reference.intercept_ - y) / len(y)
    clear_zeros = 0.1 - np.abs(gradient) >= 0.05  # zeroed by the optimum with a wide margin
    assert clear_zeros.sum() == 4
    np.testing.assert_array_equal(res.coef[clear_zeros], 0.0)
    assert np.all(res.coef[reference.coef_ != 0] != 0)
    best = objective(X, y, reference.coef_, reference.intercept_, 0.1, 1.0)
    assert objective(X, y, res.coef, res.intercept, 0.1, 1.0) - best <= 1e-2 * best


def test_the_last_loss_is_the_objective_of_the_returned_weights(backend):
    X, y = sparse_problem(n=500)
    res = fastgd.fit(X, y, penalty="elasticnet", alpha=0.3, l1_ratio=0.4, epochs=30,
                     random_state=1, backend=backend)
    assert res.loss_history[-1] == pytest.approx(
        objective(X, y, res.coef, res.intercept, 0.3, 0.4), rel=1e-9)


def test_the_intercept_is_not_penalised(backend):
    X, y = sparse_problem(n=500)
    res = fastgd.fit(X, y, penalty="l2", alpha=1e6, random_state=0, backend=backend)
    assert np.abs(res.coef).max() < 1e-4
    assert res.intercept == pytest.approx(y.mean() - X.mean(axis=0) @ res.coef, rel=1e-3)


def test_alpha_zero_is_no_penalty():
    X, y = sparse_problem(n=500)
    plain = fastgd.fit(X, y, epochs=20, random_state=2)
    for penalty in ("l2", "l1", "elasticnet"):
        zero = fastgd.fit(X, y, epochs=20, random_state=2, penalty=penalty, alpha=0.0)
        np.testing.assert_array_equal(zero.coef, plain.coef)


def test_float32_data_with_a_penalty(backend):
    X, y = sparse_problem()
    res = fastgd.fit(X.astype(np.float32), y.astype(np.float32), penalty="l1", alpha=0.1,
                     random_state=0, backend=backend)
    assert res.coef.dtype == np.float32
    assert res.coef[1] == 0.0 and res.coef[3] == 0.0 and abs(res.coef[0] - 2.9) < 0.1


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(penalty="l3"), ValueError, "Unknown penalty 'l3'"),
    (dict(penalty="l1", alpha=-1.0), ValueError, r"alpha must lie in \[0.0, inf\)"),
    (dict(penalty="l1", alpha=np.nan), ValueError, "alpha must lie in"),
    (dict(penalty="l1", alpha="big"), TypeError, "alpha must be a number"),
    (dict(penalty="elasticnet", l1_ratio=1.5), ValueError, r"l1_ratio must lie in \[0.0, 1.0\]"),
])
def test_bad_penalty_arguments(kwargs, error, match):
    X, y = sparse_problem(n=50)
    with pytest.raises(error, match=match):
        fastgd.fit(X, y, **kwargs)


def test_settings_record_the_penalty():
    X, y = sparse_problem(n=50)
    settings = fastgd.fit(X, y, penalty="elasticnet", alpha=0.2, l1_ratio=0.3, epochs=2).settings
    assert (settings["penalty"], settings["alpha"], settings["l1_ratio"]) == (
        "elasticnet", 0.2, 0.3)
