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

from ._intrinsics import prefetch, row_weight
from ._jit import inlined_reassociating_kernel, kernel, reassociating_kernel
from ._stopping import (CHECK_MAX_FEATURES, DIVERGED, INTERRUPTED, RUNNING, check_progress,
                        within_one_standard_error)
from .schedules import step_size

_step_size = kernel(step_size)
_check_progress = kernel(check_progress)
_within_one_standard_error = kernel(within_one_standard_error)

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


@kernel
def _seed_epoch(state, seed, epoch):
    """Start ``state`` on the stream of epoch ``epoch`` of the fit seeded by ``seed``.

    The start is SplitMix64's output at position ``epoch`` of the generator seeded by the mixed
    seed: well-mixed starts, so epochs draw from unrelated stretches of the generator's cycle,
    and any epoch's shuffle can be made without running the ones before (``partial_fit``).
    """
    state[0] = np.uint64(seed)
    state[0] = _splitmix64(state)
    state[0] += np.uint64(epoch) * _GOLDEN
    state[0] = _splitmix64(state)


if config.DISABLE_JIT:  # pure Python: NumPy warns on the uint64 wrap-around SplitMix64 relies on
    def _wrapping(function):
        def wrapped(*args):
            with np.errstate(over="ignore"):
                return function(*args)
        return wrapped

    _splitmix64 = _wrapping(_splitmix64)
    _seed_epoch = _wrapping(_seed_epoch)


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
def _effective_weights(coef, intercept, x_offset, x_scale, y_offset, inv_y_scale, V, c):
    """Write into ``V`` the weights on raw rows and into ``c`` the matching constant terms.

    For target ``t`` the standardised residual ``x' . coef[t] + intercept[t] - y'_t`` of a raw
    row ``(x, y)`` equals ``x . V[t] + c[t] - y_t * inv_y_scale[t]``.
    """
    k, d = coef.shape
    for t in range(k):
        ct = intercept[t] + y_offset[t] * inv_y_scale[t]
        for j in range(d):
            V[t, j] = coef[t, j] / x_scale[j]
            ct -= x_offset[j] * V[t, j]
        c[t] = ct


@inlined_reassociating_kernel
def _mean_losses(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef, intercept, V, c,
                 out, q):
    """Write into ``out[t]`` the loss ``(1/2) sum(s r^2) / sum(s)`` of target ``t`` over X's rows,
    and into ``q[i]`` (unless q is None) the loss ``(1/2) sum_t r^2`` of row ``i``.

    ``weights`` holds the sample weights ``s``, or is None for unit weights.
    """
    n, d = X.shape
    k = Y.shape[1]
    _effective_weights(coef, intercept, x_offset, x_scale, y_offset, inv_y_scale, V, c)
    for t in range(k):  # a pass per target: the sums stay in registers
        total = 0.0
        weight = 0.0
        for i in range(n):
            s = row_weight(weights, i)
            f = c[t] - Y[i, t] * inv_y_scale[t]
            for j in range(d):
                f += X[i, j] * V[t, j]
            total += s * f * f
            weight += s
            if q is not None:
                q[i] = 0.5 * f * f + (q[i] if t > 0 else 0.0)
        out[t] = 0.5 * total / weight


@inlined_reassociating_kernel
def _moment_losses(coef, intercept, moments, out):
    """Write into ``out[t]`` the loss of target ``t`` from the data's centred moments, in O(d^2).

    ``moments`` is :func:`centred_moments`'s array for the standardised data ``z`` and ``y'``.
    With ``z = mean_z + dz`` and ``y'_t = mean_t + dy_t`` the residual of a row is
    ``dz . coef[t] - dy_t + m_t`` with ``m_t = mean_z . coef[t] + intercept[t] - mean_t``, whose
    mean square is ``coef[t]' C_zz coef[t] - 2 coef[t]' C_zt + C_tt + m_t^2``. Centred moments
    keep the rounding error relative to the variance of y.
    """
    k, d = coef.shape
    means = d + k
    for t in range(k):
        m = intercept[t] - moments[means, d + t]
        quadratic = 0.0
        for j in range(d):
            m += moments[means, j] * coef[t, j]
            row = 0.0
            for q in range(d):
                row += moments[j, q] * coef[t, q]
            quadratic += coef[t, j] * (row - 2.0 * moments[j, d + t])
        out[t] = 0.5 * max(quadratic + moments[d + t, d + t] + m * m, 0.0)


