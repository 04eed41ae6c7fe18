"""Kernels the fit driver calls once per fit: the gradient over all the rows of a block, and a
proximal step along it (the closing step of an L1 fit)."""

from numba.extending import overload

from .intrinsics import is_dense, pick_format
from .jit import inlined_reassociating_kernel, kernel
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
