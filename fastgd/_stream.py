"""Streams of chunks (``partial_fit``): one epoch a call, each call going on from the last.

With ``learning_rate="auto"`` a stream keeps

- running weighted moments of X's columns and of y (Chan, Golub & LeVeque's pairwise merge),
  so that the standardisation follows the data as chunks arrive: a column that was constant
  in the first chunks is learned once it varies;
- the model in the user's units, re-expressed in each call's standardisation (the same
  linear function, whatever the scaling);
- a step stable for every chunk seen so far (the smallest stable step of them, each for its
  rows other than its outlying ones), which never grows, shrinking slowly as the stream
  goes on (see ``DECAY_STEPS``), times the loss's factor (``fastgd._preparation.loss_step``)
  from a uniform sample of the stream's targets (a reservoir of ``RESERVOIR_ROWS``: a chunk
  of a few rows says little about y's robust spread). A chunk whose few outlying rows would
  make its step short draws its rows by their norms and, if its step is still short, runs
  several times over its rows at a fraction of the stream's step (see ``_auto_scaling``);
- the average of the iterates over the whole stream, which is the model the stream returns:
  each call's average of its iterates folded in with share ``3 u / t`` (``u`` the call's
  updates, ``t`` the stream's age, see ``AVERAGE_SPAN``), so that later iterates weigh
  more. Averaging approaches least squares as the stream goes on, where the iterates alone
  stay at the noise floor of their step.

An iterate that blows up restarts from where the call began with a smaller step (the
driver's restarts), so a stream never returns non-finite coefficients: after every restart
has failed it raises ``DivergenceError``. With a raw schedule nothing is standardised or
averaged: calls on the same rows are exactly the epochs of one long fit.
"""

import dataclasses
from typing import NamedTuple

import numpy as np

from . import _validation as v
from . import schedules
from ._curvature import curvature, importance_sampling, row_norms
from ._engine.backends import get_backend
from ._engine.driver import run_problem
from ._fit import run_fit
from ._preparation import (Scaling, continued, finish_offsets_scales, loss_step, prepare,
                           raw_scaling)

#: The stream's average gives a call's updates this many times their share of all updates:
#: with ``c``, iterate ``s`` of ``t`` weighs in proportion to ``s^(c-1)`` (polynomial-decay
#: averaging, Shamir & Zhang 2013), so that the early iterates far from the optimum are
#: forgotten as ``1 / t^c`` instead of ``1 / t``. Measured on the streams of
#: ``tests/test_streams.py`` (10 passes, 3 seeds), 3 did better than 2 where a few
#: calls' early iterates were far off (a 0/1 weight mask in chunks of 10: 1.0e-3 to 1.1e-3
#: excess MSE in place of 1.3e-3 to 2.6e-3), and 4 no better than 3.
AVERAGE_SPAN = 3.0
#: A stream's steps shrink as ``1 / sqrt(1 + age / DECAY_STEPS)`` (``age``: the updates so far, see
#: ``Continuation.age``, times the stable step, in relaxation times of squared error), so that the
#: averaged iterates converge (Polyak & Juditsky 1992) where a constant step leaves a bias of its
#: order: for losses with kinks (``NON_SMOOTH``), where the slopes jump, and for every loss when the
#: stream passes over the same chunks again in the same order (a cycle, not the i.i.d. rows
#: averaging needs). Measured on streams of 10 passes: for the kinks 2 did better than 1 and 10
#: (chunks of 10 and 500 rows); for smooth losses 10 did better than 2 and 50 (a 0/1 weight mask in
#: chunks of 10), and better than a constant step in every case of ``tests/test_streams.py``, 3
#: seeds (1.1 to 10 times closer to least squares).
NON_SMOOTH = ("huber", "epsilon_insensitive", "quantile")
DECAY_STEPS = 2.0
SMOOTH_DECAY_STEPS = 10.0
#: Share of a call's rows drawn uniformly when its rows are drawn by their norms
#: (``fastgd._curvature.importance_sampling``).
STREAM_UNIFORM_SHARE = 0.5
#: Rows of targets the stream keeps, sampled uniformly from all it has seen (reservoir
#: sampling), for the robust spread of y.
RESERVOIR_ROWS = 1000
#: A row is outlying when its standardised squared norm is more than ``OUTLYING`` times the
#: median of its chunk's (weights aside: a heavy weight is no outlying row). A chunk whose
#: outlying rows make its stable step shorter than its other rows' runs ``r`` times over
#: its rows at ``1 / r`` of the longer step (see ``_auto_scaling``), ``r`` at most ``MAX_REPEATS``
#: and its repeated rows at most ``REPLAY_BYTES``. Measured with 20 on streams of outlying rows
#: (10 passes, chunks of 10 and 1,000 rows, 3 seeds): at most 1.4e-3 excess MSE, in place
#: of up to 0.14 with every chunk's step set by its outlying rows.
OUTLYING = 20.0
REPLAY_BYTES = 64 * 2**20
MAX_REPEATS = 1000


