"""``fastgd.fit``: validation -> preparation -> backend -> result."""

from typing import NamedTuple

import warnings

import numpy as np

from . import _validation as v
from ._backends import get_backend
from ._preparation import Scaling, prepare
from ._result import FitResult
from ._progress import run_watched, wants_watching
from ._stopping import CONVERGED, DIVERGED, INTERRUPTED
from ._streaming import block_options, block_problem, fit_streamed
from .exceptions import DivergenceError


def fit(X, y, *, sample_weight=None, batch_size=32, epochs=1000, learning_rate="auto",
        fit_intercept=True, penalty=None, alpha=0.0001, l1_ratio=0.15, average=False,
        early_stopping=False, validation_fraction=0.1, shuffle=True, drop_last=False, tol=1e-4,
        n_iter_no_change=5, coef_init=None, intercept_init=None, random_state=None,
        backend="auto", progress=None):
    """Fit a least-squares linear model by mini-batch gradient descent.

    Minimises ``(1 / 2N) * sum_i s_i * (x_i . w + b - y_i)^2 + penalty(w)`` with sample weights
    ``s_i`` (1 by default) and ``N = sum_i s_i``. Each epoch shuffles the rows (if
    ``shuffle``), walks them in batches of ``batch_size`` and makes one update per batch with
    the weighted mean gradient of the batch's rows, followed by the penalty's proximal map; the
    last, shorter batch is used unless ``drop_last``. ``batch_size=1`` is stochastic gradient
    descent, ``batch_size=n`` full-batch descent.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Training data: real numbers, finite. float32 is kept; other types become float64. Any
        memory layout; the array is never modified.
    y : array_like of shape (n_samples,) or (n_samples, n_targets)
        Targets, finite. A 2-D y fits one model per column in the same passes over X.
    sample_weight : array_like of shape (n_samples,), optional
        Non-negative weights of the rows (zeros leave rows out); default all 1.
    batch_size : int, default 32
        Rows per update; a value above n_samples means full batches.
    epochs : int, default 1000
        Most passes over the data.
    learning_rate : str or fastgd.schedules.Schedule, default "auto"
        ``"auto"`` standardises X and y internally (results come back in the original units;
        the penalty still applies to the original coefficients) and runs ``Adaptive`` from the
        fastest contracting step of the standardised problem for this batch size: no tuning
        for raw data. The result's ``learning_rate`` shows the schedule chosen. A name
        (``"constant"``, ``"inverse_time"``, ``"invscaling"``, ``"exponential"``,
        ``"adaptive"``) takes that schedule with its default parameters, and a schedule object
        (``fastgd.schedules.Constant(0.05)``, ...) runs as given; both act on the raw data.
    fit_intercept : bool, default True
        Whether to fit the intercept ``b`` (else it is 0). It is never penalised.
    penalty : {None, "l2", "l1", "elasticnet"}, default None
        ``alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)`` with ``l1_ratio`` 0 for
        ``"l2"`` and 1 for ``"l1"`` (scikit-learn's meaning). Applied by proximal updates and,
        with an L1 part, a last proximal step on the full gradient, so the coefficients the
        optimum sets to zero come out exactly 0.0 (with a raw schedule, those it zeroes with a
        margin wider than the step noise left at the end).
    alpha : float, default 0.0001
        Strength of the penalty (>= 0).
    l1_ratio : float, default 0.15
        The L1 share of the elastic net, in [0, 1].
    average : bool or int, default False
        Return the Polyak-Ruppert average of the iterates: ``True`` from the first update, an
        int ``a`` from update ``a`` on. The losses checked and reported are the average's.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (seeded by ``random_state``), check the
        validation loss of the average iterate of each epoch, stop when it makes no progress
        (``tol``, ``n_iter_no_change``) and return the weights of the best check: the latest
        one whose validation loss is within one standard error (paired, over the held-out
        rows) of the lowest. The held-out rows cannot tell such checks apart, and this
        one-standard-error rule keeps a noisy iterate that fitted them by luck from winning.
    validation_fraction : float, default 0.1
        Share of the rows held out with ``early_stopping``, in (0, 1).
    shuffle : bool, default True
        Whether to shuffle the rows before each epoch.
    drop_last : bool, default False
        Whether to skip the last batch of an epoch when it is shorter than ``batch_size``.
    tol : float or None, default 1e-4
        Relative decrease of the objective (the validation loss with ``early_stopping``) that
        counts as progress. When ``n_iter_no_change`` epochs in a row bring no value below
        ``(1 - tol)`` times the lowest before them, the fit stops; an adaptive schedule
        (``"auto"`` too) first divides its step by 5 and stops only when a smaller step no
        longer helps. None runs exactly ``epochs`` epochs.
    n_iter_no_change : int, default 5
        Epochs without progress that make a stall.
    coef_init : array_like of shape (n_features,) or (n_targets, n_features), optional
        Start values of the coefficients (warm start; default zeros), shaped like the result's.
    intercept_init : float or array_like of shape (n_targets,), optional
        Start values of the intercepts (default zeros).
    random_state : None, int or numpy.random.Generator, default None
        Seed of the shuffling and of the validation split; the same int gives bit-identical
        results on the same backend.
    backend : {"auto", "numba", "numpy"}, default "auto"
        ``"numba"`` runs the compiled kernels, ``"numpy"`` the vectorised reference;
        ``"auto"`` takes Numba when it imports.
    progress : bool or None, default None
        A progress bar on stderr, one step an epoch, with the current loss (tqdm): True shows
        it, False never; None shows it on a terminal for fits that last over a second.
        Ctrl-C during a long fit (or any fit with a bar) stops it at the end of the epoch in
        progress and returns the model of that epoch (``interrupted`` is then True, and a
        RuntimeWarning says so); a second Ctrl-C abandons the fit.

    Returns
    -------
    FitResult
        ``coef``, ``intercept``, ``loss_history``, ``validation_loss_history``, ``n_epochs``,
        ``n_updates``, ``converged``, ``interrupted``, ``backend``, ``settings`` and
        ``predict``.

    Raises
    ------
    ValueError, TypeError
        For invalid data or parameters, with the fix in the message.
    DivergenceError
        When the iterates overflow (the step is too large for the data).

    Examples
    --------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((100, 1))
    >>> y = 3 + 7 * X[:, 0] + 0.1 * rng.standard_normal(100)
    >>> res = fastgd.fit(X, y, batch_size=16, random_state=0)
    >>> np.round(res.coef, 1), round(float(res.intercept), 1)
    (array([7.]), 3.0)
    """
    streamed = isinstance(X, np.memmap)
    options = _check_options(
        batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
        fit_intercept=fit_intercept, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        early_stopping=early_stopping, validation_fraction=validation_fraction,
        shuffle=shuffle, drop_last=drop_last, tol=tol, n_iter_no_change=n_iter_no_change)
    X, y, weights = _check_data(X, y, sample_weight)
    average_start = v.check_average(average)
    coef_start, intercept_start = v.check_init(coef_init, intercept_init, X.shape[1], y.shape,
                                               options["fit_intercept"])
    backend_name, backend_run = get_backend(v.check_backend(backend))
    seed = v.check_random_state(random_state)
    if progress is not None:
        v.check_bool(progress, "progress")
    if streamed:
        return _fit_streamed(X, y, weights, options, average, coef_init, intercept_init, seed,
                             backend_name)
    problem = prepare(X, y.reshape(X.shape[0], -1), weights, coef_init=coef_start,
                      intercept_init=intercept_start, average_start=average_start, seed=seed,
                      **options)
    options.update(average=average, sample_weight=weights is not None,
                   warm_start=coef_init is not None or intercept_init is not None)
    return _run(problem, X, y, backend_name, backend_run, options, progress)[0]


