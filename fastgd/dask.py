"""``fastgd.dask.fit``: mini-batch gradient descent over the blocks of Dask arrays, where
they live.

Dask is an optional extra: ``pip install "fastgd[dask]"``. Each epoch, every row block of X
runs one epoch of the Numba kernels on its worker, starting from the same model (its rows
shuffled from its own seeded stream); the client averages the blocks' models, weighted by
their rows (or sample weights), and asks the workers for the objective of the average (a
second, cheaper pass). Only models and per-block sums travel; X never comes to the client.

Why parameter averaging rather than gradient aggregation: aggregating gradients makes one
update per round trip, so an epoch over n rows in batches of B would need n / B round trips
(or become full-batch descent with a single update an epoch); averaging keeps n / B
mini-batch updates an epoch on each worker and one round trip. For small steps the average
of models that each descended from the same start moves like one descent over all the rows,
and as the step shrinks (the ``"auto"`` schedule) the average settles at the least-squares
solution: tests/test_dask.py checks 8 blocks on 2 workers against lstsq.
"""

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f'fastgd.dask needs dask ({exc}): pip install "fastgd[dask]"') from exc

from . import _validation as v
from ._engine.backends import get_backend
from ._engine.blocks import average_models, block_epoch, block_seed, blocks_setup
from ._engine.driver import Blocks, run_blocks
from ._engine.groups import Model, batches
from ._engine.moments import moment_shift
from ._preparation import auto_scaling, finish_offsets_scales, prepare, raw_scaling
from ._results import make_result


def fit(X, y, *, sample_weight=None, batch_size=32, epochs=1000, learning_rate="auto",
        fit_intercept=True, loss="squared_error", epsilon=0.1, quantile=0.5, penalty=None,
        alpha=0.0001, l1_ratio=0.15, shuffle=True, drop_last=False, tol=1e-4,
        n_iter_no_change=5, random_state=None, backend="auto"):
    """Fit a linear model to Dask arrays by mini-batch gradient descent.

    The options are those of :func:`fastgd.fit` (without averaging, early stopping or start
    values). The computation runs on the active Dask scheduler: a ``dask.distributed.Client``
    if one is open, else Dask's local threads. X and y are persisted on it for the fit.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Row blocks are the units of work (columns are put in one block).
    y : dask.array.Array or ndarray of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : dask.array.Array or ndarray of shape (n_samples,), optional

    Returns
    -------
    FitResult
        As from :func:`fastgd.fit`; ``n_updates`` counts the updates of one block's worker
        (the longest), ``settings["n_blocks"]`` the blocks.

    Raises
    ------
    RuntimeError
        When a worker is lost and Dask cannot recompute its blocks.
    """
    options = v.check_options(
        batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
        fit_intercept=fit_intercept, loss=loss, epsilon=epsilon, quantile=quantile,
        penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, early_stopping=False,
        validation_fraction=0.1, shuffle=shuffle, drop_last=drop_last,
        tol=tol, n_iter_no_change=n_iter_no_change)
    backend_name = get_backend(v.check_backend(backend)).name
    seed = v.check_random_state(random_state)
    try:
        X, Y, W, y_ndim = _check_dask_data(X, y, sample_weight)
        X, Y, W = dask.persist(X, Y, W)
        blocks = DaskBlocks(X, Y, W, options, seed, backend_name)
        problem = _sample_problem(X, Y, W, options, seed)
        setup = blocks_setup(problem, blocks, options["batch_size"], X.shape[0],
                             moment_shift(problem.rows, problem.setup.standard))
        start = Model(problem.start.coef.copy(), problem.start.intercept.copy())
        outcome = run_blocks(blocks, setup, start, np.zeros(2, dtype=np.int64),
                             problem.new_histories(), problem.standardised)
    except Exception as exc:
        if type(exc).__name__ in ("KilledWorker", "FutureCancelledError", "CancelledError"):
            raise RuntimeError(f"A Dask worker was lost and its blocks could not be computed "
                               f"again ({type(exc).__name__}: {exc}); restart the workers and "
                               "fit again.") from exc
        raise
    settings = dict(options, average=False, sample_weight=W is not None, warm_start=False,
                    n_blocks=len(blocks.blocks))
    return make_result(problem, X.dtype, y_ndim, outcome, backend_name, settings)