class Moments(NamedTuple):
    """Running weighted moments of the columns ``[X, Y]``: total weight, means, and sums of
    weighted squared deviations from the means."""

    total: float
    mean: np.ndarray
    m2: np.ndarray


def merge_moments(moments, X, Y, weights):
    """``moments`` (None: none yet) with the rows ``X, Y`` (weights ``weights``) added; X may
    be a ``scipy.sparse`` matrix (its columns' moments then come from sums of squares).

    Returns
    -------
    Moments
    """
    s = np.ones(X.shape[0]) if weights is None else weights
    weight = float(s.sum())
    if isinstance(X, np.ndarray):
        Z = np.column_stack([X, Y]).astype(np.float64, copy=False)
        mean = s @ Z / weight
        m2 = s @ np.square(Z - mean)
    else:
        x_mean = (X.T @ s) / weight
        x_m2 = np.maximum(X.multiply(X).T @ s - weight * np.square(x_mean), 0.0)
        y_mean = s @ Y / weight
        mean = np.concatenate([x_mean, y_mean])
        m2 = np.concatenate([x_m2, s @ np.square(Y - y_mean)])
    if moments is None:
        return Moments(weight, mean, m2)
    total = moments.total + weight
    delta = mean - moments.mean
    return Moments(total, moments.mean + delta * (weight / total),
                   moments.m2 + m2 + np.square(delta) * (moments.total * weight / total))


def standardisation(moments, d, fit_intercept):
    """The ``(x_offset, x_scale, y_offset, y_scale)`` of ``"auto"`` from running moments."""
    variance = moments.m2 / moments.total
    if fit_intercept:
        offset, scale = moments.mean, np.sqrt(variance)
    else:
        offset, scale = np.zeros_like(moments.mean), np.sqrt(variance + moments.mean**2)
    offset, scale = finish_offsets_scales(offset, scale)
    y_scale = np.where(np.isfinite(scale[d:]), scale[d:], 1.0)  # a constant target
    return offset[:d], scale[:d], offset[d:], y_scale


class Continuation(NamedTuple):
    """A stream's state between calls (see the module's notes).

    coef, intercept : ndarray of shape (k, d) and (k,), float64
        The last iterate, in the user's units.
    average_coef, average_intercept : ndarray
        The average of the iterates (the iterate itself with a raw schedule).
    moments : Moments or None
        Running moments (``"auto"`` only).
    schedule : Schedule
        The schedule that ran last (``"auto"``: ``Adaptive`` with the stream's stable step
        for squared error, before the loss's factor).
    fit_intercept : bool
    n_epochs, n_updates, seed : int
    """

    coef: np.ndarray
    intercept: np.ndarray
    average_coef: np.ndarray
    average_intercept: np.ndarray
    moments: Moments | None
    schedule: schedules.Schedule
    fit_intercept: bool
    n_epochs: int
    n_updates: int
    seed: int
    #: A uniform sample of the targets of the rows seen (``"auto"``; shape (m, k)), and the
    #: number of rows seen.
    targets: np.ndarray | None = None
    seen: int = 0
    #: The sum of the weights of all the rows so far, and their number (zero weights
    #: included): a batch's gradient is divided by its rows times their mean weight over the
    #: whole stream, as in one fit over all the rows (a chunk's own mean would weight its
    #: rows against each other: 2% to 12% above weighted least squares with log-normal
    #: weights in chunks of 10 rows).
    weight_sum: float = 0.0
    n_rows: int = 0
    #: The updates so far, those of a chunk run ``r`` times counted ``1 / r`` times each:
    #: the stream's age, for the decay of its steps and the shares of its average.
    age: float = 0.0


