"""The fit driver: what happens once per fit, around the epoch engine.

A fit is: the loss of the start model; epochs of the engine, with the stopping rule applied at
checks and the best checked model kept; then, once, the return of the kept model, its exact
objective and, with an L1 penalty, a closing proximal step on the full gradient. Only the
driver knows whether the rows are one block or many:

- one block in memory (:func:`run_problem`): one engine call runs every epoch and applies
  the rule at its checks (``fastgd.fit`` on arrays, each ``partial_fit`` call);
- many blocks (:func:`run_blocks`): each epoch runs the engine over every block with no
  checks (:class:`Blocks` says how: memory-mapped chunks one after another, Dask blocks side
  by side and averaged), then the driver checks the whole data with the same
  ``stopping.record_check``.
"""

from typing import NamedTuple

import numpy as np

from ..schedules import step_size
from .backends import get_backend
from .groups import (BEST_LOSS, EPOCHS, ETA, LOWEST, N_CHECKS, START_LOSS, STATUS, UPDATES,
                     Histories, Model, Rows, index_for, new_tracker)
from .moments import finish_moments, moment_shift, wants_moments
from .reference import penalties
from .stopping import (DIVERGED, INTERRUPTED, ROUNDING_RTOL, RUNNING, record_check,
                       start_tracking)
from .sampling import sampled_epoch
from .variance import WARM_EPOCHS, run_variance_reduced

class Outcome(NamedTuple):
    """A finished fit, in the backends' space (what ``fastgd._results.make_result`` takes).

    ``loss_history`` and ``validation_history`` have one row per epoch run (the latter is None
    without validation rows); the last rows are exact losses of the returned model.
    """

    coef: np.ndarray
    intercept: np.ndarray
    loss_history: np.ndarray
    validation_history: np.ndarray | None
    n_epochs: int
    n_updates: int
    status: int
    #: Restarts of an ``"auto"`` fit that blew up (see :func:`restart`), and the first step of
    #: the schedule that ran last.
    restarts: int = 0
    eta0: float = float("nan")
    #: The last iterate (standardised), from which a stream goes on; None for many blocks.
    iterate: Model | None = None
    #: Epochs of the fit that were variance-reduced (``fastgd._engine.variance``), and how
    #: many times longer their step was for drawing rows by importance (0: each row once).
    variance_reduced_epochs: int = 0
    importance_step_factor: float = 0.0


#: Most restarts of an ``"auto"`` fit whose iterates blew up, each from the best model kept
#: with a step ``RESTART_DIVISOR`` times smaller (10 restarts: a step 1e10 times smaller).
MAX_RESTARTS = 10
RESTART_DIVISOR = 10.0


def restart(setup, model, tracker, epochs_done):
    """Restart a fit that blew up at epoch ``epochs_done + 1``: from the best model kept, with
    a step ``RESTART_DIVISOR`` times smaller, that epoch run again.

    ``model`` is overwritten with the kept model. Returns the ``setup`` and the :class:`Tracker`
    of the rest of the fit (the kept model and the lowest loss carried over).
    """
    eta = float(tracker.values[ETA]) / RESTART_DIVISOR
    plan = setup.plan
    setup = setup._replace(
        steps=setup.steps._replace(eta0=eta),
        plan=plan._replace(first_epoch=plan.first_epoch + epochs_done,
                           epochs=plan.epochs - epochs_done))
    model.coef[:], model.intercept[:] = tracker.best_coef, tracker.best_intercept
    fresh = new_tracker(model, len(tracker.losses), eta, int(tracker.counts[UPDATES]),
                        len(tracker.q))
    start_tracking(fresh, float(tracker.values[BEST_LOSS]), model.coef, model.intercept)
    fresh.values[LOWEST] = tracker.values[LOWEST]
    fresh.q_lowest[:] = tracker.q_lowest
    fresh.counts[EPOCHS] = tracker.counts[EPOCHS] - 1
    return setup, fresh