def _fit_streamed(X, y, weights, options, average, coef_init, intercept_init, seed,
                  backend_name):
    """``fit`` for a memory-mapped X: chunk by chunk (see ``fastgd._streaming``)."""
    unsupported = [name for name, value in (("early_stopping", options["early_stopping"]),
                                            ("average", average), ("coef_init", coef_init),
                                            ("intercept_init", intercept_init))
                   if value is not None and value is not False]
    if unsupported:
        raise ValueError(f"{', '.join(unsupported)} cannot be used with memory-mapped X, which "
                         "is streamed chunk by chunk: leave them out, or load X into memory "
                         "(np.asarray(X)).")
    problem, outcome = fit_streamed(X, y.reshape(X.shape[0], -1), weights,
                                    block_options(options), seed,
                                    backend_name, options["epochs"], options["tol"],
                                    options["n_iter_no_change"])
    settings = dict(options, average=False, sample_weight=weights is not None,
                    warm_start=False, streamed=True)
    return make_result(problem, X.dtype, y.ndim, outcome, backend_name, settings)[0]


class Continuation(NamedTuple):
    """Where a fit stopped, in the backends' space: what ``fit_epoch`` carries between calls."""

    scaling: Scaling
    coef: np.ndarray
    intercept: np.ndarray
    n_epochs: int
    n_updates: int
    seed: int


