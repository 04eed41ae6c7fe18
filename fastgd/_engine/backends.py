"""Backend selection: the name a user passes -> the engine twin that fits (:class:`Backend`)."""

import os
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from typing import Callable, NamedTuple

import numpy as np

from .._kernels.jit import KERNELS_IN_PYTHON, NUMBA_AVAILABLE
from . import reference
from .groups import NO_DRIFT, Csr, read_only


class Backend(NamedTuple):
    """What the fit driver needs of an engine twin, on the groups of ``groups``.

    run_epochs : callable
        ``(rows, standard, loss, penalty, plan, steps, checks, model, iterate, tracker,
        validation, histories, control, drift=NO_DRIFT) -> epochs run``.
    objective : callable
        ``(rows, standard, loss, penalty, model, penalised, moments=None, q=None)`` -> each
        target's loss (plus penalty) over the rows, by a pass (or from ``moments``); the rows'
        losses into ``q`` when given.
    gradient : callable
        ``(rows, standard, loss, model) -> sums``: the gradient sums over all the rows (sums
        of blocks add up).
    step : callable
        ``(model, fit_intercept, standard, penalty, eta, sums)``: a proximal step along
        ``sums`` in place.
    moment_sums : callable or None
        ``(rows, standard, shift, sums, products) -> total weight``, or None when the training
        losses at checks are always passes.
    shuffle : callable
        ``(index, seed, epoch)``: shuffle the row numbers in ``index`` in place.
    snapshot : callable
        ``(rows, standard, model, targets) -> (sums, losses)``: the snapshot pass of a
        variance-reduced epoch (``fastgd._engine.variance``): the model's
        predictions into ``targets``, its gradient sums (as ``gradient``) and each target's
        mean squared-error loss.
    """

    name: str
    run_epochs: Callable
    objective: Callable
    gradient: Callable
    step: Callable
    moment_sums: Callable | None
    shuffle: Callable
    snapshot: Callable


_NO_MOMENTS = np.empty((0, 0))
_NO_Q = np.empty(0)

NUMPY = Backend("numpy", reference.run_epochs, reference.objective, reference.gradient,
                reference.proximal_step, None, reference.shuffle_rows, reference.snapshot_pass)


#: A kernel call that has been compiling for this long says so on stderr (once per kind of
#: rows and process): Numba compiles the kernels on their first use for each kind of rows.
COMPILE_NOTICE_SECONDS = 1.0


def _kind_of(rows):
    """What the compiled kernels depend on in ``rows``: format, dtype and weights."""
    X = rows.X
    sparse = isinstance(X, Csr)
    return sparse, (X.data if sparse else X).dtype.char, rows.weights is not None


def _say_compiling(kind):
    if kind in _announced:
        return
    _announced.add(kind)
    sparse, dtype, weighted = kind
    sys.stderr.write(f"fastgd: compiling its kernels for {'sparse' if sparse else 'dense'} "
                     f"{np.dtype(dtype).name} X {'with' if weighted else 'without'} sample "
                     "weights; this takes seconds once, then Numba caches them on disk for "
                     "later runs\n")
    sys.stderr.flush()


def _call(name, rows, kernel, *args):
    """``kernel(*args)``: the call of kernel ``name`` on ``rows`` (None: on no rows).

    Compiled, the first call for a kind of rows (:func:`_kind_of`) says so on stderr when it
    takes longer than ``COMPILE_NOTICE_SECONDS`` (a compile; loading the disk cache is
    quicker). Run as Python (``NUMBA_DISABLE_JIT``), the kernels' NumPy scalars would warn
    where the compiled code overflows quietly to inf, which the stopping rule reads as
    divergence: the warnings are off.
    """
    if KERNELS_IN_PYTHON:
        with np.errstate(over="ignore", invalid="ignore"):
            return kernel(*args)
    key = (name, None if rows is None else _kind_of(rows))
    if key in _called:
        return kernel(*args)
    with _first_call_lock():
        if rows is None:
            timer = None
        else:
            timer = threading.Timer(COMPILE_NOTICE_SECONDS, _say_compiling, (key[1],))
            timer.daemon = True
            timer.start()
        try:
            return kernel(*args)
        finally:
            if timer is not None:
                timer.cancel()
            _called.add(key)


