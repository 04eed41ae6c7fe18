"""Saved models (FitResult.to_json, fastgd.load) and loss-curve pictures."""

import json
import re

import matplotlib
import numpy as np
import pytest

import fastgd
from fastgd.datasets import make_problem
from fastgd.schedules import InverseTime

matplotlib.use("Agg")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [
    dict(), dict(penalty="elasticnet", early_stopping=True, average=5),
    dict(learning_rate=InverseTime(2.0, 100.0), sample_weight=np.arange(1000.0) % 4),
    dict(targets=2),
])
def test_a_loaded_model_is_the_saved_one(tmp_path, dtype, kwargs):
    X, y, _, _ = make_problem("several", random_state=0)
    kwargs = dict(kwargs)
    if kwargs.pop("targets", 1) == 2:
        y = np.column_stack([y, -y])
    result = fastgd.fit(X.astype(dtype), y.astype(dtype), random_state=0, **kwargs)
    result.to_json(tmp_path / "model.json")
    loaded = fastgd.load(tmp_path / "model.json")
    np.testing.assert_array_equal(loaded.predict(X.astype(dtype)), result.predict(X.astype(dtype)))
    assert loaded.coef.dtype == result.coef.dtype
    np.testing.assert_array_equal(loaded.intercept, result.intercept)
    np.testing.assert_array_equal(loaded.loss_history, result.loss_history)
    if result.validation_loss_history is not None:
        np.testing.assert_array_equal(loaded.validation_loss_history,
                                      result.validation_loss_history)
    assert loaded.settings == result.settings and loaded.learning_rate == result.learning_rate
    assert (loaded.n_epochs, loaded.n_updates, loaded.converged, loaded.backend) == (
        result.n_epochs, result.n_updates, result.converged, result.backend)
    assert json.loads(result.to_json())["format"] == "fastgd.FitResult"


@pytest.mark.parametrize("text, message", [
    ("{", "not JSON"), ("[1, 2]", "is not a fastgd model file"),
    (json.dumps({"format": "fastgd.FitResult", "format_version": 99}), "format version 99"),
    (json.dumps({"format": "fastgd.FitResult", "format_version": 1}), "damaged"),
])
def test_bad_model_files(tmp_path, text, message):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        fastgd.load(tmp_path / "m.json")


def test_plot_loss_draws_training_and_validation_curves():
    X, y, _, _ = make_problem("several", random_state=0)
    axes = fastgd.fit(X, y, early_stopping=True, random_state=0).plot_loss()
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["training objective", "validation loss"]
    assert len(axes.get_lines()[0].get_xdata()) == len(axes.get_lines()[1].get_ydata())
    axes = fastgd.fit(X, y, epochs=3, random_state=0).plot_loss()
    assert [line.get_label() for line in axes.get_lines()] == ["training objective"]


def _saved_record():
    X = np.arange(12.0).reshape(6, 2)
    return json.loads(fastgd.fit(X, X @ [1.0, 2.0] + 1, epochs=2, tol=None,
                                 random_state=0).to_json())


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(coef=[float("nan"), 1.0]), "field 'coef' holds a number that is not "
                                                    "finite"),
    (lambda r: r.update(coef=[[1.0, 2.0], [3.0, 4.0]]), "field 'intercept' must be 1-D"),
    (lambda r: r.update(coef=["a", "b"]), "field 'coef' must be 1 or 2-D numbers"),
    (lambda r: r.update(coef=[True, False]), "field 'coef' must be 1 or 2-D numbers"),
    (lambda r: r.update(dtype="int64"), "field 'dtype' must be 'float32' or 'float64'"),
    (lambda r: r.update(dtype="complex128"), "field 'dtype' must be 'float32' or 'float64'"),
    (lambda r: r.update(learning_rate={"schedule": "Magic", "eta0": 1.0}),
     "the learning rate must be 'auto' or one of the schedules"),
    (lambda r: r.update(learning_rate={"schedule": "Constant", "eta0": -1.0}),
     "schedule Constant"),
    (lambda r: r.update(n_epochs=float("inf")), "field 'n_epochs' must be a whole number"),
    (lambda r: r.update(n_updates=2**70), "field 'n_updates' must lie in"),
    (lambda r: r.update(converged="yes"), "field 'converged' must be true or false"),
    (lambda r: r.pop("batch_size"), "field 'batch_size' is missing"),
    (lambda r: r.update(loss_history=[[1.0, 2.0, 3.0]], coef=[[1.0, 2.0], [3.0, 4.0]],
                        intercept=[0.0, 1.0]), "does not hold a value per target"),
])
def test_damaged_model_fields_are_named(tmp_path, edit, message):
    """A hand-edited or damaged model file is refused with the field named, never loaded
    with garbage in it."""
    record = _saved_record()
    edit(record)
    (tmp_path / "m.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=re.escape(message)):
        fastgd.load(tmp_path / "m.json")


def test_nested_json_and_folders_are_refused(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply|not a fastgd model file"):
        fastgd.load(tmp_path / "deep.json")
    with pytest.raises(ValueError, match="is a folder"):
        fastgd.load(tmp_path)
