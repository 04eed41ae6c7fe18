"""Warm starts: coef_init and intercept_init, shape-checked."""

import numpy as np
import pytest

import fastgd
from fastgd.datasets import make_problem
from fastgd.schedules import Constant

from helpers import lstsq_fit, mse


def test_a_fit_continues_where_another_stopped(backend):
    X, y, _, _ = make_problem("badly_scaled", random_state=0)
    kwargs = dict(learning_rate=Constant(1e-7), tol=None, random_state=0, backend=backend)
    first = fastgd.fit(X, y, epochs=3, **kwargs)
    more = fastgd.fit(X, y, epochs=3, coef_init=first.coef, intercept_init=first.intercept,
                      **kwargs)
    assert more.loss_history[-1] < first.loss_history[-1]
    assert more.settings["warm_start"] and not first.settings["warm_start"]


def test_starting_at_the_optimum_stays_there(backend):
    X, y, _, _ = make_problem("several", random_state=1)
    coef, intercept = lstsq_fit(X, y)
    res = fastgd.fit(X, y, coef_init=coef, intercept_init=intercept, random_state=0,
                     backend=backend)
    best = mse(X, y, coef, intercept)
    assert mse(X, y, res.coef, res.intercept) <= (1 + 1e-6) * best
    np.testing.assert_allclose(res.coef, coef, atol=1e-3)


def test_a_warm_start_with_constant_columns_keeps_the_model(backend):
    X, y, _, _ = make_problem("several", random_state=2)
    X[:, 1] = 3.0  # constant: its weight is folded into the intercept
    coef, intercept = lstsq_fit(X, y)
    res = fastgd.fit(X, y, coef_init=coef, intercept_init=intercept, epochs=1, tol=None,
                     random_state=0, backend=backend)
    assert res.coef[1] == 0.0
    assert mse(X, y, res.coef, res.intercept) <= (1 + 1e-3) * mse(X, y, coef, intercept)


def test_several_targets_take_start_values_per_target():
    X, y, _, _ = make_problem("several", random_state=3)
    Y = np.column_stack([y, -y])
    coef, intercept = lstsq_fit(X, Y)
    res = fastgd.fit(X, Y, coef_init=coef.T, intercept_init=intercept, epochs=2, tol=None,
                     learning_rate=Constant(1e-4), random_state=0)
    np.testing.assert_allclose(res.coef, coef.T, atol=1e-2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(coef_init=np.zeros(4)), r"coef_init must have shape \(5,\)"),
    (dict(coef_init=np.zeros((1, 5))), r"coef_init must have shape \(5,\)"),
    (dict(intercept_init=np.zeros(1)), r"intercept_init must have shape \(\)"),
    (dict(coef_init=np.full(5, np.nan)), "coef_init contains nan"),
    (dict(intercept_init=1.0, fit_intercept=False), "fit_intercept=False fixes the intercept"),
])
def test_bad_start_values(kwargs, match):
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.raises(ValueError, match=match):
        fastgd.fit(X, y, **kwargs)


def test_start_values_for_several_targets_are_shape_checked():
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.raises(ValueError, match=r"coef_init must have shape \(2, 5\)"):
        fastgd.fit(X, np.column_stack([y, y]), coef_init=np.zeros(5))
