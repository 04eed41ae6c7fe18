"""The step of ``learning_rate="auto"``: a mini-batch step that is stable for the data's own
rows and weights.

For least squares on standardised rows ``z`` (with a 1 for the intercept) and sample weights
``s``, mini-batch SGD with ``B`` rows per batch contracts in mean square for steps up to

    eta = B / (R2 + (B - 1) * lambda_max)

(Jain, Kakade, Kidambi, Netrapalli & Sidford, JMLR 2018; Ma, Bassily & Belkin, ICML 2018),
where ``lambda_max`` is the largest eigenvalue of ``H = E_s[z z']`` and ``R2`` the smallest
number with ``E_s[(s / mean(s)) |z|^2 z z'] <= R2 * H``: the fourth moments of the rows (a
batch's gradient is ``sum(s r z) / (B * mean(s))``, so a row of weight ``s`` acts as if its
norm were scaled by ``s / mean(s)``). For Gaussian rows ``R2`` is about the number of features
plus 2; a 0/1 column that is 1 in a share ``p`` of the rows makes it about ``1 / p``; one
outlying row makes it about that row's squared norm times its share; a 0/1 weight mask that
keeps a quarter of the rows multiplies it by 4. Using the *mean* squared row norm there (as
fastgd 0.1 did) lets such rows blow the iterates up.

``R2`` is the largest eigenvalue of the pencil ``(E[|z|^2 z z'], H)``, estimated on the rows
that matter: every row of a small problem; else ``SAMPLE_ROWS`` evenly spaced rows plus the
``TOP_ROWS`` rows of largest norm (found by a pass over all the rows), each weighted by the
share of the data it stands for. Exactly (an eigensolver) up to ``EXACT_FEATURES`` features;
above, as the largest Rayleigh quotient over candidate directions (every axis, every top row,
the leading eigenvector of the fourth-moment matrix). It is never above the largest squared
row norm, which bounds it for any data. A sparse X is never filled in: up to
``EXACT_FEATURES`` columns its sample of rows is made dense; above, ``lambda_max`` comes from
products with the centred sample (a linear operator) and ``R2`` is bounded by the largest
weighted squared row norm, found exactly by a pass over the stored entries.
"""

from typing import NamedTuple

import numpy as np

from ._engine.groups import Csr, Sampling

#: Evenly spaced rows that stand for the bulk of the data.
SAMPLE_ROWS = 2048
#: Rows of largest norm added to the sample (outlying rows, rare categories).
TOP_ROWS = 256
#: Up to this many columns (features, plus the intercept) ``R2`` comes from an eigensolver.
EXACT_FEATURES = 256
#: Power-iteration steps for the largest eigenvalues above ``EXACT_FEATURES``.
POWER_ITERATIONS = 30
#: Bytes of float64 work memory per chunk of the pass over the rows.
CHUNK_BYTES = 1 << 22
#: Variance-reduced epochs and streams' calls draw rows by their norms
#: (:func:`importance_sampling`) when that allows a step at least this many times longer.
IMPORTANCE_GAIN = 1.5


class Curvature(NamedTuple):
    """What the step of a standardised problem comes from: ``r2`` and ``lam``
    (``lambda_max``) for batches of ``batch_size`` rows."""

    r2: float
    lam: float
    batch_size: int

    def step(self, r2=None):
        """The step ``B / (R2 + (B - 1) * lambda_max)``, with ``r2`` in place of ``R2`` when
        given."""
        denominator = (self.r2 if r2 is None else r2) + (self.batch_size - 1.0) * self.lam
        return self.batch_size / denominator if denominator > 0 else 1.0


