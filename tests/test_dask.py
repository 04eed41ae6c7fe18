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

from helpers import excess_mse, mse


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
