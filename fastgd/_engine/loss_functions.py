"""The losses a fit minimises, as functions of a row's standardised residual.

The residual of a row is ``r = x . w + b - y`` (prediction minus target). The losses and their
parameters are scikit-learn's (``SGDRegressor``; the pinball loss of ``QuantileRegressor``):

- ``"squared_error"``: ``r^2 / 2``;
- ``"huber"``: ``r^2 / 2`` for ``|r| <= epsilon``, else ``epsilon * (|r| - epsilon / 2)``;
- ``"epsilon_insensitive"``: ``max(|r| - epsilon, 0)``;
- ``"squared_epsilon_insensitive"``: ``max(|r| - epsilon, 0)^2`` (no half, as scikit-learn);
- ``"quantile"``: ``(1 - quantile) * r`` for ``r > 0``, else ``-quantile * r``.

``epsilon`` is in y's units. ``"auto"`` fits in the standardised space of
``groups.Standardisation``, ``r' = r / y_scale``: there every loss is the same loss with
``epsilon' = epsilon / y_scale``, times ``y_scale ** power`` (:func:`unit_power`), so both
have the same minimiser. :func:`loss_value` and :func:`slope_from` (with the loss's
:func:`slope_terms`) take one residual (the kernels compile them, ``shared``);
:func:`values` and :func:`slopes` are their vectorised twins for the NumPy engine.
"""

import numpy as np

from .._kernels.jit import shared
from .groups import Loss

#: The losses by name; a loss's code is its position.
LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
          "quantile")
SQUARED_ERROR, HUBER, EPSILON_INSENSITIVE, SQUARED_EPSILON_INSENSITIVE, QUANTILE = range(5)


def loss_group(name, epsilon, quantile, y_scale):
    """The :class:`Loss` of the loss ``name`` for targets of spreads ``y_scale`` (shape (k,);
    ones on raw data)."""
    return Loss(LOSSES.index(name), float(epsilon) / np.asarray(y_scale, dtype=np.float64),
                float(quantile))


def unit_power(kind):
    """``p`` such that the loss of a residual in y's units is ``y_scale ** p`` times the loss
    of the standardised residual: 2 for the squared losses and Huber, 1 for the linear ones."""
    return 1 if kind in (EPSILON_INSENSITIVE, QUANTILE) else 2


def step_factor(kind, epsilon, spread):
    """The factor of ``"auto"``'s first step for the loss ``kind`` over that of squared error.

    ``epsilon`` holds the loss's thresholds and ``spread`` the targets' robust spreads
    (``fastgd._preparation.robust_spread``), one per target, both in standardised units.
    Squared epsilon-insensitive has twice the curvature of squared error: half the step. The
    slopes of the piecewise linear losses are at most 1, as are those of squared error where
    the residuals are of the order of y's spread, 1: their step scales with the distance the
    model has to go, the robust spread of y (below 1 when a few outlying targets inflate the
    standard deviation). Huber is quadratic where ``epsilon`` is above that spread (the step
    of squared error) and ``epsilon`` times a linear loss where it is below (the linear
    loss's step over ``epsilon``). The target that allows the largest step sets it.
    """
    if kind == SQUARED_EPSILON_INSENSITIVE:
        return 0.5
    if kind == HUBER:
        return float(np.max(np.maximum(1.0, spread / epsilon)))
    if kind in (EPSILON_INSENSITIVE, QUANTILE):
        return float(np.max(spread))
    return 1.0


def bounded_slopes(kind, epsilon, spread):
    """Whether the loss's slopes are bounded where the residuals are (``epsilon`` and
    ``spread`` as in :func:`step_factor`): the linear losses, and Huber where ``epsilon`` is
    below y's robust spread for some target. Their first step comes from the typical rows,
    not the outlying ones (``fastgd._curvature.curvature``'s ``typical``)."""
    if kind == HUBER:
        return bool(np.any(epsilon < spread))
    return kind in (EPSILON_INSENSITIVE, QUANTILE)


@shared
def loss_value(kind, r, epsilon, quantile):
    """The loss ``kind`` of the residual ``r``."""
    if kind == SQUARED_ERROR:
        return 0.5 * r * r
    a = abs(r)
    if kind == HUBER:
        return 0.5 * r * r if a <= epsilon else epsilon * (a - 0.5 * epsilon)
    if kind == EPSILON_INSENSITIVE:
        return max(a - epsilon, 0.0)
    if kind == SQUARED_EPSILON_INSENSITIVE:
        excess = max(a - epsilon, 0.0)
        return excess * excess
    return (1.0 - quantile) * r if r > 0.0 else -quantile * r


@shared
def slope_terms(kind, epsilon, quantile):
    """``(a, b, c, f, e)`` with which :func:`slope_from` gives the slope of the loss ``kind``:
    ``a r + b clip(r, -e, e) + c ((r > e) - (r < -e)) + f``, arithmetic without branches on
    the loss (what the batch loops compute per row)."""
    if kind == SQUARED_ERROR:
        return 1.0, 0.0, 0.0, 0.0, 0.0
    if kind == HUBER:
        return 0.0, 1.0, 0.0, 0.0, epsilon
    if kind == EPSILON_INSENSITIVE:
        return 0.0, 0.0, 1.0, 0.0, epsilon
    if kind == SQUARED_EPSILON_INSENSITIVE:
        return 2.0, -2.0, 0.0, 0.0, epsilon
    return 0.0, 0.0, 0.5, 0.5 - quantile, 0.0  # (sign(r) + 1) / 2 - quantile


@shared
def slope_from(r, a, b, c, f, e):
    """The slope at ``r`` from :func:`slope_terms` (of ``r``'s type when the terms are)."""
    above = c if r > e else c - c
    below = c if r < -e else c - c
    return a * r + b * min(max(r, -e), e) + (above - below) + f


def values(loss, R):
    """:func:`loss_value` of every residual of ``R`` (rows, targets) for the :class:`Loss`
    ``loss``."""
    kind, epsilon = loss.kind, loss.epsilon
    if kind == SQUARED_ERROR:
        return 0.5 * R * R
    A = np.abs(R)
    if kind == HUBER:
        return np.where(A <= epsilon, 0.5 * R * R, epsilon * (A - 0.5 * epsilon))
    excess = np.maximum(A - epsilon, 0.0)
    if kind == EPSILON_INSENSITIVE:
        return excess
    if kind == SQUARED_EPSILON_INSENSITIVE:
        return excess * excess
    return np.where(R > 0.0, (1.0 - loss.quantile) * R, -loss.quantile * R)


def slopes(loss, R):
    """The slope (:func:`slope_from`) at every residual of ``R`` (rows, targets): at a kink,
    the middle of the subgradient for the quantile loss and 0 for epsilon-insensitive."""
    kind, epsilon = loss.kind, loss.epsilon
    if kind == SQUARED_ERROR:
        return R
    if kind == HUBER:
        return np.clip(R, -epsilon, epsilon)
    if kind == EPSILON_INSENSITIVE:
        return np.where(R > epsilon, 1.0, np.where(R < -epsilon, -1.0, 0.0))
    if kind == SQUARED_EPSILON_INSENSITIVE:
        return 2.0 * (R - np.clip(R, -epsilon, epsilon))
    q = loss.quantile
    return np.where(R > 0.0, 1.0 - q, np.where(R < 0.0, -q, 0.5 - q))
