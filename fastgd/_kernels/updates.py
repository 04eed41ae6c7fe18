"""The mini-batch update: gradient sums over a batch of raw rows, then a proximal step.

Speed: an epoch reads the rows in shuffled order, so its cost is memory latency, not
arithmetic. :func:`gradient_sums` prefetches the rows ``PREFETCH_DISTANCE`` positions ahead
(of X, y and the weights) on large blocks, and takes rows in pairs so that two dot products
are in flight at once.
"""

import numpy as np

from .._engine.loss_functions import SQUARED_ERROR, slope_from, slope_terms
from .intrinsics import prefetch, row_weight
from .jit import inlined_reassociating_kernel, kernel
from .random import PREFETCH_MIN_ROWS

#: Rows ahead of the current one whose loads are started early (measured best: 8 to 12).
PREFETCH_DISTANCE = 8


@inlined_reassociating_kernel
def accumulate_pair(X, Y, i1, i2, s1, s2, t, V, c, inv_y_scale, G, r_sum, loss, terms):
    """Add the weighted loss slopes (``loss_functions.slope_from`` the ``terms[t]`` of the
    loss, the residuals themselves for squared error) of rows ``i1`` and ``i2`` for target
    ``t`` into ``r_sum[t]``, and their products with the rows into ``G[t]`` (two dot products
    in flight at once)."""
    r1 = c[t] - Y[i1, t] * inv_y_scale[t]
    r2 = c[t] - Y[i2, t] * inv_y_scale[t]
    for j in range(X.shape[1]):
        r1 += X[i1, j] * V[t, j]
        r2 += X[i2, j] * V[t, j]
    if loss == SQUARED_ERROR:
        r1 *= s1
        r2 *= s2
    else:
        a, b, cc, f, e = terms[t, 0], terms[t, 1], terms[t, 2], terms[t, 3], terms[t, 4]
        r1 = s1 * slope_from(r1, a, b, cc, f, e)
        r2 = s2 * slope_from(r2, a, b, cc, f, e)
    r_sum[t] += r1 + r2
    for j in range(X.shape[1]):
        G[t, j] += r1 * X[i1, j] + r2 * X[i2, j]


@inlined_reassociating_kernel
def gradient_sums(X, Y, weights, index, start, stop, V, c, inv_y_scale, G, r_sum, loss, terms,
                  weight_scale):
    """Write into ``G[t]`` and ``r_sum[t]`` the sums ``sum(s g x)`` and ``sum(s g)`` of target
    ``t`` over the raw rows ``index[start:stop]``, for the model whose weights on raw rows are
    ``V, c`` (``losses.effective_weights``); return ``sum(s)``. ``g`` is the slope of the loss
    (code ``loss``; ``terms[t]`` its ``loss_functions.slope_terms`` for target ``t``, in X's
    dtype) at the row's residual, and ``s`` the row's weight times ``weight_scale``: with the
    reciprocal of the mean weight, weights far from 1 (1e-255 and 1e255 are valid) stay within
    float32's range in a float32 batch.

    Rows go in pairs (an odd last row pairs with itself at weight 0); a single target gets its
    own loop, where the target index is a constant (measured 25% faster than the loop over
    targets), and so does squared error, where the loss is a constant (a look-up of the loss
    per row made the epoch up to 1.6x slower at 10 features). The hot loops take arrays, not
    groups: reading an array out of a group costs a reference count, which per batch is
    measurable.
    """
    if loss == SQUARED_ERROR:
        return _pair_sums(X, Y, weights, index, start, stop, V, c, inv_y_scale, G, r_sum,
                          SQUARED_ERROR, terms, weight_scale)
    return _pair_sums(X, Y, weights, index, start, stop, V, c, inv_y_scale, G, r_sum, loss,
                      terms, weight_scale)


@inlined_reassociating_kernel
def _pair_sums(X, Y, weights, index, start, stop, V, c, inv_y_scale, G, r_sum, loss, terms,
               weight_scale):
    """:func:`gradient_sums`' loop."""
    k = Y.shape[1]
    n_index = index.shape[0]
    prefetching = n_index >= PREFETCH_MIN_ROWS
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
        s1 = V.dtype.type(row_weight(weights, i1) * weight_scale)
        if p + 1 < stop:
            i2 = index[p + 1]
            s2 = V.dtype.type(row_weight(weights, i2) * weight_scale)
        else:
            i2 = i1
            s2 = V.dtype.type(0.0)
        if k == 1:
            accumulate_pair(X, Y, i1, i2, s1, s2, 0, V, c, inv_y_scale, G, r_sum, loss, terms)
        else:
            for t in range(k):
                accumulate_pair(X, Y, i1, i2, s1, s2, t, V, c, inv_y_scale, G, r_sum, loss,
                                terms)
        weight += s1 + s2
    return weight


@inlined_reassociating_kernel
def proximal_step(coef, intercept, fit_intercept, x_offset, x_scale, l1, l2, eta, G, r_sum,
                  weight):
    """Step along the gradient of the sums ``G, r_sum`` (of :func:`gradient_sums`), then apply
    the penalty's proximal map.

    ``weight`` is ``sum(s)`` of the sums' rows; the standardised gradient
    ``sum(s r x') / sum(s)`` is ``(G - x_offset * r_sum) / x_scale / weight``. The elastic-net
    proximal map soft-thresholds by ``eta * l1`` (so weights the optimum sets to zero become
    exactly 0.0) and shrinks by ``1 / (1 + eta * l2)``, stable for any step (``l1`` and ``l2``
    of shape (k, d)).
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
            coef[t, j] = w / (1.0 + eta * l2[t, j])
        if fit_intercept:
            intercept[t] -= step * r_sum[t]


@inlined_reassociating_kernel
def add_drift(G, r_sum, drift_coef, drift_intercept, weight):
    """Add ``weight`` times the drift (gradient sums per unit of weight) to the sums ``G,
    r_sum`` of a batch whose step divides by ``weight``: the step then goes along the batch's
    gradient plus the drift."""
    k, d = G.shape
    for t in range(k):
        for j in range(d):
            G[t, j] += weight * drift_coef[t, j]
        r_sum[t] += weight * drift_intercept[t]


@inlined_reassociating_kernel
def average_in(coef, intercept, avg_coef, avg_intercept, count):
    """Fold the iterate into the running average of the last ``count`` iterates."""
    k, d = coef.shape
    share = 1.0 / count
    for t in range(k):
        for j in range(d):
            avg_coef[t, j] += (coef[t, j] - avg_coef[t, j]) * share
        avg_intercept[t] += (intercept[t] - avg_intercept[t]) * share


@kernel
def slope_terms_of(loss, dtype_like):
    """The ``loss_functions.slope_terms`` of each target of ``loss`` (a ``groups.Loss``), an
    array of shape (k, 5) of ``dtype_like``'s dtype."""
    k = loss.epsilon.shape[0]
    terms = np.empty((k, 5), dtype_like.dtype)
    for t in range(k):
        a, b, c, f, e = slope_terms(loss.kind, loss.epsilon[t], loss.quantile)
        terms[t, 0], terms[t, 1], terms[t, 2], terms[t, 3], terms[t, 4] = a, b, c, f, e
    return terms
