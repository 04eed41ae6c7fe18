"""The NumPy twin of the compiled epoch engine: the readable reference of what it computes.

Same groups in and out as ``fastgd._kernels.epochs.run_epochs`` (see ``groups``), one
vectorised gradient per batch on the standardised rows. It shuffles with NumPy's PCG64 seeded
by ``(seed, epoch)`` (the kernels use their own generator), so the two agree exactly only with
``shuffle=False``. The stopping rule is the very code the kernels compile (``stopping``).
"""

import numpy as np

from ..schedules import step_size
from .groups import EPOCHS, ETA, LOWEST, NO_DRIFT, STATUS, UPDATES, Csr
from .loss_functions import slopes, values
from .stopping import (INTERRUPTED, RUNNING, record_check, restart_averaging,
                       within_one_standard_error)


def standardised(rows, standard):
    """The block's standardised data ``(Z, T, s, m)``: rows ``Z - m`` (for sparse rows ``Z`` is
    a ``scipy.sparse`` matrix of the scaled rows and ``m`` the scaled column means, subtracted
    in every product; for dense rows ``m`` is 0), targets ``T`` and weights ``s`` (ones if
    None)."""
    s = np.ones(rows.X.shape[0]) if rows.weights is None else rows.weights
    inverse = 1.0 / standard.x_scale
    if isinstance(rows.X, Csr):
        import scipy.sparse as sp

        X = sp.csr_matrix(tuple(rows.X[:3]), shape=rows.X.shape)
        Z, m = X.astype(np.float64) @ sp.diags(inverse), standard.x_offset * inverse
    else:
        Z, m = (rows.X - standard.x_offset) * inverse, np.zeros(rows.X.shape[1])
    return Z, (rows.Y.astype(np.float64) - standard.y_offset) / standard.y_scale, s, m


def shuffle_rows(index, seed, epoch):
    """Shuffle the row numbers in ``index`` in place, from ``(seed, epoch)`` (the twin of
    ``fastgd._kernels.random.shuffle_rows``, with NumPy's generator)."""
    index[:] = index[np.random.default_rng([seed, 3, epoch]).permutation(index.shape[0])]


def _predictions(Z, m, model):
    """The standardised predictions of each row (first axis) and target."""
    return Z @ model.coef.T - m @ model.coef.T + model.intercept


def _row_losses(data, loss, model):
    """The loss (``loss_functions.values``) of each row (first axis) and target."""
    Z, T, _, m = data
    return values(loss, _predictions(Z, m, model) - T)


def penalties(penalty, coef):
    """The penalty of each target's standardised coefficients ``coef``."""
    return (penalty.l1 * np.abs(coef)).sum(axis=1) + 0.5 * (penalty.l2 * coef**2).sum(axis=1)


def _losses(data, loss, penalty, model, penalised):
    """Loss (plus penalty) of each target over standardised ``data``: ``sum(s L(r)) /
    sum(s)``."""
    s = data[2]
    out = s @ _row_losses(data, loss, model) / s.sum()
    if penalised:
        out += penalties(penalty, model.coef)
    return out


def objective(rows, standard, loss, penalty, model, penalised, moments=None, q=None):
    """Each target's loss (plus penalty if ``penalised``) over ``rows``, and the rows' losses
    into ``q`` when given (``moments`` is unused: the reference always makes a pass)."""
    data = standardised(rows, standard)
    with np.errstate(over="ignore", invalid="ignore"):
        if q is not None:
            q[:] = _row_losses(data, loss, model).sum(axis=1)
        return _losses(data, loss, penalty, model, penalised)


def _gradient(data, loss, rows, model):
    """``(G, r_sum, weight)``: the gradient sums of the standardised rows ``rows``."""
    Z, T, s, m = data
    Z_rows = Z[rows]
    slope = slopes(loss, _predictions(Z_rows, m, model) - T[rows]) * s[rows, None]
    r_sum = slope.sum(axis=0)
    return (Z_rows.T @ slope).T - np.outer(r_sum, m), r_sum, s[rows].sum()


def gradient(rows, standard, loss, model):
    """The gradient sums ``(sum(s g z), sum(s g), sum(s))`` over all of ``rows``, ``g`` the
    slope of the loss at each row's residual."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _gradient(standardised(rows, standard), loss, slice(None), model)


def proximal_step(model, fit_intercept, standard, penalty, eta, sums):
    """One step on the gradient of ``sums = (G, r_sum, divisor)`` (standardised, from
    :func:`gradient`), then the penalty's proximal map (see ``fastgd._kernels.updates``)."""
    G, r_sum, weight = sums
    if weight > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            w = model.coef - eta * G / weight
            model.coef[:] = (np.sign(w) * np.maximum(np.abs(w) - eta * penalty.l1, 0.0)
                             / (1.0 + eta * penalty.l2))
            if fit_intercept:
                model.intercept[:] -= eta * r_sum / weight


