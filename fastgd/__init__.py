"""fastgd: linear models (least squares, robust, quantile) by mini-batch gradient descent, fast.

``fastgd.fit(X, y)`` runs Numba-compiled mini-batch gradient descent (or its NumPy reference)
and returns a :class:`FitResult`; ``fastgd.MBGDRegressor`` is the scikit-learn estimator.
"""

from . import schedules
from ._fit import fit
from ._results import FitResult, load
from .exceptions import DivergenceError

__all__ = ["fit", "load", "FitResult", "DivergenceError", "MBGDRegressor", "schedules"]
__version__ = "0.1.0"


def __getattr__(name):
    """``fastgd.MBGDRegressor``, imported on first use: scikit-learn is optional."""
    if name == "MBGDRegressor":
        try:
            from ._estimator import MBGDRegressor
        except ImportError as exc:
            raise ImportError(
                f"fastgd.MBGDRegressor needs scikit-learn ({exc}): pip install "
                '"fastgd[sklearn]"') from exc
        return MBGDRegressor
    raise AttributeError(f"module 'fastgd' has no attribute {name!r}")