def curvature(X, weights, x_offset, x_scale, fit_intercept, batch_size, typical=False,
              mean_weight=None):
    """The :class:`Curvature` of the standardised problem, whose step
    ``B_eff / (R2 + (B_eff - 1) * lambda_max)`` is stable.

    With ``typical``, ``R2`` is the mean weighted squared norm of the standardised rows,
    ``tr(H)`` (the live columns, plus 1 for the intercept) times ``mean(s^2) / mean(s)^2``:
    the step for losses whose slopes are bounded, which no row can make unstable (a few
    outlying rows would make ``R2`` and the step of squared error small for every row).

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
        Raw rows (may be memory-mapped: one pass in chunks, and no temporary of n floats).
    weights : ndarray of shape (n,) or None
    x_offset, x_scale : ndarray of shape (d,)
        The standardisation (scale ``inf`` for a constant column).
    fit_intercept : bool
    batch_size : int
        Rows per batch as run (at most n).
    typical : bool, default False
    mean_weight : float, optional
        The mean weight the batches' gradients are divided by, when the rows are a part of
        the fit's (a stream's chunk); default the mean of ``weights``.

    Returns
    -------
    Curvature
    """
    inverse = np.where(np.isfinite(x_scale), 1.0 / x_scale, 0.0)
    if mean_weight is None:
        mean_weight = 1.0 if weights is None else float(weights.mean())
    top, top_norms, n_live = _largest_rows(X, weights, mean_weight, x_offset, inverse,
                                           fit_intercept)
    sample, share = _sample_rows(X.shape[0], weights, top, n_live)
    if _sparse(X) and X.shape[1] + fit_intercept > EXACT_FEATURES:
        Z = _centred_operator(X[sample], x_offset, inverse, fit_intercept)
        lam, r2 = _power_eigenvalue(_scaled_rows(np.sqrt(share), Z))[0], np.inf
    else:
        Z = _standardised_sample(X, sample, x_offset, inverse, fit_intercept)
        q = np.einsum("ij,ij->i", Z, Z)
        if weights is not None:
            q *= weights[sample] / mean_weight
        lam, r2 = _moments_eigenvalues(Z, share, q)
    if weights is not None:  # the rows' Hessian, relative to the mean weight of the batches
        lam *= float(weights.mean()) / mean_weight
    r2 = min(max(r2, lam), float(top_norms.max()))
    if typical:  # E_s[(s / mean s) |z|^2], taking the weights independent of the rows
        spread = 1.0 if weights is None else float(np.mean(np.square(weights))) / mean_weight**2
        r2 = float(np.count_nonzero(inverse) + fit_intercept) * spread
    return Curvature(float(r2), float(lam), int(batch_size))


def _largest_rows(X, weights, mean_weight, x_offset, inverse, fit_intercept):
    """The ``TOP_ROWS`` rows of largest weighted standardised norm ``s / mean(s) * |z|^2``
    among those of positive weight, by a pass over X in chunks.

    Returns
    -------
    rows : ndarray of int
    norms : ndarray of float64
        Their weighted squared norms (``|z|^2`` with an intercept's 1).
    n_live : int
        Rows of positive weight.
    """
    rows, norms = np.empty(0, dtype=np.intp), np.empty(0)
    n_live = X.shape[0] if weights is None else int(np.count_nonzero(weights > 0))
    for start, q in _weighted_norms(X, weights, mean_weight, x_offset, inverse, fit_intercept):
        if weights is not None:
            q[~(weights[start:start + len(q)] > 0)] = -np.inf
        rows = np.concatenate([rows, np.arange(start, start + len(q))])
        norms = np.concatenate([norms, q])
        if len(norms) > TOP_ROWS:
            keep = np.argpartition(norms, -TOP_ROWS)[-TOP_ROWS:]
            rows, norms = rows[keep], norms[keep]
    live = norms > -np.inf
    return rows[live], norms[live], n_live


