"""Sparse X (scipy.sparse): the same fits as dense input, lazy updates, the defaults against
lsqr, memory, the estimator and the errors."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Lasso

import fastgd
from fastgd import MBGDRegressor
from fastgd.datasets import MESSY_FAMILIES, make_messy_problem, make_sparse_problem
from fastgd.schedules import Constant

from helpers import REDUCED, lsqr_mse, weighted_excess_mse

BACKENDS = ["numba", "numpy"]


def _small(seed=0, n=300, d=40, k=1, density=0.1):
    """A small sparse problem with a column that is never set and one that is always set."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="lil", random_state=seed,
                  data_rvs=lambda m: rng.standard_normal(m) * 3 + 1)
    X[:, 0] = 0.0
    X[:, 1] = 2.0
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    coef = rng.standard_normal((k, d))
    Y = X @ coef.T + 1.5 + 0.3 * rng.standard_normal((n, k))
    return X, (Y[:, 0] if k == 1 else Y), rng


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["plain", "weights_targets", "elasticnet_average"])
def test_sparse_fit_is_the_dense_fit(backend, case):
    """The same matrix dense and sparse, a raw schedule, no shuffling: the same fit (to 1e-9),
    with weights and two targets, and with a penalty (exact zeros) and averaging."""
    X, y, rng = _small(k=2 if case == "weights_targets" else 1)
    options = dict(learning_rate=Constant(0.002), shuffle=False, epochs=6, tol=None,
                   batch_size=16, backend=backend)
    if case == "weights_targets":
        options["sample_weight"] = rng.integers(0, 3, X.shape[0]).astype(float)
    if case == "elasticnet_average":
        options.update(penalty="elasticnet", alpha=0.05, l1_ratio=0.7, average=40)
    sparse = fastgd.fit(X, y, **options)
    dense = fastgd.fit(X.toarray(), y, **options)
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sparse.loss_history, dense.loss_history, rtol=1e-9)
    if case == "elasticnet_average":
        assert np.array_equal(sparse.coef == 0.0, dense.coef == 0.0)
        assert sparse.coef[0] == 0.0


