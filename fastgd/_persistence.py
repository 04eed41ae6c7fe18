"""Saved models: a :class:`FitResult` as JSON and back.

The file holds the coefficients, intercepts, loss histories, counters, the schedule that ran
and the settings, with the float dtype; floats are written with Python's shortest exact
representation, so a loaded model predicts bit for bit what the saved one did.
"""

import dataclasses
import json

import numpy as np

from . import schedules
from ._result import FitResult

FORMAT = "fastgd.FitResult"
FORMAT_VERSION = 1


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


def load(path):
    """Load a model saved by ``FitResult.to_json``.

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
    """
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a fastgd model file: not JSON ({exc}).") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastgd model file (no \"format\": \"{FORMAT}\"); "
                         "save models with FitResult.to_json or `fastgd fit --out`.")
    if record.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has model format version {record.get('format_version')}; "
                         f"this fastgd reads version {FORMAT_VERSION}.")
    try:
        dtype = np.dtype(record["dtype"]).type
        histories = [None if record[key] is None else np.array(record[key], dtype=np.float64)
                     for key in ("loss_history", "validation_loss_history")]
        settings = dict(record["settings"])
        settings["learning_rate"] = _schedule(settings["learning_rate"])
        intercept = np.asarray(record["intercept"], dtype=dtype)
        return FitResult(
            coef=np.array(record["coef"], dtype=dtype),
            intercept=intercept if intercept.ndim else dtype(intercept),
            loss_history=histories[0], validation_loss_history=histories[1],
            n_epochs=int(record["n_epochs"]), n_updates=int(record["n_updates"]),
            converged=bool(record["converged"]), interrupted=bool(record["interrupted"]),
            backend=str(record["backend"]), learning_rate=_schedule(record["learning_rate"]),
            batch_size=int(record["batch_size"]), settings=settings,
            metadata=dict(record.get("metadata", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is a damaged fastgd model file ({exc!r}).") from None


def _schedule_record(schedule):
    if isinstance(schedule, schedules.Schedule):
        return {"schedule": type(schedule).__name__, **dataclasses.asdict(schedule)}
    return schedule


def _schedule(record):
    if isinstance(record, dict):
        record = dict(record)
        return getattr(schedules, record.pop("schedule"))(**record)
    return record


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
