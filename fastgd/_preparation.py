"""Problem preparation: standardisation, the ``"auto"`` step, seeds and schedule lowering.

Takes validated input and returns a :class:`Problem`: everything a backend's ``run`` needs, as
arrays and plain numbers, plus what the result must report.
"""

from dataclasses import dataclass

import numpy as np

from . import schedules
from ._stopping import check_interval

#: Rows used to estimate the curvature of the standardised problem.
CURVATURE_ROWS = 2048
#: Up to this many features the largest eigenvalue comes from an exact eigensolver.
EXACT_EIGEN_FEATURES = 64
#: Power-iteration steps for the largest eigenvalue of the standardised Gram matrix.
POWER_ITERATIONS = 30
#: Bytes of float64 work memory per chunk when a pass over X needs a temporary.
CHUNK_BYTES = 1 << 22
#: Largest column mean or spread accepted (float64 tops out near 1.8e308).
MAX_MAGNITUDE = 1e300
#: Smallest spread used: its reciprocal stays finite.
MIN_SCALE = 1e-300
#: A column's sum of squares below this may have underflowed: its spread is recomputed.
TINY_SUM_OF_SQUARES = 1e-280
#: A column whose spread is below this fraction of its magnitude is treated as constant.
CONSTANT_COLUMN_RTOL = 1e-10


@dataclass
class Problem:
    """A fit reduced to arrays and numbers, in the standardised space the backends work in."""

    X: np.ndarray
    y: np.ndarray
    x_offset: np.ndarray
    x_scale: np.ndarray
    y_offset: float
    y_scale: float
    fit_intercept: bool
    batch_size: int
    n_batches: int
    shuffle: bool
    seed: int
    epochs: int
    schedule: schedules.Schedule
    tol: float
    stop_early: bool
    n_iter_no_change: int
    check_every: int
    keep_best: bool
    standardised: bool

    def run(self, backend_run):
        """Run ``backend_run`` on this problem from zero coefficients.

        Returns
        -------
        coef : ndarray of shape (d,), float64
            Standardised coefficients.
        intercept : float
            Standardised intercept.
        loss_history : ndarray of shape (n_epochs,), float64
            Standardised epoch losses.
        n_epochs, n_updates, status : int
        """
        coef = np.zeros(self.X.shape[1])
        intercept = np.zeros(1)
        loss_history = np.full(self.epochs, np.nan)
        kind, eta0, p1, p2 = self.schedule.lower()
        n_epochs, n_updates, status = backend_run(
            self.X, self.y, self.x_offset, self.x_scale, self.y_offset, self.y_scale, coef,
            intercept, self.fit_intercept, self.batch_size, self.n_batches, self.shuffle,
            self.seed, self.epochs, kind, eta0, p1, p2, self.tol, self.stop_early,
            self.n_iter_no_change, self.check_every, self.keep_best, loss_history)
        return coef, intercept[0], loss_history[:n_epochs], n_epochs, n_updates, status

    def to_original_units(self, coef, intercept, loss_history):
        """Map standardised coefficients, intercept and losses back to the user's units."""
        if not self.standardised:
            return coef, intercept, loss_history
        coef_out = coef * self.y_scale / self.x_scale
        intercept_out = self.y_offset + self.y_scale * intercept - self.x_offset @ coef_out
        return coef_out, intercept_out, loss_history * self.y_scale**2


