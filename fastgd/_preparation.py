"""Problem preparation: standardisation, the ``"auto"`` step, seeds and schedule lowering.

Takes validated input and returns a :class:`Problem`: everything a backend's ``run`` needs, as
arrays and plain numbers, plus what the result must report.
"""

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from . import schedules
from ._curvature import curvature, importance_sampling, sp_diags
from ._engine.groups import (Checks, Model, Penalty, Plan, Rows, Setup, Standardisation, Steps,
                             batches, csr_of, index_for, new_histories, no_rows,
                             read_only)
from ._engine.loss_functions import (LOSSES, SQUARED_EPSILON_INSENSITIVE, SQUARED_ERROR,
                                     bounded_slopes, loss_group, step_factor, unit_power)
from ._engine.stopping import check_interval

#: ``"auto"`` averages its iterates (``Checks.average_phases``) for stopping tolerances from
#: this one up (and for a fixed number of epochs): averaging reaches moderate precision in
#: far fewer epochs, while the plain iterates of ever smaller steps reach a tight tolerance
#: sooner (an average lags behind them).
AVERAGING_MIN_TOL = 1e-4
#: The doubling rule of the stopping rule (``Checks.doubling_stop``) needs this many
#: coefficients: an average's excess over least squares fluctuates like a chi-square with as
#: many degrees of freedom (relative spread ``sqrt(2 / (k d))``: 0.2 here, 0.63 at 5), and a
#: gain measured between two noisier averages says little of the excess left. Smaller fits
#: stop by stalls alone; their checks are cheap.
DOUBLING_MIN_COEFFICIENTS = 50
#: Rows of a memory-mapped X kept in the streamed fit's problem (the blocks are streamed).
HEAD_ROWS = 2048
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
#: Most rows of y read for its robust spread (:func:`robust_spread`), evenly spaced.
SPREAD_ROWS = 100_000
#: Smallest robust spread of a target relative to its standard deviation.
MIN_SPREAD_RATIO = 1e-6
#: Losses whose first step does not depend on y's robust spread.
SMOOTH_STEP_LOSSES = (SQUARED_ERROR, SQUARED_EPSILON_INSENSITIVE)


class Scaling(NamedTuple):
    """The standardisation and schedule of a fit: more epochs on other rows run the same way."""

    x_offset: np.ndarray
    x_scale: np.ndarray
    y_offset: np.ndarray
    y_scale: np.ndarray
    schedule: schedules.Schedule
    standardised: bool
    #: The step's curvature (``fastgd._curvature.Curvature``) of an ``"auto"`` fit's rows.
    curvature: object = None


@dataclass
class Problem:
    """A fit reduced to the engine's groups (``fastgd._engine.groups``), in the standardised
    space the backends work in, plus what the result must report."""

    rows: Rows
    validation: Rows
    setup: Setup
    start: Model
    schedule: schedules.Schedule
    standardised: bool
    first_update: int = 0
    #: The ``"auto"`` step's ``fastgd._curvature.Curvature`` (None for a raw schedule).
    curvature: object = None
    #: Rows drawn by importance for the one epoch of a stream's call
    #: (``fastgd._engine.groups.Sampling``; None: each row once).
    sampling: object = None

    @property
    def variance_reduced(self):
        """Whether the fit ends with variance-reduced epochs (``fastgd._engine.variance``),
        when it runs on one block in memory: an averaging ``"auto"`` fit of squared error."""
        return self.setup.checks.average_phases and self.setup.loss.kind == SQUARED_ERROR

    def importance_sampling(self):
        """How the variance-reduced epochs draw the rows (``fastgd._engine.groups.Sampling``),
        or None: each row once an epoch (always without shuffling: the rows are walked in
        order)."""
        if self.curvature is None or not self.setup.plan.shuffle:
            return None
        rows = self.rows
        return importance_sampling(rows.X, rows.weights, self.setup.standard.x_offset,
                                   self.setup.standard.x_scale, self.setup.plan.fit_intercept,
                                   self.curvature, self.setup.plan.mean_weight)

    @property
    def scaling(self):
        """This problem's :class:`Scaling`."""
        return Scaling(*self.setup.standard, self.schedule, self.standardised, self.curvature)

    @property
    def epochs(self):
        """Most epochs the fit runs."""
        return self.setup.plan.epochs

    def new_histories(self):
        """The :class:`Histories` the fit fills with its epoch losses (NaN until written)."""
        return new_histories(self.epochs, self.rows.Y.shape[1])

    @property
    def loss_scale(self):
        """The factor of each target from standardised losses to losses in y's units."""
        y_scale = self.setup.standard.y_scale
        if not self.standardised:
            return np.ones(len(y_scale))
        return y_scale ** unit_power(self.setup.loss.kind)

    def to_original_units(self, coef, intercept, *histories):
        """Map standardised coefficients, intercepts and loss histories to the user's units."""
        if not self.standardised:
            return (coef, intercept, *histories)
        x_offset, x_scale, y_offset, y_scale = self.setup.standard
        coef_out = coef * y_scale[:, None] / x_scale
        intercept_out = y_offset + y_scale * intercept - coef_out @ x_offset
        return (coef_out, intercept_out,
                *(None if h is None else h * self.loss_scale for h in histories))


