"""Rows drawn by importance (``groups.Sampling``, from ``fastgd._curvature.
importance_sampling``): the epoch engine walks the drawn rows, reweighted, in place of every
row once."""

import numpy as np


def draw_rows(sampling, seed, epoch, index):
    """Draw epoch ``epoch``'s rows into ``index``, in order of row, by systematic sampling:
    row ``i`` is drawn ``floor(n P_i + u) - floor(n P_{i-1} + u)`` times, ``P`` the cumulative
    probabilities and ``u`` uniform from ``(seed, epoch)``, which is ``n p_i`` rounded down or
    up, unbiased, and each row once when ``p`` is uniform."""
    n = len(index)
    u = np.random.default_rng([seed, 4, epoch]).random()
    ends = np.floor(sampling.cumulative * n + u).astype(np.int64)
    index[:] = np.repeat(np.arange(n, dtype=index.dtype), np.diff(ends, prepend=0))


def sampled_epoch(backend, rows, plan, sampling):
    """``rows`` and ``plan`` for one epoch ``plan.first_epoch`` over rows drawn by
    ``sampling``: the drawn rows shuffled into ``rows.index`` (the backend's shuffle), their
    weights, and a plan that walks them as they are."""
    draw_rows(sampling, plan.seed, plan.first_epoch, rows.index)
    backend.shuffle(rows.index, plan.seed, plan.first_epoch)
    return rows._replace(weights=sampling.weights), plan._replace(shuffle=False)
