"""The named groups the epoch engine takes: each part of a fit travels as one value.

Both twins of the engine (``fastgd._kernels.epochs`` compiled, ``fastgd._engine.reference``
in NumPy) take the same groups, and the fit driver (``fastgd._engine.driver``) builds them.
They are ``typing.NamedTuple`` classes, which Numba compiles as structs: fields are read by
name at no cost, and the kernels' on-disk cache keeps working. A field that is None (no sample
weights) is a type of its own, so the compiled code for it has no trace of that field.

Arrays in a group are shared, not copied: the engine updates ``Model``, ``Tracker`` and
``Histories`` in place and never writes to ``Rows`` except its ``index``.

Rows of a sparse X hold a :class:`Csr` in place of the dense array: the kernels that read X
(``fastgd._kernels.sparse`` beside the dense ones) are picked by its type when Numba compiles,
and every other group stays as it is.
"""

from typing import NamedTuple

import numpy as np


class Csr(NamedTuple):
    """A sparse X in compressed sparse row form (``scipy.sparse.csr_matrix``'s arrays, shared).

    Row ``i`` holds the values ``data[indptr[i]:indptr[i + 1]]`` in the columns
    ``indices[indptr[i]:indptr[i + 1]]``; ``shape`` is ``(n, d)``.
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple


def csr_of(X):
    """The :class:`Csr` of a ``scipy.sparse`` CSR matrix (``X`` itself when it is dense)."""
    if isinstance(X, np.ndarray):
        return X
    return Csr(X.data, X.indices, X.indptr, (int(X.shape[0]), int(X.shape[1])))


class Rows(NamedTuple):
    """One block of rows.

    X : ndarray of shape (n, d), float32 or float64, C-contiguous, or :class:`Csr`
    Y : ndarray of shape (n, k), X's dtype, C-contiguous
    weights : ndarray of shape (n,), float64, or None for unit weights
    index : ndarray of shape (n,), int32 or int64
        Work array: the rows' order in the current epoch.
    """

    X: np.ndarray
    Y: np.ndarray
    weights: np.ndarray | None
    index: np.ndarray


def _read_only(a):
    if a is None or not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


def read_only(rows):
    """``rows`` with X, Y and the weights as read-only views (no copy).

    The kernels never write them; Numba compiles a read-only array as a type of its own, so
    that passing them always read-only lets one compiled version serve writable arrays and
    read-only ones (memory maps, arrays a user froze) alike.
    """
    X = rows.X
    if isinstance(X, Csr):
        X = Csr(_read_only(X.data), _read_only(X.indices), _read_only(X.indptr), X.shape)
    else:
        X = _read_only(X)
    return rows._replace(X=X, Y=_read_only(rows.Y), weights=_read_only(rows.weights))


def row_range(X, start, stop):
    """Rows ``start`` to ``stop - 1`` of a dense or :class:`Csr` X, without copying X's
    values (a sparse range gets its own ``indptr``, from 0)."""
    if not isinstance(X, Csr):
        return X[start:stop]
    lo, hi = X.indptr[start], X.indptr[stop]
    return Csr(X.data[lo:hi], X.indices[lo:hi], X.indptr[start:stop + 1] - lo,
               (stop - start, X.shape[1]))


def no_rows(rows):
    """A :class:`Rows` of no rows, of the same types as ``rows`` (of the same compiled
    version of the kernels): the validation rows of a fit without any."""
    X = rows.X
    if isinstance(X, Csr):
        X = Csr(X.data[:0], X.indices[:0], X.indptr[:1], (0, X.shape[1]))
    else:
        X = X[:0]
    weights = None if rows.weights is None else rows.weights[:0]
    return Rows(X, rows.Y[:0], weights, index_for(0))


class Standardisation(NamedTuple):
    """``x' = (x - x_offset) / x_scale`` and ``y' = (y - y_offset) / y_scale``, applied on the
    fly (offsets 0 and scales 1: none). Arrays of shapes (d,), (d,), (k,), (k,), float64."""

    x_offset: np.ndarray
    x_scale: np.ndarray
    y_offset: np.ndarray
    y_scale: np.ndarray


class Loss(NamedTuple):
    """The loss of a fit (``fastgd._engine.loss_functions``): its code, ``epsilon`` of each
    target in standardised units (shape (k,), float64) and ``quantile``."""

    kind: int
    epsilon: np.ndarray
    quantile: float


class Penalty(NamedTuple):
    """Strengths of the standardised coefficients: ``l1`` and ``l2`` of shape (k, d)."""

    l1: np.ndarray
    l2: np.ndarray


class Steps(NamedTuple):
    """A learning-rate schedule lowered to numbers (``fastgd.schedules``)."""

    kind: int
    eta0: float
    p1: float
    p2: float


class Plan(NamedTuple):
    """How the engine walks its block: which epochs, in what order, in which batches.

    fit_intercept, drop_last, shuffle : bool
    batch_size, n_batches : int
        Rows per batch and batches per epoch (:func:`batches`).
    seed : int
        Each epoch's order is ``arange(n)`` shuffled from epoch ``epoch``'s stream of ``seed``.
    average_start : int
        Updates after which the iterates are averaged (Polyak-Ruppert); negative: never.
    first_epoch, epochs : int
        Number of the first epoch to run, and how many.
    mean_weight : float
        The mean sample weight of all the rows of the fit (1.0 without weights). A batch's
        gradient is ``sum(s r z) / (rows * mean_weight)``: an unbiased estimate of the full
        gradient, where dividing by the batch's own ``sum(s)`` would weight a batch's rows
        against each other and, with uneven weights, converge to another model.
    whole_batches : bool
        Whether ``rows`` above is ``batch_size`` for every batch (a call of an ``"auto"``
        stream): a chunk's shorter last batch then steps as a full batch whose missing rows
        weigh 0, a step the stream's step keeps stable, where dividing by its own rows would
        take a full batch's step on the noise of a few rows (in chunks of 100 rows and
        batches of 32, every chunk has one; with log-normal weights they blew the stream
        up). Fits divide by the batch's rows, as the lecture's loop does: one short batch an
        epoch, whose rows change from epoch to epoch.
    """

    fit_intercept: bool
    batch_size: int
    n_batches: int
    drop_last: bool
    shuffle: bool
    seed: int
    average_start: int
    first_epoch: int
    epochs: int
    mean_weight: float
    whole_batches: bool = False


class Checks(NamedTuple):
    """The stopping rule (``fastgd._engine.stopping.check_progress``) and when it is applied.

    every : int
        Updates between two checks (at least one at each epoch's end); 0: no checks (an epoch
        over one block of many, whose driver checks the whole data).
    tol : float
    stop_early : bool
    window : int
        ``n_iter_no_change``.
    keep_best : bool
        Whether the best checked model is kept (see ``fastgd._engine.driver``).
    moments : ndarray of shape (d + k + 1, d + k + 1), or (0, 0)
        Centred moments of the standardised block (``fastgd._kernels.losses.moment_sums``), for
        training losses at checks in O(k d^2); empty: a pass over the rows.
    average_phases : bool
        Whether the iterates are averaged over each phase of an adaptive step (from the first
        update, and again from each change of the step): the checks and the returned model
        are the phase's average (``"auto"``). A constant step with averaging converges for
        least squares (Bach & Moulines 2013), where the iterates stay at its noise floor.
    doubling_stop : bool
        Whether the rule also stops when doubling the fit gains too little (averaged least
        squares, whose excess falls like one over the average's length).
    """

    every: int
    tol: float
    stop_early: bool
    window: int
    keep_best: bool
    moments: np.ndarray
    average_phases: bool
    doubling_stop: bool


class Model(NamedTuple):
    """Standardised coefficients (k, d) and intercepts (k,), float64, updated in place."""

    coef: np.ndarray
    intercept: np.ndarray


class Sampling(NamedTuple):
    """How the epochs of a fit draw their rows when not each once (``fastgd._curvature.
    importance_sampling``): ``n`` rows an epoch, row ``i`` with probability ``p_i``, weighted
    by ``s_i / (n p_i)``.

    cumulative : ndarray of shape (n,), float64
        ``cumsum(p)``, its last entry exactly 1.
    weights : ndarray of shape (n,), float64
        The drawn rows' weights ``s_i / (n p_i)`` (0 for rows never drawn).
    step_factor : float
        How many times longer the step may be than with each row once an epoch.
    """

    cumulative: np.ndarray
    weights: np.ndarray
    step_factor: float


#: The drift of an epoch without one (``fastgd._kernels.epochs.run_epochs``).
NO_DRIFT = Model(np.empty((0, 0)), np.empty(0))


class Histories(NamedTuple):
    """Each epoch's training objective and validation loss per target, arrays of shape
    (epochs, k) (standardised units; NaN until written)."""

    loss: np.ndarray
    validation: np.ndarray


class Setup(NamedTuple):
    """What every block of a fit shares: the groups the engine takes besides the rows and the
    fit's state."""

    standard: Standardisation
    loss: Loss
    penalty: Penalty
    plan: Plan
    steps: Steps
    checks: Checks


class Tracker(NamedTuple):
    """The stopping rule's state across checks and the best model kept, updated in place.

    losses : ndarray of shape (most checks,), float64
        The loss at each check.
    counts : ndarray of int64, indexed by ``N_CHECKS``, ``PHASE_START``, ``UPDATES``,
        ``STATUS``, ``EPOCHS``
        Checks made, first check of the step's phase, the step counter ``t``, the fit's status
        and epochs completed.
    values : ndarray of float64, indexed by ``ETA``, ``BEST_BEFORE``, ``BASE_LOSS``,
        ``LOWEST``, ``BEST_LOSS``, ``START_LOSS``
        Current step, the rule's running minima, the lowest check, the kept model's loss and
        the loss at the start.
    best_coef, best_intercept : ndarray
        The kept model.
    q, q_lowest : ndarray of shape (m,)
        Per-row losses on the validation rows, at the latest check and at the lowest one.
    """

    losses: np.ndarray
    counts: np.ndarray
    values: np.ndarray
    best_coef: np.ndarray
    best_intercept: np.ndarray
    q: np.ndarray
    q_lowest: np.ndarray


N_CHECKS, PHASE_START, UPDATES, STATUS, EPOCHS = range(5)
ETA, BEST_BEFORE, BASE_LOSS, LOWEST, BEST_LOSS, START_LOSS = range(6)


def new_tracker(model, max_checks, eta, n_updates=0, n_validation=0):
    """A :class:`Tracker` before the start loss is known (see ``stopping.start_tracking``)."""
    counts = np.zeros(5, dtype=np.int64)
    counts[UPDATES] = n_updates
    values = np.full(6, np.inf)
    values[ETA] = eta
    return Tracker(np.full(max(max_checks, 1), np.nan), counts, values, model.coef.copy(),
                   model.intercept.copy(), np.zeros(n_validation), np.zeros(n_validation))


def new_histories(epochs, k):
    """:class:`Histories` for ``epochs`` epochs of ``k`` targets, NaN until written."""
    return Histories(np.full((epochs, k), np.nan), np.full((epochs, k), np.nan))


def index_for(n):
    """The order array of ``n`` rows: int32 when n allows (half the memory traffic)."""
    return np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)


def batches(n, batch_size, drop_last):
    """Rows per batch and batches per epoch over ``n`` rows: a ``batch_size`` above n runs as n,
    and the last, shorter batch is skipped with ``drop_last``.

    Returns
    -------
    batch_size, n_batches : int
    """
    batch_size = min(batch_size, n)
    return batch_size, n // batch_size if drop_last else -(-n // batch_size)


def plan_for_block(plan, n, seed, epoch):
    """``plan`` for one epoch ``epoch`` over a block of ``n`` rows shuffled from ``seed``."""
    batch_size, n_batches = batches(n, plan.batch_size, plan.drop_last)
    return plan._replace(batch_size=batch_size, n_batches=n_batches, seed=seed,
                         first_epoch=epoch, epochs=1)
