"""One fit on several threads (``n_jobs``): a replica of the model per thread, each on its own
share of the rows, averaged after every epoch.

Each epoch the rows' order array is cut into one contiguous share per thread; every thread
shuffles its share (from a seeded stream of its own) and runs one epoch of the engine over those
rows from the same model, and the models are averaged, weighted by the shares' rows. Each
thread's batch gradients are unbiased estimates of the whole data's (weights are taken relative
to the mean weight of all the rows), so the average moves like one descent over all the rows
for small steps, and the ``"auto"`` schedule's smaller steps settle it at the minimiser. After
the epoch a piece of every share moves to every other share (:func:`mix_shares`): a share is a
random subset of the rows that changes from epoch to epoch, never a fixed block (which, on rows
sorted by a feature or the target, would pull each replica towards its own block's fit).

The kernels release the GIL, so the threads run side by side. The passes over all the rows (the
objective, the gradient of the closing L1 step, the moments) are split into contiguous row
ranges, one a thread. With one share nothing of this runs: ``n_jobs=1`` is the in-memory fit of
``driver.run_problem``.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .backends import get_backend
from .blocks import average_models, block_seed, blocks_setup, engine_epoch
from .driver import MAX_RESTARTS, Blocks, checked_objective, end_epoch, finish, restart
from .groups import ETA, UPDATES, Csr, Model, Rows, batches, new_tracker, row_range
from .moments import moment_shift
from .stopping import DIVERGED, RUNNING, record_check, restart_averaging, start_tracking

#: A thread takes a share of the rows only when the share holds at least this many batches
#: and this many entries of X (a stored entry of a sparse X counts ``SPARSE_ENTRY_COST``
#: times: its update costs about that many times a dense entry's). Below, handing the work to
#: the threads costs more than it saves: at 100,000 x 10 (1,000,000 entries) two threads
#: made an epoch 1.3x to 1.4x slower; at 1,000,000 x 10 and 20,000 x 1,000 0.6x and 0.5x.
MIN_SHARE_BATCHES = 64
MIN_SHARE_ENTRIES = 1 << 21
SPARSE_ENTRY_COST = 8


#: Batches a thread runs between two checks, at least: a round trip to the threads costs about
#: 0.3 ms on a 2-core machine (waking them and handing the interpreter lock back and forth).
ROUND_BATCHES = 2048


def thread_count(n_jobs, X, batch_size):
    """How many threads (shares of the rows) a fit of the rows ``X`` (dense or
    :class:`Csr`) in batches of ``batch_size`` runs on, for ``n_jobs`` asked for: each share
    at least ``MIN_SHARE_BATCHES`` batches and ``MIN_SHARE_ENTRIES`` entries."""
    n_rows, n_features = X.shape
    entries = (SPARSE_ENTRY_COST * X.data.shape[0] if isinstance(X, Csr)
               else n_rows * n_features)
    return max(1, min(n_jobs, n_rows // (MIN_SHARE_BATCHES * batch_size),
                      entries // max(MIN_SHARE_ENTRIES, 1)))


def share_bounds(n_rows, n_shares):
    """The first row of each of ``n_shares`` shares of ``n_rows`` rows, and ``n_rows``."""
    return np.linspace(0, n_rows, n_shares + 1).round().astype(np.int64)


def mix_shares(index, bounds):
    """Move piece ``p`` of every share to the share ``p`` places on, for ``p = 1 ... J - 1``
    (``J`` shares, pieces of ``min(share) // J`` rows from each share's start), in place.

    Shares shuffled before this exchange send random subsets of their rows: after it every
    share holds about ``1 / J`` of each share's rows.
    """
    J = len(bounds) - 1
    h = int(np.diff(bounds).min()) // J
    for p in range(1, J):
        spans = [slice(bounds[j] + p * h, bounds[j] + (p + 1) * h) for j in range(J)]
        pieces = np.roll(np.stack([index[s] for s in spans]), p, axis=0)
        for span, piece in zip(spans, pieces, strict=True):
            index[span] = piece


class Shares(Blocks):
    """The in-memory rows of a fit, shared among the threads of ``pool``."""

    def __init__(self, rows, n_shares, plan, backend_name, pool):
        n = rows.X.shape[0]
        self.rows, self.pool, self.backend_name = rows, pool, backend_name
        self.bounds = share_bounds(n, n_shares)
        sizes = np.diff(self.bounds)
        self.share = sizes / n
        self.n_batches = max(batches(int(s), plan.batch_size, plan.drop_last)[1] for s in sizes)

    def map(self, function, *args):
        X, Y, weights, _ = self.rows

        def on_range(j):
            a, b = self.bounds[j], self.bounds[j + 1]
            return function(row_range(X, a, b), Y[a:b], None if weights is None else weights[a:b],
                            *args)

        return list(self.pool.map(on_range, range(len(self.share))))

    def run(self, setup, model, eta, epoch, n_updates, first, last, average):
        """Batches ``first`` to ``last - 1`` of epoch ``epoch`` in every share, one thread a
        share, from ``model``; a share is shuffled (by its thread) before its first batch.

        Returns
        -------
        average : Model
            The threads' averages of their iterates (with ``average``; else their last
            iterates), averaged over the threads.
        iterate : Model
            The threads' last iterates, averaged.
        n_updates : int
            The step counter after the run (of the share with the most batches).
        """
        X, Y, weights, index = self.rows
        plan = setup.plan
        in_order = setup._replace(plan=plan._replace(shuffle=False))
        backend = get_backend(self.backend_name)
        rows = plan.batch_size

        def on_share(j):
            share = index[self.bounds[j]:self.bounds[j + 1]]
            seed = block_seed(plan.seed, j)
            if plan.shuffle and first == 0:
                backend.shuffle(share, seed, epoch)
            part = Rows(X, Y, weights, share[first * rows:last * rows])
            return engine_epoch(part, in_order, model, eta, epoch, n_updates, seed,
                                self.backend_name, average)

        results = list(self.pool.map(on_share, range(len(self.share))))
        if plan.shuffle and last >= self.n_batches:
            mix_shares(index, self.bounds)
        return (average_models([r[0] for r in results], self.share),
                average_models([r[1] for r in results], self.share), max(r[2] for r in results))


def run_threads(blocks, setup, start, control, histories, restartable):
    """Fit the rows of the :class:`Shares` ``blocks`` from ``start``: the threads run
    ``setup.checks.every`` batches each between two checks of their averaged model (one
    epoch of their shares when the rule checks once an epoch).

    With ``setup.checks.average_phases`` (``"auto"``) the checks see the average of the
    iterates since the last restart of the average (``stopping.restart_averaging``), as in the
    one-thread fit. A ``restartable`` fit that blows up restarts (``driver.restart``).
    ``control`` and ``histories`` are as in ``driver.run_problem``. Returns an ``Outcome``.
    """
    plan, checks = setup.plan, setup.checks
    every = min(max(checks.every, ROUND_BATCHES), blocks.n_batches)
    setup = setup._replace(checks=checks._replace(every=every))
    checks = setup.checks
    n_runs = -(-blocks.n_batches // every)
    model = Model(start.coef.copy(), start.intercept.copy())  # the last iterate
    tracker = new_tracker(model, plan.epochs * n_runs, setup.steps.eta0)
    start_tracking(tracker, float(blocks.objective(setup, model).sum()), model.coef,
                   model.intercept)
    moments = checks.moments if checks.moments.shape[0] else None

    def objective(candidate):
        return checked_objective(blocks, setup, candidate, moments)

    averaging = checks.average_phases
    phase_eta, average, averaged = math.nan, None, 0
    current = model
    run_epoch = n_epochs = restarts = 0
    status = RUNNING
    while run_epoch < plan.epochs:
        epoch = plan.first_epoch + run_epoch
        for first in range(0, blocks.n_batches, every):
            if averaging and restart_averaging(tracker, phase_eta, model.coef, model.intercept):
                phase_eta, average, averaged = float(tracker.values[ETA]), None, 0
            t = int(tracker.counts[UPDATES])
            run_average, model, tracker.counts[UPDATES] = blocks.run(
                setup, model, float(tracker.values[ETA]), epoch, t, first, first + every,
                averaging)
            current = model
            if averaging:
                updates = int(tracker.counts[UPDATES]) - t
                averaged += updates
                average = run_average if average is None else Model(
                    *(a + (b - a) * (updates / averaged) for a, b in zip(average, run_average)))
                current = average
            losses = objective(current)
            if averaging:
                iterate_losses = objective(model)
                if iterate_losses.sum() < losses.sum():
                    losses, current = iterate_losses, model
            status = record_check(tracker, float(losses.sum()), False, current.coef,
                                  current.intercept, setup.steps, checks)
            if status != RUNNING:
                break
        if status == DIVERGED and restartable and restarts < MAX_RESTARTS:
            restarts += 1
            setup, tracker = restart(setup, model, tracker, run_epoch)
            phase_eta, status = math.nan, RUNNING
            continue
        histories.loss[run_epoch] = losses
        n_epochs = run_epoch = run_epoch + 1
        if end_epoch(tracker, control, n_epochs, status) != RUNNING:
            break
    return finish(blocks, setup, current, tracker, histories, n_epochs, False, None, restarts,
                  model if averaging else None)._replace(iterate=model)


def fit_threads(problem, n_threads, backend_name, control, histories):
    """Fit the in-memory ``problem`` on ``n_threads`` threads (see the module's text);
    ``control`` and ``histories`` as in ``driver.run_problem``. Returns the driver's
    ``Outcome``."""
    rows, plan = problem.rows, problem.setup.plan
    with ThreadPoolExecutor(n_threads, thread_name_prefix="fastgd") as pool:
        blocks = Shares(rows, n_threads, plan, backend_name, pool)
        shift = None if isinstance(rows.X, Csr) else moment_shift(rows, problem.setup.standard)
        setup = blocks_setup(problem, blocks, plan.batch_size, rows.X.shape[0], shift)
        setup = setup._replace(checks=setup.checks._replace(
            average_phases=problem.setup.checks.average_phases))
        return run_threads(blocks, setup, problem.start, control, histories,
                           problem.standardised)
