"""Early stopping on held-out rows: a seeded split, the validation history, the best weights."""

import numpy as np
import pytest

import fastgd
from fastgd._preparation import split_validation
from fastgd.datasets import make_problem

from helpers import excess_mse


def overfitting_problem(seed=0):
    """As many training rows as features, noisy: the validation loss falls, then rises."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((400, 300))
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(400)
    return X, y


def validation_loss(X, y, res, fraction=0.1):
    """The loss of ``res`` on the rows fastgd held out for it."""
    *_, X_val, Y_val, _ = split_validation(X, y[:, None], None, fraction,
                                           res.settings["random_state"])
    residual = X_val @ res.coef + res.intercept - Y_val[:, 0]
    return 0.5 * np.mean(residual**2)


def test_the_weights_of_a_best_validation_check_are_returned(backend):
    X, y = overfitting_problem()
    res = fastgd.fit(X, y, early_stopping=True, validation_fraction=0.25, n_iter_no_change=20,
                     random_state=0, backend=backend)
    history = res.validation_loss_history
    assert history.shape == res.loss_history.shape == (res.n_epochs,)
    assert res.converged
    assert history[-1] == pytest.approx(validation_loss(X, y, res, 0.25), rel=1e-9)
    assert history[-2] > 1.4 * history[-1]  # the last epochs overfitted: their weights lost
    # the latest check within one standard error of the lowest (100 held-out rows: ~14%)
    assert history[-1] <= 1.1 * history.min()
    assert res.settings["early_stopping"] is True


def test_a_lucky_early_check_does_not_win():
    """Without the one-standard-error rule, early-stopped fits here kept a noisy early
    iterate that fitted the 100 held-out rows by luck (4% excess training loss)."""
    X, y, _, _ = make_problem("several", random_state=0)
    for seed in range(3):
        res = fastgd.fit(X, y, early_stopping=True, random_state=seed)
        assert excess_mse(X, y, res) <= 1e-2


def test_early_stopping_reaches_lstsq_on_plenty_of_data(backend):
    X, y, _, _ = make_problem("tall", random_state=0)
    res = fastgd.fit(X, y, early_stopping=True, random_state=0, backend=backend)
    assert excess_mse(X, y, res) <= 1e-3
    assert res.validation_loss_history[-1] == pytest.approx(validation_loss(X, y, res),
                                                           rel=1e-9)


def test_the_split_is_seeded():
    X, y, _, _ = make_problem("several", random_state=1)
    first, again = (fastgd.fit(X, y, early_stopping=True, epochs=5, random_state=7)
                    for _ in range(2))
    np.testing.assert_array_equal(first.coef, again.coef)
    np.testing.assert_array_equal(first.validation_loss_history,
                                  again.validation_loss_history)
    other = fastgd.fit(X, y, early_stopping=True, epochs=5, random_state=8)
    assert other.validation_loss_history[0] != first.validation_loss_history[0]


def test_without_early_stopping_there_is_no_validation_history():
    res = fastgd.fit(np.arange(10.0)[:, None], np.arange(10.0), epochs=2)
    assert res.validation_loss_history is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(validation_fraction=0.0), r"validation_fraction must lie in \(0.0, 1.0\)"),
    (dict(validation_fraction=1.0), r"validation_fraction must lie in"),
    (dict(validation_fraction=0.9), "leaving none to train on"),
    (dict(sample_weight=np.r_[1.0, np.zeros(4)], validation_fraction=0.5),
     "set of early_stopping has weight 0"),
])
def test_bad_early_stopping_arguments(kwargs, match):
    X, y = np.arange(5.0)[:, None], np.arange(5.0)
    with pytest.raises(ValueError, match=match):
        fastgd.fit(X, y, early_stopping=True, random_state=0, **kwargs)
