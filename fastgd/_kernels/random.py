"""The shuffle: SplitMix64 streams, one per epoch, and an in-place Fisher-Yates shuffle.

Each epoch's order is ``arange(n)`` shuffled from that epoch's own stream of the fit's seed
(:func:`seed_epoch`), so any epoch's order can be made without running the ones before.
"""

import numpy as np
from numba import config

from .intrinsics import prefetch
from .jit import kernel

#: Swaps ahead of the current one whose slots the shuffle prefetches.
SHUFFLE_LOOKAHEAD = 16
#: Prefetching starts at this many rows: below, the index (and usually X) sit in cache and the
#: plain loops are faster.
PREFETCH_MIN_ROWS = 65536

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


@kernel
def splitmix64(state):
    """Advance the SplitMix64 generator held in ``state[0]`` and return its next output."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@kernel
def seed_epoch(state, seed, epoch):
    """Start ``state`` on the stream of epoch ``epoch`` of the fit seeded by ``seed``.

    The start is SplitMix64's output at position ``epoch`` of the generator seeded by the mixed
    seed: well-mixed starts, so epochs draw from unrelated stretches of the generator's cycle,
    and any epoch's shuffle can be made without running the ones before (``partial_fit``).
    """
    state[0] = np.uint64(seed)
    state[0] = splitmix64(state)
    state[0] += np.uint64(epoch) * _GOLDEN
    state[0] = splitmix64(state)


if config.DISABLE_JIT:  # pure Python: NumPy warns on the uint64 wrap-around SplitMix64 relies on
    def _wrapping(function):
        def wrapped(*args):
            with np.errstate(over="ignore"):
                return function(*args)
        return wrapped

    splitmix64 = _wrapping(splitmix64)
    seed_epoch = _wrapping(seed_epoch)


@kernel
def uniform_below(state, m):
    """A draw from {0, ..., m - 1} (53 random bits scaled: bias below m / 2**53)."""
    return np.int64(np.float64(splitmix64(state) >> _S11) * _INV_2_53 * m)


@kernel
def shuffle(index, state):
    """Fisher-Yates shuffle of ``index`` in place, drawing from the SplitMix64 ``state``.

    Position ``i`` (from the end down) swaps with a uniform ``j <= i``. From
    ``PREFETCH_MIN_ROWS`` rows on, the ``j`` of the next ``SHUFFLE_LOOKAHEAD`` swaps are
    drawn early and their slots prefetched; the permutation is the same as drawing each ``j``
    at its swap.
    """
    n = index.shape[0]
    if n < PREFETCH_MIN_ROWS:
        for i in range(n - 1, 0, -1):
            j = uniform_below(state, i + 1)
            tmp = index[i]
            index[i] = index[j]
            index[j] = tmp
        return
    ahead = np.empty(SHUFFLE_LOOKAHEAD, dtype=np.int64)
    for k in range(min(SHUFFLE_LOOKAHEAD, n - 1)):
        ahead[k] = uniform_below(state, n - k)
        prefetch(index, ahead[k])
    k = 0
    for i in range(n - 1, 0, -1):
        j = ahead[k]
        later = i - SHUFFLE_LOOKAHEAD
        if later >= 1:
            ahead[k] = uniform_below(state, later + 1)
            prefetch(index, ahead[k])
        k = k + 1 if k + 1 < SHUFFLE_LOOKAHEAD else 0
        tmp = index[i]
        index[i] = index[j]
        index[j] = tmp



@kernel
def shuffle_epoch(index, seed, epoch, state):
    """Set ``index`` to the order of epoch ``epoch``: ``arange(n)`` shuffled from its stream."""
    for i in range(index.shape[0]):
        index[i] = i
    seed_epoch(state, seed, epoch)
    shuffle(index, state)


@kernel
def shuffle_rows(index, seed, epoch):
    """Shuffle the row numbers in ``index`` in place from epoch ``epoch``'s stream of ``seed``
    (one thread's share of the rows, ``fastgd._engine.threads``)."""
    state = np.empty(1, dtype=np.uint64)
    seed_epoch(state, seed, epoch)
    shuffle(index, state)