def fit_epoch(X, y, continuation=None, *, sample_weight=None, batch_size=32,
              learning_rate="auto", fit_intercept=True, penalty=None, alpha=0.0001,
              l1_ratio=0.15, shuffle=True, drop_last=False, random_state=None, backend="auto"):
    """Run one epoch over ``(X, y)``, continuing ``continuation`` (the one before's state).

    The first call (``continuation=None``) starts from zero weights and fixes the
    standardisation and the schedule (for ``"auto"``, from these rows and for this batch size);
    later calls go on with the weights, the step counter ``t`` and the epoch count, and shuffle
    with the epoch's own stream of the first call's seed. So ``k`` calls on the same rows are
    the epochs of ``fastgd.fit(..., epochs=k, tol=None)``. There is no stopping rule: the caller
    decides when to stop (an adaptive schedule keeps its step).

    Returns
    -------
    result : FitResult
        The model after this epoch: ``n_epochs`` is 1, ``n_updates`` the step counter ``t``
        (every call's updates).
    continuation : Continuation
        What the next call takes.
    """
    options = _check_options(
        batch_size=batch_size, epochs=1, learning_rate=learning_rate,
        fit_intercept=fit_intercept, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        early_stopping=False, validation_fraction=0.1, shuffle=shuffle, drop_last=drop_last,
        tol=None, n_iter_no_change=1)
    X, y, weights = _check_data(X, y, sample_weight)
    k = 1 if y.ndim == 1 else y.shape[1]
    if continuation is None:
        seed = v.check_random_state(random_state)
        coef_start, intercept_start = np.zeros((k, X.shape[1])), np.zeros(k)
        scaling, first_epoch, first_update = None, 0, 0
    else:
        if continuation.coef.shape != (k, X.shape[1]):
            shape = continuation.coef.shape
            raise ValueError(
                f"These rows have {X.shape[1]} features and {k} target(s), but the fit being "
                f"continued has {shape[1]} and {shape[0]}: pass the same columns.")
        scaling, coef_start, intercept_start, first_epoch, first_update, seed = continuation
    backend_name, backend_run = get_backend(v.check_backend(backend))
    problem = block_problem(X, y.reshape(X.shape[0], -1), weights, scaling, coef_start,
                            intercept_start, seed, block_options(options), first_epoch,
                            first_update)  # a stream goes on from the last weights
    options.update(average=False, sample_weight=weights is not None,
                   warm_start=continuation is not None)
    result, (coef, intercept) = _run(problem, X, y, backend_name, backend_run, options, False)
    return result, Continuation(problem.scaling, coef, intercept, result.n_epochs + first_epoch,
                                result.n_updates, seed)