class DaskBlocks(Blocks):
    """The row blocks of persisted Dask arrays: functions run on the workers, side by side, and
    an epoch averages the blocks' models, weighted by their rows (or sample weights)."""

    def __init__(self, X, Y, W, options, seed, backend_name):
        self.blocks = list(zip(X.to_delayed().ravel(), Y.to_delayed().ravel(),
                               [None] * X.numblocks[0] if W is None else W.to_delayed().ravel(),
                               strict=True))
        self.seed, self.backend_name = seed, backend_name
        rows = [int(c) for c in X.chunks[0]]
        self.n_batches = max(batches(r, options["batch_size"], options["drop_last"])[1]
                             for r in rows if r > 0)
        weights = (np.array(rows, dtype=np.float64) if W is None else
                   np.array(dask.compute(*[wb.sum() for _, _, wb in self.blocks])))
        self.share = weights / weights.sum()

    def map(self, function, *args):
        call = dask.delayed(function, pure=True)
        return dask.compute(*[call(xb, yb, wb, *args) for xb, yb, wb in self.blocks])

    def epoch(self, setup, model, eta, epoch, n_updates):
        call = dask.delayed(block_epoch, pure=True, nout=2)
        results = dask.compute(*[
            call(xb, yb, wb, setup, model, eta, epoch, n_updates, block_seed(self.seed, b),
                 self.backend_name)
            for b, (xb, yb, wb) in enumerate(self.blocks)])
        return (average_models([model for model, _ in results], self.share),
                max(t for _, t in results))


def _sample_problem(X, Y, W, options, seed):
    """The :class:`Problem` of the fit on a sample of evenly spaced rows, with the scaling of
    all the rows (the engine's blocks come from the workers)."""
    n = X.shape[0]
    sample = np.linspace(0, n - 1, min(n, 2048)).astype(np.intp)
    X_sample, Y_sample = dask.compute(X[sample], Y[sample])
    W_sample = None if W is None else W[sample].compute()
    scaling = _scaling(X, Y, W, options, X_sample, Y_sample, W_sample)
    k, d = Y.shape[1], X.shape[1]
    return prepare(X_sample, Y_sample, W_sample, coef_init=np.zeros((k, d)),
                   intercept_init=None, average_start=-1, seed=seed, scaling=scaling,
                   mean_weight=None if W is None else float(W.mean().compute()), **options)


def _scaling(X, Y, W, options, X_sample, Y_sample, W_sample):
    """The standardisation of ``"auto"`` from Dask reductions (small vectors come back), its
    step from the sampled rows."""
    if not isinstance(options["learning_rate"], str):
        return raw_scaling(X.shape[1], Y.shape[1], options["learning_rate"])
    Z = da.concatenate([X, Y], axis=1).astype(np.float64)
    if W is None:
        total, sums = float(X.shape[0]), Z.sum(axis=0).compute()
    else:
        total, sums = dask.compute(W.sum(), (Z * W[:, None]).sum(axis=0))
    mean = sums / total if options["fit_intercept"] else np.zeros(Z.shape[1])
    squares = (Z - mean) ** 2 if W is None else (Z - mean) ** 2 * W[:, None]
    sum_sq = squares.sum(axis=0).compute()
    offset, scale = finish_offsets_scales(mean, np.sqrt(sum_sq / total))
    d = X.shape[1]
    return auto_scaling(X_sample, Y_sample, W_sample, options["fit_intercept"],
                        options["batch_size"], options["loss"], options["epsilon"],
                        (offset[:d], scale[:d], offset[d:], scale[d:]))


def _check_dask_data(X, y, sample_weight):
    """X, Y (2-D), weights as Dask arrays with the same row blocks, columns in one block."""
    if not isinstance(X, da.Array):
        raise TypeError(f"fastgd.dask.fit takes a dask.array.Array X, got {type(X).__name__}; "
                        "for NumPy arrays use fastgd.fit.")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be 2-D of shape (n_samples, n_features) with rows and "
                         f"columns, got shape {X.shape}.")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has blocks of unknown size (from a filter or a dataframe's values): "
                         "call X.compute_chunk_sizes() first, then fit.")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = X.astype(dtype).rechunk({1: -1})
    y = da.asarray(y)
    if any(np.isnan(c) for c in y.chunks[0]):
        raise ValueError("y has blocks of unknown size (from a filter or a dataframe's "
                         "values): call y.compute_chunk_sizes() first, then fit.")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold real numbers, got dtype {y.dtype}: convert it with "
                        "y.astype(float) (complex or text targets cannot be fitted).")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be of shape ({X.shape[0]},) or ({X.shape[0]}, n_targets), "
                         f"got shape {y.shape}.")
    Y = y.reshape(X.shape[0], -1).astype(dtype).rechunk((X.chunks[0], -1))
    W = None
    if sample_weight is not None:
        W = da.asarray(sample_weight).astype(np.float64)
        if W.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},), got shape "
                             f"{W.shape}.")
        W = W.rechunk((X.chunks[0],))
    checks = [da.isfinite(X).all(), da.isfinite(Y).all()]
    if W is not None:
        checks += [da.isfinite(W).all(), (W >= 0).all(), W.sum() > 0]
    ok = dask.compute(*checks)
    if not (ok[0] and ok[1]):
        raise ValueError("X or y contains NaN or infinite values; remove or impute them "
                         "before fitting.")
    if W is not None and not all(ok[2:]):
        raise ValueError("sample_weight must be finite and non-negative with a positive sum.")
    return X, Y, W, y.ndim
