"""The epoch engine's kernels for sparse rows (``fastgd._engine.groups.Csr``).

Sparse rows are standardised like dense ones, ``z_j = (x_j - m_j) / s_j``, without ever
filling X in. On raw rows the model's weights are ``V_j = coef_j / s_j`` and a row's residual
is ``sum_j x_j V_j + c - y'`` over its stored entries, with ``c`` carrying the column means
(``c = intercept + y_offset / y_scale - sum_j m_j V_j``). A batch's gradient on ``coef_j`` is
``(G_j - m_j r_sum) / s_j``: a sparse part ``G`` in the columns the batch touches and a dense
part along ``a_j = m_j / s_j^2``. So the weights are kept as ``V_j = U_j + a_j S``: an update
moves ``U`` in the columns touched and the scalar ``S`` (per target), and keeps
``P = sum_j m_j U_j`` (for ``c``) up to date. ``G`` is a sum over the batch's rows, so the step
along it is taken a row at a time: a first pass over the batch's rows finds their residuals at
the batch's model, a second adds each row times its residual into ``U`` (and each row's
``x . a`` times its residual into ``P``). No gradient vector is cleared, scanned or listed:
an update costs O(k nnz of the batch), whatever the number of columns.

Averaging is lazy: ``U_j`` of a column no update touches keeps its value ``u``, and after
folds from count ``c0`` to ``c1`` its average ``a`` is ``u + (a - u) * c0 / c1`` (the factors
``1 - 1/c`` telescope); the average of ``S`` is kept at every update, and the averages of
``V`` are those of ``U`` plus ``a_j`` times that of ``S``. A column's average is brought up to
date when its weights next move, and every column's at the end of a run of batches, where the
engine reads the model and its average.

A penalty moves every weight at every update: with one, each update applies the proximal map
to all the weights in one pass, in raw-row units with ``S`` kept at 0, and averages all of
them (O(k d)), as the dense kernels do.
"""

import math

import numpy as np

from .._engine.loss_functions import SQUARED_ERROR, slope_from
from ..schedules import step_size
from .intrinsics import add_row, prefetch, row_weight
from .jit import inlined_reassociating_kernel, kernel, reassociating_kernel
from .random import PREFETCH_MIN_ROWS
from .updates import PREFETCH_DISTANCE, add_drift, average_in, slope_terms_of

_step_size = kernel(step_size)


@inlined_reassociating_kernel
def _prefetch_row(data, indices, indptr, Y, weights, index, p):
    """Start loading the stored entries of row ``index[p]`` (whose offsets were prefetched
    ``PREFETCH_DISTANCE`` rows before), and the offsets of the row as far again ahead."""
    if p + PREFETCH_DISTANCE < index.shape[0]:
        prefetch(indptr, index[p + PREFETCH_DISTANCE])
    i = index[p]
    lo = indptr[i]
    prefetch(data, lo)
    prefetch(indices, lo)
    prefetch(Y, i)
    prefetch(weights, i)


@inlined_reassociating_kernel
def _row_residual(data, indices, indptr, Y, i, s, t, U, shift, S, c, inv_y_scale, loss, terms,
                  offset):
    """The weighted slope ``s g`` of target ``t`` at row ``i`` for the model whose weights on
    raw rows are ``U + shift * S[t]`` and ``c`` (plus ``offset``: the row's product with the
    model's part along a drift, see :func:`sparse_batches`), and the row's ``drift = x .
    shift``.

    Inlined, a branch around one of its loops (to skip ``drift`` on uncentred rows) made
    Numba keep an atomic reference count per row for the arrays passed in: an epoch of
    200,000 one-hot rows took twice as long.
    """
    lo, hi = indptr[i], indptr[i + 1]
    r = c[t] + offset - Y[i, t] * inv_y_scale[t]
    drift = 0.0
    for q in range(lo, hi):
        j = indices[q]
        r += data[q] * U[t, j]
        drift += data[q] * shift[j]
    r += drift * S[t]
    if loss != SQUARED_ERROR:
        r = slope_from(r, terms[t, 0], terms[t, 1], terms[t, 2], terms[t, 3], terms[t, 4])
    return r * s, drift


