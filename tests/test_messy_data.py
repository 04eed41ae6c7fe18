"""The defaults on data shaped like users' data: rare 0/1 columns, one-hot blocks, 0/1 and
heavy-tailed weights, heavy-tailed and outlying rows. They must not diverge, and they must reach
weighted least squares."""

import pytest

import fastgd
from fastgd.datasets import MESSY_FAMILIES, make_messy_problem

from helpers import REDUCED, weighted_excess_mse

#: Seeds per family: 5 for the compiled kernels; the NumPy backend (and, without the JIT, the
#: Python-run kernels) take fewer, being slow.
SEEDS = {"numba": range(1) if REDUCED else range(5), "numpy": range(1) if REDUCED else range(2)}


@pytest.mark.parametrize("family", list(MESSY_FAMILIES))
def test_defaults_reach_least_squares_on_messy_data(family, backend):
    for seed in SEEDS[backend]:
        X, y, weights = make_messy_problem(family, random_state=seed)
        res = fastgd.fit(X, y, sample_weight=weights, random_state=seed, backend=backend)
        assert weighted_excess_mse(X, y, weights, res) <= 1e-3, (family, seed)


def test_unknown_messy_family_is_refused():
    with pytest.raises(ValueError, match="Unknown family 'tidy'"):
        make_messy_problem("tidy")


def test_uneven_weights_reach_the_weighted_optimum_not_a_biased_one():
    """A batch's gradient is divided by its rows' expected weight, not by their own sum: with
    weights spanning orders of magnitude, dividing by the batch's sum converged 1% to 9% above
    the weighted optimum."""
    X, y, weights = make_messy_problem("heavy_weights", random_state=1)
    res = fastgd.fit(X, y, sample_weight=weights, tol=None, epochs=100, random_state=1)
    assert weighted_excess_mse(X, y, weights, res) <= 1e-4