def _check_options(*, batch_size, epochs, learning_rate, fit_intercept, penalty, alpha,
                   l1_ratio, early_stopping, validation_fraction, shuffle, drop_last, tol,
                   n_iter_no_change):
    """The validated keyword options of a fit, as ``prepare`` takes them."""
    return dict(
        batch_size=v.check_positive_int(batch_size, "batch_size"),
        epochs=v.check_positive_int(epochs, "epochs"),
        learning_rate=v.check_learning_rate(learning_rate),
        fit_intercept=v.check_bool(fit_intercept, "fit_intercept"),
        penalty=v.check_penalty(penalty),
        alpha=v.check_real(alpha, "alpha", 0.0, np.inf, high_open=True),
        l1_ratio=v.check_real(l1_ratio, "l1_ratio", 0.0, 1.0),
        early_stopping=v.check_bool(early_stopping, "early_stopping"),
        validation_fraction=v.check_real(validation_fraction, "validation_fraction", 0.0, 1.0,
                                         low_open=True, high_open=True),
        shuffle=v.check_bool(shuffle, "shuffle"),
        drop_last=v.check_bool(drop_last, "drop_last"),
        tol=v.check_tol(tol),
        n_iter_no_change=v.check_positive_int(n_iter_no_change, "n_iter_no_change"),
    )


def _check_data(X, y, sample_weight):
    """The validated X, y and sample weights (None for unit weights)."""
    X, y = v.check_X_y(X, y)
    return X, y, v.check_sample_weight(sample_weight, X.shape[0])


def _run(problem, X, y, backend_name, backend_run, settings, progress):
    """Run ``problem`` (watched, see ``fastgd._progress``) and make its result
    (:func:`make_result`)."""
    control = np.zeros(2, dtype=np.int64)
    live = problem.new_loss_history()
    watch, bar = wants_watching(progress, X.size * problem.epochs)
    if watch:
        scale = problem.y_scale**2 if problem.standardised else np.ones(live.shape[1])

        def describe(done):
            return f"loss={float(live[done - 1] @ scale):.6g}"

        outcome = run_watched(lambda: problem.run(backend_run, control, live), control,
                              problem.epochs, describe, bar, immediate=progress is True)
    else:
        outcome = problem.run(backend_run, control, live)
    return make_result(problem, X.dtype, y.ndim, outcome, backend_name, settings)


def make_result(problem, dtype, y_ndim, outcome, backend_name, settings):
    """The :class:`FitResult` of a run of ``problem`` (``outcome`` is what ``Problem.run``
    returns), in the user's units and shapes; raises DivergenceError for a diverged run.

    Returns
    -------
    result : FitResult
    standardised : tuple
        The fitted coefficients and intercepts in the backends' space, shapes (k, d) and (k,).
    """
    coef, intercept, losses, val_losses, n_epochs, n_updates, status = outcome
    if status == INTERRUPTED:
        warnings.warn(f"The fit was interrupted (Ctrl-C) and returns the model of its last "
                      f"complete epoch, {n_epochs} of {problem.epochs}.", RuntimeWarning,
                      stacklevel=4)
    if status == DIVERGED:
        raise DivergenceError(
            f"The fit diverged in epoch {n_epochs} of {problem.epochs}: the iterates overflowed "
            f"with learning rate {problem.schedule}. Use a smaller step (a tenth of eta0, or of t0 "
            "for InverseTime), "
            "or learning_rate='auto', which scales the data and picks a stable step."
        )
    standardised = coef.copy(), intercept.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        coef, intercept, losses, val_losses = problem.to_original_units(
            coef, intercept, losses, val_losses)
    largest = np.finfo(dtype).max
    if not (np.abs(coef).max() <= largest and np.abs(intercept).max() <= largest):
        raise ValueError(
            f"The fitted coefficients exceed the range of {dtype} (up to {largest:.1e}): "
            "some columns of X are tiny next to y. Multiply them by a power of ten (and the "
            "coefficients by the same afterwards), or pass float32 data as float64."
        )
    coef, intercept = coef.astype(dtype), intercept.astype(dtype)
    if y_ndim == 1:
        coef, intercept, losses = coef[0], intercept[0], losses[:, 0]
        val_losses = None if val_losses is None else val_losses[:, 0]
    settings = dict(settings, random_state=problem.seed, backend=backend_name)
    result = FitResult(
        coef=coef, intercept=intercept, loss_history=losses, validation_loss_history=val_losses,
        n_epochs=n_epochs, n_updates=n_updates, converged=status == CONVERGED,
        interrupted=status == INTERRUPTED, backend=backend_name,
        learning_rate=problem.schedule, batch_size=problem.batch_size, settings=settings,
    )
    return result, standardised