@reassociating_kernel
def _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef, intercept, l1, l2,
               penalised, moments, V, c, out, q):
    """Write into ``out[t]`` the loss of target ``t`` (plus its penalty if ``penalised``), from
    ``moments`` when given, else by a pass over X that also writes the rows' losses into ``q``
    (unless it is None); return the sum over targets."""
    if moments.shape[0] > 0:
        _moment_losses(coef, intercept, moments, out)
    else:
        _mean_losses(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef, intercept,
                     V, c, out, q)
    k, d = coef.shape
    total = 0.0
    for t in range(k):
        if penalised:
            for j in range(d):
                out[t] += l1[t, j] * abs(coef[t, j]) + 0.5 * l2[j] * coef[t, j] * coef[t, j]
        total += out[t]
    return total


@inlined_reassociating_kernel
def _proximal_step(coef, intercept, fit_intercept, x_offset, x_scale, l1, l2, eta, G, r_sum,
                   weight):
    """Step along the batch gradient, then apply the penalty's proximal map.

    ``G[t]`` and ``r_sum[t]`` hold ``sum(s r x)`` and ``sum(s r)`` of target ``t`` over the
    batch's raw rows and ``weight`` is ``sum(s)``; the standardised gradient
    ``sum(s r x') / sum(s)`` is ``(G - x_offset * r_sum) / x_scale / weight``. The elastic-net
    proximal map soft-thresholds by ``eta * l1`` (so weights the optimum sets to zero become
    exactly 0.0) and shrinks by ``1 / (1 + eta * l2)``, stable for any step.
    """
    k, d = coef.shape
    step = eta / weight
    for t in range(k):
        for j in range(d):
            w = coef[t, j] - step * (G[t, j] - x_offset[j] * r_sum[t]) / x_scale[j]
            threshold = eta * l1[t, j]
            if w > threshold:
                w -= threshold
            elif w < -threshold:
                w += threshold
            else:
                w = 0.0
            coef[t, j] = w / (1.0 + eta * l2[j])
        if fit_intercept:
            intercept[t] -= step * r_sum[t]


@inlined_reassociating_kernel
def _accumulate_pair(X, Y, i1, i2, s1, s2, t, V, c, inv_y_scale, G, r_sum):
    """Add the weighted residuals of rows ``i1`` and ``i2`` for target ``t`` into ``r_sum[t]``,
    and their products with the rows into ``G[t]`` (two dot products in flight at once)."""
    r1 = c[t] - Y[i1, t] * inv_y_scale[t]
    r2 = c[t] - Y[i2, t] * inv_y_scale[t]
    for j in range(X.shape[1]):
        r1 += X[i1, j] * V[t, j]
        r2 += X[i2, j] * V[t, j]
    r1 *= s1
    r2 *= s2
    r_sum[t] += r1 + r2
    for j in range(X.shape[1]):
        G[t, j] += r1 * X[i1, j] + r2 * X[i2, j]


@inlined_reassociating_kernel
def _batch_update(X, Y, weights, index, start, stop, x_offset, x_scale, y_offset, inv_y_scale,
                  coef, intercept, fit_intercept, l1, l2, eta, V, c, G, r_sum):
    """One proximal gradient step on the rows ``index[start:stop]``.

    ``V``, ``c``, ``G`` and ``r_sum`` are work arrays of the shapes of ``coef`` and
    ``intercept``. The gradient in the standardised space is the weighted mean over the batch
    of ``r * x'``; ``x'`` is never formed (see :func:`_proximal_step`). A batch whose weights
    are all zero makes no step. Rows go in pairs (an odd last row pairs with itself at weight
    0); a single target gets its own loop, where the target index is a constant (measured 25%
    faster than the loop over targets).
    """
    k = Y.shape[1]
    n_index = index.shape[0]
    prefetching = n_index >= PREFETCH_MIN_ROWS
    _effective_weights(coef, intercept, x_offset, x_scale, y_offset, inv_y_scale, V, c)
    G[:, :] = 0.0
    r_sum[:] = 0.0
    weight = 0.0
    for p in range(start, stop, 2):
        ahead = p + PREFETCH_DISTANCE
        if prefetching and ahead + 1 < n_index:
            for q in range(ahead, ahead + 2):
                prefetch(X, index[q])
                prefetch(Y, index[q])
                prefetch(weights, index[q])
        i1 = index[p]
        s1 = row_weight(weights, i1)
        if p + 1 < stop:
            i2 = index[p + 1]
            s2 = row_weight(weights, i2)
        else:
            i2 = i1
            s2 = 0.0
        if k == 1:
            _accumulate_pair(X, Y, i1, i2, s1, s2, 0, V, c, inv_y_scale, G, r_sum)
        else:
            for t in range(k):
                _accumulate_pair(X, Y, i1, i2, s1, s2, t, V, c, inv_y_scale, G, r_sum)
        weight += s1 + s2
    if weight > 0.0:
        _proximal_step(coef, intercept, fit_intercept, x_offset, x_scale, l1, l2, eta, G, r_sum,
                       weight)


