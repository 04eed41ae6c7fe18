"""What both backends compute: the reference loop, batches, the step counter, randomness."""

import numpy as np
import pytest

import fastgd
from fastgd import schedules
from fastgd.datasets import make_problem
from helpers import reference_mbgd

SCHEDULES = [
    schedules.Constant(0.05),
    schedules.InverseTime(2.0, 40.0),
    schedules.InvScaling(0.1, 0.5),
    schedules.Exponential(0.1, 0.8),
    schedules.Adaptive(0.05),
]


def small_problem(n=23, d=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.uniform(-2, 2, d) + 0.7 + 0.3 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("drop_last", [False, True])
def test_matches_reference_loop(schedule, drop_last, backend):
    """Batch means, the remainder batch, t carried across epochs: as docs/design.md states."""
    X, y = small_problem()
    coef, intercept, t = reference_mbgd(X, y, 5, 6, schedule, drop_last=drop_last)
    res = fastgd.fit(X, y, batch_size=5, epochs=6, learning_rate=schedule, shuffle=False,
                     drop_last=drop_last, tol=None, backend=backend)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-10)
    assert res.intercept == pytest.approx(intercept, rel=1e-10)
    assert res.n_updates == t == 6 * (4 if drop_last else 5)


def test_reference_loop_without_intercept(backend):
    X, y = small_problem(seed=1)
    schedule = schedules.Constant(0.05)
    coef, _, _ = reference_mbgd(X, y, 4, 3, schedule, fit_intercept=False)
    res = fastgd.fit(X, y, batch_size=4, epochs=3, learning_rate=schedule, shuffle=False,
                     fit_intercept=False, tol=None, backend=backend)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-10)
    assert res.intercept == 0.0


@pytest.mark.parametrize("learning_rate", ["auto", "adaptive", "invscaling", "exponential",
                                           schedules.InverseTime(5.0, 500.0)])
@pytest.mark.parametrize("family", ["several", "badly_scaled", "wide"])
def test_backends_agree_without_shuffle(learning_rate, family):
    X, y, _, _ = make_problem(family, random_state=0)
    if learning_rate != "auto":
        X = X / np.abs(X).max(axis=0)  # raw-data schedules need tame columns
    kwargs = dict(epochs=40, learning_rate=learning_rate, shuffle=False)
    a = fastgd.fit(X, y, backend="numba", **kwargs)
    b = fastgd.fit(X, y, backend="numpy", **kwargs)
    assert a.n_epochs == b.n_epochs and a.n_updates == b.n_updates
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-9 * np.abs(b.coef).max())
    assert a.intercept == pytest.approx(b.intercept, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)


def model_options(n, seed=0):
    """One fit option of each kind, with the data it needs."""
    rng = np.random.default_rng(seed)
    return {
        "l2": dict(penalty="l2", alpha=0.1),
        "l1": dict(penalty="l1", alpha=0.05),
        "elasticnet": dict(penalty="elasticnet", alpha=0.05, l1_ratio=0.5),
        "sample_weight": dict(sample_weight=rng.exponential(size=n) * (rng.random(n) > 0.2)),
        "average": dict(average=7),
        "early_stopping": dict(early_stopping=True, random_state=3),
        "warm_start": dict(coef_init=rng.standard_normal(5), intercept_init=0.5),
        "all": dict(penalty="elasticnet", alpha=0.01, sample_weight=rng.random(n), average=True,
                    early_stopping=True, random_state=4),
    }


@pytest.mark.parametrize("learning_rate", ["auto", schedules.Constant(0.01)])
@pytest.mark.parametrize("option", list(model_options(1)))
@pytest.mark.parametrize("targets", [1, 2])
def test_backends_agree_on_every_model_option(learning_rate, option, targets):
    X, y, _, _ = make_problem("several", random_state=0)
    if targets == 2:
        noise = np.random.default_rng(1).standard_normal(len(y))
        y = np.column_stack([y, X @ np.arange(5.0) - 2.0 + noise])
    kwargs = model_options(len(y))[option]
    if targets == 2 and "coef_init" in kwargs:
        kwargs.update(coef_init=np.tile(kwargs["coef_init"], (2, 1)), intercept_init=[0.5, 1.0])
    kwargs.update(epochs=15, learning_rate=learning_rate, shuffle=False)
    a = fastgd.fit(X, y, backend="numba", **kwargs)
    b = fastgd.fit(X, y, backend="numpy", **kwargs)
    assert a.n_epochs == b.n_epochs and a.n_updates == b.n_updates
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-9 * np.abs(b.coef).max())
    np.testing.assert_allclose(a.intercept, b.intercept, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)
    if "early_stopping" in kwargs:
        np.testing.assert_allclose(a.validation_loss_history, b.validation_loss_history,
                                   rtol=1e-9)


def test_remainder_batch_is_learned_from(backend):
    X, y = small_problem(n=10, d=2, seed=2)
    y_changed = y.copy()
    y_changed[-2:] += 5.0  # the last, short batch of 2 rows (batch_size 4)
    common = dict(batch_size=4, epochs=5, shuffle=False, tol=None, backend=backend,
                  learning_rate=schedules.Constant(0.05))
    kept = fastgd.fit(X, y, **common)
    assert kept.n_updates == 5 * 3
    assert not np.allclose(kept.coef, fastgd.fit(X, y_changed, **common).coef)
    dropped = fastgd.fit(X, y, drop_last=True, **common)
    assert dropped.n_updates == 5 * 2
    np.testing.assert_array_equal(dropped.coef, fastgd.fit(X, y_changed, drop_last=True,
                                                           **common).coef)


