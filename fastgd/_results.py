"""The results layer: :class:`FitResult`, made from a finished fit (:func:`make_result`),
saved as JSON (:func:`to_json`) and loaded back (:func:`load`).

The file holds the coefficients, intercepts, loss histories, counters, the schedule that ran
and the settings, with the float dtype; floats are written with Python's shortest exact
representation, so a loaded model predicts bit for bit what the saved one did.
"""

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import schedules
from ._engine.stopping import CONVERGED, DIVERGED, INTERRUPTED
from ._validation import check_X
from .exceptions import DivergenceError
from .schedules import Schedule

FORMAT = "fastgd.FitResult"
FORMAT_VERSION = 1


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
        The objective at the end of each epoch: the training loss ``sum(s * L(x . w + b - y))
        / sum(s)`` of the fit's ``loss`` (``(1/2) r^2`` for squared error, in y's units
        squared; the linear losses in y's units) plus the penalty, of the weights that would
        be returned then (the average, when averaging). The last entry is that of the
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
        standardised features and target). An ``"auto"`` fit whose iterates blew up anyway
        restarts from its best model with a step 10 times smaller (up to 10 times) instead of
        failing: ``learning_rate`` is then the last schedule that ran and
        ``settings["restarts"]`` counts the restarts. An ``"auto"`` least-squares fit on
        rows in memory (dense or sparse) ends with variance-reduced epochs (SVRG, see the
        README): ``settings["variance_reduced_epochs"]`` counts them. When a few rows are far
        longer than the rest (outlying rows, rare categories, heavy weights) those epochs
        draw rows in proportion to their squared norms, with a longer step:
        ``settings["importance_step_factor"]`` says how many times longer.
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
        from ._commands.plotting import plot_loss

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


def make_result(problem, dtype, y_ndim, outcome, backend_name, settings):
    """The :class:`FitResult` of a run of ``problem`` (``outcome``: the driver's ``Outcome``),
    in the user's units and shapes; raises DivergenceError for a diverged run.

    Returns
    -------
    FitResult
    """
    coef, intercept, losses, val_losses, n_epochs, n_updates, status, restarts, eta0 = outcome[:9]
    if status == INTERRUPTED:
        warnings.warn(f"The fit was interrupted (Ctrl-C) and returns the model of its last "
                      f"complete epoch, {n_epochs} of {problem.epochs}.", RuntimeWarning,
                      stacklevel=4)
    if status == DIVERGED:
        raise DivergenceError(
            f"The fit diverged in epoch {n_epochs} of {problem.epochs}: with learning rate "
            f"{problem.schedule} the loss grew instead of falling (it overflowed, or the fit "
            "ended above the loss of its start). Use a smaller step (a tenth of eta0, or of t0 "
            "for InverseTime), or learning_rate='auto', which scales the data and picks a step "
            "that is stable for its rows."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        coef, intercept, losses, val_losses = problem.to_original_units(
            coef, intercept, losses, val_losses)
    largest = np.finfo(dtype).max
    if not (np.abs(coef).max() <= largest and np.abs(intercept).max() <= largest):
        raise ValueError(
            f"The fitted coefficients exceed the range of {dtype} (up to {largest:.1e}): "
            "some columns of X are tiny next to y. Multiply them by a power of ten (and the "
            "coefficients by the same afterwards), or pass float32 data as float64."
        )
    coef, intercept = coef.astype(dtype), intercept.astype(dtype)
    if y_ndim == 1:
        coef, intercept, losses = coef[0], intercept[0], losses[:, 0]
        val_losses = None if val_losses is None else val_losses[:, 0]
    settings = dict(settings, random_state=problem.setup.plan.seed, backend=backend_name)
    schedule = problem.schedule
    if restarts:  # "auto" blew up and went on from its best model with smaller steps
        schedule = schedules.Adaptive(eta0)
        settings["restarts"] = restarts
    if outcome.variance_reduced_epochs:
        settings["variance_reduced_epochs"] = outcome.variance_reduced_epochs
    if outcome.importance_step_factor:
        settings["importance_step_factor"] = outcome.importance_step_factor
    result = FitResult(
        coef=coef, intercept=intercept, loss_history=losses, validation_loss_history=val_losses,
        n_epochs=n_epochs, n_updates=n_updates, converged=status == CONVERGED,
        interrupted=status == INTERRUPTED, backend=backend_name,
        learning_rate=schedule, batch_size=problem.setup.plan.batch_size, settings=settings,
    )
    return result


def to_json(result, path=None):
    """The JSON text of ``result``; also written to ``path`` when given.

    Parameters
    ----------
    result : FitResult
    path : str or os.PathLike, optional

    Returns
    -------
    str
    """
    record = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "dtype": result.coef.dtype.name,
        "coef": result.coef.tolist(), "intercept": np.asarray(result.intercept).tolist(),
        "loss_history": result.loss_history.tolist(),
        "validation_loss_history": (None if result.validation_loss_history is None
                                    else result.validation_loss_history.tolist()),
        "n_epochs": result.n_epochs, "n_updates": result.n_updates,
        "converged": result.converged, "interrupted": result.interrupted,
        "backend": result.backend, "learning_rate": _schedule_record(result.learning_rate),
        "batch_size": result.batch_size,
        "settings": {key: _schedule_record(value) if key == "learning_rate" else
                     _plain(value) for key, value in result.settings.items()},
        "metadata": _plain(result.metadata),
    }
    text = json.dumps(record, indent=1)
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    return text


#: Largest model file ``load`` reads (a model of ten million coefficients is about 250 MB).
MAX_MODEL_BYTES = 1 << 30
#: Largest epoch or update counter accepted in a model file.
MAX_COUNT = 2**62


