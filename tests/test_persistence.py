"""Saved models (FitResult.to_json, fastgd.load) and loss-curve pictures."""

import json

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