@inlined_reassociating_kernel
def _average_in(coef, intercept, avg_coef, avg_intercept, count):
    """Fold the iterate into the running average of the last ``count`` iterates."""
    k, d = coef.shape
    share = 1.0 / count
    for t in range(k):
        for j in range(d):
            avg_coef[t, j] += (coef[t, j] - avg_coef[t, j]) * share
        avg_intercept[t] += (intercept[t] - avg_intercept[t]) * share


@reassociating_kernel
def _batches(X, Y, weights, index, first, last, x_offset, x_scale, y_offset, inv_y_scale, coef,
             intercept, fit_intercept, l1, l2, batch_size, kind, eta, p1, p2, t, epoch,
             average_start, avg_coef, avg_intercept, V, c, G, r_sum):
    """Run batches ``first`` to ``last - 1`` of the current epoch's order; return ``t``.

    From update ``average_start`` on (never if it is negative) each iterate is folded into the
    running average ``avg_coef``, ``avg_intercept``.
    """
    n = X.shape[0]
    for b in range(first, last):
        start = b * batch_size
        stop = min(start + batch_size, n)
        step = _step_size(kind, eta, p1, p2, t, epoch)
        _batch_update(X, Y, weights, index, start, stop, x_offset, x_scale, y_offset,
                      inv_y_scale, coef, intercept, fit_intercept, l1, l2, step, V, c, G, r_sum)
        t += 1
        if 0 <= average_start < t:
            _average_in(coef, intercept, avg_coef, avg_intercept, t - average_start)
    return t


