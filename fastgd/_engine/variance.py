"""Variance-reduced epochs: how an ``"auto"`` least-squares fit ends on large problems.

Averaged SGD with a constant step leaves an excess over least squares of about ``d / (n T)``
after ``T`` epochs: the noise of the batches' gradients at the optimum, which does not vanish.
On 50,000 x 1,000 that is 20 to 40 epochs to 1e-3, slower than ``np.linalg.lstsq``. SVRG
(Johnson & Zhang, NIPS 2013) removes that noise: each epoch starts from a snapshot ``w~``, a
pass computes the full gradient ``mu`` there, and every batch steps along its gradient at ``w``
minus its gradient at ``w~``, plus ``mu``: unbiased, and its noise falls with ``w - w~``, so
the excess falls geometrically (from the same start, 2.4e-4 after one such epoch and 3.6e-6
after two on 50,000 x 1,000).

For squared error a batch's gradient at ``w`` minus its gradient at ``w~`` is its gradient on
the rows whose targets are the snapshot's predictions: the epoch engine runs the epoch as it
is on those targets, with ``mu`` as a drift added to every step
(``fastgd._kernels.epochs.run_epochs``; the sparse kernel keeps it as one more direction of
the model, so that a step still costs O(nnz of the batch)). One pass an epoch
(``Backend.snapshot``) gives the predictions, ``mu`` and the snapshot's exact loss, which the
stopping rule reads
(``stopping.variance_reduced_progress``). The snapshot is the average of the epoch before
(the last iterate is as noisy as the step). An epoch that ends above its snapshot's loss is
undone and the step divided by ``ADAPTIVE_DIVISOR``: the fit cannot blow up.
"""

import math

import numpy as np

from ..schedules import ADAPTIVE_DIVISOR
from .groups import ETA, STATUS, UPDATES, Model
from .reference import penalties
from .sampling import sampled_epoch
from .stopping import (ADAPTIVE_FLOOR, CONVERGED, INTERRUPTED, ROUNDING_RTOL, RUNNING,
                       record_loss, variance_reduced_progress)

#: Epochs of averaged SGD before the variance-reduced ones: from the start, SGD's first epochs
#: gain more per pass than a snapshot's gradient can.
WARM_EPOCHS = 2


def _snapshot(backend, rows, setup, model, targets):
    """The snapshot pass at ``model``: ``(drift, losses)``, the mean gradient sums per unit of
    weight and each target's objective (loss plus penalty); the predictions into ``targets``."""
    (G, r_sum, weight), losses = backend.snapshot(rows, setup.standard, model, targets)
    with np.errstate(over="ignore", invalid="ignore"):  # a blown-up model: the driver undoes it
        drift = Model(np.ascontiguousarray(G / weight), np.ascontiguousarray(r_sum / weight))
        return drift, losses + penalties(setup.penalty, model.coef)


def run_variance_reduced(backend, rows, validation, setup, model, iterate, tracker, histories,
                         control, first_epoch, done, epochs, sampling=None):
    """Run variance-reduced epochs from ``model`` after ``done`` epochs of ``epochs``, the
    fit's first being epoch ``first_epoch``; return the epochs run in all.

    ``model``, ``iterate``, ``tracker`` and ``histories`` are those of
    ``driver.run_problem``'s fit and are updated as by the epoch engine: each epoch's loss is
    recorded (a check) and written to ``histories``, and ``model`` ends as the kept model. The
    step starts at ``tracker.values[ETA]``, times the ``step_factor`` of a
    :class:`~fastgd._engine.groups.Sampling` that says how the epochs draw their rows (None:
    each row once, shuffled).
    """
    targets = np.empty_like(rows.Y)
    snapshot_rows = rows._replace(Y=targets)
    eta = float(tracker.values[ETA])
    floor = setup.steps.eta0 * ADAPTIVE_FLOOR
    if sampling is not None:
        eta *= sampling.step_factor
        floor *= sampling.step_factor
    snapshot = Model(model.coef.copy(), model.intercept.copy())
    drift, losses = _snapshot(backend, rows, setup, snapshot, targets)
    checks = setup.checks._replace(every=0, average_phases=False)
    gain = math.nan
    status = RUNNING
    while done < epochs and status == RUNNING:
        tracker.values[ETA] = eta
        plan = setup.plan._replace(first_epoch=first_epoch + done, epochs=1,
                                   average_start=int(tracker.counts[UPDATES]))
        epoch_rows = snapshot_rows
        if sampling is not None:
            epoch_rows, plan = sampled_epoch(backend, snapshot_rows, plan, sampling)
        backend.run_epochs(epoch_rows, setup.standard, setup.loss, setup.penalty, plan,
                           setup.steps, checks, model, iterate, tracker, validation, histories,
                           control, drift)
        done += 1
        new_drift, new_losses = _snapshot(backend, rows, setup, model, targets)
        previous_gain, gain = gain, float(losses.sum() - new_losses.sum())
        if math.isfinite(gain) and gain >= -ROUNDING_RTOL * losses.sum():
            copy_model(snapshot, model)
            copy_model(model, iterate)
            drift, losses = new_drift, new_losses
            status = variance_reduced_progress(float(losses.sum()), gain, previous_gain,
                                               setup.checks.tol, setup.checks.stop_early)
        else:  # the step was too long for these rows: undo the epoch
            copy_model(model, snapshot)
            drift, _ = _snapshot(backend, rows, setup, snapshot, targets)
            eta /= ADAPTIVE_DIVISOR
            gain = math.nan
            if eta < floor:
                status = CONVERGED
        histories.loss[done - 1] = losses
        record_loss(tracker, float(losses.sum()), False, snapshot.coef, snapshot.intercept,
                    setup.checks.keep_best)
        if tracker.counts[STATUS] == INTERRUPTED:
            status = INTERRUPTED
        tracker.counts[STATUS] = status
    tracker.values[ETA] = eta
    copy_model(iterate, model)
    copy_model(model, snapshot)
    return done


def copy_model(to, source):
    """Copy the model ``source`` into ``to`` in place."""
    to.coef[:] = source.coef
    to.intercept[:] = source.intercept
