"""Backend choice, including an install without Numba."""

import numpy as np
import pytest

import fastgd
from fastgd._engine import backends as _backends


def test_auto_takes_numba_when_it_imports():
    res = fastgd.fit(np.arange(10.0)[:, None], np.arange(10.0), epochs=2)
    assert res.backend == "numba"


def test_without_numba_auto_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(_backends, "NUMBA_AVAILABLE", False)
    monkeypatch.setattr(_backends, "_warned", [])
    X, y = np.arange(10.0)[:, None], np.arange(10.0)
    with pytest.warns(RuntimeWarning, match="pip install numba"):
        assert fastgd.fit(X, y, epochs=2).backend == "numpy"
    assert fastgd.fit(X, y, epochs=2).backend == "numpy"  # warned once: no error here
    with pytest.raises(ValueError, match="backend='numba' needs Numba"):
        fastgd.fit(X, y, backend="numba")