def column_offsets_scales(X, center):
    """Return the mean (or 0) and the spread about it of each column of X.

    Two passes in float64 over row chunks, so no full-size temporary is made; a column whose
    squares under- or overflow (values beyond about 1e-140 or 1e150) is redone scaled by its
    largest deviation, so spreads from 1e-300 to 1e300 come out right. Constant columns
    get scale ``inf``: their standardised values and weights are then exactly 0, where a finite
    scale would let the rounding error of the centering into their gradient.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    center : bool
        Whether the offset is the column mean (True) or 0 (the spread is then the RMS).

    Returns
    -------
    offset, scale : ndarray of shape (d,), float64
    """
    n, d = X.shape
    rows = max(1, CHUNK_BYTES // (8 * d))
    ones = np.ones(min(rows, n))
    offset = np.zeros(d)
    if center:  # column sums as a matrix-vector product: BLAS, far faster than sum(axis=0)
        for start in range(0, n, rows):
            chunk = X[start:start + rows].astype(np.float64, copy=False)
            offset += ones[:len(chunk)] @ chunk
        offset /= n
    sum_sq = np.zeros(d)
    with np.errstate(over="ignore", under="ignore"):  # extreme columns are redone just below
        for start in range(0, n, rows):
            chunk = X[start:start + rows] - offset
            chunk *= chunk
            sum_sq += ones[:len(chunk)] @ chunk
    scale = np.sqrt(sum_sq / n)
    extreme = ~(sum_sq > TINY_SUM_OF_SQUARES) | ~np.isfinite(sum_sq)
    for j in np.flatnonzero(extreme):  # squares under- or overflowed: scale by the peak first
        deviation = X[:, j] - offset[j]
        peak = np.max(np.abs(deviation))
        scale[j] = peak * np.sqrt(np.mean(np.square(deviation / peak))) if peak > 0 else 0.0
    if not np.all((scale < MAX_MAGNITUDE) & (np.abs(offset) < MAX_MAGNITUDE)):
        raise ValueError(
            f"The data are too large for float64 arithmetic (beyond {MAX_MAGNITUDE:.0e}): divide "
            "X or y by a power of ten and scale the fitted coefficients back."
        )
    constant = scale <= CONSTANT_COLUMN_RTOL * (np.abs(offset) + scale)
    np.maximum(scale, MIN_SCALE, out=scale)  # a subnormal spread would overflow 1 / scale
    scale[constant] = np.inf
    return offset, scale


def largest_stable_step(X, x_offset, x_scale, fit_intercept, batch_size):
    """The step ``B / (beta + (B - 1) * lambda_max)`` of the standardised problem.

    For least squares this is the mini-batch step of fastest contraction (Ma, Bassily & Belkin,
    2018, "The power of interpolation"), with ``beta`` the mean squared row norm (they use the
    largest; the mean keeps one outlying row from shrinking every step) and ``lambda_max`` the
    largest eigenvalue of the Gram matrix divided by n, both of the standardised rows (the
    intercept adds a column of ones). ``lambda_max`` is computed on up to ``CURVATURE_ROWS`` evenly
    spaced rows: exactly for up to ``EXACT_EIGEN_FEATURES`` features, by power iteration above.

    Returns
    -------
    float
    """
    n, d = X.shape
    rows = slice(None) if n <= CURVATURE_ROWS else np.linspace(0, n - 1, CURVATURE_ROWS).astype(
        np.intp)
    Z = (X[rows] - x_offset) / x_scale
    m = Z.shape[0]
    beta = float(np.square(Z).sum()) / m + fit_intercept
    if d <= EXACT_EIGEN_FEATURES:
        lam = float(np.linalg.eigvalsh(Z.T @ Z / m)[-1])
    else:
        v = np.random.default_rng(0).standard_normal(d)
        lam = 0.0
        for _ in range(POWER_ITERATIONS):
            u = Z.T @ (Z @ v) / m
            lam = float(np.sqrt(u @ u))
            if lam == 0.0:
                break
            v = u / lam
    lam = max(lam, 1.0 if fit_intercept else 0.0)
    denominator = beta + (batch_size - 1) * lam
    return batch_size / denominator if denominator > 0 else 1.0


def prepare(X, y, *, learning_rate, fit_intercept, batch_size, drop_last, shuffle, seed,
            epochs, tol, n_iter_no_change):
    """Build the :class:`Problem` for validated input.

    With ``learning_rate="auto"`` the columns of X and y are standardised on the fly and the
    schedule is ``Adaptive`` from the largest contracting step of the standardised problem for
    this batch size; any other schedule runs on the raw data.
    """
    n, d = X.shape
    batch_size = min(batch_size, n)
    n_batches = n // batch_size if drop_last else -(-n // batch_size)
    auto = isinstance(learning_rate, str)
    if auto:
        x_offset, x_scale = column_offsets_scales(X, fit_intercept)
        y_offset, y_scale = column_offsets_scales(y[:, None], fit_intercept)
        y_offset = float(y_offset[0])
        y_scale = float(y_scale[0]) if np.isfinite(y_scale[0]) else 1.0  # constant y
        if fit_intercept and y[0] == y.min() == y.max():
            y_offset = float(y[0])  # exactly, so that no rounding of a mean is left to fit
        learning_rate = schedules.Adaptive(
            largest_stable_step(X, x_offset, x_scale, fit_intercept, batch_size))
    else:
        x_offset, x_scale = np.zeros(d), np.ones(d)
        y_offset, y_scale = 0.0, 1.0
    return Problem(
        X=X, y=y, x_offset=x_offset, x_scale=x_scale, y_offset=y_offset, y_scale=y_scale,
        fit_intercept=fit_intercept, batch_size=batch_size, n_batches=n_batches,
        shuffle=shuffle, seed=seed, epochs=epochs, schedule=learning_rate,
        tol=0.0 if tol is None else tol, stop_early=tol is not None,
        n_iter_no_change=n_iter_no_change,
        check_every=check_interval(learning_rate.kind, d, n_batches), keep_best=auto,
        standardised=auto)