@inlined_reassociating_kernel
def sparse_sums(X, Y, weights, index, U, c, inv_y_scale, G, r_sum, loss, terms):
    """Add into ``G[t]`` the sums ``sum(s g x)`` of target ``t`` over the rows ``index`` of the
    :class:`Csr` ``X`` and write ``sum(s g)`` into ``r_sum[t]``, for the model whose weights
    on raw rows are ``U`` and ``c`` (``g``: the slope of the loss, code ``loss`` and slope terms
    ``terms[t]``, at the row's residual, as in ``updates.gradient_sums``). Returns ``sum(s)``.
    """
    data, indices, indptr, _ = X
    k = Y.shape[1]
    r_sum[:] = 0.0
    weight = 0.0
    no_shift, no_S = np.zeros(U.shape[1]), np.zeros(k)
    for p in range(index.shape[0]):
        i = index[p]
        s = row_weight(weights, i)
        for t in range(k):
            r = _row_residual(data, indices, indptr, Y, i, s, t, U, no_shift, no_S, c,
                              inv_y_scale, loss, terms, 0.0)[0]
            r_sum[t] += r
            add_row(X, i, r, G, t)
        weight += s
    return weight


@inlined_reassociating_kernel
def _batch_residuals(data, indices, indptr, Y, weights, index, start, stop, U, shift, S, c,
                     inv_y_scale, R, drifts, r_sum, loss, terms, along, Q):
    """Pass 1 of a batch, rows ``index[start:stop]``: each row's weighted slopes into
    ``R[p - start]`` (per target) and drift into ``drifts[p - start]`` (see
    :func:`_row_residual`), their sums into ``r_sum``. Returns ``sum(s)``. On large blocks the
    rows are prefetched ahead (see ``updates``). ``along[i, t]`` (empty: none) is row ``i``'s
    product with the drift direction of target ``t``, along which the model has moved
    ``Q[t]``."""
    k = Y.shape[1]
    n_index = index.shape[0]
    prefetching = n_index >= PREFETCH_MIN_ROWS
    r_sum[:] = 0.0
    weight = 0.0
    drifting = along.shape[0] > 0
    for p in range(start, stop):
        if prefetching and p + PREFETCH_DISTANCE < n_index:
            _prefetch_row(data, indices, indptr, Y, weights, index, p + PREFETCH_DISTANCE)
        i = index[p]
        s = row_weight(weights, i)
        if k == 1 and loss == SQUARED_ERROR:  # constants (as in ``updates.gradient_sums``)
            offset = along[i, 0] * Q[0] if drifting else 0.0
            r, drift = _row_residual(data, indices, indptr, Y, i, s, 0, U, shift, S, c,
                                     inv_y_scale, SQUARED_ERROR, terms, offset)
            R[p - start, 0] = r
            r_sum[0] += r
        else:
            for t in range(k):
                offset = along[i, t] * Q[t] if drifting else 0.0
                r, drift = _row_residual(data, indices, indptr, Y, i, s, t, U, shift, S,
                                         c, inv_y_scale, loss, terms, offset)
                R[p - start, t] = r
                r_sum[t] += r
        drifts[p - start] = drift
        weight += s
    return weight


@inlined_reassociating_kernel
def _catch_up(U, U_avg, j, last, t, average_start):
    """Bring the average of column ``j`` of ``U`` from update ``last[j]`` to update ``t`` (its
    weights unchanged since), and mark it current."""
    now = t - average_start
    if now > 0:
        before = max(last[j] - average_start, 0)
        for i in range(U.shape[0]):
            u = U[i, j]
            U_avg[i, j] = u + (U_avg[i, j] - u) * (before / now)
    last[j] = t


@inlined_reassociating_kernel
def _step_rows(data, indices, indptr, index, start, stop, R, drifts, U, P, U_avg, inverse_sq,
               last, t, average_start, rate):
    """Pass 2 of a batch: move ``U`` by ``-rate * R[p - start, t] * x / s^2`` along each row
    ``x`` of the batch (the step along the batch's sparse gradient part, a row at a time) and
    keep ``P`` up to date. When averaging (``average_start >= 0``), a column's average is
    first brought up to update ``t`` (see the module's notes) before the batch moves it."""
    k = U.shape[0]
    for p in range(start, stop):
        i = index[p]
        if average_start >= 0:
            _catch_up_row(indices, indptr, i, U, U_avg, last, t, average_start)
        if k == 1:  # the target index a constant (as in ``updates.gradient_sums``)
            _step_row(data, indices, indptr, i, R[p - start, 0], drifts[p - start], 0, U, P,
                      inverse_sq, rate)
        else:
            for t_ in range(k):
                _step_row(data, indices, indptr, i, R[p - start, t_], drifts[p - start], t_, U, P,
                          inverse_sq, rate)


