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
    coef : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients, in X's float dtype; one row per target for a 2-D y.
    intercept : float or ndarray of shape (n_targets,)
        Intercept (0.0 when ``fit_intercept=False``) of X's float dtype; one per target for a
        2-D y.
    loss_history : ndarray of shape (n_epochs,) or (n_epochs, n_targets)
        The objective at the end of each epoch, in y's units squared: the training loss
        ``(1/2) * sum(s * (x . w + b - y)^2) / sum(s)`` plus the penalty, of the weights that
        would be returned then (the average, when averaging). The last entry is that of the
        returned weights.
    validation_loss_history : ndarray like loss_history, or None
        With ``early_stopping``, the loss (without penalty) on the held-out rows at the end of
        each epoch, the last entry that of the returned weights; else None.
    n_epochs : int
        Epochs run.
    n_updates : int
        Updates made (the final step counter ``t``).
    converged : bool
        Whether the stopping rule ended the fit before the epoch budget.
    interrupted : bool
        Whether Ctrl-C ended the fit (at the end of its last epoch).
    backend : str
        ``"numba"`` or ``"numpy"``.
    learning_rate : Schedule
        The schedule that ran (for ``"auto"``, the one chosen from the data; it then acts on
        standardised features and target).
    batch_size : int
        Rows per batch as run (a ``batch_size`` above n runs as n).
    settings : dict
        The arguments of the ``fastgd.fit`` call, ``random_state`` as the seed drawn from it;
        ``sample_weight`` and ``warm_start`` say whether weights and start values were given.
    metadata : dict
        Free-form, saved with the model (the command line keeps the column names here).
    """

    coef: np.ndarray
    intercept: np.floating
    loss_history: np.ndarray
    validation_loss_history: np.ndarray | None
    n_epochs: int
    n_updates: int
    converged: bool
    interrupted: bool
    backend: str
    learning_rate: Schedule
    batch_size: int
    settings: dict = field(default_factory=dict, repr=False)
    metadata: dict = field(default_factory=dict, repr=False)

    def to_json(self, path=None):
        """This model as JSON text, written to ``path`` when given; ``fastgd.load`` reads it.

        Returns
        -------
        str
        """
        from ._persistence import to_json

        return to_json(self, path)

    def plot_loss(self, ax=None):
        """Draw the loss per epoch (and the validation loss, when recorded) with matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ._plotting import plot_loss

        return plot_loss(self, ax)

    def predict(self, X):
        """Predict targets for the rows of X.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            In the dtype of the fitted coefficients.
        """
        X = check_X(X, n_features=self.coef.shape[-1])
        return (X @ self.coef.T + self.intercept).astype(self.coef.dtype, copy=False)