def _weighted_norms(X, weights, mean_weight, x_offset, inverse, fit_intercept):
    """Yield ``(start, q)`` for chunks of the rows of X from row ``start``: their weighted
    standardised squared norms ``s / mean(s) * (|z|^2 + fit_intercept)``."""
    n, d = X.shape
    row_width = max(1, X.nnz // max(n, 1)) if _sparse(X) else d
    step = max(1, CHUNK_BYTES // (8 * row_width))
    for start in range(0, n, step):
        q = _squared_norms(X[start:start + step], x_offset, inverse) + float(fit_intercept)
        if weights is not None:
            q *= weights[start:start + step] / mean_weight
        yield start, q


def importance_sampling(X, weights, x_offset, x_scale, fit_intercept, curvature, mean_weight,
                        uniform_share=0.0):
    """How an epoch draws its rows: in proportion to their weighted standardised squared norms
    ``q`` (mixed with a ``uniform_share`` of uniform draws), when that allows a step at least
    ``IMPORTANCE_GAIN`` times longer; else None (each row once an epoch).

    Drawn with probabilities ``p = (1 - a) q / sum(q) + a / n`` and weighted by ``s / (n p)``,
    the rows give unbiased gradients whose fourth moments are bounded by
    ``max(q / (n p))`` in place of ``R2``: ``mean(q)`` with ``a = 0``, the choice of
    variance-reduced epochs (Xiao & Zhang, "A proximal stochastic gradient method with
    progressive variance reduction", SIAM J. Optim. 2014); at most ``mean(q) / (1 - a)`` with
    weights at most ``1 / a`` for plain SGD, whose noise at the optimum the weights would
    otherwise inflate (Needell, Srebro & Ward, "Stochastic gradient descent, weighted
    sampling, and the randomized Kaczmarz algorithm", Math. Program. 2016). A few outlying
    rows, a rare category or heavy weights no longer set the step of every row. Rows of
    weight 0 are never drawn (``n`` counts the others).

    Parameters
    ----------
    X, weights, x_offset, x_scale, fit_intercept
        As for :func:`curvature`; X may also be a ``fastgd._engine.groups.Csr``.
    curvature : Curvature
        The problem's, for these rows and weights.
    mean_weight : float
    uniform_share : float, default 0

    Returns
    -------
    fastgd._engine.groups.Sampling or None
    """
    live_columns = int(np.count_nonzero(np.isfinite(x_scale))) + fit_intercept
    if curvature.step(live_columns) < IMPORTANCE_GAIN * curvature.step():
        return None  # mean(q) is about the live columns: the norms are too even to gain
    q = row_norms(X, weights, x_offset, x_scale, fit_intercept, mean_weight)
    n = len(q)
    live = q > 0.0
    total = float(q.sum())
    if not total > 0.0:
        return None
    p = (1.0 - uniform_share) * q / total + uniform_share * live / np.count_nonzero(live)
    draws = np.divide(1.0, n * p, out=np.zeros(n), where=live)  # 1 / (n p)
    step = curvature.step(float(np.max(q * draws)))
    if step < IMPORTANCE_GAIN * curvature.step():
        return None
    cumulative = np.cumsum(p)
    cumulative /= cumulative[-1]
    cumulative[-1] = 1.0
    return Sampling(cumulative, draws if weights is None else draws * weights,
                    step / curvature.step())


def row_norms(X, weights, x_offset, x_scale, fit_intercept, mean_weight):
    """The standardised squared norms ``q`` of the rows of a dense or sparse X, times their
    ``weights`` over ``mean_weight`` (None: unweighted), as :func:`importance_sampling`
    draws by.

    Returns
    -------
    ndarray of shape (n,)
    """
    if isinstance(X, Csr):
        import scipy.sparse as sp

        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)
    inverse = np.where(np.isfinite(x_scale), 1.0 / x_scale, 0.0)
    return np.concatenate([chunk for _, chunk in _weighted_norms(X, weights, mean_weight,
                                                                  x_offset, inverse,
                                                                  fit_intercept)])


def _squared_norms(X, x_offset, inverse):
    """``|(x - x_offset) * inverse|^2`` of each row of a dense or sparse X; for a sparse one,
    the sum over its stored entries of ``(x^2 - 2 m x) / s^2`` plus ``|m / s|^2``."""
    if _sparse(X):
        return (X.power(2) @ np.square(inverse) - 2.0 * (X @ (x_offset * np.square(inverse)))
                + np.sum(np.square(x_offset * inverse)))
    Z = X - x_offset
    Z *= inverse
    return np.einsum("ij,ij->i", Z, Z)


def _sparse(X):
    return not isinstance(X, np.ndarray)


def _standardised_sample(X, sample, x_offset, inverse, fit_intercept):
    """The standardised rows ``sample`` of X (dense), with a column of ones for the
    intercept."""
    Z = X[sample]
    Z = Z.toarray() if _sparse(Z) else np.asarray(Z)
    Z = (Z.astype(np.float64, copy=False) - x_offset) * inverse
    return np.column_stack([Z, np.ones(len(sample))]) if fit_intercept else Z


def _centred_operator(X, x_offset, inverse, fit_intercept):
    """The standardised rows of a sparse X, with a column of ones for the intercept, as a
    linear operator (``(X - m) / s`` is never formed)."""
    from scipy.sparse.linalg import LinearOperator

    n, d = X.shape
    X = X.astype(np.float64) @ sp_diags(inverse)
    m = x_offset * inverse

    def matvec(v):
        v = np.ravel(v)
        out = X @ v[:d] - m @ v[:d]
        return out + v[d] if fit_intercept else out

    def rmatvec(u):
        u = np.ravel(u)
        out = X.T @ u - m * u.sum()
        return np.append(out, u.sum()) if fit_intercept else out

    return LinearOperator((n, d + fit_intercept), matvec=matvec, rmatvec=rmatvec,
                          dtype=np.float64)


def _scaled_rows(factors, Z):
    """The operator ``diag(factors) @ Z``."""
    from scipy.sparse.linalg import aslinearoperator

    return aslinearoperator(sp_diags(factors)) @ Z


def sp_diags(values):
    """``scipy.sparse.diags(values)`` (SciPy is imported only for sparse input)."""
    import scipy.sparse as sp

    return sp.diags(values)


def _sample_rows(n, weights, top, n_live):
    """Rows standing for the data, and the share of the total weight each stands for: every
    row of positive weight of a small problem; else the rows ``top`` as themselves, and rows
    spaced evenly for the rest.

    Returns
    -------
    rows : ndarray of int
    share : ndarray of float64, summing to 1
    """
    s = (lambda rows: np.ones(len(rows))) if weights is None else (lambda rows: weights[rows])
    if n_live <= SAMPLE_ROWS + TOP_ROWS:
        rows = np.arange(n) if weights is None else np.flatnonzero(weights > 0)
        return rows, s(rows) / s(rows).sum()
    spaced = np.linspace(0, n - 1, min(n, SAMPLE_ROWS * n // n_live)).astype(np.intp)
    spaced = spaced[~np.isin(spaced, top)]
    bulk = spaced[s(spaced) > 0]
    total = float(n) if weights is None else float(weights.sum())
    rest = total - s(top).sum()
    return (np.concatenate([top, bulk]),
            np.concatenate([s(top) / total, s(bulk) * (rest / total / s(bulk).sum())]))


def _moments_eigenvalues(Z, share, q):
    """``lambda_max`` of ``H = sum(share z z')`` and ``R2``, the largest eigenvalue of the pencil
    ``(sum(share q z z'), H)``, from the sample rows ``Z`` of squared norms ``q``."""
    root = np.sqrt(share)[:, None]
    A, B = Z * root, Z * (root * np.sqrt(q)[:, None])  # H = A'A, M = B'B
    if Z.shape[1] <= EXACT_FEATURES:
        values, vectors = np.linalg.eigh(A.T @ A)
        lam = float(values[-1])
        keep = values > 1e-12 * max(lam, 1e-300)
        W = vectors[:, keep] / np.sqrt(values[keep])
        BW = B @ W
        return lam, float(np.linalg.eigvalsh(BW.T @ BW)[-1]) if keep.any() else 0.0
    lam = _power_eigenvalue(A)[0]
    _, leading = _power_eigenvalue(B)
    directions = np.column_stack([Z[:TOP_ROWS].T, leading])
    h = np.einsum("ij,ij->j", A, A)
    m = np.einsum("ij,ij->j", B, B)
    axes = np.max(np.divide(m, h, out=np.zeros_like(m), where=h > 0))
    hp, mp = A @ directions, B @ directions
    h, m = np.einsum("ij,ij->j", hp, hp), np.einsum("ij,ij->j", mp, mp)
    rays = np.max(np.divide(m, h, out=np.zeros_like(m), where=h > 0))
    return lam, float(max(axes, rays))


def _power_eigenvalue(A):
    """The largest eigenvalue of ``A'A`` and its eigenvector, by power iteration."""
    v = np.random.default_rng(0).standard_normal(A.shape[1])
    value = 0.0
    for _ in range(POWER_ITERATIONS):
        u = A.T @ (A @ v)
        value = float(np.sqrt(u @ u))
        if value == 0.0:
            break
        v = u / value
    return value, v
