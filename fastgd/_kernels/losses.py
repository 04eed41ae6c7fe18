"""Losses over a block of rows: by a pass over X, or in O(k d^2) from the data's moments.

The model is fitted in the standardised space of ``fastgd._engine.groups.Standardisation``;
the loops apply it on the fly to the user's rows (never to a copy), through the weights on raw
rows of :func:`effective_weights`.
"""

from typing import NamedTuple

import numpy as np

from .intrinsics import row_dot, row_weight
from .._engine.groups import Penalty
from .._engine.loss_functions import loss_value
from .jit import inlined_reassociating_kernel, kernel, reassociating_kernel, shared


class Work(NamedTuple):
    """Work arrays of a kernel call, for ``k`` targets and ``d`` features.

    ``V`` (k, d) and ``c`` (k,) hold the model as weights on raw rows, ``G`` (k, d) and
    ``r_sum`` (k,) a batch's gradient sums (``G`` starts at zero: the sparse kernels keep it so
    outside the columns a batch touches), ``out`` (k,) per-target losses, ``inv_y_scale``
    (k,) the reciprocal spreads of the targets.
    """

    V: np.ndarray
    c: np.ndarray
    G: np.ndarray
    r_sum: np.ndarray
    out: np.ndarray
    inv_y_scale: np.ndarray


@kernel
def new_work(standard, k, d):
    """The :class:`Work` arrays for ``k`` targets and ``d`` features."""
    inv_y_scale = np.empty(k)
    for t in range(k):
        inv_y_scale[t] = 1.0 / standard.y_scale[t]
    return Work(np.empty((k, d)), np.empty(k), np.zeros((k, d)), np.empty(k), np.empty(k),
                inv_y_scale)


@kernel
def effective_weights_of(coef, intercept, x_offset, x_scale, y_offset, inv_y_scale, V, c):
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


@kernel
def effective_weights(model, standard, work):
    """:func:`effective_weights_of` the model into ``work.V`` and ``work.c``."""
    effective_weights_of(model.coef, model.intercept, standard.x_offset, standard.x_scale,
                         standard.y_offset, work.inv_y_scale, work.V, work.c)


@inlined_reassociating_kernel
def mean_losses(rows, standard, loss, model, work, q):
    """Write into ``work.out[t]`` the loss ``sum(s L(r)) / sum(s)`` of target ``t`` over the
    rows (dense or sparse), and into ``q[i]`` (unless q is empty) the loss ``sum_t L(r)`` of
    row ``i`` (``L`` is ``loss_functions.loss_value`` of ``loss``)."""
    X, Y, weights = rows.X, rows.Y, rows.weights
    n = X.shape[0]
    k = Y.shape[1]
    effective_weights(model, standard, work)
    V, c, inv_y_scale = work.V, work.c, work.inv_y_scale
    kind, quantile = loss.kind, loss.quantile
    for t in range(k):  # a pass per target: the sums stay in registers
        epsilon = loss.epsilon[t]
        total = 0.0
        weight = 0.0
        for i in range(n):
            s = row_weight(weights, i)
            f = loss_value(kind, c[t] - Y[i, t] * inv_y_scale[t] + row_dot(X, i, V, t), epsilon,
                           quantile)
            total += s * f
            weight += s
            if q.shape[0] > 0:
                q[i] = f + (q[i] if t > 0 else 0.0)
        work.out[t] = total / weight


@inlined_reassociating_kernel
def moment_losses(model, moments, out):
    """Write into ``out[t]`` the loss of target ``t`` from the data's centred moments, in O(d^2).

    ``moments`` is ``fastgd._engine.moments.finish_moments``'s array for the standardised
    data ``z`` and ``y'``.
    With ``z = mean_z + dz`` and ``y'_t = mean_t + dy_t`` the residual of a row is
    ``dz . coef[t] - dy_t + m_t`` with ``m_t = mean_z . coef[t] + intercept[t] - mean_t``, whose
    mean square is ``coef[t]' C_zz coef[t] - 2 coef[t]' C_zt + C_tt + m_t^2``. Centred moments
    keep the rounding error relative to the variance of y.
    """
    coef = model.coef
    k, d = coef.shape
    means = d + k
    for t in range(k):
        m = model.intercept[t] - moments[means, d + t]
        quadratic = 0.0
        for j in range(d):
            m += moments[means, j] * coef[t, j]
            row = 0.0
            for q in range(d):
                row += moments[j, q] * coef[t, q]
            quadratic += coef[t, j] * (row - 2.0 * moments[j, d + t])
        out[t] = 0.5 * max(quadratic + moments[d + t, d + t] + m * m, 0.0)


@shared
def no_penalty():
    """The penalty group of a loss without penalty (:func:`objective`)."""
    return Penalty(np.empty((0, 0)), np.empty((0, 0)))


@reassociating_kernel
def objective(rows, standard, loss, penalty, model, moments, work, q):
    """Write into ``work.out[t]`` the loss of target ``t`` plus its penalty (none for
    :func:`no_penalty`), from ``moments`` when not empty (squared error only), else by a pass
    over the rows that also writes the rows' losses into ``q`` (unless it is empty); return
    the sum over targets.

    "None" is told by empty arrays, not by None or a flag, so that one compiled version
    serves every call."""
    if moments.shape[0] > 0:
        moment_losses(model, moments, work.out)
    else:
        mean_losses(rows, standard, loss, model, work, q)
    coef, l1, l2, out = model.coef, penalty.l1, penalty.l2, work.out
    k, d = coef.shape
    penalised = l2.shape[0] > 0
    total = 0.0
    for t in range(k):
        if penalised:
            for j in range(d):
                out[t] += (l1[t, j] * abs(coef[t, j])
                           + 0.5 * l2[t, j] * coef[t, j] * coef[t, j])
        total += out[t]
    return total


@reassociating_kernel
def moment_sums(rows, standard, shift, sums, products):
    """Accumulate the standardised rows ``z = [x', y'] - shift`` with weights ``s``: ``s z``
    into ``sums``, ``s z z'`` (upper half) into ``products``; return ``sum(s)``.

    Rows are taken 64 at a time into a transposed block, so that every sum is a contiguous dot
    product over the block's rows.
    """
    X, Y, weights = rows.X, rows.Y, rows.weights
    x_offset, x_scale, y_offset, y_scale = standard
    n, d = X.shape
    k = Y.shape[1]
    m_cols = d + k
    size = 64
    block = np.empty((m_cols, size))
    weighted_block = np.empty((m_cols, size))
    total_weight = 0.0
    for start in range(0, n, size):
        m = min(size, n - start)
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


@kernel
def objectives(rows, standard, loss, penalty, model, moments, q):
    """Each target's loss plus penalty as an array: :func:`objective` with work arrays of its
    own (one call from Python, where each group passed costs time)."""
    k, d = model.coef.shape
    work = new_work(standard, k, d)
    objective(rows, standard, loss, penalty, model, moments, work, q)
    return work.out