def _check(data, val_data, validation, loss, penalty, steps, checks, current, model, tracker):
    """Evaluate ``current`` (with ``checks.average_phases``, the better of it and the iterate
    ``model``) at a check and apply the stopping rule; return the losses and the status."""
    if validation.X.shape[0] > 0:
        out = _losses(val_data, loss, penalty, current, False)
        tracker.q[:] = _row_losses(val_data, loss, current).sum(axis=1)
        close = within_one_standard_error(tracker.q, tracker.q_lowest, validation.weights)
        if out.sum() <= tracker.values[LOWEST]:
            tracker.q_lowest[:] = tracker.q
    else:
        out, close = _losses(data, loss, penalty, current, True), False
        if checks.average_phases:
            iterate_out = _losses(data, loss, penalty, model, True)
            if iterate_out.sum() < out.sum():
                out, current = iterate_out, model
    return out, record_check(tracker, out.sum(), close, current.coef, current.intercept, steps,
                             checks)


def snapshot_pass(rows, standard, model, targets):
    """The snapshot of a variance-reduced epoch (``fastgd._kernels.passes.snapshot_pass``'s
    twin): the model's predictions in y's units into ``targets``; returns its gradient sums
    (as :func:`gradient`) and each target's mean squared-error loss."""
    Z, T, s, m = standardised(rows, standard)
    with np.errstate(over="ignore", invalid="ignore"):  # a blown-up model: the driver undoes it
        P = _predictions(Z, m, model)
        targets[:] = P * standard.y_scale + standard.y_offset
        slope = (P - T) * s[:, None]
        r_sum = slope.sum(axis=0)
        sums = (Z.T @ slope).T - np.outer(r_sum, m), r_sum, s.sum()
        return sums, s @ (0.5 * (P - T) ** 2) / s.sum()


def run_epochs(rows, standard, loss, penalty, plan, steps, checks, model, iterate, tracker,
               validation, histories, control, drift=NO_DRIFT):
    """Run epochs over ``rows`` as ``fastgd._kernels.epochs.run_epochs`` does; return the
    epochs run."""
    n = rows.index.shape[0]
    data, val_data = standardised(rows, standard), standardised(validation, standard)
    order = rows.index
    average = iterate
    average.coef[:], average.intercept[:] = model.coef, model.intercept
    current, every = model, checks.every if checks.every > 0 else plan.n_batches
    average_start = plan.average_start
    interval_averages = validation.X.shape[0] > 0 and average_start < 0
    t, status, n_epochs = tracker.counts[UPDATES], RUNNING, 0
    drifting = drift.coef.shape[0] > 0
    phase_eta = np.nan
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is divergence, as in kernels
        for run_epoch in range(plan.epochs):
            epoch = plan.first_epoch + run_epoch
            if plan.shuffle:  # each epoch from its own stream, as in the kernels
                order = rows.index[np.random.default_rng([plan.seed, 0, epoch]).permutation(n)]
            for batch in range(plan.n_batches):
                rows_b = order[batch * plan.batch_size:(batch + 1) * plan.batch_size]
                if (checks.average_phases and batch % every == 0
                        and restart_averaging(tracker, phase_eta, model.coef, model.intercept)):
                    average_start, phase_eta = t, tracker.values[ETA]
                eta_t = step_size(steps.kind, tracker.values[ETA], steps.p1, steps.p2, t, epoch)
                G, r_sum, weight = _gradient(data, loss, rows_b, model)
                # unbiased: divided by the rows' expected weight, not their own
                divisor = plan.mean_weight * (plan.batch_size if plan.whole_batches
                                              else len(rows_b))
                if drifting:
                    G, r_sum = G + divisor * drift.coef, r_sum + divisor * drift.intercept
                if weight > 0 or drifting:
                    proximal_step(model, plan.fit_intercept, standard, penalty, eta_t,
                                  (G, r_sum, divisor))
                t += 1
                if interval_averages and batch % every == 0:
                    average_start = t - 1  # each check evaluates its interval's average
                if 0 <= average_start < t:
                    share = 1.0 / (t - average_start)
                    average.coef[:] += (model.coef - average.coef) * share
                    average.intercept[:] += (model.intercept - average.intercept) * share
                    current = average
                if checks.every > 0 and ((batch + 1) % every == 0 or batch + 1 == plan.n_batches):
                    out, status = _check(data, val_data, validation, loss, penalty, steps,
                                         checks, current, model, tracker)
                    if status != RUNNING:
                        break
            n_epochs = run_epoch + 1
            if checks.every > 0:
                if validation.X.shape[0] > 0:
                    histories.validation[run_epoch] = out
                    out = _losses(data, loss, penalty, current, True)
                histories.loss[run_epoch] = out
            tracker.counts[EPOCHS] += 1
            control[1] = tracker.counts[EPOCHS]
            if status == RUNNING and control[0] != 0:
                status = tracker.counts[STATUS] = INTERRUPTED
            if status != RUNNING:
                break
    tracker.counts[UPDATES] = t
    last = model.coef.copy(), model.intercept.copy()
    if 0 <= average_start < t:
        model.coef[:], model.intercept[:] = average.coef, average.intercept
    iterate.coef[:], iterate.intercept[:] = last
    return n_epochs
