"""Backend choice, including an install without Numba."""

import time

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


def test_a_slow_first_call_says_it_is_compiling_once_per_kind_of_rows(monkeypatch, capsys):
    from fastgd._kernels import epochs

    real = epochs.run_epochs

    def slow_first_call(*groups):  # stands in for Numba compiling on the first call
        time.sleep(0.5)
        return real(*groups)

    monkeypatch.setattr(_backends, "KERNELS_IN_PYTHON", False)  # also run without the JIT
    monkeypatch.setattr(_backends, "COMPILE_NOTICE_SECONDS", 0.05)
    monkeypatch.setattr(_backends, "_called", set())
    monkeypatch.setattr(_backends, "_announced", set())
    monkeypatch.setattr(epochs, "run_epochs", slow_first_call)
    X, y = np.arange(20.0)[:, None], np.arange(20.0)
    fastgd.fit(X, y, epochs=2, backend="numba")
    notice = ("fastgd: compiling its kernels for dense float64 X without sample weights; this "
              "takes seconds once, then Numba caches them on disk for later runs\n")
    assert capsys.readouterr().err == notice
    fastgd.fit(X, y, epochs=2, backend="numba")  # known kind: no timer, no notice
    fastgd.fit(X, y, sample_weight=np.ones(20), epochs=2, backend="numba")  # a new kind
    assert capsys.readouterr().err == notice.replace("without", "with")
    monkeypatch.setattr(epochs, "run_epochs", real)
    monkeypatch.setattr(_backends, "_called", set())
    monkeypatch.setattr(_backends, "_announced", set())
    fastgd.fit(X, y, sample_weight=np.ones(20), epochs=2, backend="numba")  # compiled: quick
    assert capsys.readouterr().err == ""


def test_first_kernel_calls_are_serialised_across_processes():
    """Numba's disk cache is not safe for processes compiling into it at once
    (numba/numba#4807): a kernel's first call in a process holds a lock that another process
    cannot take meanwhile."""
    import subprocess
    import sys

    probe = ("import fcntl, os, tempfile\n"
             "path = os.path.join(tempfile.gettempdir(), f'fastgd-numba-{os.getuid()}.lock')\n"
             "with open(path, 'a') as handle:\n"
             "    try:\n"
             "        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "    except BlockingIOError:\n"
             "        print('held')\n"
             "    else:\n"
             "        print('free')\n")  # (another test process may hold it after)

    def ask():
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              check=True).stdout.strip()

    with _backends._first_call_lock():
        assert ask() == "held"
