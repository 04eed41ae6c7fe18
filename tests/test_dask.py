"""fastgd.dask.fit on a two-process dask.distributed cluster on loopback."""

import os
import signal
import threading
import time

import dask
import dask.array as da
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster

import fastgd
import fastgd.dask
from fastgd.datasets import make_problem

from helpers import REDUCED, excess_mse, mse

#: Tests here start Dask clusters (the README's example does): one such module at a time
#: across the test processes.
pytestmark = pytest.mark.usefixtures("dask_cluster_lock")


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def blocks_of(X, n_blocks=8):
    return da.from_array(X, chunks=(-(-len(X) // n_blocks), X.shape[1]))


def test_eight_blocks_on_two_workers_reach_lstsq(client):
    X, y, _, _ = make_problem("tall", random_state=0)
    res = fastgd.dask.fit(blocks_of(X), y, random_state=0)
    assert res.settings["n_blocks"] == 8 and res.converged
    assert excess_mse(X, y, res) <= 1e-3
    assert len(client.scheduler_info()["workers"]) == 2


def test_the_cluster_gives_the_local_schedulers_answer(client):
    X, y, _, _ = make_problem("several", random_state=1)
    on_cluster = fastgd.dask.fit(blocks_of(X), y, epochs=20, random_state=3)
    with dask.config.set(scheduler="threads"):
        local = fastgd.dask.fit(blocks_of(X), y, epochs=20, random_state=3)
    np.testing.assert_array_equal(on_cluster.coef, local.coef)


def test_weights_several_targets_and_a_penalty(client):
    X, y, _, _ = make_problem("tall", random_state=2)
    Y = np.column_stack([y, 2 * y + 1])
    weights = np.random.default_rng(0).random(len(y)) + 0.5
    res = fastgd.dask.fit(blocks_of(X), da.from_array(Y, chunks=(5000, 2)),
                          sample_weight=weights, penalty="l2", alpha=1e-6, random_state=0)
    assert res.coef.shape == (2, 8)
    sw = np.sqrt(weights)[:, None]
    A = np.column_stack([X, np.ones(len(X))]) * sw
    solution = np.linalg.lstsq(A, Y * sw, rcond=None)[0]
    for t in range(2):
        best = mse(A, Y[:, t] * sw[:, 0], solution[:, t], 0.0)
        got = mse(A, Y[:, t] * sw[:, 0], np.r_[res.coef[t], res.intercept[t]], 0.0)
        assert (got - best) / best <= 1e-3


def test_a_killed_worker_is_recovered_or_reported(client):
    X, y, _, _ = make_problem("tall", random_state=4)
    outcome = {}

    def run():
        try:
            outcome["result"] = fastgd.dask.fit(blocks_of(X), y, tol=None, epochs=60,
                                                random_state=0)
        except RuntimeError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(2.0)
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive()
    print("killed worker:", "reported" if "error" in outcome else "recovered")
    if "error" in outcome:
        assert "worker was lost" in str(outcome["error"])
    else:
        assert outcome["result"].n_epochs == 60
        assert excess_mse(X, y, outcome["result"]) <= 1e-2
    client.wait_for_workers(2, timeout=120)


@pytest.mark.parametrize("X, y, error, match", [
    (np.ones((4, 2)), np.ones(4), TypeError, "takes a dask.array.Array X"),
    (da.ones((4, 2)), np.ones(3), ValueError, r"y must be of shape \(4,\)"),
    (da.from_array(np.array([[1.0, np.nan], [2.0, 3.0]])), np.ones(2), ValueError, "NaN"),
])
def test_bad_input(X, y, error, match):
    with dask.config.set(scheduler="threads"), pytest.raises(error, match=match):
        fastgd.dask.fit(X, y)


@pytest.mark.parametrize("penalty", [dict(penalty="l1", alpha=0.05),
                                     dict(penalty="elasticnet", alpha=0.05, l1_ratio=0.5)])
def test_l1_on_the_cluster_reaches_the_in_memory_objective(client, penalty):
    X, _, _, _ = make_problem("tall", random_state=0)
    X = X[:2000] if REDUCED else X[:8000]
    y = X @ np.array([1.0, 0, 0, 2.0, 0, -1.0, 0, 0.5])
    y += np.random.default_rng(0).standard_normal(len(X))
    in_memory = fastgd.fit(X, y, random_state=0, **penalty)
    res = fastgd.dask.fit(blocks_of(X), y, random_state=0, **penalty)
    assert res.loss_history[-1] == pytest.approx(in_memory.loss_history[-1], rel=1e-4)
    np.testing.assert_array_equal(np.flatnonzero(res.coef == 0.0), [1, 2, 4, 6])
    np.testing.assert_array_equal(res.coef == 0.0, in_memory.coef == 0.0)


def test_empty_blocks_and_blocks_of_zero_weight_are_harmless():
    X, y, _, _ = make_problem("several", random_state=0)
    rows = ((400, 0, 600, 0), (5,))
    with dask.config.set(scheduler="threads"):
        res = fastgd.dask.fit(da.from_array(X, chunks=rows), da.from_array(y, chunks=rows[:1]),
                              random_state=0)
        assert res.settings["n_blocks"] == 4 and excess_mse(X, y, res) <= 1e-3
        for dead in (slice(0, 250), slice(750, None)):
            weights = np.ones(len(y))
            weights[dead] = 0.0
            res = fastgd.dask.fit(da.from_array(X, chunks=(250, 5)), y, random_state=0,
                                  sample_weight=da.from_array(weights, chunks=250))
            kept = weights > 0
            assert np.all(np.isfinite(res.coef))
            assert excess_mse(X[kept], y[kept], res) <= 1e-3


def unknown_rows(A):
    """A Dask array whose row blocks have unknown sizes (as after a boolean filter)."""
    A = da.from_array(A, chunks=(2,) + A.shape[1:])
    return A[A.sum(axis=tuple(range(1, A.ndim))) > -np.inf] if A.ndim > 1 else A[A > -np.inf]


@pytest.mark.parametrize("X, y, error, match", [
    (unknown_rows(np.ones((4, 2))), np.ones(4), ValueError, r"X.compute_chunk_sizes\(\)"),
    (da.ones((4, 2), chunks=2), unknown_rows(np.ones(4)), ValueError,
     r"y.compute_chunk_sizes\(\)"),
    (da.ones((4, 2)), np.ones(4) * 1j, TypeError, "y must hold real numbers"),
    (da.ones((4, 2)), np.array(["a", "b", "c", "d"]), TypeError, "y must hold real numbers"),
])
def test_data_fastgd_fit_refuses_is_refused(X, y, error, match):
    with dask.config.set(scheduler="threads"), pytest.raises(error, match=match):
        fastgd.dask.fit(X, y)