@kernel
def _run_epochs(X, Y, weights, index, x_offset, x_scale, y_offset, y_scale, coef, intercept,
                fit_intercept, l1, l2, batch_size, n_batches, shuffle, seed, epochs, first_epoch,
                first_update, kind, eta0, p1, p2, tol, stop_early, n_iter_no_change, check_every,
                keep_best, average_start, moments, X_val, Y_val, weights_val, loss_history,
                val_history, control):
    """Run up to ``epochs`` epochs of mini-batch gradient descent, updating in place.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    Y : ndarray of shape (n, k), same dtype as X, C-contiguous
        The k targets, fitted at once.
    weights : ndarray of shape (n,), float64, or None
        Sample weights (non-negative, positive sum); None for unit weights.
    index : ndarray of shape (n,), int32 or int64
        ``arange(n)``; shuffled in place, epoch after epoch.
    x_offset, x_scale : ndarray of shape (d,), float64
        Standardisation of the columns of X (0 and 1 for none).
    y_offset, y_scale : ndarray of shape (k,), float64
        Standardisation of the targets.
    coef : ndarray of shape (k, d), float64
        Coefficients in the standardised space; start values in, fitted values out.
    intercept : ndarray of shape (k,), float64
        Intercepts in the standardised space, in and out.
    fit_intercept, shuffle, stop_early, keep_best : bool
    l1 : ndarray of shape (k, d), float64
        L1 penalty strength of each standardised coefficient.
    l2 : ndarray of shape (d,), float64
        L2 penalty strength of each standardised feature.
    batch_size, epochs, n_iter_no_change : int
    n_batches : int
        Batches an epoch: ``ceil(n / batch_size)``, or ``n // batch_size`` with ``drop_last``.
    seed : int
        Seed of the SplitMix64 streams that shuffle the rows: each epoch restarts ``index``
        from ``arange(n)`` and shuffles it from its own stream (:func:`_seed_epoch`).
    first_epoch, first_update : int
        Number of the first epoch and value of the step counter at the start (0 and 0, or
        where an earlier call stopped: ``partial_fit``). ``epochs`` more epochs are run.
    kind, eta0, p1, p2 : int, float, float, float
        The lowered learning-rate schedule (see ``fastgd.schedules``).
    tol : float
        Relative tolerance of the stopping rule.
    check_every : int
        Updates between two applications of the stopping rule (at least at every epoch's end).
        A check evaluates the model that would be returned (the average, once averaging runs):
        its validation loss when a validation set is given, else its training objective.
    keep_best : bool
        Whether to end with the kept weights among the start and the checks rather than the
        last ones: those of lowest loss or, with a validation set, those of the latest check
        within one standard error of the lowest
        (:func:`fastgd._stopping.within_one_standard_error`).
        With an L1 penalty and no validation set, the weights then take one proximal step on
        the full gradient with the schedule's first step, kept if it lowers the objective: the
        mini-batch noise left in coefficients the optimum sets to zero exceeds the penalty's
        margin in some batches, and this step makes them exactly 0.0.
    average_start : int
        Updates after which the iterates are averaged (Polyak-Ruppert); negative: never. With
        a validation set and no averaging asked for, each check evaluates (and may keep) the
        average of the iterates since the check before: single iterates at a large step are
        noisy, and the lowest validation loss among them would often be a lucky one that
        fits the held-out rows, not the data.
    moments : ndarray of shape (d + k + 1, d + k + 1) or (0, 0), float64
        :func:`centred_moments` of the standardised training data, to compute the losses at
        checks in O(k d^2); empty: a pass over the data. Validation losses are always passes.
    X_val, Y_val, weights_val : ndarray of shapes (m, d), (m, k), (m,) (or None)
        The validation set; ``m = 0``: none.
    loss_history, val_history : ndarray of shape (epochs, k), float64
        Receive each epoch's training objective (loss plus penalty) and validation loss per
        target, in standardised units. The last epoch's entries are exact losses of the
        returned weights.
    control : ndarray of shape (2,), int64
        Shared with a watching thread: the fit writes the epochs completed into
        ``control[1]`` and, when ``control[0]`` is set, stops at the end of the epoch as if
        the budget ended there (status ``INTERRUPTED``).

    Returns
    -------
    n_epochs : int
        Epochs run (the last one may have stopped at a check before its end).
    n_updates : int
        The final value of the step counter ``t`` (updates made, plus ``first_update``).
    status : int
        ``RUNNING`` (the epoch budget ran out), ``CONVERGED``, ``DIVERGED`` or ``INTERRUPTED``.
    """
    k, d = coef.shape
    validating = X_val.shape[0] > 0
    interval_averages = validating and average_start < 0
    inv_y_scale = 1.0 / y_scale
    state = np.empty(1, dtype=np.uint64)
    V = np.empty((k, d))
    c = np.empty(k)
    G = np.empty((k, d))
    r_sum = np.empty(k)
    out = np.empty(k)
    avg_coef = coef.copy()
    avg_intercept = intercept.copy()
    model_coef = coef
    model_intercept = intercept
    checks_per_epoch = (n_batches + check_every - 1) // check_every
    check_losses = np.empty(epochs * checks_per_epoch)
    n_checks = 0
    t = first_update
    eta = eta0
    phase_start = 0
    best_before = np.inf
    base_loss = np.inf
    status = RUNNING
    n_epochs = epochs
    empty = np.empty((0, 0))
    q = np.empty(X_val.shape[0])
    q_lowest = np.empty(X_val.shape[0])
    if validating:
        start_loss = _objective(X_val, Y_val, weights_val, x_offset, x_scale, y_offset,
                                inv_y_scale, coef, intercept, l1, l2, False, empty, V, c, out,
                                q_lowest)
    else:
        start_loss = _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef,
                                intercept, l1, l2, True, empty, V, c, out, None)
    best_loss = start_loss
    lowest = start_loss
    best_coef = coef.copy()
    best_intercept = intercept.copy()
    for run_epoch in range(epochs):
        epoch = first_epoch + run_epoch
        if shuffle:
            for i in range(index.shape[0]):
                index[i] = i
            _seed_epoch(state, seed, epoch)
            _shuffle(index, state)
        first = 0
        while first < n_batches and status == RUNNING:
            last = min(first + check_every, n_batches)
            if interval_averages:
                average_start = t
            t = _batches(X, Y, weights, index, first, last, x_offset, x_scale, y_offset,
                         inv_y_scale, coef, intercept, fit_intercept, l1, l2, batch_size, kind,
                         eta, p1, p2, t, epoch, average_start, avg_coef, avg_intercept, V, c, G,
                         r_sum)
            first = last
            if 0 <= average_start < t:
                model_coef = avg_coef
                model_intercept = avg_intercept
            if validating:
                loss = _objective(X_val, Y_val, weights_val, x_offset, x_scale, y_offset,
                                  inv_y_scale, model_coef, model_intercept, l1, l2, False, empty,
                                  V, c, out, q)
                keep = loss <= lowest or _within_one_standard_error(q, q_lowest, weights_val)
                if loss <= lowest:
                    q_lowest[:] = q
            else:
                loss = _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale,
                                  model_coef, model_intercept, l1, l2, True, moments, V, c, out,
                                  None)
                keep = loss <= lowest
            check_losses[n_checks] = loss
            lowest = min(lowest, loss)
            if keep_best and keep:
                best_loss = loss
                best_coef[:, :] = model_coef
                best_intercept[:] = model_intercept
            phase_start, best_before, eta, base_loss, status = _check_progress(
                check_losses, n_checks, phase_start, best_before, eta, base_loss, eta0, kind,
                tol, stop_early, n_iter_no_change, check_every, start_loss)
            n_checks += 1
        if validating:
            val_history[run_epoch, :] = out
            _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, model_coef,
                       model_intercept, l1, l2, True, moments, V, c, out, None)
        loss_history[run_epoch, :] = out
        control[1] = run_epoch + 1
        if status == RUNNING and control[0] != 0:
            status = INTERRUPTED
        if status != RUNNING:
            n_epochs = run_epoch + 1
            break
    if status == DIVERGED:
        return n_epochs, t, status
    coef[:, :] = model_coef
    intercept[:] = model_intercept
    if keep_best and best_loss < check_losses[n_checks - 1]:
        coef[:, :] = best_coef
        intercept[:] = best_intercept
    final = _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef, intercept,
                       l1, l2, True, empty, V, c, out, None)
    loss_history[n_epochs - 1, :] = out
    if not validating and np.any(l1 > 0.0):
        best_coef[:, :] = coef
        best_intercept[:] = intercept
        _batch_update(X, Y, weights, index, 0, index.shape[0], x_offset, x_scale, y_offset,
                      inv_y_scale, coef, intercept, fit_intercept, l1, l2,
                      _step_size(kind, eta0, p1, p2, 0, 0), V, c, G, r_sum)
        if _objective(X, Y, weights, x_offset, x_scale, y_offset, inv_y_scale, coef, intercept,
                      l1, l2, True, empty, V, c, out, None) > final:
            coef[:, :] = best_coef
            intercept[:] = best_intercept
        else:
            loss_history[n_epochs - 1, :] = out
    if validating:
        _objective(X_val, Y_val, weights_val, x_offset, x_scale, y_offset, inv_y_scale, coef,
                   intercept, l1, l2, False, empty, V, c, out, None)
        val_history[n_epochs - 1, :] = out
    return n_epochs, t, status


