"""Streams with the defaults: ``MBGDRegressor().partial_fit`` on chunks approaches least
squares, never explodes, learns late features, and honours scikit-learn's contracts."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.linear_model import SGDRegressor

from fastgd import MBGDRegressor
from fastgd.datasets import make_messy_problem, make_problem
from fastgd.schedules import Constant

from helpers import excess_mse, weighted_excess_mse


def model_excess(X, y, model):
    """Relative excess training MSE of an estimator's ``coef_`` and ``intercept_``."""
    return excess_mse(X, y, SimpleNamespace(coef=model.coef_, intercept=model.intercept_[0]))


def stream(models, X, y, chunk, passes):
    """Feed ``models`` the rows of X, y in chunks of ``chunk`` rows, ``passes`` times."""
    parts = np.array_split(np.arange(len(y)), max(1, len(y) // chunk))
    for _ in range(passes):
        for rows in parts:
            for model in models:
                model.partial_fit(X[rows], y[rows])


def problem(name):
    if name in ("several", "badly_scaled", "tall"):
        return make_problem(name, random_state=0)[:2]
    return make_messy_problem(name, random_state=0)[:2]


@pytest.mark.parametrize("name, chunk", [
    ("several", 10), ("badly_scaled", 10), ("tall", 1000), ("tall", 5000),
    ("badly_scaled", 500), ("one_hot", 1000), ("rare_indicators", 100),
    ("outlying_rows", 5000), ("outlying_rows", 100),
])
def test_default_streams_reach_least_squares_and_beat_scikit_learn(name, chunk):
    X, y = problem(name)
    ours, theirs = MBGDRegressor(random_state=0), SGDRegressor(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's overflow on raw columns
        stream([ours, theirs], X, y, chunk, passes=10)
        their_excess = model_excess(X, y, theirs)
    assert np.all(np.isfinite(ours.coef_)) and np.abs(ours.coef_).max() < 1e3
    ours_excess = model_excess(X, y, ours)
    assert ours_excess <= 1e-2
    assert not ours_excess > their_excess  # NaN or overflow on their side counts as worse


@pytest.mark.parametrize("seed, chunk", [(1, 1000), (2, 10)])
def test_a_few_outlying_rows_neither_set_the_step_nor_go_unlearned(seed, chunk):
    """A chunk's step is stable for its rows other than its outlying ones, and a chunk whose
    outlying rows need a shorter step runs several times over its rows at a fraction of it
    (2.3e-2 and 0.14 here with every chunk's step set by its outlying rows)."""
    X, y = make_messy_problem("outlying_rows", random_state=seed)[:2]
    ours, theirs = MBGDRegressor(random_state=0), SGDRegressor(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream([ours, theirs], X, y, chunk, passes=10)
        their_excess = model_excess(X, y, theirs)
    ours_excess = model_excess(X, y, ours)
    assert ours_excess <= 1e-2
    assert not ours_excess > their_excess


def test_a_stream_keeps_improving():
    X, y = problem("tall")
    model = MBGDRegressor(random_state=0)
    stream([model], X, y, 5000, passes=1)
    first = model_excess(X, y, model)
    stream([model], X, y, 5000, passes=4)
    assert model_excess(X, y, model) < first


def test_a_feature_constant_in_the_first_chunks_is_learned_later():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 3))
    X[:2000, 2] = 1.0  # constant until the stream's third chunk
    y = X @ [1.0, -2.0, 3.0] + 0.5 + 0.1 * rng.standard_normal(6000)
    model = MBGDRegressor(random_state=0)
    stream([model], X, y, 1000, passes=5)
    np.testing.assert_allclose(model.coef_, [1.0, -2.0, 3.0], atol=0.02)


def test_partial_fit_after_fit_goes_on_from_the_fitted_model():
    X, y = problem("several")
    model = MBGDRegressor(random_state=0).fit(X, y)
    fitted, epochs = model.coef_.copy(), model.n_iter_
    model.partial_fit(X[:100], y[:100])
    assert model.n_iter_ == epochs + 1 and len(model.loss_curve_) == epochs + 1
    np.testing.assert_allclose(model.coef_, fitted, atol=0.05)  # not a restart from zeros


def test_set_params_between_calls_takes_effect_or_is_refused():
    X, y = problem("several")
    model = MBGDRegressor(random_state=0).partial_fit(X, y)
    model.set_params(learning_rate=Constant(1e-3), batch_size=8)
    model.partial_fit(X, y)
    assert model.fit_result_.learning_rate == Constant(1e-3)
    assert model.fit_result_.batch_size == 8
    model.set_params(fit_intercept=False)
    with pytest.raises(ValueError, match="fit_intercept changed to False"):
        model.partial_fit(X, y)


def test_predict_uses_coef_and_intercept():
    X, y = problem("several")
    model = MBGDRegressor(random_state=0).fit(X, y)
    model.coef_ = np.zeros_like(model.coef_)
    model.intercept_ = np.array([2.5])
    np.testing.assert_array_equal(model.predict(X[:3]), [2.5, 2.5, 2.5])


def test_a_chunk_of_zero_weights_changes_nothing():
    # a 0/1 weight mask cut into small chunks has chunks that leave every row out
    X, y, _, _ = make_problem("several", random_state=3)
    chunks = [slice(0, 50), slice(50, 100), slice(100, 150)]
    masked, plain = MBGDRegressor(random_state=0), MBGDRegressor(random_state=0)
    masked.partial_fit(X[:20], y[:20], sample_weight=np.zeros(20))  # first call: nothing yet
    assert not hasattr(masked, "coef_")
    for i, rows in enumerate(chunks):
        masked.partial_fit(X[rows], y[rows])
        plain.partial_fit(X[rows], y[rows])
        if i == 1:
            masked.partial_fit(X[rows], y[rows], sample_weight=np.zeros(50))
    np.testing.assert_array_equal(masked.coef_, plain.coef_)
    assert masked.intercept_ == plain.intercept_ and masked.n_iter_ == plain.n_iter_
    with pytest.raises(ValueError, match="non-negative"):
        masked.partial_fit(X[:2], y[:2], sample_weight=[0.0, -1.0])


def weighted_stream(models, X, y, weights, chunk, passes):
    """``stream`` with sample weights (scikit-learn refuses a chunk of zero weights: it is
    left out for it, which is what such a chunk should change)."""
    parts = np.array_split(np.arange(len(y)), max(1, len(y) // chunk))
    for _ in range(passes):
        for rows in parts:
            for model in models:
                if isinstance(model, MBGDRegressor) or weights[rows].any():
                    model.partial_fit(X[rows], y[rows], sample_weight=weights[rows])


@pytest.mark.parametrize("name, chunk", [
    ("heavy_weights", 10), ("heavy_weights", 100), ("weight_mask", 10),
])
def test_weighted_streams_reach_weighted_least_squares(name, chunk):
    """A batch is divided by its rows times the stream's mean weight (a chunk's own mean
    weighted its rows against each other: 6.5e-2 and 1.2e-1 here with log-normal weights in
    chunks of 10), its step is stable for its rows weighed against that mean, and a chunk's
    shorter last batch steps as a full one with rows of weight 0 (chunks of 100 in batches
    of 32 went to 0.74 and 8.7e-2 without)."""
    X, y, weights = make_messy_problem(name, random_state=1)
    ours, theirs = MBGDRegressor(random_state=0), SGDRegressor(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted_stream([ours, theirs], X, y, weights, chunk, passes=10)
    fitted = [SimpleNamespace(predict=model.predict) for model in (ours, theirs)]
    ours_excess, their_excess = (weighted_excess_mse(X, y, weights, f) for f in fitted)
    assert ours_excess <= 1e-2
    assert not ours_excess > their_excess