def sample_targets(targets, seen, Y, weights, seed):
    """``targets`` (None: none yet), a uniform sample of ``seen`` rows' targets, with the rows
    of ``Y`` of positive weight added (reservoir sampling, at most ``RESERVOIR_ROWS`` rows,
    drawn from ``seed``).

    Returns
    -------
    targets : ndarray of shape (m, k)
    seen : int
    """
    Y = np.asarray(Y, dtype=np.float64)
    if weights is not None:
        Y = Y[np.asarray(weights) > 0]
    kept = np.empty((0, Y.shape[1])) if targets is None else targets
    free = min(RESERVOIR_ROWS - len(kept), len(Y))
    kept = np.concatenate([kept, Y[:free]])
    rest = np.arange(free, len(Y))
    if len(rest):  # row seen + i replaces a random kept row with probability M / (seen + i + 1)
        slots = np.random.default_rng([seed, 3, seen]).integers(0, seen + rest + 1)
        chosen = slots < RESERVOIR_ROWS
        kept = kept.copy()
        kept[slots[chosen]] = Y[rest[chosen]]
    return kept, seen + len(Y)


def continuation_of(result, scaling, Y, weights):
    """The :class:`Continuation` of a stream that goes on from a ``result`` fitted to the
    targets ``Y`` (shape (n, k)) with ``weights``: the fitted model as the iterate and the
    average (standing for the fit's updates, ``n_updates``), and for ``"auto"`` running
    moments from the fit's ``scaling`` over the total weight, and a sample of the targets.

    The fit's scaling holds each column's mean and spread, or without an intercept its root
    mean square: as moments of mean 0, that merges with later chunks into the right root mean
    square (all :func:`standardisation` reads then).
    """
    k = len(scaling.y_offset)
    coef = np.asarray(result.coef, dtype=np.float64).reshape(k, -1)
    intercept = np.asarray(result.intercept, dtype=np.float64).reshape(k)
    total_weight = float(len(Y) if weights is None else weights.sum())
    moments = targets = None
    schedule, seen = result.learning_rate, 0
    if scaling.standardised:
        stride = max(1, len(Y) // RESERVOIR_ROWS)
        targets = sample_targets(None, 0, Y[::stride],
                                 None if weights is None else weights[::stride], 0)[0]
        seen = len(Y) if weights is None else int(np.count_nonzero(weights))  # rows stood for
        settings = result.settings
        factor = loss_step(Y, weights, scaling.y_scale, settings["loss"],
                           settings["epsilon"])[0]
        schedule = schedules.Adaptive(result.learning_rate.eta0 / factor)
        scale = np.concatenate([scaling.x_scale, scaling.y_scale])
        moments = Moments(float(total_weight),
                          np.concatenate([scaling.x_offset, scaling.y_offset]),
                          np.where(np.isfinite(scale), scale, 0.0) ** 2 * total_weight)
    return Continuation(coef, intercept, coef.copy(), intercept.copy(), moments, schedule,
                        bool(result.settings["fit_intercept"]), int(result.n_epochs),
                        int(result.n_updates), int(result.settings["random_state"]), targets,
                        seen, total_weight, len(Y), float(result.n_updates))


def fit_epoch(X, y, continuation=None, *, sample_weight=None, batch_size=32,
              learning_rate="auto", fit_intercept=True, loss="squared_error", epsilon=0.1,
              quantile=0.5, penalty=None, alpha=0.0001, l1_ratio=0.15, shuffle=True,
              drop_last=False, random_state=None, backend="auto"):
    """Run one epoch over ``(X, y)``, continuing ``continuation`` (the one before's state).

    The first call (``continuation=None``) starts from zero weights; later calls go on with the
    model, the step counter ``t`` and the epoch count, and shuffle with the epoch's own stream
    of the seed (``random_state`` when given, else the first call's). Options may change
    between calls and apply from the next call on; ``fit_intercept`` may not. With a raw
    schedule ``k`` calls on the same rows are the epochs of ``fastgd.fit(..., epochs=k,
    tol=None)``; with ``"auto"`` the stream standardises with running moments and returns the
    average of its iterates (see the module's notes). There is no stopping rule.

    Returns
    -------
    result : FitResult
        The stream's model after this call (``"auto"``: the average); ``loss_history`` is the
        objective of the last iterate on these rows, ``n_updates`` the step counter ``t``.
    continuation : Continuation
        What the next call takes.
    """
    options = v.check_options(
        batch_size=batch_size, epochs=1, learning_rate=learning_rate,
        fit_intercept=fit_intercept, loss=loss, epsilon=epsilon, quantile=quantile,
        penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, early_stopping=False,
        validation_fraction=0.1, shuffle=shuffle, drop_last=drop_last,
        tol=None, n_iter_no_change=1)
    X, y, weights = v.check_data(X, y, sample_weight)
    d, k = X.shape[1], 1 if y.ndim == 1 else y.shape[1]
    Y = y.reshape(X.shape[0], k)
    if continuation is None:
        zeros = np.zeros((k, d)), np.zeros(k)
        continuation = Continuation(*zeros, *zeros, None, schedules.Constant(1.0),
                                    options["fit_intercept"], 0, 0,
                                    v.check_random_state(random_state))
    _check_continuable(continuation, d, k, options["fit_intercept"])
    seed = continuation.seed if random_state is None else v.check_random_state(random_state)
    auto = isinstance(options["learning_rate"], str)
    moments = merge_moments(continuation.moments if auto else None, X, Y, weights)
    weight_sum = continuation.weight_sum + (len(Y) if weights is None else float(weights.sum()))
    n_rows = continuation.n_rows + len(Y)
    mean_weight = weight_sum / n_rows if weight_sum > 0 else None
    targets, seen = continuation.targets, continuation.seen
    stream_schedule = None
    if auto:
        targets, seen = sample_targets(targets, seen, Y, weights, seed)
        scaling, stream_schedule, sampling, repeats = _auto_scaling(
            moments, X, targets, weights, continuation, options, mean_weight)
        if repeats > 1:
            X, Y, weights, sampling = _repeated(X, Y, weights, sampling, repeats)
    else:
        scaling, sampling, repeats = raw_scaling(d, k, options["learning_rate"]), None, 1
    backend = get_backend(v.check_backend(backend))
    first = continuation.n_updates == 0  # the intercept starts at y's mean, not at 0
    problem = prepare(X, Y, weights, coef_init=continuation.coef,
                      intercept_init=None if first else continuation.intercept,
                      average_start=continuation.n_updates if auto else -1, seed=seed,
                      scaling=scaling, mean_weight=mean_weight, **options)
    problem = dataclasses.replace(
        continued(problem, problem.start.coef, problem.start.intercept, continuation.n_epochs,
                  continuation.n_updates), sampling=sampling)
    settings = dict(options, average=auto, sample_weight=weights is not None,
                    warm_start=continuation.n_updates > 0)
    result, outcome = run_fit(
        problem, lambda control, histories: run_problem(problem, backend, control, histories),
        X, Y.reshape(-1) if y.ndim == 1 else Y, backend.name, settings, False)
    updates = result.n_updates - continuation.n_updates
    age = continuation.age + updates / repeats
    if auto:  # the call's average goes into the stream's; the iterate goes on
        call_coef, call_intercept = problem.to_original_units(outcome.coef, outcome.intercept)
        coef, intercept = problem.to_original_units(*outcome.iterate)
        share = min(1.0, AVERAGE_SPAN * updates / repeats / max(age, 1.0))
        average_coef = continuation.average_coef + (call_coef - continuation.average_coef) * share
        average_intercept = (continuation.average_intercept
                             + (call_intercept - continuation.average_intercept) * share)
        result = _with_model(result, average_coef, average_intercept, y.ndim)
    else:
        coef, intercept = problem.to_original_units(outcome.coef, outcome.intercept)
        average_coef, average_intercept = coef, intercept
    return result, Continuation(
        coef, intercept, average_coef, average_intercept,
        moments if auto else None, stream_schedule or result.learning_rate,
        options["fit_intercept"], continuation.n_epochs + result.n_epochs, result.n_updates,
        seed, targets, seen, weight_sum, n_rows, age)


def _check_continuable(continuation, d, k, fit_intercept):
    """Clear errors for rows or options that the stream cannot go on with."""
    if continuation.coef.shape != (k, d):
        shape = continuation.coef.shape
        raise ValueError(
            f"These rows have {d} features and {k} target(s), but the fit being continued has "
            f"{shape[1]} and {shape[0]}: pass the same columns.")
    if fit_intercept != continuation.fit_intercept:
        raise ValueError(
            f"fit_intercept changed to {fit_intercept} during a stream that began with "
            f"{continuation.fit_intercept}: call fit (or start a new estimator) to change it.")


def _auto_scaling(moments, X, targets, weights, continuation, options, mean_weight):
    """The :class:`Scaling` of a call of an ``"auto"`` stream, the stream's schedule for the
    next call, how the call draws its rows, and how many times it runs over them.

    The standardisation is the running one; the stream's step is the smallest stable step of
    the chunks so far (their weights relative to the stream's ``mean_weight``), each chunk's
    for its rows other than its outlying ones (``OUTLYING``), times the loss's factor for
    the sample of ``targets``, shrinking with the stream's age (``DECAY_STEPS``). The call
    draws its rows by importance when that makes its own stable step longer
    (``fastgd._curvature.importance_sampling``). Where the outlying rows still make it
    shorter than the stream's, the call runs ``r`` times over the chunk at ``1 / r`` of the
    stream's step (``r`` updates counted as one): a few outlying rows then neither set the
    step of the whole stream nor go unlearned.
    """
    offsets_scales = standardisation(moments, X.shape[1], options["fit_intercept"])
    x_offset, x_scale, _, y_scale = offsets_scales
    intercept = options["fit_intercept"]
    factor, typical = loss_step(targets, None, y_scale, options["loss"], options["epsilon"])
    batch = min(options["batch_size"], X.shape[0])
    shape = curvature(X, weights, x_offset, x_scale, intercept, batch, typical, mean_weight)
    sampling = (importance_sampling(X, weights, x_offset, x_scale, intercept, shape,
                                    mean_weight, STREAM_UNIFORM_SHARE)
                if options["shuffle"] else None)
    chunk_step = shape.step() * (1.0 if sampling is None else sampling.step_factor)
    step = chunk_step
    norms = row_norms(X, None, x_offset, x_scale, intercept, mean_weight)
    usual = norms <= OUTLYING * np.median(norms[norms > 0]) if norms.any() else norms == 0
    if weights is not None:
        usual &= weights > 0
    n_usual = int(np.count_nonzero(usual))
    if 0 < n_usual < len(norms):
        rows = np.flatnonzero(usual)
        step = max(step, curvature(X[rows], None if weights is None else weights[rows],
                                   x_offset, x_scale, intercept, min(batch, n_usual),
                                   typical, mean_weight).step())
    if isinstance(continuation.schedule, schedules.Adaptive):
        step = min(step, continuation.schedule.eta0)
    repeats = 1
    if step > chunk_step:
        row_bytes = 8 * (X.shape[1] if isinstance(X, np.ndarray)
                         else 1 + X.nnz // max(1, X.shape[0]))
        room = max(1, REPLAY_BYTES // (row_bytes * X.shape[0]))
        repeats = int(min(np.ceil(step / chunk_step), MAX_REPEATS, room))
    decay = DECAY_STEPS if options["loss"] in NON_SMOOTH else SMOOTH_DECAY_STEPS
    factor /= np.sqrt(1.0 + continuation.age * step / decay)
    call_step = min(step / repeats, chunk_step)
    return (Scaling(*offsets_scales, schedules.Adaptive(call_step * factor), True),
            schedules.Adaptive(step), sampling, repeats)


def _repeated(X, Y, weights, sampling, repeats):
    """The rows ``X, Y, weights`` repeated ``repeats`` times, drawn by ``sampling`` (None:
    each once) as the chunk's rows were: row ``i`` of each copy with ``1 / repeats`` of its
    probability, so the same weight."""
    index = np.tile(np.arange(X.shape[0]), repeats)
    if sampling is not None:
        cumulative = np.cumsum(np.tile(np.diff(sampling.cumulative, prepend=0.0), repeats))
        cumulative /= repeats
        cumulative[-1] = 1.0
        sampling = sampling._replace(cumulative=cumulative,
                                     weights=np.tile(sampling.weights, repeats))
    return (X[index], Y[index], None if weights is None else weights[index], sampling)


def _with_model(result, coef, intercept, y_ndim):
    """``result`` with the model ``coef, intercept`` (shapes (k, d), (k,)) in its dtype and
    shapes."""
    dtype = result.coef.dtype
    coef, intercept = coef.astype(dtype), intercept.astype(dtype)
    if y_ndim == 1:
        coef, intercept = coef[0], intercept[0]
    return dataclasses.replace(result, coef=coef, intercept=intercept)