def test_same_seed_is_bit_identical_and_seeds_differ(backend):
    X, y, _, _ = make_problem("several", random_state=0)
    first = fastgd.fit(X, y, epochs=20, tol=None, random_state=11, backend=backend)
    again = fastgd.fit(X, y, epochs=20, tol=None, random_state=11, backend=backend)
    other = fastgd.fit(X, y, epochs=20, tol=None, random_state=12, backend=backend)
    np.testing.assert_array_equal(first.coef, again.coef)
    np.testing.assert_array_equal(first.loss_history, again.loss_history)
    assert not np.array_equal(first.coef, other.coef)
    gen_a = fastgd.fit(X, y, epochs=5, random_state=np.random.default_rng(3), backend=backend)
    gen_b = fastgd.fit(X, y, epochs=5, random_state=np.random.default_rng(3), backend=backend)
    np.testing.assert_array_equal(gen_a.coef, gen_b.coef)
    unseeded = [fastgd.fit(X, y, epochs=5, tol=None, backend=backend).coef for _ in range(2)]
    assert not np.array_equal(*unseeded)


def test_shuffle_changes_the_order(backend):
    X, y, _, _ = make_problem("several", random_state=0)
    ordered = fastgd.fit(X, y, epochs=3, tol=None, shuffle=False, backend=backend)
    shuffled = fastgd.fit(X, y, epochs=3, tol=None, random_state=0, backend=backend)
    assert not np.array_equal(ordered.coef, shuffled.coef)


def test_shuffle_kernel_draws_uniform_permutations():
    from fastgd._kernels.random import shuffle as _shuffle

    n, draws = 6, 60_000
    counts = np.zeros((n, n))
    index = np.arange(n)
    state = np.array([2024], dtype=np.uint64)
    for _ in range(draws):
        _shuffle(index, state)
        counts[np.arange(n), index] += 1
    np.testing.assert_array_equal(np.sort(index), np.arange(n))
    expected = draws / n  # each value lands in each position equally often
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)


@pytest.mark.parametrize("layout", ["fortran", "strided", "readonly", "list", "int"])
def test_memory_layouts_and_types_give_the_same_result(layout, backend):
    X, y = small_problem(n=60, d=4, seed=3)
    if layout == "int":
        X, y = np.round(X * 10), np.round(y * 10)
    base = fastgd.fit(X, y, epochs=8, random_state=5, backend=backend)
    if layout == "fortran":
        X2 = np.asfortranarray(X)
    elif layout == "strided":
        X2 = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "readonly":
        X2 = X.copy()
        X2.setflags(write=False)
    elif layout == "list":
        X2 = X.tolist()
    else:
        X2 = X.astype(np.int64)
    other = fastgd.fit(X2, y, epochs=8, random_state=5, backend=backend)
    np.testing.assert_array_equal(base.coef, other.coef)
    assert other.coef.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_user_arrays_are_never_written(dtype, backend):
    X, y = small_problem(n=40, d=3, seed=4, dtype=dtype)
    X = np.asfortranarray(X)
    X_before, y_before = X.copy(), y.copy()
    fastgd.fit(X, y, batch_size=7, epochs=5, random_state=0, backend=backend)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert X.flags.f_contiguous


def test_batch_size_above_n_runs_full_batches(backend):
    X, y = small_problem(n=12, d=2, seed=5)
    res = fastgd.fit(X, y, batch_size=100, epochs=4, tol=None, backend=backend)
    assert res.batch_size == 12
    assert res.n_updates == 4


def test_predict(backend):
    X, y = small_problem(n=50, d=3, seed=6)
    res = fastgd.fit(X, y, epochs=30, random_state=0, backend=backend)
    np.testing.assert_allclose(res.predict(X), X @ res.coef + res.intercept)
    assert res.predict(X[:1].tolist()).shape == (1,)


def test_prefetching_shuffle_draws_the_same_permutation_as_the_plain_one():
    from fastgd._kernels.random import PREFETCH_MIN_ROWS, shuffle as _shuffle

    n = PREFETCH_MIN_ROWS + 5
    fast = np.arange(n, dtype=np.int32)
    _shuffle(fast, np.array([77], dtype=np.uint64))
    plain = np.arange(n, dtype=np.int32)
    state = np.array([77], dtype=np.uint64)
    from fastgd._kernels.random import uniform_below as _uniform_below

    for i in range(n - 1, 0, -1):  # Fisher-Yates as in the small-n branch, one draw per swap
        j = _uniform_below(state, i + 1)
        plain[i], plain[j] = plain[j], plain[i]
    np.testing.assert_array_equal(fast, plain)


def test_backends_agree_on_the_histories_of_a_default_fit():
    """The adaptive step of "auto" drops at the same epochs on both backends."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1234, 7)) * rng.uniform(0.1, 10, 7)
    y = X @ rng.standard_normal(7) + rng.standard_normal(1234)
    kwargs = dict(batch_size=50, epochs=15, shuffle=False, tol=None)
    a = fastgd.fit(X, y, backend="numba", **kwargs)
    b = fastgd.fit(X, y, backend="numpy", **kwargs)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.loss_history, b.loss_history, rtol=1e-9)
