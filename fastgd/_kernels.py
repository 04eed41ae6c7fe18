"""Numba kernels: random shuffle, mini-batch gradient and the decayed update loop.

Every function here takes arrays and scalars only and does no validation; ``fastgd.fit``
validates and prepares the problem first. The model is fitted in a standardised space:
``x' = (x - x_offset) / x_scale`` and ``y' = (y - y_offset) / y_scale`` are applied on the fly to
the rows of the user's array (never to a copy of it), which costs O(d) per batch. With offsets
0 and scales 1 this is plain mini-batch gradient descent on the raw data.

Speed: an epoch reads the rows in shuffled order, so its cost is memory latency, not
arithmetic. The loops prefetch the rows ``PREFETCH_DISTANCE`` positions ahead (of X and of y),
the shuffle prefetches the slots it is about to swap, the index array is int32 when n allows,
and rows are processed in pairs so that two dot products are in flight at once.
"""

import numpy as np
from numba import config

from ._intrinsics import prefetch
from ._jit import inlined_reassociating_kernel, kernel, reassociating_kernel
from ._stopping import CHECK_MAX_FEATURES, DIVERGED, RUNNING, check_progress
from .schedules import step_size

_step_size = kernel(step_size)
_check_progress = kernel(check_progress)

#: Rows ahead of the current one whose loads are started early (measured best: 8 to 12).
PREFETCH_DISTANCE = 8
#: Swaps ahead of the current one whose slots the shuffle prefetches.
SHUFFLE_LOOKAHEAD = 16
#: Prefetching starts at this many rows: below, the index (and usually X) sit in cache and the
#: plain loops are faster.
PREFETCH_MIN_ROWS = 65536
#: Up to this many features the loss at a check comes from the data's moments, not a pass.
MOMENT_LOSS_FEATURES = CHECK_MAX_FEATURES
#: ... and from this many rows on (below, a pass over X costs less than setting them up).
MOMENT_LOSS_MIN_ROWS = 8192

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@kernel
def _splitmix64(state):
    """Advance the SplitMix64 generator held in ``state[0]`` and return its next output."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


if config.DISABLE_JIT:  # pure Python: NumPy warns on the uint64 wrap-around SplitMix64 relies on
    _splitmix64_wrapping = _splitmix64

    def _splitmix64(state):
        with np.errstate(over="ignore"):
            return _splitmix64_wrapping(state)


@kernel
def _uniform_below(state, m):
    """A draw from {0, ..., m - 1} (53 random bits scaled: bias below m / 2**53)."""
    return np.int64(np.float64(_splitmix64(state) >> _S11) * _INV_2_53 * m)


@kernel
def _shuffle(index, state):
    """Fisher-Yates shuffle of ``index`` in place, drawing from the SplitMix64 ``state``.

    Position ``i`` (from the end down) swaps with a uniform ``j <= i``. From
    ``PREFETCH_MIN_ROWS`` rows on, the ``j`` of the next ``SHUFFLE_LOOKAHEAD`` swaps are
    drawn early and their slots prefetched; the permutation is the same as drawing each ``j``
    at its swap.
    """
    n = index.shape[0]
    if n < PREFETCH_MIN_ROWS:
        for i in range(n - 1, 0, -1):
            j = _uniform_below(state, i + 1)
            tmp = index[i]
            index[i] = index[j]
            index[j] = tmp
        return
    ahead = np.empty(SHUFFLE_LOOKAHEAD, dtype=np.int64)
    for k in range(min(SHUFFLE_LOOKAHEAD, n - 1)):
        ahead[k] = _uniform_below(state, n - k)
        prefetch(index, ahead[k])
    k = 0
    for i in range(n - 1, 0, -1):
        j = ahead[k]
        later = i - SHUFFLE_LOOKAHEAD
        if later >= 1:
            ahead[k] = _uniform_below(state, later + 1)
            prefetch(index, ahead[k])
        k = k + 1 if k + 1 < SHUFFLE_LOOKAHEAD else 0
        tmp = index[i]
        index[i] = index[j]
        index[j] = tmp


@kernel
def _effective_weights(coef, intercept, x_offset, x_scale, y_offset, y_scale, v):
    """Write into ``v`` the weights on raw rows; return the matching constant term.

    The standardised residual ``x' . coef + intercept - y'`` of a raw row ``(x, y)`` equals
    ``x . v + c - y / y_scale``.
    """
    c = intercept[0] + y_offset / y_scale
    for j in range(coef.shape[0]):
        v[j] = coef[j] / x_scale[j]
        c -= x_offset[j] * v[j]
    return c


@reassociating_kernel
def _mean_loss(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, v):
    """Training loss ``(1/2) mean(r^2)`` of the standardised model over all rows of X."""
    n, d = X.shape
    c = _effective_weights(coef, intercept, x_offset, x_scale, y_offset, y_scale, v)
    inv_y_scale = 1.0 / y_scale
    rr_sum = 0.0
    i = 0
    while i + 1 < n:
        f1 = c - y[i] * inv_y_scale
        f2 = c - y[i + 1] * inv_y_scale
        for j in range(d):
            f1 += X[i, j] * v[j]
            f2 += X[i + 1, j] * v[j]
        rr_sum += f1 * f1 + f2 * f2
        i += 2
    if i < n:
        f1 = c - y[i] * inv_y_scale
        for j in range(d):
            f1 += X[i, j] * v[j]
        rr_sum += f1 * f1
    return 0.5 * rr_sum / n


@kernel
def _moment_loss(coef, intercept, moments):
    """Training loss of the standardised model from the centred moments of the data, in O(d^2).

    ``moments`` is :func:`centred_moments`'s array for the standardised data ``z`` and ``y'``.
    With ``z = mean_z + dz`` and ``y' = mean_y + dy`` the residual of a row is
    ``dz . coef - dy + m`` with ``m = mean_z . coef + intercept - mean_y``, whose mean square is
    ``coef' C_zz coef - 2 coef' C_zy + C_yy + m^2``. Centred moments keep the rounding error
    relative to the variance of y.
    """
    d = coef.shape[0]
    m = intercept[0] - moments[d, d + 1]
    quadratic = 0.0
    for j in range(d):
        m += moments[d + 1, j] * coef[j]
        row = 0.0
        for k in range(d):
            row += moments[j, k] * coef[k]
        quadratic += coef[j] * (row - 2.0 * moments[j, d])
    return 0.5 * max(quadratic + moments[d, d] + m * m, 0.0)


@reassociating_kernel
def _start_loss(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, v):
    """Training loss at the starting point; from y alone when it is the origin (no pass over X)."""
    if intercept[0] != 0.0 or np.any(coef != 0.0):
        return _mean_loss(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, v)
    rr_sum = 0.0
    for i in range(y.shape[0]):
        r = (y[i] - y_offset) / y_scale
        rr_sum += r * r
    return 0.5 * rr_sum / y.shape[0]


@inlined_reassociating_kernel
def _batch_update(X, y, index, start, stop, x_offset, x_scale, y_offset, y_scale,
                  coef, intercept, fit_intercept, eta, v, g):
    """One gradient step on the rows ``index[start:stop]``.

    ``v`` and ``g`` are work arrays of length d. The gradient in the standardised space is the
    mean over the batch of ``r * x'``; ``x'`` is never formed: ``sum(r * x')`` equals
    ``(sum(r * x) - x_offset * sum(r)) / x_scale``.
    """
    d = X.shape[1]
    n_index = index.shape[0]
    prefetching = n_index >= PREFETCH_MIN_ROWS
    c = _effective_weights(coef, intercept, x_offset, x_scale, y_offset, y_scale, v)
    inv_y_scale = 1.0 / y_scale
    g[:] = 0.0
    r_sum = 0.0
    p = start
    while p + 1 < stop:
        ahead = p + PREFETCH_DISTANCE
        if prefetching and ahead + 1 < n_index:
            prefetch(X, index[ahead])
            prefetch(y, index[ahead])
            prefetch(X, index[ahead + 1])
            prefetch(y, index[ahead + 1])
        i1 = index[p]
        i2 = index[p + 1]
        r1 = c - y[i1] * inv_y_scale
        r2 = c - y[i2] * inv_y_scale
        for j in range(d):
            r1 += X[i1, j] * v[j]
            r2 += X[i2, j] * v[j]
        r_sum += r1 + r2
        for j in range(d):
            g[j] += r1 * X[i1, j] + r2 * X[i2, j]
        p += 2
    if p < stop:
        i1 = index[p]
        r1 = c - y[i1] * inv_y_scale
        for j in range(d):
            r1 += X[i1, j] * v[j]
        r_sum += r1
        for j in range(d):
            g[j] += r1 * X[i1, j]
    step = eta / (stop - start)
    for j in range(d):
        coef[j] -= step * (g[j] - x_offset[j] * r_sum) / x_scale[j]
    if fit_intercept:
        intercept[0] -= step * r_sum


@reassociating_kernel
def _batches(X, y, index, first, last, x_offset, x_scale, y_offset, y_scale, coef, intercept,
             fit_intercept, batch_size, kind, eta, p1, p2, t, epoch, v, g):
    """Run batches ``first`` to ``last - 1`` of the current epoch's order; return ``t``."""
    n = X.shape[0]
    for b in range(first, last):
        start = b * batch_size
        stop = min(start + batch_size, n)
        step = _step_size(kind, eta, p1, p2, t, epoch)
        _batch_update(X, y, index, start, stop, x_offset, x_scale, y_offset, y_scale,
                      coef, intercept, fit_intercept, step, v, g)
        t += 1
    return t


@kernel
def _run_epochs(X, y, index, x_offset, x_scale, y_offset, y_scale, coef, intercept,
                fit_intercept, batch_size, n_batches, shuffle, seed, epochs, kind, eta0, p1, p2,
                tol, stop_early, n_iter_no_change, check_every, keep_best, moments,
                loss_history):
    """Run up to ``epochs`` epochs of mini-batch gradient descent, updating in place.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    y : ndarray of shape (n,), same dtype as X
    index : ndarray of shape (n,), int32 or int64
        ``arange(n)``; shuffled in place, epoch after epoch.
    x_offset, x_scale : ndarray of shape (d,), float64
        Standardisation of the columns of X (0 and 1 for none).
    y_offset, y_scale : float
        Standardisation of y.
    coef : ndarray of shape (d,), float64
        Coefficients in the standardised space; start values in, fitted values out.
    intercept : ndarray of shape (1,), float64
        Intercept in the standardised space, in and out.
    fit_intercept, shuffle, stop_early : bool
    batch_size, epochs, n_iter_no_change : int
    n_batches : int
        Batches an epoch: ``ceil(n / batch_size)``, or ``n // batch_size`` with ``drop_last``.
    seed : int
        Seed of the SplitMix64 stream that shuffles the rows.
    kind, eta0, p1, p2 : int, float, float, float
        The lowered learning-rate schedule (see ``fastgd.schedules``).
    tol : float
        Relative tolerance of the stopping rule.
    check_every : int
        Updates between two applications of the stopping rule (at least at every epoch's end).
    keep_best : bool
        Whether to end with the weights of the check of lowest training loss (its loss then
        becomes the last entry of ``loss_history``) rather than the last iterate.
    moments : ndarray of shape (d + 2, d + 2) or (0, 0), float64
        :func:`centred_moments` of the standardised data, to compute the loss at every check
        but the last in O(d^2); empty: every check's loss is a pass over X.
    loss_history : ndarray of shape (epochs,), float64
        Receives the training loss (in standardised units) at the end of each epoch run.

    Returns
    -------
    n_epochs : int
        Epochs run (the last one may have stopped at a check before its end).
    n_updates : int
        Updates made (the final value of the step counter ``t``).
    status : int
        ``RUNNING`` (the epoch budget ran out), ``CONVERGED`` or ``DIVERGED``.
    """
    n, d = X.shape
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed)
    v = np.empty(d)
    g = np.empty(d)
    checks_per_epoch = (n_batches + check_every - 1) // check_every
    check_losses = np.empty(epochs * checks_per_epoch)
    n_checks = 0
    t = 0
    eta = eta0
    phase_start = 0
    best_before = np.inf
    base_loss = np.inf
    status = RUNNING
    n_epochs = epochs
    start_loss = _start_loss(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, v)
    best_loss = np.inf
    best_coef = coef.copy()
    best_intercept = intercept.copy()
    for epoch in range(epochs):
        if shuffle:
            _shuffle(index, state)
        first = 0
        while first < n_batches and status == RUNNING:
            last = min(first + check_every, n_batches)
            t = _batches(X, y, index, first, last, x_offset, x_scale, y_offset, y_scale, coef,
                         intercept, fit_intercept, batch_size, kind, eta, p1, p2, t, epoch, v, g)
            first = last
            if moments.shape[0] > 0:
                loss = _moment_loss(coef, intercept, moments)
            else:
                loss = _mean_loss(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, v)
            check_losses[n_checks] = loss
            if keep_best and loss < best_loss:
                best_loss = loss
                best_coef[:] = coef
                best_intercept[:] = intercept
            phase_start, best_before, eta, base_loss, status = _check_progress(
                check_losses, n_checks, phase_start, best_before, eta, base_loss, eta0, kind,
                tol, stop_early, n_iter_no_change, check_every, start_loss)
            n_checks += 1
        loss_history[epoch] = check_losses[n_checks - 1]
        if status != RUNNING:
            n_epochs = epoch + 1
            break
    if status == DIVERGED:
        return n_epochs, t, status
    if keep_best and best_loss < check_losses[n_checks - 1]:
        coef[:] = best_coef
        intercept[:] = best_intercept
        loss_history[n_epochs - 1] = best_loss
    if moments.shape[0] > 0:
        loss_history[n_epochs - 1] = _mean_loss(X, y, x_offset, x_scale, y_offset, y_scale,
                                                coef, intercept, v)
    return n_epochs, t, status