def load(path):
    """Load a model saved by ``FitResult.to_json``.

    Every field is checked (types, shapes, finite numbers, a known schedule), so that a
    damaged or hand-edited file is refused with the field named rather than loaded.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        When the file is not a fastgd model (with what is wrong).
    FileNotFoundError
        When there is no such file.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder, not a fastgd model file.")
    if os.path.getsize(path) > MAX_MODEL_BYTES:
        raise ValueError(f"{path} is larger than {MAX_MODEL_BYTES >> 20} MB: not a fastgd "
                         "model file.")
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a fastgd model file: not JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{path} is not a fastgd model file: JSON nested too deeply.") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastgd model file (no \"format\": \"{FORMAT}\"); "
                         "save models with FitResult.to_json or `fastgd fit --out`.")
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has model format version {record.get('format_version')}; "
                         f"this fastgd reads version {FORMAT_VERSION}.")
    try:
        return _result_of(record)
    except _Damaged as exc:
        raise ValueError(f"{path} is a damaged fastgd model file: {exc}") from None


class _Damaged(Exception):
    """A field of a model record that is missing or wrong (the message names it)."""


def _field(record, key, kinds, what):
    if key not in record:
        raise _Damaged(f"field {key!r} is missing.")
    value = record[key]
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        raise _Damaged(f"field {key!r} must be {what}, got {value!r:.60}.")
    return value


def _numbers(record, key, ndims, dtype=np.float64, allow_none=False):
    """Field ``key`` as a finite array of ``dtype`` with a dimension count in ``ndims``."""
    value = record.get(key)
    if value is None and allow_none and key in record:
        return None
    try:
        array = np.array(value)
    except (ValueError, TypeError):
        array = np.array(None)
    if array.dtype.kind not in "iuf" or array.ndim not in ndims or array.size == 0 and 0 not in (
            ndims):
        raise _Damaged(f"field {key!r} must be {' or '.join(map(str, ndims))}-D numbers, got "
                       f"{str(value):.60}.")
    array = array.astype(dtype)
    if not np.all(np.isfinite(array)):
        raise _Damaged(f"field {key!r} holds a number that is not finite.")
    return array


def _count(record, key):
    value = _field(record, key, (int,), "a whole number")
    if not 0 <= value <= MAX_COUNT:
        raise _Damaged(f"field {key!r} must lie in [0, {MAX_COUNT}], got {value}.")
    return value


def _result_of(record):
    """The :class:`FitResult` of a model record, every field checked."""
    dtype_name = _field(record, "dtype", (str,), "'float32' or 'float64'")
    if dtype_name not in ("float32", "float64"):
        raise _Damaged(f"field 'dtype' must be 'float32' or 'float64', got {dtype_name!r}.")
    dtype = np.dtype(dtype_name).type
    coef = _numbers(record, "coef", (1, 2))
    intercept = _numbers(record, "intercept", (0,) if coef.ndim == 1 else (1,))
    if coef.ndim == 2 and intercept.shape != coef.shape[:1]:
        raise _Damaged(f"field 'intercept' has {intercept.size} values for {coef.shape[0]} "
                       "targets of 'coef'.")
    k = 1 if coef.ndim == 1 else coef.shape[0]
    histories = []
    for key in ("loss_history", "validation_loss_history"):
        history = _numbers(record, key, (1, 2), allow_none=key != "loss_history")
        if history is not None and history.size % k:
            raise _Damaged(f"field {key!r} does not hold a value per target of 'coef'.")
        histories.append(history)
    settings = dict(_field(record, "settings", (dict,), "an object"))
    if "learning_rate" in settings:
        settings["learning_rate"] = _schedule(settings["learning_rate"])
    intercept = intercept.astype(dtype)
    return FitResult(
        coef=coef.astype(dtype), intercept=intercept if intercept.ndim else dtype(intercept),
        loss_history=histories[0], validation_loss_history=histories[1],
        n_epochs=_count(record, "n_epochs"), n_updates=_count(record, "n_updates"),
        converged=_field(record, "converged", (bool,), "true or false"),
        interrupted=_field(record, "interrupted", (bool,), "true or false"),
        backend=_field(record, "backend", (str,), "a backend name"),
        learning_rate=_schedule(record.get("learning_rate")),
        batch_size=max(1, _count(record, "batch_size")), settings=settings,
        metadata=dict(_field(record, "metadata", (dict,), "an object")
                      if "metadata" in record else {}))


def _schedule_record(schedule):
    if isinstance(schedule, schedules.Schedule):
        return {"schedule": type(schedule).__name__, **dataclasses.asdict(schedule)}
    return schedule


def _schedule(record):
    """The schedule of a record (``"auto"`` stays a name); an unknown or invalid one is
    :class:`_Damaged`."""
    if record == "auto":
        return record
    known = {type(schedules.from_name(name)).__name__ for name in schedules.SCHEDULE_NAMES
             if name != "auto"}
    if not isinstance(record, dict) or record.get("schedule") not in known:
        raise _Damaged(f"the learning rate must be 'auto' or one of the schedules "
                       f"{sorted(known)}, got {str(record):.60}.")
    params = {key: value for key, value in record.items() if key != "schedule"}
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               and np.isfinite(value) for value in params.values()):
        raise _Damaged(f"the parameters of schedule {record['schedule']} must be finite "
                       f"numbers, got {params}.")
    try:
        return getattr(schedules, record["schedule"])(**params)
    except (TypeError, ValueError) as exc:
        raise _Damaged(f"schedule {record['schedule']}: {exc}") from None


def _plain(value):
    """``value`` with NumPy scalars and arrays turned into JSON types."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
