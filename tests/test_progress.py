"""Long fits: the progress bar, and Ctrl-C that keeps the last complete epoch."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastgd
from fastgd import _progress
from fastgd.datasets import make_problem

from helpers import default_sigint, interrupt_and_wait


def test_a_bar_on_request_with_the_loss(capsys, backend):
    X, y, _, _ = make_problem("several", random_state=0)
    res = fastgd.fit(X, y, epochs=20, tol=None, progress=True, random_state=0, backend=backend,
                     learning_rate=fastgd.schedules.Constant(0.01))  # last entry: last epoch
    err = capsys.readouterr().err
    assert "20/20" in err and "epoch" in err
    assert f"loss={res.loss_history[-1]:.6g}" in err  # the last epoch's objective


def test_no_bar_by_default_off_a_terminal(capsys):
    X, y, _, _ = make_problem("several", random_state=0)
    fastgd.fit(X, y, epochs=5, tol=None, random_state=0)
    assert capsys.readouterr().err == ""


def test_a_watched_fit_is_the_same_fit(monkeypatch, backend):
    X, y, _, _ = make_problem("several", random_state=1)
    plain = fastgd.fit(X, y, epochs=30, random_state=3, backend=backend)
    monkeypatch.setattr(_progress, "WATCH_MIN_WORK", 0)  # watched, without a bar
    watched = fastgd.fit(X, y, epochs=30, random_state=3, backend=backend)
    np.testing.assert_array_equal(watched.coef, plain.coef)
    np.testing.assert_array_equal(watched.loss_history, plain.loss_history)
    assert not watched.interrupted


def test_errors_in_the_worker_reach_the_caller(monkeypatch):
    monkeypatch.setattr(_progress, "WATCH_MIN_WORK", 0)
    X, y, _, _ = make_problem("several", random_state=1)
    with pytest.raises(fastgd.DivergenceError):
        fastgd.fit(X * 1e3, y, learning_rate=fastgd.schedules.Constant(10.0), epochs=50)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process is POSIX")
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_ctrl_c_stops_within_a_second_and_keeps_the_last_complete_epoch(backend):
    script = textwrap.dedent(f"""
        import time, warnings
        import numpy as np
        import fastgd
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20_000, 10))
        y = X @ np.arange(10.0) + rng.standard_normal(20_000)
        fastgd.fit(X, y, epochs=2, tol=None, learning_rate="constant", progress=False,
                   backend="{backend}")  # compile (or load) every kernel the fit below runs
        print("ready", flush=True)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fastgd.fit(X, y, epochs=10**7, tol=None, learning_rate="constant",
                             progress=False, random_state=0, backend="{backend}")
        print(time.perf_counter() - start, res.n_epochs, res.interrupted,
              np.isfinite(res.loss_history).all(), len(res.loss_history),
              "last complete epoch" in str(caught[0].message), flush=True)
    """)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=default_sigint)
    assert process.stdout.readline().strip() == "ready"
    import time
    time.sleep(1.5)
    sent = time.perf_counter()
    out, err = interrupt_and_wait(process)
    assert time.perf_counter() - sent < 3.0, err
    assert process.returncode == 0, err
    seconds, n_epochs, interrupted, finite, length, warned = out.split()
    assert interrupted == "True" and finite == "True" and warned == "True"
    assert int(n_epochs) == int(length) >= 1
