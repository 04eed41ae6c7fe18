"""The Numba decorator configurations, defined once.

``kernel`` is ``numba.njit(cache=True, nogil=True)``. ``reassociating_kernel`` adds
``fastmath={"reassoc", "contract"}`` for the loops that sum products over rows and features:
those flags only let LLVM reorder additions and fuse multiply-adds, which changes rounding in
the last bits (the NumPy backend agrees to 1e-9 all the same) but keeps IEEE semantics for
NaN, infinity and overflow, on which divergence detection relies; the flags that assume finite
values (``nnan``, ``ninf``) are never used. Without Numba all are ``None`` and
:data:`NUMBA_AVAILABLE` is False; the NumPy backend then serves alone.
"""

try:
    import numba
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None

NUMBA_AVAILABLE = numba is not None


def _njit(**options):
    return numba.njit(cache=True, nogil=True, **options) if NUMBA_AVAILABLE else None


kernel = _njit()
reassociating_kernel = _njit(fastmath={"reassoc", "contract"})
#: For the per-batch update, called once per batch: inlined into its caller at Numba-IR
#: level (a call with a dozen array arguments costs as much as the work of a small batch).
#: Inlined code compiles with the caller's flags, so callers are reassociating kernels too.
inlined_reassociating_kernel = _njit(fastmath={"reassoc", "contract"}, inline="always")
