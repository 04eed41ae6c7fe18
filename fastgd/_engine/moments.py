"""The data's centred moments, from which the training loss at a check costs O(k d^2).

Each block adds its sums (``Backend.moment_sums``, on rows shifted by a sample's mean) and
:func:`finish_moments` makes the array the kernels read (``fastgd._kernels.losses``).
"""

import numpy as np

from .loss_functions import SQUARED_ERROR
from .stopping import CHECK_MAX_FEATURES

#: Up to this many features the training loss at a check comes from the data's moments.
MOMENT_LOSS_FEATURES = CHECK_MAX_FEATURES
#: ... and from this many rows on (below, a pass over X costs less than setting them up).
MOMENT_LOSS_MIN_ROWS = 8192
#: ... and for more checks than this: the pass that computes the moments costs about six
#: passes of the loss (measured at 2 to 10 features, 1,000,000 rows).
MOMENT_LOSS_MIN_CHECKS = 8


def wants_moments(backend, loss, n_rows, n_features, n_checks):
    """Whether the training losses at checks should come from the data's moments: one pass to
    compute them, then O(k d^2) a check, for squared error (the only loss they give), few
    features, many rows and more checks than the pass costs."""
    return (backend.moment_sums is not None and loss.kind == SQUARED_ERROR
            and n_features <= MOMENT_LOSS_FEATURES
            and n_rows >= MOMENT_LOSS_MIN_ROWS and n_checks > MOMENT_LOSS_MIN_CHECKS)


def moment_shift(rows, standard, sample_rows=1024):
    """The mean of the first ``sample_rows`` standardised rows ``[x', y']``: the shift of
    ``fastgd._kernels.losses.moment_sums``, so that the final centring subtracts only small
    quantities."""
    head = slice(0, min(rows.X.shape[0], sample_rows))
    return np.concatenate([((rows.X[head] - standard.x_offset) / standard.x_scale).mean(axis=0),
                           ((rows.Y[head] - standard.y_offset) / standard.y_scale).mean(axis=0)])


def finish_moments(shift, sums, products, total_weight):
    """The moments array of ``fastgd._kernels.losses.moment_losses`` from the sums of
    ``moment_sums``.

    Returns
    -------
    ndarray of shape (d + k + 1, d + k + 1)
        ``[:d+k, :d+k]`` is the covariance of ``[x', y']`` (weighted, divided by the total
        weight) and row ``d + k`` holds the means of the columns.
    """
    m_cols = len(shift)
    products = np.triu(products) + np.triu(products, 1).T
    mean_shifted = sums / total_weight
    moments = np.zeros((m_cols + 1, m_cols + 1))
    moments[:m_cols, :m_cols] = products / total_weight - np.outer(mean_shifted, mean_shifted)
    moments[m_cols, :m_cols] = shift + mean_shifted
    return moments
