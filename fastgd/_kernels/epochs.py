"""The compiled epoch engine: epochs of mini-batch updates over one block of rows, with checks.

:func:`run_epochs` shuffles, walks the batches, updates, averages and (unless the block is one
of many) applies the stopping rule at its checks; nothing else. The start loss, the final
objective and the closing L1 step are the fit driver's (``fastgd._engine.driver``), once per
fit. ``fastgd._engine.reference`` is the NumPy twin of this module.
"""

import numpy as np
from numba.extending import overload

from .._engine.groups import EPOCHS, ETA, LOWEST, STATUS, UPDATES
from .._engine.stopping import (INTERRUPTED, RUNNING, record_check, restart_averaging,
                                within_one_standard_error)
from ..schedules import step_size
from .intrinsics import is_dense, pick_format
from .jit import copy_into, inlined_kernel, kernel, reassociating_kernel
from .losses import effective_weights_of, new_work, no_penalty, objective
from .random import shuffle_epoch
from .sparse import sparse_batches
from .updates import add_drift, average_in, gradient_sums, proximal_step, slope_terms_of

_step_size = kernel(step_size)


@reassociating_kernel
def _batches(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average, work,
             drift):
    """Run batches ``first`` to ``last - 1`` of epoch ``epoch`` (``span``) from step counter
    ``t``; return ``t`` after them.

    From update ``average_start`` on (``span``; never if negative) each iterate is folded into
    ``average``. A ``drift`` that is not empty (a ``Model`` of mean gradient sums per unit of
    weight, see ``fastgd._engine.variance``) is added to every batch's gradient, a batch of
    weight 0 included. The groups are unpacked here, once per call: the per-batch functions
    take arrays (see ``updates.gradient_sums``).
    """
    first, last, epoch, average_start = span
    X, Y, weights, index = rows
    x_offset, x_scale, y_offset, _ = standard
    l1, l2 = penalty
    coef, intercept = model
    avg_coef, avg_intercept = average
    k, d = coef.shape
    V, c, G, r_sum, inv_y_scale = (np.empty((k, d), X.dtype), np.empty(k, X.dtype),
                                   np.empty((k, d), X.dtype), np.empty(k, X.dtype),
                                   np.empty(k, X.dtype))
    for i in range(k):
        inv_y_scale[i] = work.inv_y_scale[i]
    kind, _, p1, p2 = steps
    batch_size, fit_intercept, mean_weight = plan.batch_size, plan.fit_intercept, plan.mean_weight
    whole_batches = plan.whole_batches
    drift_coef, drift_intercept = drift
    drifting = drift_coef.shape[0] > 0
    terms = slope_terms_of(loss, X)
    n = index.shape[0]
    for b in range(first, last):
        start = b * batch_size
        stop = min(start + batch_size, n)
        step = _step_size(kind, eta, p1, p2, t, epoch)
        effective_weights_of(coef, intercept, x_offset, x_scale, y_offset, work.inv_y_scale, V,
                             c)
        weight = gradient_sums(X, Y, weights, index, start, stop, V, c, inv_y_scale, G, r_sum,
                               loss.kind, terms, 1.0 / mean_weight)
        rows_weight = batch_size if whole_batches else stop - start
        if drifting:
            add_drift(G, r_sum, drift_coef, drift_intercept, rows_weight)
        if weight > 0.0 or drifting:  # a batch whose weights are all zero makes no step
            proximal_step(coef, intercept, fit_intercept, x_offset, x_scale, l1, l2, step, G,
                          r_sum, rows_weight)
            # (the weights came relative to their mean)
        t += 1
        if 0 <= average_start < t:
            average_in(coef, intercept, avg_coef, avg_intercept, t - average_start)
    return t


def _run_batches(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average,
                 work, drift):
    return (_batches if is_dense(rows) else sparse_batches)(
        rows, standard, loss, penalty, plan, steps, eta, span, t, model, average, work, drift)


@overload(_run_batches, inline="always")
def _typed_run_batches(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average,
                       work, drift):
    batches = pick_format(rows, _batches, sparse_batches)

    def run(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average, work,
            drift):
        return batches(rows, standard, loss, penalty, plan, steps, eta, span, t, model, average,
                       work, drift)
    return run


