"""fastgd: least-squares linear models by mini-batch gradient descent, fast.

``fastgd.fit(X, y)`` runs Numba-compiled mini-batch gradient descent (or its NumPy reference)
and returns a :class:`FitResult`.
"""

from . import schedules
from ._fit import fit
from ._result import FitResult
from .exceptions import DivergenceError

__all__ = ["fit", "FitResult", "DivergenceError", "schedules"]
__version__ = "0.1.0"
