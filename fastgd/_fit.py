"""``fastgd.fit``: validation -> preparation -> backend -> result."""

import numpy as np

from . import _validation as v
from ._engine.backends import get_backend
from ._engine.blocks import fit_chunks
from ._engine.driver import run_problem
from ._engine.threads import fit_threads, thread_count
from ._preparation import prepare, streamed_problem
from ._progress import run_watched, wants_watching
from ._results import make_result


def fit(X, y, *, sample_weight=None, batch_size=32, epochs=1000, learning_rate="auto",
        fit_intercept=True, loss="squared_error", epsilon=0.1, quantile=0.5, penalty=None,
        alpha=0.0001, l1_ratio=0.15, average=False, early_stopping=False,
        validation_fraction=0.1, shuffle=True, drop_last=False, tol=1e-4, n_iter_no_change=5,
        coef_init=None, intercept_init=None, random_state=None, n_jobs=None, backend="auto",
        progress=None):
    """Fit a linear model by mini-batch gradient descent: least squares, robust or quantile.

    Minimises ``(1 / N) * sum_i s_i * L(x_i . w + b - y_i) + penalty(w)`` with sample weights
    ``s_i`` (1 by default), ``N = sum_i s_i`` and the loss ``L`` (``r^2 / 2`` by default:
    least squares). Each epoch shuffles the rows (if
    ``shuffle``), walks them in batches of ``batch_size`` and makes one update per batch with
    the batch's gradient ``sum(s_i g_i) / (rows * mean(s))`` (an unbiased estimate of the full
    gradient), followed by the penalty's proximal map; the
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
    loss : str, default "squared_error"
        The loss ``L`` of a residual ``r`` (prediction minus target), with scikit-learn's
        names and meanings: ``"squared_error"`` ``r^2 / 2``; ``"huber"`` ``r^2 / 2`` up to
        ``|r| = epsilon``, linear beyond (robust to outlying targets);
        ``"epsilon_insensitive"`` ``max(|r| - epsilon, 0)`` (linear support vector
        regression); ``"squared_epsilon_insensitive"`` ``max(|r| - epsilon, 0)^2``;
        ``"quantile"`` the pinball loss, ``(1 - quantile) * r`` for ``r > 0`` and
        ``-quantile * r`` otherwise, whose minimiser predicts the ``quantile``-th quantile of
        y given x (``quantile=0.5``: least absolute deviations, the median). The losses
        reported are the chosen loss.
    epsilon : float, default 0.1
        The threshold of the Huber and epsilon-insensitive losses, in y's units (>= 0; > 0
        for Huber).
    quantile : float, default 0.5
        The quantile of the quantile loss, in (0, 1).
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
    n_jobs : int or None, default None
        Threads of the fit (None: 1; -1: every core). With more than one, each thread runs
        the epoch on its own share of the rows from the same model, and the threads' models
        are averaged after every epoch (the shares change from epoch to epoch); the stopping
        rule checks the average. Results then differ from ``n_jobs=1`` (a different, equally
        valid descent) but are reproducible for a fixed ``random_state`` and ``n_jobs``. A
        thread gets at least 64 batches and about 2 million entries of X (a sparse entry counts
        8), so smaller data runs on fewer threads (the result's ``settings["n_jobs"]`` says
        how many ran). Not with ``early_stopping`` or
        ``average``; memory-mapped X runs on one thread, and so does an ``"auto"``
        least-squares fit of X in memory (dense or sparse), which ends with variance-reduced
        epochs: one thread of those beats two of averaged SGD (50,000 x 1,000: 5 epochs and
        0.8 s, against 51 epochs and 3.2 s; 400,000 x 20: 0.16 s against 0.27 s).
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
        With a raw schedule, when the loss grows: the iterates overflow, or the stopping rule
        ends the fit above the loss of its start (the step is too large for the data). Never
        with ``"auto"``, which restarts from its best model with a smaller step instead.

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
    return fit_and_scaling(**locals())[0]


def fit_and_scaling(X, y, *, sample_weight, batch_size, epochs, learning_rate, fit_intercept,
                    loss, epsilon, quantile, penalty, alpha, l1_ratio, average, early_stopping,
                    validation_fraction, shuffle, drop_last, tol, n_iter_no_change, coef_init,
                    intercept_init, random_state, n_jobs, backend, progress):
    """:func:`fit`, returning also the fit's ``Scaling`` (its standardisation, which a stream
    that goes on from the fitted model starts from).

    Returns
    -------
    result : FitResult
    scaling : fastgd._preparation.Scaling
    """
    streamed = isinstance(X, np.memmap)
    options = v.check_options(
        batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
        fit_intercept=fit_intercept, loss=loss, epsilon=epsilon, quantile=quantile,
        penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        early_stopping=early_stopping, validation_fraction=validation_fraction,
        shuffle=shuffle, drop_last=drop_last, tol=tol, n_iter_no_change=n_iter_no_change)
    X, y, weights = v.check_data(X, y, sample_weight)
    average_start = v.check_average(average)
    coef_start, intercept_start = v.check_init(coef_init, intercept_init, X.shape[1], y.shape,
                                               options["fit_intercept"])
    backend = get_backend(v.check_backend(backend))
    seed = v.check_random_state(random_state)
    n_jobs = v.check_n_jobs(n_jobs)
    if n_jobs > 1:
        _refuse(dict(early_stopping=options["early_stopping"], average=average_start >= 0),
                f"cannot be used with n_jobs={n_jobs} (they run on one thread): pass n_jobs=1, "
                "or leave n_jobs out")
    if progress is not None:
        v.check_bool(progress, "progress")
    Y = y.reshape(X.shape[0], -1)
    settings = dict(options, average=average, sample_weight=weights is not None,
                    warm_start=coef_init is not None or intercept_init is not None,
                    sparse=v.is_sparse(X), n_jobs=1)
    if streamed:
        _refuse(dict(early_stopping=options["early_stopping"], average=average_start >= 0,
                     coef_init=coef_init is not None, intercept_init=intercept_init is not None),
                "cannot be used with memory-mapped X, which is streamed chunk by chunk: leave "
                "them out, or load X into memory (np.asarray(X))")
        problem = streamed_problem(X, Y, weights, seed, options)
        settings.update(average=False, streamed=True)

        def run(control, histories):
            return fit_chunks(problem, X, Y, weights, backend.name, control, histories)
    else:
        problem = prepare(X, Y, weights, coef_init=coef_start, intercept_init=intercept_start,
                          average_start=average_start, seed=seed, **options)
        settings["n_jobs"] = threads = (1 if problem.variance_reduced else thread_count(
            n_jobs, problem.rows.X, problem.setup.plan.batch_size))

        def run(control, histories):
            if threads > 1:
                return fit_threads(problem, threads, backend.name, control, histories)
            return run_problem(problem, backend, control, histories)
    return run_fit(problem, run, X, y, backend.name, settings, progress)[0], problem.scaling


def _refuse(used, why):
    """A ValueError naming the options of ``used`` (name -> whether given) that are set,
    followed by ``why`` (what to do)."""
    unsupported = [name for name, given in used.items() if given]
    if unsupported:
        raise ValueError(f"{', '.join(unsupported)} {why}.")


def run_fit(problem, run, X, y, backend_name, settings, progress):
    """Run the fit ``run(control, histories)`` of ``problem`` (watched, see
    ``fastgd._progress``) and make its result (``fastgd._results.make_result``).

    Returns
    -------
    result : FitResult
    outcome : Outcome
        The driver's, in the backends' space (what a stream goes on from).
    """
    control = np.zeros(2, dtype=np.int64)
    watch, bar = wants_watching(progress, X.size * problem.epochs)
    if watch:
        scale = problem.loss_scale
        made = []  # the histories, made in the watched thread (a large epoch budget makes
        #            them large: a Ctrl-C while they are filled must reach the watcher)

        def watched():
            made.append(problem.new_histories())
            return run(control, made[0])

        def describe(done):
            return f"loss={float(made[0].loss[done - 1] @ scale):.6g}"

        outcome = run_watched(watched, control, problem.epochs, describe, bar,
                              immediate=progress is True)
    else:
        outcome = run(control, problem.new_histories())
    return make_result(problem, X.dtype, y.ndim, outcome, backend_name, settings), outcome
