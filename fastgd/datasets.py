"""Seeded regression problems: the lecture's examples and the families the tests and benchmarks use.

Every function returns ``(X, y, coef, intercept)``: the data and the true parameters they were
made from (y = X @ coef + intercept + noise).
"""

from typing import Callable, NamedTuple

import numpy as np

__all__ = ["lecture_problem", "make_problem", "FAMILIES", "make_messy_problem", "MESSY_FAMILIES",
           "make_outlier_problem", "make_sparse_problem", "SPARSE_FAMILIES"]


def lecture_problem(n_features=1, random_state=None, n_samples=100):
    """The lecture's problem: ``y = X @ w + b + N(0, 1)`` with ``X ~ U(0, 2)``.

    The true coefficients and intercept are integers drawn from 1 to 10, as in the lecture,
    which shows it with one feature and with three.

    Parameters
    ----------
    n_features : int, default 1
    random_state : None, int or numpy.random.Generator
    n_samples : int, default 100

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_features,)
    intercept : float
    """
    rng = np.random.default_rng(random_state)
    w = rng.integers(1, 11, size=n_features).astype(float)
    b = float(rng.integers(1, 11))
    X = 2 * rng.random((n_samples, n_features))
    y = X @ w + b + rng.standard_normal(n_samples)
    return X, y, w, b


def _gaussian(rng, n, d, noise=0.5, intercept=1.5, cov_root=None, col_scale=None,
              col_offset=None):
    X = rng.standard_normal((n, d))
    if cov_root is not None:
        X = X @ cov_root
    w = rng.uniform(-2, 2, size=d)
    y = X @ w + intercept + noise * rng.standard_normal(n)
    if col_scale is not None:
        X = X * col_scale
        w = w / col_scale
    if col_offset is not None:
        X = X + col_offset
        y = y + col_offset @ w
    return X, y, w, intercept


def _correlated_root(d, rho):
    """Cholesky factor (upper) of the AR(1) correlation matrix ``rho ** |i - j|``."""
    idx = np.arange(d)
    return np.linalg.cholesky(rho ** np.abs(idx[:, None] - idx[None, :])).T


class Family(NamedTuple):
    """A problem family: its maker, whether its model has an intercept, its conditioning."""

    make: Callable
    fit_intercept: bool
    well_conditioned: bool


#: Problem families by name.
FAMILIES = {
    "one_feature": Family(lambda rng: lecture_problem(1, rng), True, True),
    "several": Family(lambda rng: _gaussian(rng, 1000, 5), True, True),
    "tall": Family(lambda rng: _gaussian(rng, 20_000, 8), True, True),
    "wide": Family(lambda rng: _gaussian(rng, 2000, 200), True, True),
    "badly_scaled": Family(
        lambda rng: _gaussian(rng, 1000, 6, col_scale=np.logspace(-2, 3, 6),
                              col_offset=np.logspace(3, -2, 6)),
        True, True),
    "large_intercept": Family(lambda rng: _gaussian(rng, 1000, 4, intercept=1e4), True, True),
    "correlated": Family(
        lambda rng: _gaussian(rng, 1000, 8, cov_root=_correlated_root(8, 0.9)), True, False),
    "no_intercept": Family(
        lambda rng: _gaussian(rng, 1000, 5, intercept=0.0, col_offset=np.full(5, 3.0)),
        False, True),
}


def make_problem(family, random_state=0):
    """Make one problem of a named family.

    Parameters
    ----------
    family : str
        A key of :data:`FAMILIES`: ``"one_feature"`` (the lecture's, 100 x 1), ``"several"``
        (1000 x 5), ``"tall"`` (20000 x 8), ``"wide"`` (2000 x 200), ``"badly_scaled"`` (column
        scales 1e-2 to 1e3 and offsets 1e3 to 1e-2), ``"large_intercept"`` (intercept 1e4),
        ``"correlated"`` (AR(1) columns, rho 0.9), ``"no_intercept"`` (true intercept 0,
        column means 3).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    coef : ndarray of shape (d,)
    intercept : float
    """
    try:
        maker = FAMILIES[family].make
    except KeyError:
        raise ValueError(f"Unknown family {family!r}: use one of {', '.join(FAMILIES)}.") from None
    return maker(np.random.default_rng(random_state))


