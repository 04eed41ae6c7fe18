"""Several targets fitted in one pass: shapes, lstsq per target, same as separate fits."""

import numpy as np

import fastgd
from fastgd.datasets import make_problem
from fastgd.schedules import Constant

from helpers import lstsq_fit, mse


def targets(family="several", k=3, seed=0):
    X, y, _, _ = make_problem(family, random_state=seed)
    rng = np.random.default_rng(seed)
    Y = np.column_stack([y] + [X @ rng.standard_normal(X.shape[1]) * 10 ** t + 5 * t
                               + rng.standard_normal(len(y)) for t in range(1, k)])
    return X, Y


def test_several_targets_reach_lstsq(backend):
    X, Y = targets()
    res = fastgd.fit(X, Y, random_state=0, backend=backend)
    assert res.coef.shape == (3, 5) and res.intercept.shape == (3,)
    assert res.loss_history.shape == (res.n_epochs, 3)
    assert res.predict(X[:4]).shape == (4, 3)
    coef, intercept = lstsq_fit(X, Y)
    for t in range(3):
        best = mse(X, Y[:, t], coef[:, t], intercept[t])
        assert (mse(X, Y[:, t], res.coef[t], res.intercept[t]) - best) / best <= 1e-3
    np.testing.assert_allclose(res.predict(X), X @ res.coef.T + res.intercept)


def test_one_column_y_is_the_one_target_fit():
    X, Y = targets(k=1)
    column = fastgd.fit(X, Y, epochs=30, random_state=4)
    flat = fastgd.fit(X, Y[:, 0], epochs=30, random_state=4)
    assert column.coef.shape == (1, 5)
    np.testing.assert_array_equal(column.coef[0], flat.coef)
    np.testing.assert_array_equal(column.loss_history[:, 0], flat.loss_history)


def test_targets_are_fitted_independently_under_a_fixed_schedule(backend):
    X, Y = targets(k=2)
    Y = Y / Y.std(axis=0)
    kwargs = dict(learning_rate=Constant(0.01), epochs=10, tol=None, random_state=5,
                  backend=backend)
    both = fastgd.fit(X, Y, **kwargs)
    for t in range(2):
        alone = fastgd.fit(X, Y[:, t], **kwargs)
        np.testing.assert_allclose(both.coef[t], alone.coef, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(both.loss_history[:, t], alone.loss_history, rtol=1e-12)


def test_targets_of_wide_and_tall_data():
    for family in ("wide", "tall"):
        X, Y = targets(family, k=2, seed=1)
        res = fastgd.fit(X, Y, epochs=100, random_state=0)
        coef, intercept = lstsq_fit(X, Y)
        best = mse(X, Y[:, 1], coef[:, 1], intercept[1])
        assert (mse(X, Y[:, 1], res.coef[1], res.intercept[1]) - best) / best <= 1e-2
