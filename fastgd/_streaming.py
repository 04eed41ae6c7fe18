"""Fits over blocks of rows: memory-mapped data streamed in chunks, and Dask blocks.

Both run the same epoch: the kernels make one epoch of mini-batch updates over one block held
in memory, from a given model, step counter and epoch number (:func:`block_epoch`). What
differs is how blocks are combined:

- out of core (:func:`fit_streamed`): the chunks of an epoch are visited one after another
  in a seeded random order, the model flowing from chunk to chunk; rows are shuffled within
  each chunk (chunk order plus within-chunk order: a shuffle that never needs more than one
  chunk in memory);
- Dask (``fastgd.dask``): every block starts the epoch from the same model, on its worker,
  and the blocks' models are averaged, weighted by their rows.

The stopping rule, the adaptive step and keeping the best model run here, once an epoch, on
the exact objective over all blocks (:func:`block_losses`, one more pass).
"""

import numpy as np

from . import schedules
from ._backends import get_backend
from ._preparation import auto_scaling, prepare, raw_scaling
from ._stopping import DIVERGED, RUNNING, check_progress

#: Bytes of X per chunk of a streamed fit.
CHUNK_BYTES = 1 << 24


def block_options(options):
    """The options of ``fastgd.fit`` that a block's epoch takes, as ``prepare`` names them."""
    return {key: options[key] for key in ("batch_size", "learning_rate", "fit_intercept",
                                          "penalty", "alpha", "l1_ratio", "shuffle",
                                          "drop_last")}


def block_problem(X, Y, weights, scaling, coef, intercept, seed, options, epoch=0,
                  first_update=0, epochs=1, tol=None, n_iter_no_change=1):
    """The :class:`Problem` of ``epochs`` epochs over one in-memory block, from the model
    ``coef, intercept`` (standardised, shapes (k, d) and (k,)), epoch ``epoch`` and step
    counter ``first_update``, never keeping an earlier model than the last.

    ``scaling`` None: this block's own (what ``prepare`` computes).
    """
    problem = prepare(X, Y, weights, coef_init=np.zeros_like(coef), intercept_init=None,
                      average_start=-1, seed=seed, scaling=scaling, epochs=epochs, tol=tol,
                      n_iter_no_change=n_iter_no_change, early_stopping=False,
                      validation_fraction=0.1, **options)
    problem.coef_init, problem.intercept_init = coef.copy(), intercept.copy()
    problem.first_epoch, problem.first_update, problem.keep_best = epoch, first_update, False
    return problem


def block_seed(seed, block):
    """A seed of its own for every block of a fit."""
    return int(np.random.SeedSequence([seed, block]).generate_state(1, np.uint64)[0] >> 1)


def block_epoch(X, Y, weights, scaling, coef, intercept, eta, epoch, first_update, seed,
                options, backend):
    """One epoch of the kernels over one in-memory block, from the model ``coef, intercept``
    (standardised, shapes (k, d) and (k,)).

    ``eta`` is the current step of an adaptive schedule (else unused: the schedule follows the
    global step counter ``first_update`` and ``epoch``).

    Returns
    -------
    coef, intercept : ndarray
    n_updates : int
        The step counter after the epoch.
    """
    schedule = scaling.schedule
    if schedule.kind == schedules.ADAPTIVE:
        schedule = schedules.Constant(eta)
    problem = block_problem(X, Y, weights, scaling._replace(schedule=schedule), coef, intercept,
                            seed, options, epoch, first_update)
    control = np.zeros(2, dtype=np.int64)
    coef, intercept, _, _, _, n_updates, status = problem.run(
        get_backend(backend)[1], control, problem.new_loss_history())
    if status == DIVERGED:
        coef = np.full_like(coef, np.inf)
    return coef, intercept, n_updates


def block_losses(X, Y, weights, scaling, coef, intercept):
    """The weighted sum of half squared residuals of each target over one block, and the
    block's total weight (standardised units)."""
    Z = (X - scaling.x_offset) / scaling.x_scale
    T = (Y - scaling.y_offset) / scaling.y_scale
    with np.errstate(over="ignore", invalid="ignore"):
        squares = 0.5 * (Z @ coef.T + intercept - T) ** 2
    if weights is None:
        return squares.sum(axis=0), float(len(X))
    return weights @ squares, float(weights.sum())


def penalty_of(coef, l1, l2):
    """The standardised penalty of each target."""
    return (l1 * np.abs(coef)).sum(axis=1) + 0.5 * coef**2 @ l2


