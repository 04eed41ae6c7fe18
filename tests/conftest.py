import fcntl
from contextlib import contextmanager

import pytest

BACKENDS = ["numba", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every test that takes ``backend`` runs on both backends."""
    return request.param


@contextmanager
def _cluster_lock(tmp_path_factory):
    """A lock that the test processes share: a Dask scheduler serves HTTP on port 8787, and two
    clusters started at once by parallel test processes (pytest-xdist) collide there. The
    processes' temporary folders share a parent."""
    path = tmp_path_factory.getbasetemp().parent / "dask_cluster.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
        fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def dask_cluster_lock(tmp_path_factory):
    """The cluster lock, held for a module's tests (a module sharing one cluster)."""
    with _cluster_lock(tmp_path_factory):
        yield


@pytest.fixture
def dask_cluster_lock_each(tmp_path_factory):
    """The cluster lock, held for one test."""
    with _cluster_lock(tmp_path_factory):
        yield
