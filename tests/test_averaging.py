"""Polyak-Ruppert averaging: it lowers the excess loss of constant-step SGD."""

import numpy as np
import pytest

import fastgd
from fastgd.datasets import make_problem
from fastgd.schedules import Constant

from helpers import excess_mse


def test_averaging_lowers_the_excess_loss_of_constant_step_sgd(backend):
    X, y, _, _ = make_problem("several", random_state=0)
    kwargs = dict(batch_size=1, learning_rate=Constant(0.02), epochs=20, tol=None,
                  random_state=0, backend=backend)
    last = excess_mse(X, y, fastgd.fit(X, y, **kwargs))
    averaged = excess_mse(X, y, fastgd.fit(X, y, average=True, **kwargs))
    assert last > 1e-3  # the noise floor of the constant step
    assert averaged < last / 10


def test_averaging_after_some_updates(backend):
    X, y, _, _ = make_problem("several", random_state=1)
    kwargs = dict(learning_rate=Constant(0.01), epochs=4, tol=None, random_state=0,
                  backend=backend)
    plain = fastgd.fit(X, y, **kwargs)
    never = fastgd.fit(X, y, average=plain.n_updates, **kwargs)  # starts after the last update
    np.testing.assert_array_equal(never.coef, plain.coef)
    late = fastgd.fit(X, y, average=plain.n_updates - 1, **kwargs)  # the last iterate alone
    np.testing.assert_allclose(late.coef, plain.coef, rtol=1e-12)
    early = fastgd.fit(X, y, average=10, **kwargs)
    assert not np.allclose(early.coef, plain.coef, rtol=1e-3)
    assert early.settings["average"] == 10


def test_the_loss_history_is_that_of_the_average():
    X, y, _, _ = make_problem("several", random_state=2)
    res = fastgd.fit(X, y, average=True, learning_rate=Constant(0.01), epochs=3, tol=None,
                     random_state=0)
    residual = X @ res.coef + res.intercept - y
    assert res.loss_history[-1] == pytest.approx(0.5 * np.mean(residual**2), rel=1e-9)


def test_averaging_with_the_default_schedule_still_reaches_lstsq():
    X, y, _, _ = make_problem("correlated", random_state=0)
    assert excess_mse(X, y, fastgd.fit(X, y, average=True, random_state=0)) <= 1e-3


@pytest.mark.parametrize("average, error", [(-1, ValueError), (0.5, TypeError),
                                            ("yes", TypeError)])
def test_bad_average(average, error):
    with pytest.raises(error, match="average must be"):
        fastgd.fit(np.ones((4, 1)), np.ones(4), average=average)