class EpochLoop:
    """The once-an-epoch part of a fit over blocks: history, stopping rule, adaptive step,
    the best model kept (under ``"auto"``).

    Parameters
    ----------
    scaling : Scaling
    tol : float or None
    window : int
    n_batches : int
        Updates an epoch over all blocks.
    keep_best : bool
    """

    def __init__(self, scaling, tol, window, n_batches, keep_best):
        self.kind, self.eta0, _, _ = scaling.schedule.lower()
        self.eta = self.eta0
        self.tol, self.window = tol, window
        self.n_batches, self.keep_best = n_batches, keep_best
        self.history = []
        self.totals = []
        self.phase_start, self.best_before, self.base_loss = 0, np.inf, np.inf
        self.start_loss = None
        self.best = None

    def start(self, losses, coef, intercept):
        """Record the objective (per target) of the starting model."""
        self.start_loss = float(losses.sum())
        self.best = (self.start_loss, coef.copy(), intercept.copy(), losses)

    def after_epoch(self, losses, coef, intercept):
        """Record the epoch's objective (per target); return the fit's status."""
        self.history.append(losses)
        loss = float(losses.sum())
        self.totals.append(loss)
        if self.keep_best and loss < self.best[0]:
            self.best = (loss, coef.copy(), intercept.copy(), losses)
        self.phase_start, self.best_before, self.eta, self.base_loss, status = check_progress(
            self.totals, len(self.totals) - 1, self.phase_start, self.best_before, self.eta,
            self.base_loss, self.eta0, self.kind, 0.0 if self.tol is None else self.tol,
            self.tol is not None, self.window, self.n_batches, self.start_loss)
        return status

    def outcome(self, coef, intercept, n_updates, status):
        """What ``Problem.run`` returns, for :func:`fastgd._fit.make_result`."""
        history = np.array(self.history)
        if status != DIVERGED and self.keep_best and self.best[0] < history[-1].sum():
            _, coef, intercept, losses = self.best
            history[-1] = losses
        return coef, intercept, history, None, len(history), n_updates, status


def fit_streamed(X, Y, weights, options, seed, backend, epochs, tol, n_iter_no_change):
    """Fit over the rows of a memory-mapped X in chunks of ``CHUNK_BYTES``.

    Returns
    -------
    problem : Problem
        A problem on the first chunk, with the fit's scaling and schedule (for the result).
    outcome : tuple
        What ``Problem.run`` returns.
    """
    n, d = X.shape
    rows = max(options["batch_size"], CHUNK_BYTES // (X.itemsize * d))
    starts = list(range(0, n, rows))

    def chunk(start):
        part = slice(start, start + rows)
        return (np.array(X[part]), np.array(Y[part]),
                None if weights is None else np.array(weights[part]))

    def chunks():
        return (chunk(start) for start in starts)

    k = Y.shape[1]
    scaling = (auto_scaling(X, Y, weights, options["fit_intercept"], options["batch_size"])
               if isinstance(options["learning_rate"], str) else
               raw_scaling(d, k, options["learning_rate"]))
    report = block_problem(*chunk(0), scaling, np.zeros((k, d)), np.zeros(k), seed, options,
                           epochs=epochs, tol=tol, n_iter_no_change=n_iter_no_change)
    loop = EpochLoop(scaling, tol, n_iter_no_change,
                     sum(-(-min(rows, n - s) // options["batch_size"]) for s in starts),
                     keep_best=scaling.standardised)

    def objective(coef, intercept):
        sums, total = np.zeros(k), 0.0
        for block in chunks():
            part, weight = block_losses(*block, scaling, coef, intercept)
            sums, total = sums + part, total + weight
        return sums / total + penalty_of(coef, report.l1, report.l2)

    coef, intercept = report.coef_init.copy(), report.intercept_init.copy()
    loop.start(objective(coef, intercept), coef, intercept)
    n_updates, status = 0, RUNNING
    for epoch in range(epochs):
        order = (np.random.default_rng([seed, 2, epoch]).permutation(len(starts))
                 if options["shuffle"] else range(len(starts)))
        for c in order:
            coef, intercept, n_updates = block_epoch(
                *chunk(starts[c]), scaling, coef, intercept, loop.eta, epoch, n_updates,
                block_seed(seed, int(c)), options, backend)
        status = loop.after_epoch(objective(coef, intercept), coef, intercept)
        if status != RUNNING:
            break
    return report, loop.outcome(coef, intercept, n_updates, status)

