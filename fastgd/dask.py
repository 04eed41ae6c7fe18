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
from ._backends import get_backend
from ._fit import _check_options, make_result
from ._preparation import auto_scaling, finish_offsets_scales, raw_scaling
from ._stopping import RUNNING
from ._streaming import (EpochLoop, block_epoch, block_losses, block_options, block_problem,
                         block_seed, penalty_of)


def fit(X, y, *, sample_weight=None, batch_size=32, epochs=1000, learning_rate="auto",
        fit_intercept=True, penalty=None, alpha=0.0001, l1_ratio=0.15, shuffle=True,
        drop_last=False, tol=1e-4, n_iter_no_change=5, random_state=None, backend="auto"):
    """Fit a least-squares linear model to Dask arrays by mini-batch gradient descent.

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
    options = _check_options(
        batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
        fit_intercept=fit_intercept, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        early_stopping=False, validation_fraction=0.1, shuffle=shuffle, drop_last=drop_last,
        tol=tol, n_iter_no_change=n_iter_no_change)
    backend_name, _ = get_backend(v.check_backend(backend))
    seed = v.check_random_state(random_state)
    per_block = block_options(options)
    try:
        X, Y, W, y_ndim = _check_dask_data(X, y, sample_weight)
        X, Y, W = dask.persist(X, Y, W)
        blocks = list(zip(X.to_delayed().ravel(), Y.to_delayed().ravel(),
                          [None] * X.numblocks[0] if W is None else W.to_delayed().ravel(),
                          strict=True))
        return _fit_blocks(X, Y, W, y_ndim, blocks, per_block, options, seed, backend_name)
    except Exception as exc:
        if type(exc).__name__ in ("KilledWorker", "FutureCancelledError", "CancelledError"):
            raise RuntimeError(f"A Dask worker was lost and its blocks could not be computed "
                               f"again ({type(exc).__name__}: {exc}); restart the workers and "
                               "fit again.") from exc
        raise


def _fit_blocks(X, Y, W, y_ndim, blocks, per_block, options, seed, backend):
    n, d = X.shape
    sample = np.linspace(0, n - 1, min(n, 2048)).astype(np.intp)
    X_sample, Y_sample = dask.compute(X[sample], Y[sample])
    W_sample = None if W is None else W[sample].compute()
    scaling = _scaling(X, Y, W, per_block, X_sample, W_sample)
    k = Y.shape[1]
    report = block_problem(X_sample, Y_sample, W_sample, scaling, np.zeros((k, d)), np.zeros(k),
                           seed, per_block, epochs=options["epochs"], tol=options["tol"],
                           n_iter_no_change=options["n_iter_no_change"])
    rows = [int(c) for c in X.chunks[0]]
    batches = max(-(-r // per_block["batch_size"]) for r in rows)
    loop = EpochLoop(scaling, options["tol"], options["n_iter_no_change"], batches,
                     keep_best=scaling.standardised)
    train = dask.delayed(block_epoch, pure=True, nout=3)
    losses = dask.delayed(block_losses, pure=True, nout=2)

    def objective(coef, intercept):
        parts = dask.compute(*[losses(xb, yb, wb, scaling, coef, intercept)
                               for xb, yb, wb in blocks])
        sums = sum(p[0] for p in parts)
        return sums / sum(p[1] for p in parts) + penalty_of(coef, report.l1, report.l2)

    coef, intercept = report.coef_init.copy(), report.intercept_init.copy()
    loop.start(objective(coef, intercept), coef, intercept)
    n_updates, status = 0, RUNNING
    block_weights = np.array(rows, dtype=np.float64) if W is None else np.array(
        dask.compute(*[wb.sum() for _, _, wb in blocks]))
    share = block_weights / block_weights.sum()
    for epoch in range(options["epochs"]):
        results = dask.compute(*[
            train(xb, yb, wb, scaling, coef, intercept, loop.eta, epoch, n_updates,
                  block_seed(seed, b), per_block, backend)
            for b, (xb, yb, wb) in enumerate(blocks)])
        coef = sum(s * r[0] for s, r in zip(share, results, strict=True))
        intercept = sum(s * r[1] for s, r in zip(share, results, strict=True))
        n_updates = max(r[2] for r in results)
        status = loop.after_epoch(objective(coef, intercept), coef, intercept)
        if status != RUNNING:
            break
    settings = dict(options, average=False, sample_weight=W is not None, warm_start=False,
                    n_blocks=len(blocks))
    return make_result(report, X.dtype, y_ndim, loop.outcome(coef, intercept, n_updates, status),
                       backend, settings)[0]


def _scaling(X, Y, W, per_block, X_sample, W_sample):
    """The standardisation of ``"auto"`` from Dask reductions (small vectors come back), its
    step from the sampled rows."""
    if not isinstance(per_block["learning_rate"], str):
        return raw_scaling(X.shape[1], Y.shape[1], per_block["learning_rate"])
    Z = da.concatenate([X, Y], axis=1).astype(np.float64)
    if W is None:
        total, sums = float(X.shape[0]), Z.sum(axis=0).compute()
    else:
        total, sums = dask.compute(W.sum(), (Z * W[:, None]).sum(axis=0))
    mean = sums / total if per_block["fit_intercept"] else np.zeros(Z.shape[1])
    squares = (Z - mean) ** 2 if W is None else (Z - mean) ** 2 * W[:, None]
    sum_sq = squares.sum(axis=0).compute()
    offset, scale = finish_offsets_scales(mean, np.sqrt(sum_sq / total))
    d = X.shape[1]
    return auto_scaling(X_sample, None, W_sample, per_block["fit_intercept"],
                        per_block["batch_size"], (offset[:d], scale[:d], offset[d:], scale[d:]))


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
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = X.astype(dtype).rechunk({1: -1})
    y = da.asarray(y)
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
