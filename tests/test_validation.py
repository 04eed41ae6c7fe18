"""Bad input: a clear ValueError or TypeError saying what to change."""

import numpy as np
import pytest

import fastgd
from fastgd import schedules

rng = np.random.default_rng(0)
X_OK = rng.standard_normal((20, 3))
Y_OK = rng.standard_normal(20)


def with_value(a, index, value):
    a = a.copy()
    a[index] = value
    return a


@pytest.mark.parametrize("X, y, error, match", [
    (with_value(X_OK, (3, 1), np.nan), Y_OK, ValueError, r"X contains nan at index \(3, 1\)"),
    (with_value(X_OK, (0, 0), np.inf), Y_OK, ValueError, "X contains inf"),
    (X_OK, with_value(Y_OK, 5, -np.inf), ValueError, r"y contains -inf at index \(5\)"),
    (X_OK, Y_OK[:-1], ValueError, "X has 20, y has 19"),
    (X_OK[:, 0], Y_OK, ValueError, r"reshape\(-1, 1\)"),
    (X_OK[None], Y_OK, ValueError, "X must be 2-D"),
    (X_OK, Y_OK[:, None, None], ValueError, r"y must be of shape \(n_samples,\) or"),
    (X_OK, np.empty((20, 0)), ValueError, "n_targets >= 1"),
    (X_OK[:0], Y_OK[:0], ValueError, "X has no rows"),
    (X_OK[:, :0], Y_OK, ValueError, "X has no columns"),
    (X_OK.astype(str), Y_OK, TypeError, "X must hold real numbers"),
    (X_OK + 1j, Y_OK, TypeError, "X is complex"),
    (X_OK, Y_OK.astype(complex), TypeError, "y is complex"),
    (np.array([[1.0, "a"], [2.0, 3.0]], dtype=object), [1.0, 2.0], TypeError, "real numbers"),
    ([[1.0, 2.0], [3.0]], [1.0, 2.0], ValueError, "rectangular"),
])
def test_bad_data(X, y, error, match):
    with pytest.raises(error, match=match):
        fastgd.fit(X, y)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (dict(batch_size=2.5), TypeError, "batch_size must be a positive integer"),
    (dict(batch_size=True), TypeError, "batch_size"),
    (dict(epochs=-3), ValueError, "epochs must be a positive integer"),
    (dict(epochs="10"), TypeError, "epochs"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (dict(tol=-1.0), ValueError, "tol must be a finite number >= 0"),
    (dict(tol=float("nan")), ValueError, "tol"),
    (dict(tol="small"), TypeError, "tol"),
    (dict(fit_intercept="yes"), TypeError, "fit_intercept must be True or False"),
    (dict(shuffle=1), TypeError, "shuffle"),
    (dict(drop_last=None), TypeError, "drop_last"),
    (dict(backend="cuda"), ValueError, "Unknown backend 'cuda'"),
    (dict(learning_rate="optimal"), ValueError, "Unknown learning_rate 'optimal'"),
    (dict(learning_rate=0.01), TypeError, r"Constant\(0.01\)"),
    (dict(random_state=-1), ValueError, "random_state"),
    (dict(random_state="seed"), TypeError, "random_state"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastgd.fit(X_OK, Y_OK, **kwargs)


@pytest.mark.parametrize("make, error", [
    (lambda: schedules.Constant(0), ValueError),
    (lambda: schedules.Constant(-0.1), ValueError),
    (lambda: schedules.Constant(float("inf")), ValueError),
    (lambda: schedules.Constant("0.1"), TypeError),
    (lambda: schedules.InverseTime(5, 0), ValueError),
    (lambda: schedules.InvScaling(0.1, power_t=0), ValueError),
    (lambda: schedules.Exponential(0.1, gamma=1.5), ValueError),
    (lambda: schedules.Adaptive(eta0=True), TypeError),
])
def test_bad_schedule_parameters(make, error):
    with pytest.raises(error):
        make()


def test_predict_checks_its_input():
    res = fastgd.fit(X_OK, Y_OK, epochs=3)
    with pytest.raises(ValueError, match="fitted with 3"):
        res.predict(X_OK[:, :2])
    with pytest.raises(ValueError, match="X contains nan"):
        res.predict(with_value(X_OK, (0, 0), np.nan))


def test_overflowing_magnitudes_are_refused():
    with pytest.raises(ValueError, match="too large"):
        fastgd.fit(np.full((4, 1), 1e305) * np.arange(1, 5)[:, None], np.arange(4.0))


def test_divergence_raises_instead_of_returning_nan(backend):
    X = rng.standard_normal((50, 2)) * 100
    y = X @ [1.0, 2.0]
    with pytest.raises(fastgd.DivergenceError, match=r"diverged in epoch \d+ of 50.*eta0"):
        fastgd.fit(X, y, epochs=50, learning_rate=schedules.Constant(1.0), backend=backend)
    assert issubclass(fastgd.DivergenceError, FloatingPointError)


def test_half_precision_becomes_float32_and_booleans_float64():
    X16 = X_OK.astype(np.float16)
    assert fastgd.fit(X16, Y_OK.astype(np.float16), epochs=2).coef.dtype == np.float32
    assert fastgd.fit(X_OK > 0, Y_OK, epochs=2).coef.dtype == np.float64


def test_finite_data_whose_sum_overflows_passes_the_finiteness_check():
    from fastgd._validation import check_finite

    check_finite(np.array([1e308, 1e308]), "X")  # the sum is inf, no entry is


def test_random_state_objects():
    a = fastgd.fit(X_OK, Y_OK, epochs=3, tol=None, random_state=np.random.RandomState(4))
    b = fastgd.fit(X_OK, Y_OK, epochs=3, tol=None, random_state=np.random.RandomState(4))
    np.testing.assert_array_equal(a.coef, b.coef)


def test_unknown_family_and_abstract_schedule():
    from fastgd.datasets import make_problem

    with pytest.raises(ValueError, match="Unknown family 'huge'"):
        make_problem("huge")
    with pytest.raises(NotImplementedError):
        schedules.Schedule().lower()
