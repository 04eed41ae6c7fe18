"""``python -m fastgd bench`` runs, and its peers compute the same model."""

import numpy as np

from fastgd._commands import bench as _bench


def test_quick_bench_prints_every_case():
    lines = []
    _bench.run_bench(quick=True, repeats=1, out=lines.append)
    text = "\n".join(lines)
    for case in _bench.QUICK_CASES:
        assert case.name in text
    for method in ("fastgd numba", "fastgd numba n_jobs=2", "fastgd numpy", "lecture NumPy loop",
                   "X.sum() (one pass)"):
        assert method in text
    assert "relative excess MSE" in text and "two threads" in text


def test_lecture_loop_and_fastgd_fit_the_same_model():
    X, y = _bench.make_data(500, 3)
    theta = _bench.lecture_loop(X, y, batch_size=500, epochs=200)
    fitted = _bench.fastgd_fit(X, y, batch_size=500, epochs=200, backend="numpy")
    np.testing.assert_allclose(theta[1:], fitted.coef, rtol=1e-10)
    assert theta[0] == np.float64(fitted.intercept) or np.isclose(theta[0], fitted.intercept)


def test_time_to_solution_table_lists_every_method_and_both_conditions():
    lines = []
    _bench.run_bench(quick=True, solution_only=True, out=lines.append)
    rows = [line for line in lines if line.startswith("| 5,000") or line.startswith("| 2,000")]
    assert len(rows) == 4 and sum("| ill |" in row for row in rows) == 2
    for row in rows:  # fastgd's excess is in the fifth column, scikit-learn's in the eighth
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[4]) <= 1e-3 and cells[6].endswith(" s")
        assert float(cells[10]) <= 1e-3  # n_jobs=2


def test_ill_conditioned_data_is_ill_conditioned():
    X, _ = _bench.conditioned_data(2000, 8, ill=True)
    assert np.linalg.cond(X) > 1e4
    assert np.linalg.cond((X - X.mean(axis=0)) / X.std(axis=0)) > 10


def test_sparse_table_times_every_method_and_reaches_lsqr():
    lines = []
    cases = [("random", 4000, 400, 0.01), ("one-hot", 4000, None, None)]
    _bench.sparse(lines.append, repeats=1, epochs=1, cases=cases)
    rows = [line for line in lines if line.startswith("| random") or line.startswith("| one-hot")]
    assert len(rows) == 2
    for row in rows:  # per-epoch seconds of fastgd, fastgd l2, sklearn; fastgd's excess
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(np.isfinite(float(cells[i])) for i in (1, 2, 3))
        assert float(cells[7]) <= 1e-3 and cells[8].endswith(" s")
        assert np.isfinite(float(cells[10])) and float(cells[14]) <= 1e-3  # n_jobs=2


def test_losses_table_times_every_loss_and_reaches_quantile_regressor():
    lines = []
    _bench.losses(lines.append, repeats=1, shapes=[(3000, 5, 32)], lp_rows=2000)
    rows = [line for line in lines if line.startswith("| 3,000x5")]
    assert len(rows) == 5  # every loss; scikit-learn's SGD has all but quantile
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3].endswith("x") and (cells[4] == "-") == (cells[1] == "quantile")
    excess = float(lines[-1].split("objective excess ")[1].split(")")[0])
    assert excess <= 1e-3
