"""fastgd.MBGDRegressor: scikit-learn's own estimator checks, pipelines, grid search, pickling,
partial_fit."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import fastgd
from fastgd import MBGDRegressor
from fastgd.datasets import make_problem
from fastgd.schedules import Constant, InverseTime

from helpers import excess_mse

#: scikit-learn's checks that its own environment turns off, with its reason.
SKIPPED_BY_SCIKIT_LEARN = {"check_array_api_input": "SCIPY_ARRAY_API is not set"}


def test_scikit_learn_estimator_checks_pass(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny budgets in some checks
        report = check_estimator(MBGDRegressor(backend=backend), on_skip=None)
    assert len(report) >= 50
    for check in report:
        if check["check_name"] in SKIPPED_BY_SCIKIT_LEARN:
            assert check["status"] == "skipped"
            assert SKIPPED_BY_SCIKIT_LEARN[check["check_name"]] in str(check["exception"])
        else:
            assert check["status"] == "passed", check["check_name"]


def test_parameters_mirror_fastgd_fit():
    import inspect
    fit_defaults = {name: p.default for name, p in inspect.signature(fastgd.fit).parameters.items()
                    if p.kind is p.KEYWORD_ONLY}
    params = MBGDRegressor().get_params()
    per_call = {"sample_weight", "coef_init", "intercept_init"}  # arguments of fit()
    assert set(params) == set(fit_defaults) - per_call
    assert all(params[name] == fit_defaults[name] for name in params)


def test_fit_predict_score_and_fitted_attributes():
    X, y, _, _ = make_problem("several", random_state=0)
    model = MBGDRegressor(random_state=0).fit(X, y)
    result = fastgd.fit(X, y, random_state=0)
    np.testing.assert_array_equal(model.coef_, result.coef)
    np.testing.assert_array_equal(model.intercept_, [result.intercept])
    assert model.n_iter_ == result.n_epochs and model.t_ == result.n_updates
    np.testing.assert_array_equal(model.loss_curve_, result.loss_history)
    assert model.validation_scores_ is None and model.n_features_in_ == 5
    np.testing.assert_allclose(model.predict(X), result.predict(X))
    reference = LinearRegression().fit(X, y).score(X, y)
    assert model.score(X, y) == pytest.approx(reference, abs=1e-5)


def test_early_stopping_records_validation_r2():
    X, y, _, _ = make_problem("several", random_state=1)
    model = MBGDRegressor(early_stopping=True, random_state=0).fit(X, y)
    scores = model.validation_scores_
    assert scores.shape == (model.n_iter_,)
    assert 0.5 < scores[-1] <= 1.0 and scores[-1] >= scores[0]


def test_a_convergence_warning_when_the_budget_runs_out():
    X, y, _, _ = make_problem("several", random_state=0)
    with pytest.warns(ConvergenceWarning, match="epoch budget"):
        MBGDRegressor(epochs=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MBGDRegressor(epochs=2, tol=None, random_state=0).fit(X, y)  # no rule, no warning


def test_several_targets_and_pandas_feature_names():
    X, y, _, _ = make_problem("several", random_state=2)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    Y = np.column_stack([y, -2 * y])
    model = MBGDRegressor(random_state=0).fit(frame, Y)
    assert model.coef_.shape == (2, 5) and model.predict(frame).shape == (len(y), 2)
    assert list(model.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X)


def test_in_a_pipeline_and_a_parallel_grid_search():
    X, y, _, _ = make_problem("badly_scaled", random_state=0)
    pipeline = make_pipeline(StandardScaler(), MBGDRegressor(random_state=0)).fit(X, y)
    assert pipeline.score(X, y) == pytest.approx(LinearRegression().fit(X, y).score(X, y),
                                                 abs=1e-4)
    grid = {"mbgdregressor__penalty": ["l2", "l1"], "mbgdregressor__alpha": [1e-4, 1.0]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a strong L1 fold uses its budget
        search = GridSearchCV(make_pipeline(StandardScaler(), MBGDRegressor(random_state=0)),
                              grid, cv=3, n_jobs=2).fit(X, y)
        serial = GridSearchCV(make_pipeline(StandardScaler(), MBGDRegressor(random_state=0)),
                              grid, cv=3, n_jobs=1).fit(X, y)
    assert search.best_params_["mbgdregressor__alpha"] == 1e-4
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-12)


def test_clone_and_pickle():
    X, y, _, _ = make_problem("several", random_state=3)
    model = MBGDRegressor(penalty="l1", alpha=0.01, random_state=0).fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "coef_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    restored.partial_fit(X, y)  # the unpickled model can go on


def test_unpickled_in_a_fresh_process_predicts_the_same(tmp_path):
    X, y, _, _ = make_problem("several", random_state=4)
    model = MBGDRegressor(random_state=0).fit(X, y)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import pickle, numpy as np
        model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        np.save({str(tmp_path / "p.npy")!r}, model.predict(np.load({str(tmp_path / "X.npy")!r})))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict(X))


@pytest.mark.parametrize("learning_rate", [Constant(0.01), "auto"])
def test_partial_fit_on_the_same_rows_is_one_long_fit(backend, learning_rate):
    X, y, _, _ = make_problem("several", random_state=5)
    model = MBGDRegressor(learning_rate=learning_rate, random_state=7, backend=backend)
    for _ in range(4):
        model.partial_fit(X, y)
    long_fit = fastgd.fit(X, y, learning_rate=learning_rate, epochs=4, tol=None,
                          random_state=7, backend=backend)
    if learning_rate == "auto":  # the long fit ends at its best checked weights
        long_fit = fastgd.fit(X, y, learning_rate=long_fit.learning_rate, epochs=4, tol=None,
                              random_state=7, backend=backend)
        model = MBGDRegressor(learning_rate=long_fit.learning_rate, random_state=7,
                              backend=backend)
        for _ in range(4):
            model.partial_fit(X, y)
    np.testing.assert_allclose(model.coef_, long_fit.coef, rtol=1e-12)
    assert model.n_iter_ == 4 and model.t_ == long_fit.n_updates
    assert model.loss_curve_.shape == (4,)


def test_partial_fit_streams_chunks_to_the_least_squares_answer():
    X, y, _, _ = make_problem("tall", random_state=0)
    model = MBGDRegressor(learning_rate=InverseTime(5.0, 500.0), random_state=0)
    chunks = np.array_split(np.arange(len(y)), 8)
    for _ in range(3):
        for rows in chunks:
            model.partial_fit(X[rows], y[rows])
    assert model.n_iter_ == 24
    assert excess_mse(X, y, model.fit_result_) <= 1e-3


def test_partial_fit_errors_and_restart():
    X, y, _, _ = make_problem("several", random_state=6)
    model = MBGDRegressor(random_state=0).partial_fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features"):
        model.partial_fit(X[:, :4], y)
    with pytest.raises(ValueError, match="keep the shape of y"):
        model.partial_fit(X, y[:, None])
    model.fit(X, y)
    fitted = model.n_iter_
    model.partial_fit(X, y)  # after fit, partial_fit goes on from the fitted model
    assert model.n_iter_ == fitted + 1
    for option in ("average", "early_stopping"):
        with pytest.raises(ValueError, match=f"set {option}=False, or use fit"):
            MBGDRegressor(**{option: True}).partial_fit(X, y)


def test_a_missing_scikit_learn_is_a_clear_import_error():
    script = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # as if not installed
        import fastgd
        try:
            fastgd.MBGDRegressor
        except ImportError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert 'pip install "fastgd[sklearn]"' in done.stdout
