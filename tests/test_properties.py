"""Property-based tests: for any input, a finite answer or a clear error, never a changed input."""

import numpy as np
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastgd
from fastgd import schedules

CLEAR_ERRORS = (ValueError, TypeError, fastgd.DivergenceError)

positive = st.floats(1e-4, 2.0)
learning_rates = st.one_of(
    st.just("auto"),
    st.builds(schedules.Constant, positive),
    st.builds(schedules.InverseTime, positive, st.floats(1.0, 1e3)),
    st.builds(schedules.InvScaling, positive, st.floats(0.05, 1.0)),
    st.builds(schedules.Exponential, positive, st.floats(0.5, 1.0)),
    st.builds(schedules.Adaptive, positive),
)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    values = st.floats(-1e3, 1e3, width=32 if dtype == np.float32 else 64)
    X = draw(hnp.arrays(dtype, (n, d), elements=values))
    y = draw(hnp.arrays(dtype, draw(st.sampled_from([(n,), (n, 1), (n, 2)])), elements=values))
    layout = draw(st.sampled_from(["C", "F", "strided", "readonly"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=1)[:, ::2]
    elif layout == "readonly":
        X.setflags(write=False)
    return X, y


def outcome(X, y, **kwargs):
    try:
        return fastgd.fit(X, y, **kwargs)
    except CLEAR_ERRORS as exc:
        return type(exc)


@st.composite
def model_options(draw, n):
    """Penalty, weights, averaging and early stopping, each often absent."""
    options = {}
    penalty = draw(st.sampled_from([None, "l2", "l1", "elasticnet"]))
    if penalty:
        options.update(penalty=penalty, alpha=draw(st.sampled_from([0.0, 1e-3, 0.1, 10.0])))
    if draw(st.booleans()):
        options["sample_weight"] = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0, 10)))
    options["average"] = draw(st.sampled_from([False, True, 3]))
    if draw(st.integers(0, 3)) == 0:
        options.update(early_stopping=True, random_state=0,
                       validation_fraction=draw(st.sampled_from([0.1, 0.5])))
    return options


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), batch_size=st.integers(1, 50), learning_rate=learning_rates,
       fit_intercept=st.booleans(), drop_last=st.booleans(),
       tol=st.sampled_from([None, 1e-4]), epochs=st.integers(1, 30), data=st.data())
def test_any_input_gives_a_finite_fit_or_a_clear_error(problem, batch_size, learning_rate,
                                                       fit_intercept, drop_last, tol, epochs,
                                                       data):
    X, y = problem
    options = data.draw(model_options(len(X)))
    note(f"X={X.tolist()!r} dtype={X.dtype} y={y.tolist()!r}")
    X_before, y_before = X.copy(), y.copy()
    weights_before = options.get("sample_weight", np.empty(0)).copy()
    kwargs = dict(batch_size=batch_size, learning_rate=learning_rate, shuffle=False,
                  fit_intercept=fit_intercept, drop_last=drop_last, tol=tol, epochs=epochs,
                  **options)
    numba_result = outcome(X, y, backend="numba", **kwargs)
    numpy_result = outcome(X, y, backend="numpy", **kwargs)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(options.get("sample_weight", np.empty(0)), weights_before)
    if isinstance(numba_result, type) or isinstance(numpy_result, type):
        # both raise (a blow-up may be caught an epoch apart), or both fit
        assert isinstance(numba_result, type) and isinstance(numpy_result, type)
        event(f"raised {numba_result.__name__}")
        return
    event("fitted")
    for result in (numba_result, numpy_result):
        assert np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept))
        assert result.coef.dtype == X.dtype
        assert result.coef.shape == y.shape[1:] + X.shape[1:]
        assert result.predict(X).shape == y.shape
        assert np.all(np.isfinite(result.loss_history))
    # predictions, not coefficients: a column the data barely determine may take any weight
    scale = 1.0 + np.abs(y.astype(np.float64)).max()
    np.testing.assert_allclose(numba_result.predict(X), numpy_result.predict(X), rtol=1e-5,
                               atol=1e-5 * scale)