@pytest.mark.parametrize("average", [False, True, 25])
def test_lazy_averaging_is_the_eager_average(average):
    """``"auto"`` on sparse rows: the compiled kernel's lazy averages (weights of untouched
    columns caught up in O(1)) equal the NumPy backend's eager ones to 1e-9, with the
    auto phases' averaging, averaging from the start, and from update 25."""
    X, y, _ = _small(seed=1)
    options = dict(shuffle=False, epochs=4, tol=None, batch_size=8, average=average)
    compiled = fastgd.fit(X, y, **options, backend="numba")
    reference = fastgd.fit(X, y, **options, backend="numpy")
    np.testing.assert_allclose(compiled.coef, reference.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(compiled.intercept, reference.intercept, rtol=0, atol=1e-9)


@pytest.mark.parametrize("family", ["random", "one_hot", "bag_of_words"])
def test_defaults_reach_least_squares_on_sparse_families(family):
    """Default fits of raw sparse data reach lsqr's MSE within 1e-3 (relative excess)."""
    X, y, coef, _ = make_sparse_problem(family, random_state=3, size=0.2 if REDUCED else 1)
    if REDUCED:  # the kernels as Python: fewer columns (X keeps its form, y is made anew)
        X = X[:, :200]
        y = X @ coef[:200] + 2.0 + 0.5 * np.random.default_rng(3).standard_normal(X.shape[0])
    best = lsqr_mse(X, y)
    result = fastgd.fit(X, y, random_state=0)
    excess = np.mean((result.predict(X) - y) ** 2) / best - 1
    assert excess <= 1e-3, (family, excess, result.n_epochs)


def test_numpy_backend_defaults_on_one_hot():
    """The NumPy backend's default fit on a one-hot design also reaches lsqr within 1e-3."""
    X, y, _, _ = make_sparse_problem("one_hot", random_state=4, size=0.1 if REDUCED else 0.25)
    result = fastgd.fit(X, y, random_state=0, backend="numpy")
    assert np.mean((result.predict(X) - y) ** 2) / lsqr_mse(X, y) - 1 <= 1e-3


def test_l1_on_sparse_rows_matches_coordinate_descent():
    """An L1 fit of sparse rows reaches the Lasso objective (scikit-learn's coordinate descent
    on the same data) within 1e-3, with exact zeros."""
    X, y, _, _ = make_sparse_problem("random", random_state=5, size=0.05 if REDUCED else 0.25)
    X = X[:, :200]
    alpha = 0.02
    result = fastgd.fit(X, y, penalty="l1", alpha=alpha, random_state=0)
    lasso = Lasso(alpha=alpha, tol=1e-10, max_iter=100_000).fit(X, y)

    def objective(coef, intercept):
        return 0.5 * np.mean((X @ coef + intercept - y) ** 2) + alpha * np.abs(coef).sum()

    best = objective(lasso.coef_, lasso.intercept_)
    assert objective(result.coef, result.intercept) <= best * (1 + 1e-3)
    assert np.any(result.coef == 0.0)


def test_sparse_x_is_never_densified():
    """A fit of 4,000 x 2,000,000 with 5 entries a row (dense: 64 GB) allocates O(nnz + d)."""
    rng = np.random.default_rng(0)
    n, d = 4000, 50_000 if REDUCED else 2_000_000
    X = sp.csr_matrix((rng.standard_normal(5 * n), (np.repeat(np.arange(n), 5),
                                                     rng.integers(0, d, 5 * n))), shape=(n, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    fastgd.fit(X[:50], y[:50], epochs=1)  # compile first: Numba's own memory is not counted
    tracemalloc.start()
    result = fastgd.fit(X, y, epochs=2, tol=None, random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.coef.shape == (d,)
    assert peak < 40 * 8 * d, peak / 8 / d  # a few arrays of d floats; X dense is 4000 d


def test_estimator_on_sparse_rows():
    """MBGDRegressor fits, predicts, scores and streams sparse rows; a model fitted on sparse
    rows predicts the same rows given dense."""
    X, y, _, _ = make_sparse_problem("one_hot", random_state=6, size=0.1 if REDUCED else 0.25)
    model = MBGDRegressor(random_state=0).fit(X, y)
    assert model.score(X, y) > 0.9
    np.testing.assert_allclose(model.predict(X), model.predict(X.toarray()), rtol=1e-12,
                               atol=1e-9)
    csc = model.predict(sp.csc_matrix(X))
    np.testing.assert_allclose(csc, model.predict(X), rtol=1e-12, atol=1e-12)
    stream, dense_stream = MBGDRegressor(random_state=0), MBGDRegressor(random_state=0)
    chunks = np.array_split(np.arange(X.shape[0]), 5)
    for _ in range(3):
        for rows in chunks:
            stream.partial_fit(X[rows], y[rows])
            dense_stream.partial_fit(X[rows].toarray(), y[rows])
    assert np.all(np.isfinite(stream.coef_))
    # the same stream on dense chunks (whose step comes from an exact R2, where the sparse
    # one bounds it by the largest row norm above 256 columns)
    assert abs(stream.score(X, y) - dense_stream.score(X, y)) < 0.01
    assert stream.score(X, y) > 0.8


def test_pandas_sparse_columns_are_taken_as_sparse():
    """``pd.get_dummies(..., sparse=True)`` is fitted as a sparse matrix, not densified."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.choice(list("abcdefgh"), 2000),
                          "b": rng.choice(["x", "y", "z"], 2000)})
    dummies = pd.get_dummies(frame, sparse=True, dtype=float)
    y = dummies.to_numpy() @ rng.standard_normal(dummies.shape[1]) + rng.standard_normal(2000)
    result = fastgd.fit(dummies, y, random_state=0)
    dense = fastgd.fit(dummies.sparse.to_dense().to_numpy(), y, random_state=0)
    assert result.settings["sparse"] and not dense.settings["sparse"]
    np.testing.assert_allclose(result.predict(dummies), dense.predict(dummies.sparse.to_dense()),
                               atol=0.05)


def test_float32_sparse_keeps_its_dtype():
    X, y, _ = _small(seed=2)
    result = fastgd.fit(X.astype(np.float32), y.astype(np.float32), random_state=0)
    assert result.coef.dtype == np.float32
    assert np.mean((result.predict(X) - y) ** 2) / lsqr_mse(X, y) - 1 < 1e-3


def test_sparse_input_is_not_modified():
    X, y, _ = _small(seed=3)
    before = X.data.copy(), X.indices.copy(), X.indptr.copy()
    fastgd.fit(X, y, random_state=0, epochs=3)
    for a, b in zip(before, (X.data, X.indices, X.indptr)):
        assert np.array_equal(a, b)


def test_bad_sparse_input_is_refused_with_advice():
    X, y, _ = _small(seed=4)
    bad = X.copy()
    bad.data[5] = np.nan
    row = int(np.searchsorted(bad.indptr, 5, side="right") - 1)
    with pytest.raises(ValueError, match=rf"nan at index \({row}, {bad.indices[5]}\)"):
        fastgd.fit(bad, y)
    damaged = X.copy()
    damaged.indices[3] = X.shape[1] + 7
    with pytest.raises(ValueError, match="damaged sparse matrix.*column indices"):
        fastgd.fit(damaged, y)
    with pytest.raises(TypeError, match="complex"):
        fastgd.fit(X.astype(np.complex128), y)
    with pytest.raises(ValueError, match="features, but the model was fitted with"):
        fastgd.fit(X, y, epochs=2).predict(X[:, :5])


@pytest.mark.parametrize("family", list(MESSY_FAMILIES))
def test_defaults_hold_on_messy_data_given_sparse(family):
    """The messy families (rare 0/1 columns, one-hot blocks, 0/1 and heavy weights, heavy and
    outlying rows) given as sparse matrices: the defaults reach weighted least squares."""
    for seed in range(1 if REDUCED else 2):
        X, y, weights = make_messy_problem(family, random_state=seed)
        result = fastgd.fit(sp.csr_matrix(X), y, sample_weight=weights, random_state=seed)
        assert weighted_excess_mse(X, y, weights, result) <= 1e-3, (family, seed)


@pytest.mark.parametrize("family", ["one_hot", "outlying_rows"])
def test_sparse_stream_of_small_chunks_is_the_dense_stream(family):
    """``partial_fit`` on chunks of 10 sparse rows goes exactly as on the same chunks dense
    (few columns: the same step), and ends finite and near least squares."""
    X, y, _ = make_messy_problem(family, random_state=0)
    rows = 1000 if REDUCED else X.shape[0]
    X, y = X[:rows], y[:rows]
    stream, dense = MBGDRegressor(random_state=0), MBGDRegressor(random_state=0)
    for start in range(0, rows, 10):
        part = slice(start, start + 10)
        stream.partial_fit(sp.csr_matrix(X[part]), y[part])
        dense.partial_fit(X[part], y[part])
    np.testing.assert_allclose(stream.coef_, dense.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(stream.intercept_, dense.intercept_, rtol=1e-7, atol=1e-9)
    assert stream.score(X, y) > 0.9