def _rare_indicators(rng, n=3000):
    """Gaussian columns beside 0/1 columns that are 1 in 1% and 0.3% of the rows."""
    X = np.column_stack([rng.standard_normal((n, 3)), rng.random(n) < 0.01,
                         rng.random(n) < 0.003]).astype(float)
    y = X @ np.array([1.0, 2.0, 3.0, 4.0, -5.0]) + 1.0 + rng.standard_normal(n)
    return X, y, None


def _one_hot(rng, n=5000, levels=60):
    """Two numeric columns and one-hot blocks of two categories, one with Zipf-like level
    frequencies (a few levels seen a handful of times)."""
    frequencies = 1.0 / np.arange(1, levels + 1) ** 1.2
    first = rng.choice(levels, size=n, p=frequencies / frequencies.sum())
    second = rng.integers(0, 5, size=n)
    X = np.column_stack([rng.standard_normal((n, 2)) * [1.0, 30.0],
                         np.eye(levels)[first], np.eye(5)[second]])
    w = np.concatenate([[1.0, 0.1], rng.normal(0, 2, levels), rng.normal(0, 1, 5)])
    return X, X @ w + 3.0 + rng.standard_normal(n), None


def _weight_mask(rng, n=4000, d=40):
    """Weights of 0 and 1 that keep a quarter of the rows (zeros drop rows)."""
    X, y, _, _ = _gaussian(rng, n, d)
    return X, y, (rng.random(n) < 0.25).astype(float)


def _heavy_weights(rng, n=4000, d=10):
    """Log-normal sample weights spanning several orders of magnitude."""
    X, y, _, _ = _gaussian(rng, n, d)
    return X, y, rng.lognormal(0.0, 2.0, n)


def _heavy_rows(rng, n=5000, d=10):
    """Student-t (2.5 degrees of freedom) features: a few rows far out in every column."""
    X = rng.standard_t(2.5, size=(n, d))
    y = X @ rng.uniform(-2, 2, d) + 1.0 + rng.standard_normal(n)
    return X, y, None


def _outlying_rows(rng, n=5000, d=8):
    """Gaussian rows, 20 of them 100 times as far out (high-leverage rows on the same model)."""
    X, y, w, b = _gaussian(rng, n, d)
    far = rng.choice(n, 20, replace=False)
    X[far] *= 100.0
    return X, X @ w + b + 0.5 * rng.standard_normal(n), None


#: Problems shaped like the data users have, by name: ``make(rng) -> (X, y, sample_weight)``.
MESSY_FAMILIES = {
    "rare_indicators": _rare_indicators,
    "one_hot": _one_hot,
    "weight_mask": _weight_mask,
    "heavy_weights": _heavy_weights,
    "heavy_rows": _heavy_rows,
    "outlying_rows": _outlying_rows,
}


def make_messy_problem(family, random_state=0):
    """Make one problem of a named messy family (:data:`MESSY_FAMILIES`).

    Parameters
    ----------
    family : str
        ``"rare_indicators"``, ``"one_hot"``, ``"weight_mask"``, ``"heavy_weights"``,
        ``"heavy_rows"`` or ``"outlying_rows"``.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    sample_weight : ndarray of shape (n,) or None
    """
    try:
        maker = MESSY_FAMILIES[family]
    except KeyError:
        raise ValueError(f"Unknown family {family!r}: use one of "
                         f"{', '.join(MESSY_FAMILIES)}.") from None
    return maker(np.random.default_rng(random_state))