class Blocks:
    """The rows of a fit as blocks: the passes the driver makes over all of them.

    A subclass says how a function reaches every block (:meth:`map`) and how an epoch runs
    over them (:meth:`epoch`). Functions mapped take a block's ``(X, Y, weights)`` first.
    """

    backend_name = "numpy"
    #: Updates an epoch over all blocks (what the stopping rule counts between checks).
    n_batches = 1

    def map(self, function, *args):
        """``[function(X, Y, weights, *args) for each block]``."""
        raise NotImplementedError

    def epoch(self, setup, model, eta, epoch, n_updates):
        """One epoch of the engine over every block from ``model``; return the next model and
        the step counter after the epoch."""
        raise NotImplementedError

    def objective(self, setup, model):
        """Each target's training objective (loss plus penalty) over all blocks: a pass."""
        parts = self.map(block_losses, setup.standard, setup.loss, setup.penalty, model,
                         self.backend_name)
        total = sum(weight for _, weight in parts)
        return sum(sums for sums, _ in parts) / total + penalties(setup.penalty, model.coef)

    def closing_step(self, setup, model, eta):
        """A proximal step with step ``eta`` on the full gradient over all blocks, in place."""
        parts = self.map(block_gradient, setup.standard, setup.loss, model, self.backend_name)
        sums = tuple(sum(part[i] for part in parts) for i in range(3))
        get_backend(self.backend_name).step(model, setup.plan.fit_intercept, setup.standard,
                                            setup.penalty, eta, sums)

    def moments(self, standard, shift):
        """The centred moments of all blocks (``moments.finish_moments``)."""
        parts = self.map(block_moment_sums, standard, shift, self.backend_name)
        return finish_moments(shift, *(sum(part[i] for part in parts) for i in range(3)))


class InMemory(Blocks):
    """One block held in memory."""

    def __init__(self, rows, backend_name):
        self.rows, self.backend_name = rows, backend_name

    def map(self, function, *args):
        return [function(self.rows.X, self.rows.Y, self.rows.weights, *args)]


def block_losses(X, Y, weights, standard, loss, penalty, model, backend_name):
    """The weighted sums of the losses of each target over a block, and the block's total
    weight."""
    total = float(X.shape[0] if weights is None else weights.sum())
    if total == 0.0:  # no rows, or weights all 0: nothing to add
        return np.zeros(model.coef.shape[0]), 0.0
    losses = get_backend(backend_name).objective(Rows(X, Y, weights, index_for(0)), standard,
                                                 loss, penalty, model, False)
    return losses * total, total


def block_gradient(X, Y, weights, standard, loss, model, backend_name):
    """The gradient sums over a block (see ``Backend.gradient``)."""
    return get_backend(backend_name).gradient(Rows(X, Y, weights, index_for(X.shape[0])), standard,
                                              loss, model)


def block_moment_sums(X, Y, weights, standard, shift, backend_name):
    """A block's sums for the centred moments: ``(sums, products, total weight)``."""
    m = len(shift)
    sums, products = np.zeros(m), np.zeros((m, m))
    weight = get_backend(backend_name).moment_sums(Rows(X, Y, weights, index_for(0)), standard,
                                                   shift, sums, products)
    return sums, products, weight


