"""Backend selection: the name a user passes -> the ``run`` function that fits."""

import warnings

from . import _numpy_backend
from ._jit import NUMBA_AVAILABLE


def get_backend(name):
    """Return ``(name, run)`` for a validated backend name.

    ``"auto"`` is ``"numba"`` when Numba imports, else ``"numpy"`` with one warning.

    Parameters
    ----------
    name : {"auto", "numba", "numpy"}

    Returns
    -------
    name : str
        ``"numba"`` or ``"numpy"``.
    run : callable
        The backend's ``run`` function.
    """
    if name == "numpy":
        return "numpy", _numpy_backend.run
    if not NUMBA_AVAILABLE:
        if name == "numba":
            raise ValueError("backend='numba' needs Numba: pip install numba, or pass "
                             "backend='numpy'.")
        if not _warned:
            _warned.append(True)
            warnings.warn("Numba is not installed: fastgd falls back to its NumPy backend, "
                          "which is much slower. pip install numba for speed.", RuntimeWarning,
                          stacklevel=3)
        return "numpy", _numpy_backend.run
    if not _numba_run:
        from . import _kernels

        _numba_run.append(_kernels.run)
    return "numba", _numba_run[0]


_warned = []
_numba_run = []  # the Numba backend's run, once imported