@contextmanager
def _first_call_lock():
    """A lock the processes of one user share around a kernel's first call in a process (a
    compile, or a load from Numba's disk cache). Numba's cache is not safe for processes that
    write and read it at once (numba/numba#4807): a cold test run in parallel processes
    crashed there once with SIGABRT. Where file locks are not available it does nothing."""
    try:
        import fcntl

        handle = open(os.path.join(tempfile.gettempdir(), f"fastgd-numba-{os.getuid()}.lock"),
                      "a")
    except (ImportError, AttributeError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_called = set()  # (kernel name, kind of rows) called in this process
_announced = set()  # kinds of rows whose compiling was announced


def _numba_backend():
    """The :class:`Backend` of the Numba kernels (compiled on first use, then cached)."""
    from .._kernels import epochs, losses, passes, random

    def run_epochs(rows, standard, loss, penalty, plan, steps, checks, model, iterate, tracker,
                   validation, histories, control, drift=NO_DRIFT):
        return _call("run_epochs", rows, epochs.run_epochs, read_only(rows), standard, loss,
                     penalty, plan, steps, checks, model, iterate, tracker, read_only(validation),
                     histories, control, drift)

    def objective(rows, standard, loss, penalty, model, penalised, moments=None, q=None):
        return _call("objective", rows, losses.objectives, read_only(rows), standard, loss,
                     penalty if penalised else losses.no_penalty(), model,
                     _NO_MOMENTS if moments is None else moments, _NO_Q if q is None else q)

    def gradient(rows, standard, loss, model):
        work = losses.new_work(standard, *model.coef.shape)
        weight = _call("gradient", rows, passes.full_gradient, read_only(rows), standard, loss,
                       model, work)
        return work.G, work.r_sum, weight

    def step(model, fit_intercept, standard, penalty, eta, sums):
        G, r_sum, weight = sums
        work = losses.new_work(standard, *model.coef.shape)._replace(G=G, r_sum=r_sum)
        if weight > 0:
            _call("step", None, passes.step_along, model, fit_intercept, standard, penalty, eta,
                  work, weight)

    def moment_sums(rows, standard, shift, sums, products):
        return _call("moment_sums", rows, losses.moment_sums, read_only(rows), standard, shift,
                     sums, products)

    def shuffle(index, seed, epoch):
        _call("shuffle", None, random.shuffle_rows, index, seed, epoch)

    def snapshot(rows, standard, model, targets):
        work = losses.new_work(standard, *model.coef.shape)
        weight = _call("snapshot", rows, passes.snapshot_pass, read_only(rows), standard, model,
                       work, targets)
        return (work.G, work.r_sum, weight), work.out

    return Backend("numba", run_epochs, objective, gradient, step, moment_sums, shuffle,
                   snapshot)


def get_backend(name):
    """The :class:`Backend` of a validated backend name.

    ``"auto"`` is ``"numba"`` when Numba imports, else ``"numpy"`` with one warning.

    Parameters
    ----------
    name : {"auto", "numba", "numpy"}

    Returns
    -------
    Backend
    """
    if name == "numpy":
        return NUMPY
    if not NUMBA_AVAILABLE:
        if name == "numba":
            raise ValueError("backend='numba' needs Numba: pip install numba, or pass "
                             "backend='numpy'.")
        if not _warned:
            _warned.append(True)
            warnings.warn("Numba is not installed: fastgd falls back to its NumPy backend, "
                          "which is much slower. pip install numba for speed.", RuntimeWarning,
                          stacklevel=3)
        return NUMPY
    if not _numba:
        _numba.append(_numba_backend())
    return _numba[0]


_warned = []
_numba = []  # the Numba backend, once imported
