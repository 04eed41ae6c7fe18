"""Shared test helpers: exact answers (least squares, and the minimisers of the other losses)
and a slow, obvious MBGD reference."""

import numpy as np
from numba import config

#: With NUMBA_DISABLE_JIT=1 the kernels run as plain Python (for a debugger or line coverage),
#: about a thousand times slower: the tests that would take minutes then use smaller problems.
REDUCED = bool(config.DISABLE_JIT)

from fastgd.schedules import step_size


def lstsq_fit(X, y, fit_intercept=True):
    """Coefficients and intercept from ``np.linalg.lstsq`` (the minimum-norm solution)."""
    A = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    solution = np.linalg.lstsq(A.astype(np.float64), y.astype(np.float64), rcond=None)[0]
    return solution[:X.shape[1]], (solution[-1] if fit_intercept else 0.0)


def mse(X, y, coef, intercept):
    residual = X.astype(np.float64) @ coef + intercept - y
    return float(residual @ residual) / len(y)


def excess_mse(X, y, result, fit_intercept=True):
    """Relative excess training MSE of ``result`` over the least-squares optimum."""
    best = mse(X, y, *lstsq_fit(X, y, fit_intercept))
    return (mse(X, y, result.coef, result.intercept) - best) / best


def lsqr_mse(X, y):
    """The least-squares MSE with an intercept of a ``scipy.sparse`` X, from scipy's lsqr."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import lsqr

    A = sp.hstack([X, np.ones((X.shape[0], 1))], format="csr")
    solution = lsqr(A, y, atol=1e-12, btol=1e-12, iter_lim=20000)[0]
    return float(np.mean((A @ solution - y) ** 2))


def weighted_excess_mse(X, y, weights, result):
    """Relative excess weighted MSE of ``result`` over weighted least squares."""
    weights = np.ones(len(y)) if weights is None else weights
    A = np.column_stack([X, np.ones(len(X))]) * np.sqrt(weights)[:, None]
    solution = np.linalg.lstsq(A, y * np.sqrt(weights), rcond=None)[0]
    best = weights @ (np.column_stack([X, np.ones(len(X))]) @ solution - y) ** 2
    return weights @ (result.predict(X) - y) ** 2 / best - 1.0


def loss_objective(X, y, weights, coef, intercept, loss, epsilon=0.1, quantile=0.5):
    """The mean loss ``sum(s L(r)) / sum(s)`` of the model, written out from the losses'
    definitions (scikit-learn's)."""
    s = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    r = X.astype(np.float64) @ coef + intercept - y
    a = np.abs(r)
    values = {
        "squared_error": lambda: 0.5 * r * r,
        "huber": lambda: np.where(a <= epsilon, 0.5 * r * r, epsilon * (a - 0.5 * epsilon)),
        "epsilon_insensitive": lambda: np.maximum(a - epsilon, 0.0),
        "squared_epsilon_insensitive": lambda: np.maximum(a - epsilon, 0.0) ** 2,
        "quantile": lambda: np.where(r > 0, (1 - quantile) * r, -quantile * r),
    }[loss]()
    return float(s @ values / s.sum())


def exact_loss_fit(X, y, weights, loss, epsilon=0.1, quantile=0.5, alpha=0.0):
    """The exact minimiser ``(coef, intercept)`` of the mean loss (plus ``alpha * |w|_1`` for
    the quantile loss): scikit-learn's ``QuantileRegressor`` (linear programming) for quantile,
    a linear program (HiGHS) for epsilon-insensitive, and a tight L-BFGS solve on standardised
    columns for the smooth losses."""
    from scipy.optimize import linprog, minimize
    import scipy.sparse as sp

    n, d = X.shape
    s = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    s = s / s.mean()
    if loss == "quantile":
        from sklearn.linear_model import QuantileRegressor

        model = QuantileRegressor(quantile=quantile, alpha=alpha, solver="highs")
        model.fit(X, y, sample_weight=s)
        return model.coef_, model.intercept_
    A = np.column_stack([X, np.ones(n)])
    if loss == "epsilon_insensitive":  # min sum s xi, xi >= |A beta - y| - epsilon, xi >= 0
        eye = sp.eye(n)
        bound = sp.vstack([sp.hstack([sp.csr_matrix(A), -eye]),
                           sp.hstack([-sp.csr_matrix(A), -eye])]).tocsc()
        solution = linprog(np.concatenate([np.zeros(d + 1), s]), A_ub=bound,
                           b_ub=np.concatenate([y + epsilon, epsilon - y]),
                           bounds=[(None, None)] * (d + 1) + [(0, None)] * n, method="highs")
        assert solution.status == 0, solution.message
        return solution.x[:d], solution.x[d]
    scale = np.append(np.maximum(X.std(axis=0), 1e-300), 1.0)
    As = A / scale

    def value_and_gradient(beta):
        r = As @ beta - y
        a = np.abs(r)
        if loss == "huber":
            value, slope = np.where(a <= epsilon, 0.5 * r * r, epsilon * (a - 0.5 * epsilon)), \
                np.clip(r, -epsilon, epsilon)
        else:
            excess = np.maximum(a - epsilon, 0.0)
            value, slope = excess**2, 2.0 * np.sign(r) * excess
        return s @ value / n, As.T @ (s * slope) / n

    start = np.linalg.lstsq(As * np.sqrt(s)[:, None], y * np.sqrt(s), rcond=None)[0]
    solution = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B",
                        options=dict(maxiter=100_000, maxcor=50, ftol=1e-16, gtol=1e-13))
    beta = solution.x / scale
    return beta[:d], beta[d]


def reference_mbgd(X, y, batch_size, epochs, schedule, fit_intercept=True, drop_last=False):
    """Mini-batch gradient descent on raw data, in order (no shuffle), one row at a time.

    Written from docs/design.md with nothing shared with fastgd but the schedule formula: the
    gradient of a batch is the mean over its rows, the last short batch is used unless
    ``drop_last``, ``t`` counts updates from 0 across epochs.
    """
    kind, eta0, p1, p2 = schedule.lower()
    n, d = X.shape
    coef, intercept, t = [0.0] * d, 0.0, 0
    for epoch in range(epochs):
        for start in range(0, n, batch_size):
            rows = range(start, min(start + batch_size, n))
            if drop_last and len(rows) < batch_size:
                continue
            grad, grad_b = [0.0] * d, 0.0
            for i in rows:
                r = sum(float(X[i, j]) * coef[j] for j in range(d)) + intercept - float(y[i])
                for j in range(d):
                    grad[j] += r * float(X[i, j]) / len(rows)
                grad_b += r / len(rows)
            eta = step_size(kind, eta0, p1, p2, t, epoch)
            coef = [coef[j] - eta * grad[j] for j in range(d)]
            if fit_intercept:
                intercept -= eta * grad_b
            t += 1
    return np.array(coef), intercept, t


def default_sigint():
    """For ``Popen(preexec_fn=...)``: Ctrl-C handled as usual in the child, even when the tests
    run with SIGINT ignored (a shell's background job), which the child would inherit."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_and_wait(process, timeout=60):
    """Send SIGINT to ``process`` and return its ``communicate()``; a process that outlives
    ``timeout`` (a fit that missed the signal runs on) is killed and reaped before the
    TimeoutExpired goes up."""
    import signal

    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