def column_offsets_scales(X, center, weights=None):
    """Return the (weighted) mean (or 0) and the spread about it of each column of X.

    Two passes in float64 over row chunks, so no full-size temporary is made; a column whose
    squares under- or overflow (values beyond about 1e-140 or 1e150) is redone scaled by its
    largest deviation, so spreads from 1e-300 to 1e300 come out right. Constant columns
    get scale ``inf``: their standardised values and weights are then exactly 0, where a finite
    scale would let the rounding error of the centering into their gradient.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
    center : bool
        Whether the offset is the column mean (True) or 0 (the spread is then the RMS).
    weights : ndarray of shape (n,), optional
        Sample weights of the rows (default: all 1).

    Returns
    -------
    offset, scale : ndarray of shape (d,), float64
    """
    if not isinstance(X, np.ndarray):
        return _sparse_offsets_scales(X, center, weights)
    n, d = X.shape
    rows = max(1, CHUNK_BYTES // (8 * d))
    weights = np.ones(n) if weights is None else weights
    total = weights.sum()
    offset = np.zeros(d)
    if center:  # column sums as a matrix-vector product: BLAS, far faster than sum(axis=0)
        for start in range(0, n, rows):
            chunk = X[start:start + rows].astype(np.float64, copy=False)
            offset += weights[start:start + rows] @ chunk
        offset /= total
    sum_sq = np.zeros(d)
    with np.errstate(over="ignore", under="ignore"):  # extreme columns are redone just below
        for start in range(0, n, rows):
            chunk = X[start:start + rows] - offset
            chunk *= chunk
            sum_sq += weights[start:start + rows] @ chunk
    scale = np.sqrt(sum_sq / total)
    extreme = ~(sum_sq > TINY_SUM_OF_SQUARES) | ~np.isfinite(sum_sq)
    for j in np.flatnonzero(extreme):  # squares under- or overflowed: scale by the peak first
        deviation = X[:, j] - offset[j]
        peak = np.max(np.abs(deviation))
        spread = weights @ np.square(deviation / peak) / total if peak > 0 else 0.0
        scale[j] = peak * np.sqrt(spread)
    return finish_offsets_scales(offset, scale)


def _sparse_offsets_scales(X, center, weights):
    """:func:`column_offsets_scales` of a sparse CSR X, from sums of each column's values and
    squares taken relative to its largest magnitude (no under- or overflow, no copy of X
    beyond one of its values)."""
    n, d = X.shape
    weights = np.ones(n) if weights is None else weights
    total = weights.sum()
    peak = np.maximum(X.max(axis=0).toarray(), -X.min(axis=0).toarray()).astype(np.float64)
    peak = peak.ravel()
    inverse = np.divide(1.0, peak, out=np.zeros(d), where=peak > 0)
    relative = X.astype(np.float64) @ sp_diags(inverse)
    mean = (relative.T @ weights) / total if center else np.zeros(d)
    relative.data **= 2
    mean_square = (relative.T @ weights) / total
    variance = mean_square - mean**2
    variance[~(variance > 1e-12 * mean_square)] = 0.0  # rounding of a constant column
    return finish_offsets_scales(peak * mean, peak * np.sqrt(variance))


def finish_offsets_scales(offset, scale):
    """Check the column means and spreads for float64 range, floor the spreads at
    ``MIN_SCALE`` and mark constant columns with scale ``inf``.

    Returns
    -------
    offset, scale : ndarray
    """
    if not np.all((scale < MAX_MAGNITUDE) & (np.abs(offset) < MAX_MAGNITUDE)):
        raise ValueError(
            f"The data are too large for float64 arithmetic (beyond {MAX_MAGNITUDE:.0e}): divide "
            "X or y by a power of ten and scale the fitted coefficients back."
        )
    constant = scale <= CONSTANT_COLUMN_RTOL * (np.abs(offset) + scale)
    scale = np.maximum(scale, MIN_SCALE)  # a subnormal spread would overflow 1 / scale
    scale[constant] = np.inf
    return offset, scale


def raw_scaling(d, k, schedule):
    """The :class:`Scaling` of a schedule on raw data: no standardisation."""
    return Scaling(np.zeros(d), np.ones(d), np.zeros(k), np.ones(k), schedule, False)


def robust_spread(Y, weights, y_scale):
    """Each target's robust spread relative to ``y_scale``, in ``[MIN_SPREAD_RATIO, 1]``.

    The spread is the median absolute deviation from the median times 1.4826 (the standard
    deviation of a normal sample), or, when over half of the targets are equal, the mean
    absolute deviation from the median; it is read from at most ``SPREAD_ROWS`` evenly spaced
    rows of positive weight. ``Y`` None (not at hand): ones.
    """
    if Y is None:
        return np.ones(len(y_scale))
    stride = max(1, Y.shape[0] // SPREAD_ROWS)
    sample = np.asarray(Y[::stride], dtype=np.float64)
    if weights is not None:
        sample = sample[np.asarray(weights[::stride]) > 0]
    if sample.shape[0] == 0:
        return np.ones(len(y_scale))
    deviation = np.abs(sample - np.median(sample, axis=0))
    spread = 1.4826 * np.median(deviation, axis=0)
    spread = np.where(spread > 0, spread, deviation.mean(axis=0))
    ratio = np.where(spread > 0, spread / y_scale, 1.0)
    return np.clip(ratio, MIN_SPREAD_RATIO, 1.0)


def loss_step(Y, weights, y_scale, loss, epsilon):
    """How the loss named ``loss`` (``epsilon`` in y's units) changes ``"auto"``'s first step
    for targets ``Y`` (rows of, or a sample; None: not at hand) of spreads ``y_scale``.

    Returns
    -------
    factor : float
        ``loss_functions.step_factor``.
    typical : bool
        Whether the step comes from the typical rows (``loss_functions.bounded_slopes``).
    """
    kind = LOSSES.index(loss)
    spread = (np.ones(len(y_scale)) if kind in SMOOTH_STEP_LOSSES
              else robust_spread(Y, weights, y_scale))
    epsilon = epsilon / y_scale
    return step_factor(kind, epsilon, spread), bounded_slopes(kind, epsilon, spread)


def auto_scaling(X, Y, weights, fit_intercept, batch_size, loss, epsilon, offsets_scales=None):
    """The :class:`Scaling` of ``learning_rate="auto"``.

    The columns of X and Y are standardised (weighted by ``weights``), and the schedule is
    ``Adaptive`` from ``fastgd._curvature.curvature``'s step (of the typical rows for a loss of
    bounded slopes) times the factor of the loss named ``loss`` (threshold ``epsilon``, see
    :func:`loss_step`). X may be memory-mapped: every pass over it goes chunk by chunk.

    Parameters
    ----------
    offsets_scales : tuple of (x_offset, x_scale, y_offset, y_scale), optional
        Column statistics computed elsewhere (by :func:`finish_offsets_scales`'s rules), for
        data not at hand: X, Y and weights are then a sample of rows for the step (Y may be
        None: see :func:`robust_spread`).
    """
    if offsets_scales is None:
        x_offset, x_scale = column_offsets_scales(X, fit_intercept, weights)
        y_offset, y_scale = column_offsets_scales(Y, fit_intercept, weights)
        if fit_intercept:
            constant = np.all(Y == Y[0], axis=0)  # exactly: no rounding of a mean left to fit
            y_offset[constant] = Y[0, constant]
    else:
        x_offset, x_scale, y_offset, y_scale = offsets_scales
    y_scale = np.where(np.isfinite(y_scale), y_scale, 1.0)  # a constant target
    factor, typical = loss_step(Y, weights, y_scale, loss, epsilon)
    shape = curvature(X, weights, x_offset, x_scale, fit_intercept, min(batch_size, X.shape[0]),
                      typical)
    return Scaling(x_offset, x_scale, y_offset, y_scale,
                   schedules.Adaptive(shape.step() * factor), True, shape)


def validation_rows(n, fraction, seed):
    """The training and validation rows of :func:`split_validation`, each in order.

    Returns
    -------
    train, val : ndarray of int
    """
    n_val = int(np.ceil(fraction * n))
    if n - n_val < 1:
        raise ValueError(f"early_stopping holds out {n_val} of the {n} rows "
                         f"(validation_fraction={fraction}), leaving none to train on: pass more "
                         "rows or a smaller validation_fraction.")
    order = np.random.default_rng([seed, 1]).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def split_validation(X, Y, weights, fraction, seed):
    """Split the rows, seeded, into a training set and a validation set of ``fraction``.

    The validation rows are ``ceil(fraction * n)`` rows drawn at random; both sets keep the
    rows in their original order (copies of them).

    Returns
    -------
    X, Y, weights, X_val, Y_val, weights_val
        ``weights`` and ``weights_val`` are None when ``weights`` is.
    """
    train, val = validation_rows(X.shape[0], fraction, seed)
    parts = [X[train], Y[train], None, X[val], Y[val], None]
    if weights is not None:
        parts[2], parts[5] = weights[train], weights[val]
        for part, name in ((parts[2], "training"), (parts[5], "validation")):
            if not part.sum() > 0:
                raise ValueError(f"Every row of the {name} set of early_stopping has weight 0: "
                                 "give more rows a positive sample_weight, or change "
                                 "random_state or validation_fraction.")
    return tuple(parts)


def penalty_strengths(penalty, alpha, l1_ratio, x_scale, y_scale, power=2):
    """The L1 and L2 strengths of the standardised coefficients.

    The penalty ``alpha * (rho * |w|_1 + (1 - rho) / 2 * |w|_2^2)`` on the user's coefficients
    ``w = y_scale * w' / x_scale``, divided by ``y_scale ** power`` like the loss
    (``loss_functions.unit_power``), is ``sum(l1 * |w'|) + sum(l2 / 2 * w'^2)``. Strengths are
    capped at ``MAX_MAGNITUDE`` (for columns of spread near 1e-300), where they already pin
    the weight at 0.

    Returns
    -------
    l1, l2 : ndarray of shape (k, d)
    """
    rho = {None: 0.0, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    strength = 0.0 if penalty is None else alpha
    shape = (len(y_scale), len(x_scale))
    if strength == 0.0:
        return np.zeros(shape), np.zeros(shape)
    y_factor = (y_scale ** (1.0 - power))[:, None]
    with np.errstate(over="ignore"):  # capped just below
        l1 = strength * rho * y_factor / x_scale
        l2 = strength * (1.0 - rho) * (y_factor * y_scale[:, None]) / x_scale / x_scale
    return np.minimum(l1, MAX_MAGNITUDE), np.minimum(l2, MAX_MAGNITUDE)


def normal_weights(weights, mean_weight=None):
    """``weights`` and ``mean_weight`` (their mean when None), both scaled by one power of two
    when that mean is below the smallest normal float64, whose inverse would overflow: the fit
    does not depend on the weights' scale, and a power of two scales them exactly."""
    mean = float(weights.mean()) if mean_weight is None else float(mean_weight)
    if mean >= np.finfo(np.float64).tiny:
        return weights, mean_weight
    exponent = -int(np.frexp(mean)[1])
    return (np.ldexp(weights, exponent),
            None if mean_weight is None else float(np.ldexp(mean_weight, exponent)))


def prepare(X, Y, weights, *, coef_init, intercept_init, learning_rate, fit_intercept, loss,
            epsilon, quantile, penalty, alpha, l1_ratio, average_start, early_stopping,
            validation_fraction, batch_size, drop_last, shuffle, seed, epochs, tol,
            n_iter_no_change, scaling=None, mean_weight=None):
    """Build the :class:`Problem` for validated input.

    ``Y`` has shape (n, k), ``coef_init`` (k, d) and ``intercept_init`` (k,) (or None) in the
    user's units. Without ``intercept_init`` the standardised intercept starts at 0.
    With ``early_stopping`` a seeded part of the rows is held out (see
    :func:`split_validation`). With ``learning_rate="auto"`` the columns of X and Y are
    standardised on the fly (weighted by ``weights``) and the schedule is ``Adaptive`` from the
    largest contracting step of the standardised problem for this batch size; any other
    schedule runs on the raw data. A ``scaling`` from an earlier problem is used as it is,
    and so is a ``mean_weight`` of all the rows of a fit whose ``weights`` are a part of them.
    """
    d = X.shape[1]
    k = Y.shape[1]
    if weights is not None:
        weights, mean_weight = normal_weights(weights, mean_weight)
    validation = None
    if early_stopping:
        X, Y, weights, X_val, Y_val, weights_val = split_validation(
            X, Y, weights, validation_fraction, seed)
        validation = read_only(Rows(csr_of(X_val), Y_val, weights_val, index_for(0)))
    n = X.shape[0]
    batch_size, n_batches = batches(n, batch_size, drop_last)
    if scaling is None:
        scaling = (auto_scaling(X, Y, weights, fit_intercept, batch_size, loss, epsilon)
                   if isinstance(learning_rate, str) else raw_scaling(d, k, learning_rate))
    x_offset, x_scale, y_offset, y_scale, learning_rate, auto, shape = scaling
    loss = loss_group(loss, epsilon, quantile, y_scale)
    l1, l2 = penalty_strengths(penalty, alpha, l1_ratio, x_scale, y_scale, unit_power(loss.kind))
    coef_start = coef_init * np.where(np.isfinite(x_scale), x_scale, 0.0) / y_scale[:, None]
    if intercept_init is None or not fit_intercept:
        intercept_start = np.zeros(k)  # standardised: the model starts at the mean of y
    else:
        intercept_start = (intercept_init - y_offset + coef_init @ x_offset) / y_scale
    kind, eta0, p1, p2 = learning_rate.lower()
    if mean_weight is None:
        mean_weight = 1.0 if weights is None else float(weights.mean())
    averaging = bool(auto and average_start < 0 and not early_stopping
                     and (tol is None or tol >= AVERAGING_MIN_TOL))
    doubling = averaging and loss.kind == SQUARED_ERROR and k * d >= DOUBLING_MIN_COEFFICIENTS
    setup = Setup(
        Standardisation(x_offset, x_scale, y_offset, y_scale), loss, Penalty(l1, l2),
        Plan(bool(fit_intercept), batch_size, n_batches, bool(drop_last), bool(shuffle),
             int(seed), int(average_start), 0, int(epochs), float(mean_weight)),
        Steps(int(kind), float(eta0), float(p1), float(p2)),
        Checks(check_interval(kind, loss.kind, d, n_batches, early_stopping),
               0.0 if tol is None else float(tol), tol is not None, int(n_iter_no_change),
               bool(auto or early_stopping), np.empty((0, 0)),
               averaging, doubling))
    rows = read_only(Rows(csr_of(X), Y, weights, index_for(n)))
    return Problem(rows=rows, validation=no_rows(rows) if validation is None else validation,
                   setup=setup,
                   start=Model(np.ascontiguousarray(coef_start, dtype=np.float64),
                               np.ascontiguousarray(intercept_start, dtype=np.float64)),
                   schedule=learning_rate, standardised=auto, curvature=shape)


def continued(problem, coef, intercept, first_epoch, first_update):
    """``problem`` run on from the standardised model ``coef, intercept`` (shapes (k, d) and
    (k,)), epoch ``first_epoch`` and step counter ``first_update``, never keeping an earlier
    model than the last (what ``partial_fit`` continues with). Under ``"auto"`` a chunk's
    shorter last batch steps as a full one (``Plan.whole_batches``).

    Returns
    -------
    Problem
    """
    setup = problem.setup
    setup = setup._replace(plan=setup.plan._replace(first_epoch=first_epoch,
                                                    whole_batches=problem.standardised),
                           checks=setup.checks._replace(keep_best=False))
    return replace(problem, setup=setup, start=Model(coef.copy(), intercept.copy()),
                   first_update=first_update)


def streamed_problem(X, Y, weights, seed, options):
    """The :class:`Problem` of a fit over memory-mapped rows: its scaling from all the rows (chunk
    by chunk), its rows only the first few (the engine's blocks come from the driver).

    ``options`` are those of ``fastgd._validation.check_options``.
    """
    d, k = X.shape[1], Y.shape[1]
    learning_rate = options["learning_rate"]
    scaling = (auto_scaling(X, Y, weights, options["fit_intercept"], options["batch_size"],
                            options["loss"], options["epsilon"])
               if isinstance(learning_rate, str) else raw_scaling(d, k, learning_rate))
    head = slice(0, max(options["batch_size"], HEAD_ROWS))
    return prepare(np.asarray(X[head]), np.asarray(Y[head]),
                   None if weights is None else np.asarray(weights[head]),
                   coef_init=np.zeros((k, d)), intercept_init=None, average_start=-1, seed=seed,
                   scaling=scaling, mean_weight=None if weights is None else weights.mean(),
                   **options)
