"""The result of a fit."""

from dataclasses import dataclass, field

import numpy as np

from ._validation import check_X
from .schedules import Schedule


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted linear model and the record of how it was fitted.

    Attributes
    ----------
    coef : ndarray of shape (n_features,)
        Coefficients, in X's float dtype.
    intercept : float
        Intercept (0.0 when ``fit_intercept=False``), a scalar of X's float dtype.
    loss_history : ndarray of shape (n_epochs,)
        Mean training loss ``(1/2) * mean((x . w + b - y)^2)`` of each epoch, in y's units
        squared, averaged over the epoch's batches at the weights each batch was evaluated at.
    n_epochs : int
        Epochs run.
    n_updates : int
        Updates made (the final step counter ``t``).
    converged : bool
        Whether the stopping rule ended the fit before the epoch budget.
    backend : str
        ``"numba"`` or ``"numpy"``.
    learning_rate : Schedule
        The schedule that ran (for ``"auto"``, the one chosen from the data; it then acts on
        standardised features and target).
    batch_size : int
        Rows per batch as run (a ``batch_size`` above n runs as n).
    settings : dict
        The arguments of the ``fastgd.fit`` call, ``random_state`` as the seed drawn from it.
    """

    coef: np.ndarray
    intercept: np.floating
    loss_history: np.ndarray
    n_epochs: int
    n_updates: int
    converged: bool
    backend: str
    learning_rate: Schedule
    batch_size: int
    settings: dict = field(default_factory=dict, repr=False)

    def predict(self, X):
        """Predict targets for the rows of X.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            In the dtype of the fitted coefficients.
        """
        X = check_X(X, n_features=self.coef.shape[0])
        return (X @ self.coef + self.intercept).astype(self.coef.dtype, copy=False)
