"""Fits over blocks of rows: the engine's epoch on one block, and memory-mapped data in chunks.

Every block runs the same epoch (:func:`block_epoch`): the engine over the block's rows from a
given model, step counter and epoch number, with no checks. What differs is how blocks are
combined (``fastgd._engine.driver.Blocks``):

- out of core (:class:`Chunks`): the chunks of an epoch are visited one after another in a
  seeded random order, the model flowing from chunk to chunk; rows are shuffled within each
  chunk (chunk order plus within-chunk order: a shuffle that never needs more than one chunk
  in memory);
- Dask (``fastgd.dask``): every block starts the epoch from the same model, on its worker, and
  the blocks' models are averaged, weighted by their rows.

The driver applies the stopping rule once an epoch on the whole data (from its moments when
the features are few), and makes the start and final passes once per fit.
"""

import numpy as np

from .backends import get_backend
from .driver import Blocks, run_blocks
from .moments import moment_shift, wants_moments
from .groups import (Model, Rows, UPDATES, batches, index_for, new_histories, new_tracker,
                     no_rows, plan_for_block)

#: Bytes of X per chunk of a streamed fit.
CHUNK_BYTES = 1 << 24


def block_seed(seed, block):
    """A seed of its own for every block of a fit."""
    return int(np.random.SeedSequence([seed, block]).generate_state(1, np.uint64)[0] >> 1)


def engine_epoch(rows, setup, model, eta, epoch, n_updates, seed, backend_name, average=False):
    """One epoch of the engine, with no checks, over the rows of ``rows.index`` (in that order
    unless ``setup.plan.shuffle``), from ``model`` (standardised), the current step ``eta`` of
    an adaptive schedule and the step counter ``n_updates``; with ``average`` the epoch's
    iterates are averaged.

    Returns
    -------
    model : Model
        The last iterate, or with ``average`` the average of the epoch's iterates.
    iterate : Model
        The last iterate.
    n_updates : int
        The step counter after the epoch.
    """
    n = rows.index.shape[0]
    model = Model(model.coef.copy(), model.intercept.copy())
    if n == 0:
        return model, model, n_updates
    iterate = Model(np.empty_like(model.coef), np.empty_like(model.intercept))
    tracker = new_tracker(model, 1, eta, n_updates)
    plan = plan_for_block(setup.plan, n, seed, epoch)._replace(
        average_start=n_updates if average else -1)
    get_backend(backend_name).run_epochs(
        rows, setup.standard, setup.loss, setup.penalty, plan, setup.steps,
        setup.checks._replace(every=0, moments=np.empty((0, 0))), model, iterate, tracker,
        no_rows(rows), new_histories(1, rows.Y.shape[1]), np.zeros(2, dtype=np.int64))
    return model, iterate, int(tracker.counts[UPDATES])


def block_epoch(X, Y, weights, setup, model, eta, epoch, n_updates, seed, backend_name):
    """One epoch of the engine over all the rows of one block (see :func:`engine_epoch`).

    Returns
    -------
    model : Model
    n_updates : int
        The step counter after the epoch.
    """
    model, _, n_updates = engine_epoch(Rows(X, Y, weights, index_for(X.shape[0])), setup, model,
                                       eta, epoch, n_updates, seed, backend_name)
    return model, n_updates


class Chunks(Blocks):
    """The rows of memory-mapped arrays in chunks of ``CHUNK_BYTES`` of X, read in turn."""

    def __init__(self, X, Y, weights, plan, backend_name):
        n, d = X.shape
        rows = max(plan.batch_size, CHUNK_BYTES // (X.itemsize * d))
        self.X, self.Y, self.weights, self.rows = X, Y, weights, rows
        self.starts = list(range(0, n, rows))
        self.backend_name = backend_name
        self.n_batches = sum(batches(min(rows, n - s), plan.batch_size, plan.drop_last)[1]
                             for s in self.starts)

    def chunk(self, start):
        """The rows of the chunk from ``start``, as arrays over the mapped file (no copy)."""
        part = slice(start, start + self.rows)
        return (np.asarray(self.X[part]), np.asarray(self.Y[part]),
                None if self.weights is None else np.asarray(self.weights[part]))

    def map(self, function, *args):
        return [function(*self.chunk(start), *args) for start in self.starts]

    def epoch(self, setup, model, eta, epoch, n_updates):
        seed = setup.plan.seed
        order = (np.random.default_rng([seed, 2, epoch]).permutation(len(self.starts))
                 if setup.plan.shuffle else range(len(self.starts)))
        for c in order:
            model, n_updates = block_epoch(*self.chunk(self.starts[c]), setup, model, eta, epoch,
                                           n_updates, block_seed(seed, int(c)),
                                           self.backend_name)
        return model, n_updates


def average_models(models, shares):
    """The average of ``models`` weighted by ``shares`` (which sum to 1)."""
    return Model(sum(s * m.coef for s, m in zip(shares, models, strict=True)),
                 sum(s * m.intercept for s, m in zip(shares, models, strict=True)))


def blocks_setup(problem, blocks, batch_size, n_rows, shift):
    """The :class:`Setup` of a fit over ``blocks`` from ``problem``, built on a sample of rows:
    the user's ``batch_size``, and the data's moments for the checks when they pay (never
    with no ``shift``: sparse rows)."""
    setup = problem.setup._replace(  # blocks pass their last iterate on, not an average
        plan=problem.setup.plan._replace(batch_size=batch_size),
        checks=problem.setup.checks._replace(average_phases=False))
    backend = get_backend(blocks.backend_name)
    if shift is not None and wants_moments(backend, setup.loss, n_rows, problem.rows.X.shape[1],
                                           setup.plan.epochs):
        checks = setup.checks._replace(moments=blocks.moments(setup.standard, shift))
        setup = setup._replace(checks=checks)
    return setup


def fit_chunks(problem, X, Y, weights, backend_name, control, histories):
    """Fit memory-mapped ``X, Y, weights`` chunk by chunk, with ``problem`` (built on the first
    rows with the fit's scaling) giving the setup; ``control`` and ``histories`` as in
    ``driver.run_problem``. Returns the driver's ``Outcome``."""
    plan = problem.setup.plan
    blocks = Chunks(X, Y, weights, plan, backend_name)
    setup = blocks_setup(problem, blocks, plan.batch_size, X.shape[0],
                         moment_shift(problem.rows, problem.setup.standard))
    start = Model(problem.start.coef.copy(), problem.start.intercept.copy())
    return run_blocks(blocks, setup, start, control, histories, problem.standardised)
