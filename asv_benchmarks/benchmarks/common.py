"""Shared pieces of the fastgd benchmarks: seeded data, JIT warm-up, the lstsq reference."""

import numpy as np

import fastgd

#: Epochs per timed fit: enough that per-epoch work dominates the fixed costs.
EPOCHS = 3


def make_regression(n_samples, n_features, dtype="float64", seed=0):
    """Gaussian features, a random linear model, unit noise; fixed seed."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = X @ rng.uniform(-2, 2, n_features) + 1.5 + rng.standard_normal(n_samples)
    return X.astype(dtype), y.astype(dtype)


def warm_up(backend="numba", dtype="float64"):
    """Compile (or load from cache) the kernels for ``dtype`` on a tiny problem."""
    X, y = make_regression(64, 3, dtype)
    fastgd.fit(X, y, epochs=2, backend=backend, random_state=0)


def relative_excess_mse(X, y, result, fit_intercept=True):
    """Training MSE of ``result`` above that of np.linalg.lstsq, relative to it."""
    A = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    A = A.astype(np.float64)
    solution = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]
    best = np.mean((A @ solution - y) ** 2)
    return float(np.mean((result.predict(X) - y) ** 2) / best - 1.0)


class Benchmark:
    """Base of the benchmark classes: a generous timeout for the first (compiling) calls."""

    timeout = 300
