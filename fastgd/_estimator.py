"""``fastgd.MBGDRegressor``: a scikit-learn estimator over ``fastgd.fit``.

scikit-learn is an optional dependency (``pip install "fastgd[sklearn]"``); this module is
imported only when ``fastgd.MBGDRegressor`` is first used.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ._fit import fit_and_scaling
from ._validation import check_sample_weight
from ._preparation import validation_rows
from ._stream import continuation_of, fit_epoch


class MBGDRegressor(RegressorMixin, BaseEstimator):
    """Linear regression by mini-batch gradient descent (``fastgd.fit``): least squares,
    robust (Huber, epsilon-insensitive) or quantile, by ``loss``.

    The parameters are those of :func:`fastgd.fit` with the same names and defaults (``epochs``
    is the most passes over the data); see there for their meaning. ``n_jobs`` applies to
    ``fit``; ``partial_fit`` runs on one thread (its chunks are usually small).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : ndarray of shape (1,) or (n_targets,)
    n_iter_ : int
        Epochs run (by ``fit``, or in all ``partial_fit`` calls since the last ``fit``).
    t_ : int
        Updates made (the step counter).
    loss_curve_ : ndarray of shape (n_iter_,)
        Training objective after each epoch (summed over targets).
    validation_scores_ : ndarray of shape (n_iter_,) or None
        With ``early_stopping``, the R^2 score on the held-out rows after each epoch (the last
        entry is that of the returned weights); for a loss other than squared error, where
        the fit compares the held-out rows' loss, the negated mean loss on them.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        For pandas input with string column names.
    fit_result_ : FitResult
        The result of the last ``fit`` or ``partial_fit`` call.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import MBGDRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3))
    >>> y = X @ [1.0, 2.0, 3.0] + 4.0
    >>> model = MBGDRegressor(random_state=0).fit(X, y)
    >>> np.round(model.coef_, 3), np.round(model.intercept_, 3)
    (array([1., 2., 3.]), array([4.]))
    """

    def __init__(self, *, batch_size=32, epochs=1000, learning_rate="auto", fit_intercept=True,
                 loss="squared_error", epsilon=0.1, quantile=0.5,
                 penalty=None, alpha=0.0001, l1_ratio=0.15, average=False,
                 early_stopping=False, validation_fraction=0.1, shuffle=True, drop_last=False,
                 tol=1e-4, n_iter_no_change=5, random_state=None, n_jobs=None,
                 backend="auto", progress=None):
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.average = average
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.backend = backend
        self.progress = progress

    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model to ``(X, y)`` from ``coef_init``/``intercept_init`` (or zeros).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array_like of shape (n_samples,), optional
        coef_init, intercept_init : array_like, optional
            Start values, shaped like ``coef_`` and (for several targets) ``intercept_``.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y, reset=True)
        result, scaling = fit_and_scaling(
            X, y, sample_weight=sample_weight, batch_size=self.batch_size,
            epochs=self.epochs, learning_rate=self.learning_rate,
            fit_intercept=self.fit_intercept, loss=self.loss, epsilon=self.epsilon,
            quantile=self.quantile, penalty=self.penalty, alpha=self.alpha,
            l1_ratio=self.l1_ratio, average=self.average,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction, shuffle=self.shuffle,
            drop_last=self.drop_last, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, coef_init=coef_init,
            intercept_init=intercept_init, random_state=self.random_state,
            n_jobs=self.n_jobs, backend=self.backend, progress=self.progress)
        weights = check_sample_weight(sample_weight, X.shape[0])
        self._continuation = continuation_of(result, scaling, y.reshape(X.shape[0], -1),
                                             weights)
        self._n_outputs = y.ndim
        self._set_fitted(result, result.n_epochs, result.loss_history)
        self.validation_scores_ = (None if result.validation_loss_history is None else
                                   self._validation_scores(y, sample_weight, result))
        if self.tol is not None and not result.converged:
            warnings.warn(
                f"MBGDRegressor stopped at the epoch budget (epochs={self.epochs}) before its "
                "stopping rule was met; raise epochs or tol to remove this warning.",
                ConvergenceWarning, stacklevel=2)
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch of mini-batch updates over the rows given, continuing the fit.

        The first call starts from zero weights; a call after ``fit`` goes on from the fitted
        model. Each call goes on with the model, the step counter and the shuffling stream.
        With ``learning_rate="auto"`` the stream standardises with running moments of all the
        chunks so far (a column constant in the first chunks is learned once it varies), steps
        with a step stable for every chunk seen, shrinking slowly as the stream goes on (a
        chunk with a few outlying rows draws its rows by their norms), and returns the average
        of its iterates, which approaches the loss's minimiser. With a raw schedule calls on
        the same rows are exactly the epochs of one long fit. A chunk whose
        ``sample_weight`` is all zeros leaves every row out: the call changes nothing. There is
        no stopping rule (``tol`` and ``n_iter_no_change`` do not apply; ``average`` and
        ``early_stopping`` must be off). Parameters changed with ``set_params`` take effect
        from the next call, except ``fit_intercept`` (refused: call ``fit``). An iterate that
        blows up is restarted with a smaller step; coefficients are never non-finite.

        Returns
        -------
        self
        """
        for name in ("average", "early_stopping"):
            if getattr(self, name) not in (False, 0):
                raise ValueError(f"partial_fit runs single epochs with no averaging or "
                                 f"held-out rows: set {name}=False, or use fit.")
        first = getattr(self, "_continuation", None) is None
        X, y = self._validate(X, y, reset=first)
        if first:
            self._n_outputs = y.ndim
        elif y.ndim != self._n_outputs:
            raise ValueError(f"y has {y.ndim} dimension(s) here but {self._n_outputs} in the "
                             "earlier partial_fit calls: keep the shape of y.")
        weights = check_sample_weight(sample_weight, X.shape[0], all_zero=True)
        if weights is not None and not weights.any():
            return self  # every row left out (a chunk of a 0/1 mask): nothing to learn
        result, self._continuation = fit_epoch(
            X, y, getattr(self, "_continuation", None), sample_weight=sample_weight,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            fit_intercept=self.fit_intercept, loss=self.loss, epsilon=self.epsilon,
            quantile=self.quantile, penalty=self.penalty, alpha=self.alpha,
            l1_ratio=self.l1_ratio, shuffle=self.shuffle, drop_last=self.drop_last,
            random_state=self.random_state, backend=self.backend)
        epoch_loss = np.reshape(result.loss_history, (1, -1)).sum(axis=1)
        curve = epoch_loss if first else np.concatenate([self.loss_curve_, epoch_loss])
        self._set_fitted(result, self._continuation.n_epochs, curve)
        self.validation_scores_ = None
        return self

    def predict(self, X):
        """Predict targets for the rows of X.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32],
                          accept_sparse="csr")
        coef = np.asarray(self.coef_)
        intercept = np.asarray(self.intercept_)
        predictions = X @ coef.T + (intercept[0] if coef.ndim == 1 else intercept)
        return predictions.astype(coef.dtype, copy=False)

    def _validate(self, X, y, reset):
        return validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32],
                             multi_output=True, y_numeric=True, accept_sparse="csr")

    def _set_fitted(self, result, n_iter, curve):
        self.fit_result_ = result
        self.coef_ = result.coef
        self.intercept_ = np.atleast_1d(result.intercept)
        self.n_iter_ = int(n_iter)
        self.t_ = int(result.n_updates)
        curve = np.asarray(curve)
        self.loss_curve_ = curve.sum(axis=1) if curve.ndim == 2 else curve

    def _validation_scores(self, y, sample_weight, result):
        """R^2 on the held-out rows from the validation losses: ``1 - 2 loss / var(y_val)``
        (for another loss than squared error, minus the mean validation loss)."""
        if self.loss != "squared_error":
            return -result.validation_loss_history.reshape(result.n_epochs, -1).mean(axis=1)
        _, val = validation_rows(len(y), self.validation_fraction,
                                 result.settings["random_state"])
        Y_val = y.reshape(len(y), -1)[val]
        w_val = (np.ones(len(val)) if sample_weight is None else
                 np.asarray(sample_weight, dtype=np.float64)[val])
        mean = w_val @ Y_val / w_val.sum()
        variance = w_val @ (Y_val - mean) ** 2 / w_val.sum()
        losses = result.validation_loss_history.reshape(result.n_epochs, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(variance > 0, 1.0 - 2.0 * losses / variance, 0.0)
        return scores.mean(axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.sparse = True
        return tags
