"""The one Numba decorator configuration used by every kernel.

``kernel`` is ``numba.njit(cache=True, nogil=True)`` when Numba imports. Without Numba it is
``None`` and :data:`NUMBA_AVAILABLE` is False; the NumPy backend then serves alone.
"""

try:
    import numba
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None

NUMBA_AVAILABLE = numba is not None
kernel = numba.njit(cache=True, nogil=True) if NUMBA_AVAILABLE else None