@inlined_kernel
def _check(rows, standard, loss, penalty, steps, checks, current, model, tracker, validation,
           work):
    """Evaluate the model ``current`` at a check and apply the stopping rule; return the status.

    The check's loss is the validation loss when there are validation rows, else the training
    objective (from ``checks.moments`` when given). With ``checks.average_phases`` the check
    is of the better of the average ``current`` and the iterate ``model``: the average wins at
    a step's noise floor, the iterate while it is still on its way (the average lags behind).
    """
    if validation.X.shape[0] > 0:
        value = objective(validation, standard, loss, no_penalty(), current, np.empty((0, 0)),
                          work, tracker.q)
        close = within_one_standard_error(tracker.q, tracker.q_lowest, validation.weights)
        if value <= tracker.values[LOWEST]:
            copy_into(tracker.q_lowest, tracker.q)
    else:
        value = objective(rows, standard, loss, penalty, current, checks.moments, work,
                          np.empty(0))
        close = False
        if checks.average_phases:
            saved = work.out.copy()
            iterate_value = objective(rows, standard, loss, penalty, model, checks.moments, work,
                                      np.empty(0))
            if iterate_value < value:
                value, current = iterate_value, model
            else:
                copy_into(work.out, saved)
    return record_check(tracker, value, close, current.coef, current.intercept, steps, checks)


@reassociating_kernel
def run_epochs(rows, standard, loss, penalty, plan, steps, checks, model, iterate, tracker,
               validation, histories, control, drift):
    """Run ``plan.epochs`` epochs from ``plan.first_epoch`` over ``rows``, updating ``model``,
    ``tracker`` and ``histories`` in place (see ``fastgd._engine.groups``).

    The step counter starts at ``tracker.counts[UPDATES]`` and the step of an adaptive schedule
    at ``tracker.values[ETA]``; both are left where the run ends. With checks
    (``checks.every > 0``) the rule runs every ``checks.every`` updates and at each epoch's
    end, a check evaluating the model that would be returned (the average once averaging
    runs), and each epoch's losses go into ``histories``; the run ends early when the rule
    says so or, at an epoch's end, when ``control[0]`` is set (status ``INTERRUPTED``).
    ``control[1]`` receives the epochs completed. With validation rows and no averaging asked
    for, each check evaluates the average of the iterates since the check before: single
    iterates at a large step are noisy, and the lowest validation loss among them would often
    be a lucky one. At the end ``model`` holds the model to return (the average, when averaging)
    and ``iterate`` (a model of the same shapes, used as the averaging buffer) the last iterate,
    from which a later run may go on. ``drift``: see ``_batches`` (empty: none).

    Returns
    -------
    int
        Epochs run (the last one may have stopped at a check before its end).
    """
    k, d = model.coef.shape
    work = new_work(standard, k, d)
    state = np.empty(1, dtype=np.uint64)
    average = iterate
    copy_into(average.coef, model.coef)
    copy_into(average.intercept, model.intercept)
    current = model
    checking = checks.every > 0
    every = checks.every if checking else plan.n_batches
    average_start = plan.average_start
    interval_averages = validation.X.shape[0] > 0 and average_start < 0
    t = tracker.counts[UPDATES]
    phase_eta = np.nan
    status = RUNNING
    n_epochs = 0
    for run_epoch in range(plan.epochs):
        epoch = plan.first_epoch + run_epoch
        if plan.shuffle:
            shuffle_epoch(rows.index, plan.seed, epoch, state)
        first = 0
        while first < plan.n_batches and status == RUNNING:
            last = min(first + every, plan.n_batches)
            if interval_averages:
                average_start = t
            if checks.average_phases and restart_averaging(tracker, phase_eta, model.coef,
                                                           model.intercept):
                average_start, phase_eta = t, tracker.values[ETA]
            t = _run_batches(rows, standard, loss, penalty, plan, steps, tracker.values[ETA],
                             (first, last, epoch, average_start), t, model, average, work,
                             drift)
            first = last
            if 0 <= average_start < t:
                current = average
            if checking:
                status = _check(rows, standard, loss, penalty, steps, checks, current, model,
                                tracker, validation, work)
        n_epochs = run_epoch + 1
        if checking:
            _record_epoch(rows, standard, loss, penalty, checks, current, validation,
                          histories, run_epoch, work)
        tracker.counts[EPOCHS] += 1
        control[1] = tracker.counts[EPOCHS]
        if status == RUNNING and control[0] != 0:
            status = INTERRUPTED
            tracker.counts[STATUS] = status
        if status != RUNNING:
            break
    tracker.counts[UPDATES] = t
    if 0 <= average_start < t:  # swap: the average to return, the iterate to go on from
        for i in range(k):
            for j in range(d):
                model.coef[i, j], average.coef[i, j] = average.coef[i, j], model.coef[i, j]
            model.intercept[i], average.intercept[i] = average.intercept[i], model.intercept[i]
    else:
        copy_into(iterate.coef, model.coef)
        copy_into(iterate.intercept, model.intercept)
    return n_epochs


@inlined_kernel
def _record_epoch(rows, standard, loss, penalty, checks, current, validation, histories,
                  run_epoch, work):
    """Write the epoch's losses into ``histories``: those of its last check, and with validation
    rows the training objective too."""
    if validation.X.shape[0] > 0:
        copy_into(histories.validation[run_epoch], work.out)
        objective(rows, standard, loss, penalty, current, checks.moments, work, np.empty(0))
    copy_into(histories.loss[run_epoch], work.out)