@reassociating_kernel
def _shifted_sums(X, Y, weights, x_offset, x_scale, y_offset, y_scale, shift, sums, products):
    """Accumulate the standardised rows ``z = [x', y'] - shift`` with weights ``s``: ``s z``
    into ``sums``, ``s z z'`` (upper half) into ``products``; return ``sum(s)``.

    Rows are taken 64 at a time into a transposed block, so that every sum is a contiguous dot
    product over the block's rows.
    """
    n, d = X.shape
    k = Y.shape[1]
    m_cols = d + k
    rows = 64
    block = np.empty((m_cols, rows))
    weighted_block = np.empty((m_cols, rows))
    total_weight = 0.0
    for start in range(0, n, rows):
        m = min(rows, n - start)
        for r in range(m):
            i = start + r
            for j in range(d):
                block[j, r] = (X[i, j] - x_offset[j]) / x_scale[j] - shift[j]
            for t in range(k):
                block[d + t, r] = (Y[i, t] - y_offset[t]) / y_scale[t] - shift[d + t]
            s = row_weight(weights, i)
            total_weight += s
            for j in range(m_cols):
                weighted_block[j, r] = s * block[j, r]
        for j in range(m_cols):
            total = 0.0
            for r in range(m):
                total += weighted_block[j, r]
            sums[j] += total
            for q in range(j, m_cols):
                total = 0.0
                for r in range(m):
                    total += weighted_block[j, r] * block[q, r]
                products[j, q] += total
    return total_weight


