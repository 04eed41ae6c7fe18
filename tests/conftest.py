import pytest

BACKENDS = ["numba", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every test that takes ``backend`` runs on both backends."""
    return request.param