@inlined_reassociating_kernel
def _catch_up_row(indices, indptr, i, U, U_avg, last, t, average_start):
    """:func:`_catch_up` the columns of row ``i`` not yet brought up to update ``t``."""
    for q in range(indptr[i], indptr[i + 1]):
        j = indices[q]
        if last[j] != t:
            _catch_up(U, U_avg, j, last, t, average_start)


@inlined_reassociating_kernel
def _step_row(data, indices, indptr, i, r, drift, t, U, P, inverse_sq, rate):
    """``U[t] -= rate * r * X[i] / s^2`` and ``P[t] -= rate * r * drift``."""
    factor = -rate * r
    P[t] += factor * drift
    for q in range(indptr[i], indptr[i + 1]):
        j = indices[q]
        U[t, j] += factor * data[q] * inverse_sq[j]


@inlined_reassociating_kernel
def _penalised_step(U, P, G, r_sum, x_offset, inverse, l1, l2, eta, rate):
    """``updates.proximal_step`` on every weight, in raw-row units (``S`` is 0 throughout a
    penalised run): the step along ``-rate (G - m r_sum) / s^2``, soft-thresholding by
    ``eta * l1 / s`` and shrinking by ``1 / (1 + eta * l2)``; ``P`` kept up to date and ``G``
    cleared."""
    k, d = U.shape
    for t in range(k):
        total = 0.0
        for j in range(d):
            inv = inverse[j]
            v = U[t, j] - rate * (G[t, j] - x_offset[j] * r_sum[t]) * inv * inv
            v = math.copysign(max(abs(v) - eta * l1[t, j] * inv, 0.0), v)  # branch-free
            v /= 1.0 + eta * l2[t, j]
            U[t, j] = v
            G[t, j] = 0.0
            total += x_offset[j] * v
        P[t] = total


@inlined_reassociating_kernel
def _to_raw(coef, inverse, U):
    """``U = coef * inverse``: weights on raw rows."""
    k, d = coef.shape
    for t in range(k):
        for j in range(d):
            U[t, j] = coef[t, j] * inverse[j]


@inlined_reassociating_kernel
def _to_standardised(U, shift, S, nu, Q, inverse, coef):
    """``coef = (U + shift * S + nu * Q) / inverse`` for the columns that are not constant
    (``nu`` empty: no drift direction)."""
    k, d = coef.shape
    drifting = nu.shape[0] > 0
    for t in range(k):
        for j in range(d):
            if inverse[j] > 0.0:
                v = U[t, j] + shift[j] * S[t]
                if drifting:
                    v += nu[t, j] * Q[t]
                coef[t, j] = v / inverse[j]


@inlined_reassociating_kernel
def _drift_direction(data, indices, indptr, drift_coef, inverse_sq, nu, along, x_offset):
    """The drift's direction on raw rows, ``nu = drift_coef / s^2``, each row's product with
    it into ``along`` (shape (n, k)), and each target's ``sum_j m_j nu_j`` (returned)."""
    k, d = nu.shape
    total = np.zeros(k)
    for t in range(k):
        for j in range(d):
            nu[t, j] = drift_coef[t, j] * inverse_sq[j]
            total[t] += x_offset[j] * nu[t, j]
    for i in range(along.shape[0]):
        for t in range(k):
            product = 0.0
            for q in range(indptr[i], indptr[i + 1]):
                product += data[q] * nu[t, indices[q]]
            along[i, t] = product
    return total