def centred_moments(X, Y, weights, x_offset, x_scale, y_offset, y_scale, sample_rows=1024):
    """Weighted means and centred second moments of the standardised data ``[x', y']``, in one
    pass.

    The sums run on the data shifted by the mean of its first ``sample_rows`` rows, so the
    final centring subtracts only small quantities.

    Returns
    -------
    ndarray of shape (d + k + 1, d + k + 1)
        ``[:d+k, :d+k]`` is the covariance of ``[x', y']`` (weighted, divided by the total
        weight) and row ``d + k`` holds the means of the columns.
    """
    n, d = X.shape
    m_cols = d + Y.shape[1]
    head = slice(0, min(n, sample_rows))
    shift = np.concatenate([((X[head] - x_offset) / x_scale).mean(axis=0),
                            ((Y[head] - y_offset) / y_scale).mean(axis=0)])
    sums = np.zeros(m_cols)
    products = np.zeros((m_cols, m_cols))
    total_weight = _shifted_sums(X, Y, weights, x_offset, x_scale, y_offset, y_scale, shift,
                                 sums, products)
    products = np.triu(products) + np.triu(products, 1).T
    mean_shifted = sums / total_weight
    moments = np.zeros((m_cols + 1, m_cols + 1))
    moments[:m_cols, :m_cols] = products / total_weight - np.outer(mean_shifted, mean_shifted)
    moments[m_cols, :m_cols] = shift + mean_shifted
    return moments


def run(X, Y, weights, x_offset, x_scale, y_offset, y_scale, coef, intercept, fit_intercept, l1,
        l2, batch_size, n_batches, shuffle, seed, epochs, first_epoch, first_update, kind, eta0,
        p1, p2, tol, stop_early,
        n_iter_no_change, check_every, keep_best, average_start, X_val, Y_val, weights_val,
        loss_history, val_history, control):
    """Numba backend: run the fit with :func:`_run_epochs`; same signature and result.

    With at most ``MOMENT_LOSS_FEATURES`` features, ``MOMENT_LOSS_MIN_ROWS`` rows or more and
    more than two checks to make, the training losses at checks come from the data's centred
    moments (one pass to compute them, then O(k d^2) a check).
    """
    n, d = X.shape
    index = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    checks = epochs * -(-n_batches // check_every)
    use_moments = d <= MOMENT_LOSS_FEATURES and n >= MOMENT_LOSS_MIN_ROWS and checks > 2
    moments = (centred_moments(X, Y, weights, x_offset, x_scale, y_offset, y_scale)
               if use_moments else np.empty((0, 0)))
    # Run as Python (NUMBA_DISABLE_JIT), NumPy scalars would warn where the compiled code
    # overflows quietly to inf, which the stopping rule reads as divergence.
    with np.errstate(over="ignore", invalid="ignore"):
        return _run_epochs(X, Y, weights, index, x_offset, x_scale, y_offset, y_scale, coef,
                           intercept, fit_intercept, l1, l2, batch_size, n_batches, shuffle,
                           seed, epochs, first_epoch, first_update, kind, eta0, p1, p2, tol,
                           stop_early, n_iter_no_change, check_every, keep_best,
                           average_start, moments, X_val, Y_val, weights_val, loss_history,
                           val_history, control)
