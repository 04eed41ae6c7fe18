"""The Numba decorator configurations, defined once.

``kernel`` is ``numba.njit(cache=True, nogil=True)``. ``reassociating_kernel`` adds
``fastmath={"reassoc", "contract"}`` for the loops that sum products over rows and features:
those flags only let LLVM reorder additions and fuse multiply-adds, which changes rounding in
the last bits (the NumPy backend agrees to 1e-9 all the same) but keeps IEEE semantics for
NaN, infinity and overflow, on which divergence detection relies; the flags that assume finite
values (``nnan``, ``ninf``) are never used. ``shared`` marks a plain Python function that the
kernels compile into themselves and that the NumPy backend and the fit driver call as it is
(the stopping rule, the schedules): one piece of code for both. :func:`copy_into` copies one
array into another of the same shape in either. Without Numba the kernel
decorators are ``None``, ``shared`` does nothing and :data:`NUMBA_AVAILABLE` is False; the
NumPy backend then serves alone.
"""

import warnings

try:
    import numba
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None

NUMBA_AVAILABLE = numba is not None
#: Whether the kernels run as plain Python (``NUMBA_DISABLE_JIT=1``).
KERNELS_IN_PYTHON = NUMBA_AVAILABLE and bool(numba.config.DISABLE_JIT)
_warned_no_cache = []


def _njit(**options):
    """A decorator compiling with ``options``; cached on disk when Numba finds a place.

    On a read-only install with no writable cache directory Numba refuses ``cache=True``
    ("no locator available"); the kernels are then compiled in every process, with one
    warning saying how to restore the cache.
    """
    if not NUMBA_AVAILABLE:
        return None

    def decorate(function):
        try:
            return numba.njit(cache=True, nogil=True, **options)(function)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            if not _warned_no_cache:
                _warned_no_cache.append(True)
                warnings.warn(
                    "fastgd cannot write its Numba cache here (read-only install, no writable "
                    "home directory), so its kernels are compiled anew in every process. Set "
                    "NUMBA_CACHE_DIR to a writable directory to keep them.", RuntimeWarning,
                    stacklevel=2)
            return numba.njit(cache=False, nogil=True, **options)(function)

    return decorate


kernel = _njit()
#: For the parts of the epoch loop called once per check or epoch: inlined into it, so that
#: the groups they take are not passed (and reference-counted) call by call.
inlined_kernel = _njit(inline="always")
reassociating_kernel = _njit(fastmath={"reassoc", "contract"})
#: For the per-batch update, called once per batch: inlined into its caller at Numba-IR
#: level (a call with a dozen array arguments costs as much as the work of a small batch).
#: Inlined code compiles with the caller's flags, so callers are reassociating kernels too.
inlined_reassociating_kernel = _njit(fastmath={"reassoc", "contract"}, inline="always")


def shared(function):
    """``function``, also callable from the kernels (``numba.extending.register_jitable``)."""
    if not NUMBA_AVAILABLE:
        return function
    from numba.extending import register_jitable

    return register_jitable(function)


def copy_into(dst, src):
    """``dst[...] = src`` for arrays of one shape (1-D or 2-D).

    Compiled, it is a plain loop: Numba's own array assignment checks the shapes and brings a
    formatted error message with it, which costs seconds of compile time in every kernel.
    """
    dst[...] = src


if NUMBA_AVAILABLE:
    from numba.extending import overload

    @overload(copy_into)
    def _copy_into(dst, src):
        if dst.ndim == 1:
            def copy_vector(dst, src):
                for i in range(dst.shape[0]):
                    dst[i] = src[i]
            return copy_vector

        def copy_matrix(dst, src):
            for i in range(dst.shape[0]):
                for j in range(dst.shape[1]):
                    dst[i, j] = src[i, j]
        return copy_matrix
