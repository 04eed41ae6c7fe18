"""Kernels the fit driver calls once per fit or once per epoch: the gradient over all the rows
of a block, a proximal step along it (the closing step of an L1 fit), and the snapshot pass of
a variance-reduced epoch (``fastgd._engine.variance``)."""

import numpy as np
from numba.extending import overload

from .intrinsics import add_row, is_dense, pick_format, row_dot, row_weight
from .jit import inlined_reassociating_kernel, kernel, reassociating_kernel
from .losses import effective_weights
from .sparse import sparse_sums
from .updates import gradient_sums, proximal_step, slope_terms_of


@inlined_reassociating_kernel
def _dense_sums(rows, loss, work):
    return gradient_sums(rows.X, rows.Y, rows.weights, rows.index, 0, rows.index.shape[0],
                         work.V, work.c, work.inv_y_scale, work.G, work.r_sum, loss.kind,
                         slope_terms_of(loss, work.V), 1.0)


@inlined_reassociating_kernel
def _sparse_sums(rows, loss, work):
    work.G[:, :] = 0.0
    return sparse_sums(rows.X, rows.Y, rows.weights, rows.index, work.V, work.c,
                       work.inv_y_scale, work.G, work.r_sum, loss.kind,
                       slope_terms_of(loss, work.V))


def _sums(rows, loss, work):
    return (_dense_sums if is_dense(rows) else _sparse_sums)(rows, loss, work)


@overload(_sums, inline="always")
def _typed_sums(rows, loss, work):
    return pick_format(rows, _dense_sums, _sparse_sums).py_func


@kernel
def full_gradient(rows, standard, loss, model, work):
    """The gradient sums of ``loss`` over all of ``rows`` into ``work.G, work.r_sum``; return
    ``sum(s)``."""
    effective_weights(model, standard, work)
    return _sums(rows, loss, work)


@kernel
def step_along(model, fit_intercept, standard, penalty, eta, work, weight):
    """``updates.proximal_step`` along the sums in ``work`` (of :func:`full_gradient`)."""
    proximal_step(model.coef, model.intercept, fit_intercept, standard.x_offset,
                  standard.x_scale, penalty.l1, penalty.l2, eta, work.G, work.r_sum, weight)


@reassociating_kernel
def snapshot_pass(rows, standard, model, work, targets):
    """The snapshot of a variance-reduced epoch, by one pass over ``rows``, for squared
    error: the model's predictions in y's units into ``targets`` (shape (n, k)), the gradient
    sums of its residuals (as :func:`full_gradient`) into ``work.G, work.r_sum`` and each
    target's mean loss ``sum(s r^2 / 2) / sum(s)`` into ``work.out``; return ``sum(s)``.

    On the rows with ``targets`` for y a row's residual becomes the difference between the
    running model's prediction and the snapshot's.
    """
    X, Y, weights = rows.X, rows.Y, rows.weights
    effective_weights(model, standard, work)
    V, c, inv_y_scale, G, r_sum = work.V, work.c, work.inv_y_scale, work.G, work.r_sum
    k = V.shape[0]
    G[:, :] = 0.0
    r_sum[:] = 0.0
    losses = np.zeros(k)
    weight = 0.0
    for i in range(X.shape[0]):
        s = row_weight(weights, i)
        weight += s
        for t in range(k):
            prediction = c[t] + row_dot(X, i, V, t)
            targets[i, t] = prediction * standard.y_scale[t]
            r = prediction - Y[i, t] * inv_y_scale[t]
            losses[t] += s * 0.5 * r * r
            r *= s
            r_sum[t] += r
            add_row(X, i, r, G, t)
    for t in range(k):
        work.out[t] = losses[t] / weight
    return weight