@reassociating_kernel
def _shifted_sums(X, y, x_offset, x_scale, y_offset, y_scale, shift, sums, products):
    """Accumulate the standardised rows ``z = [x', y'] - shift``: ``z`` into ``sums``, ``z z'``
    (upper half) into ``products``.

    Rows are taken 64 at a time into a transposed block, so that every sum is a contiguous dot
    product over the block's rows.
    """
    n, d = X.shape
    rows = 64
    block = np.empty((d + 1, rows))
    for start in range(0, n, rows):
        m = min(rows, n - start)
        for r in range(m):
            for j in range(d):
                block[j, r] = (X[start + r, j] - x_offset[j]) / x_scale[j] - shift[j]
            block[d, r] = (y[start + r] - y_offset) / y_scale - shift[d]
        for j in range(d + 1):
            total = 0.0
            for r in range(m):
                total += block[j, r]
            sums[j] += total
            for k in range(j, d + 1):
                total = 0.0
                for r in range(m):
                    total += block[j, r] * block[k, r]
                products[j, k] += total


def centred_moments(X, y, x_offset, x_scale, y_offset, y_scale, sample_rows=1024):
    """Means and centred second moments of the standardised data ``[x', y']``, in one pass.

    The sums run on the data shifted by the mean of its first ``sample_rows`` rows, so the
    final centring subtracts only small quantities.

    Returns
    -------
    ndarray of shape (d + 2, d + 2)
        ``[:d+1, :d+1]`` is the covariance of ``[x', y']`` (divided by n), row ``d + 1``
        holds the means of the columns of ``x'`` and ``[d, d + 1]`` the mean of ``y'``.
    """
    n, d = X.shape
    head = slice(0, min(n, sample_rows))
    shift = np.empty(d + 1)
    shift[:d] = ((X[head] - x_offset) / x_scale).mean(axis=0)
    shift[d] = ((y[head] - y_offset) / y_scale).mean()
    sums = np.zeros(d + 1)
    products = np.zeros((d + 1, d + 1))
    _shifted_sums(X, y, x_offset, x_scale, y_offset, y_scale, shift, sums, products)
    products = np.triu(products) + np.triu(products, 1).T
    mean_shifted = sums / n
    moments = np.zeros((d + 2, d + 2))
    moments[:d + 1, :d + 1] = products / n - np.outer(mean_shifted, mean_shifted)
    moments[d + 1, :d + 1] = shift + mean_shifted
    moments[d, d + 1] = moments[d + 1, d]
    return moments


def run(X, y, x_offset, x_scale, y_offset, y_scale, coef, intercept, fit_intercept, batch_size,
        n_batches, shuffle, seed, epochs, kind, eta0, p1, p2, tol, stop_early, n_iter_no_change,
        check_every, keep_best, loss_history):
    """Numba backend: run the fit with :func:`_run_epochs`; same signature and result.

    With at most ``MOMENT_LOSS_FEATURES`` features and ``MOMENT_LOSS_MIN_ROWS`` rows or more,
    the epoch losses come from the data's centred moments (one pass to compute them, then
    O(d^2) an epoch).
    """
    n, d = X.shape
    index = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    use_moments = d <= MOMENT_LOSS_FEATURES and n >= MOMENT_LOSS_MIN_ROWS
    moments = (centred_moments(X, y, x_offset, x_scale, y_offset, y_scale) if use_moments
               else np.empty((0, 0)))
    return _run_epochs(X, y, index, x_offset, x_scale, y_offset, y_scale, coef, intercept,
                       fit_intercept, batch_size, n_batches, shuffle, seed, epochs, kind, eta0,
                       p1, p2, tol, stop_early, n_iter_no_change, check_every, keep_best,
                       moments, loss_history)