def run_problem(problem, backend, control, histories):
    """Fit one in-memory block (a :class:`fastgd._preparation.Problem`).

    Parameters
    ----------
    problem : Problem
    backend : Backend
    control : ndarray of shape (2,), int64
        Stop request in, epochs completed out (see ``fastgd._kernels.epochs.run_epochs``).
    histories : Histories
        Receives the standardised epoch losses as the fit goes.

    Returns
    -------
    Outcome
    """
    setup, rows, validation = problem.setup, problem.rows, problem.validation
    plan, checks = setup.plan, setup.checks
    max_checks = plan.epochs * -(-plan.n_batches // checks.every)
    if isinstance(rows.X, np.ndarray) and wants_moments(backend, setup.loss, rows.X.shape[0],
                                                        rows.X.shape[1], max_checks):
        blocks = InMemory(rows, backend.name)
        checks = checks._replace(moments=blocks.moments(setup.standard,
                                                        moment_shift(rows, setup.standard)))
        setup = setup._replace(checks=checks)
    model = Model(problem.start.coef.copy(), problem.start.intercept.copy())
    tracker = new_tracker(model, max_checks, setup.steps.eta0, problem.first_update,
                          validation.X.shape[0])
    if validation.X.shape[0]:
        start = backend.objective(validation, setup.standard, setup.loss, setup.penalty, model,
                                  False, q=tracker.q_lowest)
    else:
        start = backend.objective(rows, setup.standard, setup.loss, setup.penalty, model, True)
    start_tracking(tracker, float(start.sum()), model.coef, model.intercept)
    iterate = Model(np.empty_like(model.coef), np.empty_like(model.intercept))
    epochs = setup.plan.epochs
    if problem.variance_reduced:  # averaged SGD first, then variance-reduced epochs
        setup = setup._replace(plan=setup.plan._replace(epochs=min(epochs, WARM_EPOCHS)))
    epoch_rows = rows
    if problem.sampling is not None:  # a stream's call: one epoch over rows drawn by norm
        epoch_rows, plan = sampled_epoch(backend, rows, setup.plan, problem.sampling)
        setup = setup._replace(plan=plan)
    n_epochs = backend.run_epochs(epoch_rows, *setup, model, iterate, tracker, validation,
                                  histories, control)
    restarts = 0
    while (tracker.counts[STATUS] == DIVERGED and problem.standardised
           and restarts < MAX_RESTARTS):
        restarts += 1
        done = n_epochs - 1
        setup, tracker = restart(setup, model, tracker, done)
        rest = Histories(histories.loss[done:], histories.validation[done:])
        n_epochs = done + backend.run_epochs(epoch_rows, *setup, model, iterate, tracker,
                                             validation, rest, control)
    # a check of averages may record the iterate's losses (``epochs._check``), not the model's
    exact = (checks.moments.shape[0] == 0 and not validation.X.shape[0]
             and not checks.average_phases and problem.sampling is None)
    last_iterate = (iterate if setup.checks.average_phases and not validation.X.shape[0]
                    else None)
    if (problem.variance_reduced and tracker.counts[STATUS] == RUNNING and n_epochs < epochs):
        model.coef[:], model.intercept[:] = tracker.best_coef, tracker.best_intercept
        warm_epochs = n_epochs
        sampling = problem.importance_sampling()
        n_epochs = run_variance_reduced(backend, rows, validation, setup, model, iterate,
                                        tracker, histories, control,
                                        problem.setup.plan.first_epoch, n_epochs, epochs,
                                        sampling)
        exact, last_iterate = True, None
        reduced = dict(variance_reduced_epochs=n_epochs - warm_epochs,
                       importance_step_factor=0.0 if sampling is None else sampling.step_factor)
    else:
        reduced = {}
    outcome = finish(InMemory(rows, backend.name), setup, model, tracker, histories, n_epochs,
                     exact, validation, restarts, last_iterate)
    return outcome._replace(iterate=iterate, **reduced)


def run_blocks(blocks, setup, model, control, histories, restartable=False):
    """Fit the rows of ``blocks`` from ``model``, checking the whole data once an epoch.

    ``setup.checks`` gives the rule (its ``every`` is replaced by the updates an epoch) and,
    when not empty, the moments the checks' losses come from; ``control`` is as in
    :func:`run_problem`. A ``restartable`` fit (``"auto"``) that blows up restarts (see
    :func:`restart`). Returns an :class:`Outcome`.
    """
    checks = setup.checks._replace(every=max(blocks.n_batches, 1))
    setup = setup._replace(checks=checks)
    tracker = new_tracker(model, setup.plan.epochs, setup.steps.eta0)
    start_tracking(tracker, float(blocks.objective(setup, model).sum()), model.coef,
                   model.intercept)
    moments = checks.moments if checks.moments.shape[0] else None
    first_epoch, epochs = setup.plan.first_epoch, setup.plan.epochs
    n_epochs = run_epoch = restarts = 0
    while run_epoch < epochs:
        epoch = first_epoch + run_epoch
        model, tracker.counts[UPDATES] = blocks.epoch(setup, model, float(tracker.values[ETA]),
                                                      epoch, int(tracker.counts[UPDATES]))
        losses = checked_objective(blocks, setup, model, moments)
        histories.loss[run_epoch] = losses
        status = record_check(tracker, float(losses.sum()), False, model.coef, model.intercept,
                              setup.steps, checks)
        if status == DIVERGED and restartable and restarts < MAX_RESTARTS:
            restarts += 1
            setup, tracker = restart(setup, model, tracker, run_epoch)
            continue
        n_epochs = run_epoch = run_epoch + 1
        if end_epoch(tracker, control, n_epochs, status) != RUNNING:
            break
    return finish(blocks, setup, model, tracker, histories, n_epochs, moments is None, None,
                  restarts)


def checked_objective(blocks, setup, model, moments):
    """Each target's objective of ``model`` at a check of a fit over ``blocks``: from the
    data's ``moments`` when given, else a pass."""
    if moments is None:
        return blocks.objective(setup, model)
    return moment_objective(setup, model, moments)


def end_epoch(tracker, control, n_epochs, status):
    """Record ``n_epochs`` epochs done in ``control[1]`` and turn a stop request
    (``control[0]``) of a running fit into ``INTERRUPTED``; return the status."""
    control[1] = n_epochs
    if status == RUNNING and control[0] != 0:
        status = tracker.counts[STATUS] = INTERRUPTED
    return status


def moment_objective(setup, model, moments):
    """Each target's objective from the data's moments (O(k d^2); the Numba backend's)."""
    from .._kernels.losses import moment_losses

    out = np.empty(model.coef.shape[0])
    moment_losses(model, moments, out)
    return out + penalties(setup.penalty, model.coef)


def finish(blocks, setup, model, tracker, histories, n_epochs, exact, validation, restarts=0,
           last_iterate=None):
    """End a fit: the kept model, its exact objective, the closing L1 step, once.

    A ``last_iterate`` (of a fit whose checks saw averages) is returned instead when its
    objective is lower: in the transient part of a phase the iterate leads its average.

    ``exact``: the last check's losses are an exact pass over the training rows (no moments,
    no validation rows), so they need no second pass when the last model is returned.

    Returns
    -------
    Outcome
    """
    status = int(tracker.counts[STATUS])
    n_updates = int(tracker.counts[UPDATES])
    loss, val = histories.loss[:n_epochs], histories.validation[:n_epochs]
    validating = validation is not None and validation.X.shape[0] > 0
    if status == DIVERGED:
        return Outcome(model.coef, model.intercept, loss, val if validating else None, n_epochs,
                       n_updates, status, restarts, setup.steps.eta0)
    last = n_epochs - 1
    if setup.checks.keep_best and tracker.values[BEST_LOSS] < tracker.losses[
            tracker.counts[N_CHECKS] - 1]:
        model.coef[:], model.intercept[:] = tracker.best_coef, tracker.best_intercept
        exact = False
    if not exact:
        loss[last] = blocks.objective(setup, model)
    if last_iterate is not None:
        losses = blocks.objective(setup, last_iterate)
        if losses.sum() < loss[last].sum():
            model.coef[:], model.intercept[:] = last_iterate
            loss[last] = losses
    if not validating and np.any(setup.penalty.l1 > 0.0):
        before = model.coef.copy(), model.intercept.copy()
        steps = setup.steps
        blocks.closing_step(setup, model, step_size(steps.kind, steps.eta0, steps.p1, steps.p2,
                                                    0, 0))
        polished = blocks.objective(setup, model)
        if polished.sum() > loss[last].sum():
            model.coef[:], model.intercept[:] = before
        else:
            loss[last] = polished
    if (setup.checks.stop_early and not setup.checks.keep_best and not validating
            and status != INTERRUPTED
            and loss[last].sum() > tracker.values[START_LOSS] * (1.0 + ROUNDING_RTOL)):
        status = DIVERGED  # a fit that ends above where it started has not converged
    if validating:
        val[last] = get_backend(blocks.backend_name).objective(
            validation, setup.standard, setup.loss, setup.penalty, model, False)
    return Outcome(model.coef, model.intercept, loss, val if validating else None, n_epochs,
                   n_updates, status, restarts, setup.steps.eta0)