def make_outlier_problem(random_state=0, n_samples=5000, n_features=8, share=0.05,
                         size=1000.0):
    """Gaussian rows whose targets are, in a ``share`` of the rows, ``size`` off the model
    (gross errors in y: what the robust losses are for).

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
    n_samples, n_features : int
    share : float
        Share of the rows with an outlying target, each ``+size`` or ``-size`` at random.
    size : float

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    outlying : ndarray of bool, shape (n_samples,)
        The rows whose target was moved.
    coef : ndarray of shape (n_features,)
    intercept : float
    """
    rng = np.random.default_rng(random_state)
    X, y, coef, intercept = _gaussian(rng, n_samples, n_features)
    outlying = rng.random(n_samples) < share
    y[outlying] += rng.choice([-size, size], int(outlying.sum()))
    return X, y, outlying, coef, intercept


def _csr(rows, cols, values, shape):
    """A ``scipy.sparse.csr_matrix`` from coordinates (duplicates summed)."""
    import scipy.sparse as sp

    return sp.csr_matrix((values, (rows, cols)), shape=shape)


def _random_sparse(rng, n, d, density, counts=False):
    """``n x d`` with about ``density * d`` entries a row in uniformly random columns: standard
    normal values, or with ``counts`` word counts (1 + Poisson) in Zipf-distributed columns
    (bag-of-words: a few frequent columns, many rare ones)."""
    per_row = max(1, int(round(density * d)))
    rows = np.repeat(np.arange(n), per_row)
    if counts:
        cols = np.minimum(rng.zipf(1.3, n * per_row) - 1, d - 1)
        values = 1.0 + rng.poisson(0.5, n * per_row)
    else:
        cols = rng.integers(0, d, n * per_row)
        values = rng.standard_normal(n * per_row)
    return _csr(rows, cols, values, (n, d))


def _one_hot_blocks(rng, n, levels):
    """Several categorical columns one-hot encoded side by side, each with ``levels[i]`` levels
    of Zipf-like frequencies (many rare levels)."""
    blocks, offset = [], 0
    for m in levels:
        p = 1.0 / np.arange(1, m + 1)
        blocks.append(offset + rng.choice(m, size=n, p=p / p.sum()))
        offset += m
    cols = np.concatenate(blocks)
    rows = np.tile(np.arange(n), len(levels))
    return _csr(rows, cols, np.ones(len(cols)), (n, offset))


class _SparseFamily(NamedTuple):
    make: Callable
    noise: float


#: Sparse designs (``scipy.sparse`` CSR): ``make(rng, scale)`` returns X for a size multiplier.
SPARSE_FAMILIES = {
    "random": _SparseFamily(lambda rng, m: _random_sparse(rng, int(20000 * m), 2000, 0.005), 0.5),
    "bag_of_words": _SparseFamily(
        lambda rng, m: _random_sparse(rng, int(20000 * m), 5000, 0.004, counts=True), 0.5),
    "one_hot": _SparseFamily(lambda rng, m: _one_hot_blocks(rng, int(20000 * m), [2000, 300, 12]),
                             0.3),
    "wide": _SparseFamily(lambda rng, m: _random_sparse(rng, int(20000 * m), 100_000, 0.0002), 0.5),
}


def make_sparse_problem(family, random_state=0, size=1):
    """A sparse regression problem of ``SPARSE_FAMILIES``: ``X`` a ``scipy.sparse`` CSR matrix
    (needs SciPy), y from standard normal coefficients, intercept 2 and Gaussian noise.

    Parameters
    ----------
    family : str
        ``"random"`` (20,000 x 2,000, 0.5% density), ``"bag_of_words"`` (20,000 x 5,000, counts
        in Zipf-distributed columns), ``"one_hot"`` (three categorical columns of 2,000, 300
        and 12 levels of Zipf-like frequencies) or ``"wide"`` (20,000 x 100,000, 20 entries a
        row).
    random_state : int
    size : float, default 1
        Multiplies the number of rows.

    Returns
    -------
    X, y, coef, intercept
    """
    rng = np.random.default_rng(random_state)
    make, noise = SPARSE_FAMILIES[family]
    X = make(rng, size)
    coef = rng.standard_normal(X.shape[1])
    y = X @ coef + 2.0 + noise * rng.standard_normal(X.shape[0])
    return X, y, coef, 2.0
