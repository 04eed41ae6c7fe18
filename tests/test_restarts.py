"""An "auto" fit whose iterates blow up restarts from its best model with a smaller step,
records it, and still reaches least squares: never a DivergenceError."""

import numpy as np
import pytest

import fastgd
from fastgd import _preparation
from fastgd._curvature import Curvature
from fastgd._engine import blocks as _blocks
from fastgd.datasets import make_problem

from helpers import excess_mse


@pytest.fixture
def far_too_large_step(monkeypatch):
    """An "auto" step 1000 times past any stable one (as a misjudged sample could give)."""
    monkeypatch.setattr(_preparation, "curvature", lambda *args: Curvature(1e-3, 0.0, 1))


def test_an_auto_fit_that_blows_up_restarts_and_reaches_lstsq(far_too_large_step, backend):
    X, y, _, _ = make_problem("several", random_state=0)
    res = fastgd.fit(X, y, random_state=0, backend=backend)
    assert 1 <= res.settings["restarts"] <= 10
    assert res.learning_rate.eta0 <= 1000.0 / 10 ** res.settings["restarts"]
    assert np.all(np.isfinite(res.loss_history)) and len(res.loss_history) == res.n_epochs
    assert excess_mse(X, y, res) <= 1e-3


def test_a_streamed_auto_fit_restarts_too(far_too_large_step, tmp_path, monkeypatch):
    monkeypatch.setattr(_blocks, "CHUNK_BYTES", 1 << 14)
    X, y, _, _ = make_problem("several", random_state=1)
    np.save(tmp_path / "X.npy", X)
    res = fastgd.fit(np.load(tmp_path / "X.npy", mmap_mode="r"), y, random_state=0)
    assert res.settings["restarts"] >= 1
    assert np.all(np.isfinite(res.loss_history)) and len(res.loss_history) == res.n_epochs
    assert excess_mse(X, y, res) <= 1e-3


def test_a_raw_schedule_still_raises():
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.raises(fastgd.DivergenceError):
        fastgd.fit(X, y, learning_rate=fastgd.schedules.Constant(1e3), random_state=0)