@reassociating_kernel
def sparse_batches(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average,
                   work, drift):
    """``fastgd._kernels.epochs._batches`` for sparse rows: run batches ``first`` to
    ``last - 1`` of epoch ``epoch`` (``span``) from step counter ``t``; return ``t`` after them.

    The model (and its average) are held as raw weights ``U + a S`` during the run (see the
    module's notes) and written back, all columns up to date, before returning. A ``drift``
    (added to every step, as in the dense kernel) moves every weight at every update: without
    a penalty it is kept as one more direction, ``nu = drift / s^2`` on raw rows, along which
    the model has moved ``Q`` (a scalar per target, as ``S``), and each row's product with
    ``nu`` is found once per run (O(nnz)); a penalised run adds it to its dense step.
    """
    first, last_batch, epoch, average_start = span
    X, Y, weights, index = rows
    data, indices, indptr, _ = X
    x_offset, x_scale, y_offset, _ = standard
    l1, l2 = penalty
    coef, intercept = model
    avg_coef, avg_intercept = average
    U, c, G, r_sum, inv_y_scale = work.V, work.c, work.G, work.r_sum, work.inv_y_scale
    kind, _, p1, p2 = steps
    batch_size, fit_intercept, mean_weight = plan.batch_size, plan.fit_intercept, plan.mean_weight
    terms = slope_terms_of(loss, U)
    k, d = coef.shape
    n = index.shape[0]
    penalised = False
    inverse, shift, inverse_sq = np.empty(d), np.empty(d), np.empty(d)
    total_shift = 0.0
    for j in range(d):
        inverse[j] = 1.0 / x_scale[j]
        inverse_sq[j] = inverse[j] * inverse[j]
        shift[j] = x_offset[j] * inverse_sq[j]
        total_shift += x_offset[j] * shift[j]
        for i in range(k):
            penalised = penalised or l1[i, j] > 0.0 or l2[i, j] > 0.0
    R, drifts = np.empty((batch_size, k)), np.zeros(batch_size)
    last = np.full(d, t, dtype=np.int64)
    S, S_avg, P = np.zeros(k), np.zeros(k), np.zeros(k)
    drift_coef, drift_intercept = drift
    drifting = drift_coef.shape[0] > 0
    Q, Q_avg = np.zeros(k), np.zeros(k)
    if drifting and not penalised:
        nu, along = np.empty((k, d)), np.empty((indptr.shape[0] - 1, k))
        total_nu = _drift_direction(data, indices, indptr, drift_coef, inverse_sq, nu, along,
                                    x_offset)
    else:
        nu, along, total_nu = np.empty((0, d)), np.empty((0, k)), np.zeros(k)
    _to_raw(coef, inverse, U)
    for i in range(k):
        for j in range(d):
            P[i] += x_offset[j] * U[i, j]
    if average_start >= 0:
        _to_raw(avg_coef, inverse, avg_coef)
    for b in range(first, last_batch):
        start = b * batch_size
        stop = min(start + batch_size, n)
        step = _step_size(kind, eta, p1, p2, t, epoch)
        for i in range(k):
            c[i] = (intercept[i] + y_offset[i] * inv_y_scale[i] - P[i] - S[i] * total_shift
                    - Q[i] * total_nu[i])
        weight = _batch_residuals(data, indices, indptr, Y, weights, index, start, stop, U,
                                  shift, S, c, inv_y_scale, R, drifts, r_sum, loss.kind,
                                  terms, along, Q)
        averaging = 0 <= average_start <= t
        if weight > 0.0 or drifting:  # a batch whose weights are all zero makes no step
            divisor = (batch_size if plan.whole_batches else stop - start) * mean_weight
            rate = step / divisor
            if drifting and penalised:
                add_drift(G, r_sum, drift_coef, drift_intercept, divisor)
            elif drifting:  # along nu, and through r_sum along the centring and the intercept
                for i in range(k):
                    r_sum[i] += divisor * drift_intercept[i]
                    Q[i] -= step
            if penalised:
                for p in range(start, stop):
                    for i in range(k):
                        add_row(X, index[p], R[p - start, i], G, i)
                _penalised_step(U, P, G, r_sum, x_offset, inverse, l1, l2, step, rate)
            else:
                _step_rows(data, indices, indptr, index, start, stop, R, drifts, U, P, avg_coef,
                           inverse_sq, last, t, average_start if averaging else -1, rate)
            for i in range(k):
                if not penalised:
                    S[i] += rate * r_sum[i]
                if fit_intercept:
                    intercept[i] -= rate * r_sum[i]
        t += 1
        if averaging:
            share = 1.0 / (t - average_start)
            if penalised:
                average_in(U, intercept, avg_coef, avg_intercept, t - average_start)
            for i in range(k):
                if not penalised:
                    avg_intercept[i] += (intercept[i] - avg_intercept[i]) * share
                S_avg[i] += (S[i] - S_avg[i]) * share
                Q_avg[i] += (Q[i] - Q_avg[i]) * share
    if 0 <= average_start < t and not penalised:
        for j in range(d):
            _catch_up(U, avg_coef, j, last, t, average_start)
    _to_standardised(U, shift, S, nu, Q, inverse, coef)
    if average_start >= 0:
        _to_standardised(avg_coef, shift, S_avg, nu, Q_avg, inverse, avg_coef)
    return t
