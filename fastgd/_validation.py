"""The one door: user input is checked and converted here, with messages that say what to do.

Nothing past this module checks user input again, and nothing here writes to the user's arrays.
"""

import os
import sys

import numpy as np

from . import schedules
from ._engine.loss_functions import LOSSES

BACKENDS = ("auto", "numba", "numpy")
PENALTIES = ("l2", "l1", "elasticnet")
#: Largest absolute target accepted: the losses fastgd reports are squares of y's units.
MAX_TARGET = 1e153
_INTEGERS = (int, np.integer)
_REALS = (int, float, np.integer, np.floating)
_SEED_RANGE = 2**63


def as_float_array(a, name):
    """Return ``a`` as a float32 or float64 ndarray, or raise a clear TypeError.

    float32 stays float32 (float16 becomes float32); every other real type becomes float64.

    Parameters
    ----------
    a : array_like
    name : str
        How the message calls the argument.

    Returns
    -------
    ndarray
        ``a`` itself when it already is a float32 or float64 ndarray.
    """
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{name} could not be read as a rectangular numeric array ({exc}); "
                "pass a NumPy array or equal-length lists of numbers."
            ) from None
    kind = a.dtype.kind
    if kind == "f":
        if a.dtype in (np.float32, np.float64):
            return a
        return a.astype(np.float32 if a.dtype.itemsize < 4 else np.float64)
    if kind in "biu":
        return a.astype(np.float64)
    if kind == "c":
        raise TypeError(
            f"{name} is complex ({a.dtype}); fastgd fits real-valued models: pass the real part "
            f"({name}.real) or split real and imaginary parts into separate columns."
        )
    if kind == "O":
        try:
            return a.astype(np.float64)
        except (ValueError, TypeError):
            pass
    raise TypeError(
        f"{name} must hold real numbers, got dtype {a.dtype}; convert it with "
        f"np.asarray({name}, dtype=float) after removing non-numeric entries."
    )


def check_finite(a, name):
    """Raise ValueError naming the first NaN or infinite entry of ``a``, if any."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing sum is looked into
        total = a.sum(dtype=np.float64)
    if np.isfinite(total):
        return
    bad = np.argwhere(~np.isfinite(a))
    if bad.size == 0:  # the sum overflowed on finite values
        return
    where = ", ".join(str(int(i)) for i in bad[0])
    value = a[tuple(bad[0])]
    raise ValueError(
        f"{name} contains {value} at index ({where}) and {len(bad) - 1} more non-finite "
        f"entries; remove or impute them (for example with np.nan_to_num) before fitting."
    )


def check_X_y(X, y):
    """Validate the training data.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
    y : array_like of shape (n_samples,) or (n_samples, n_targets)

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float32 or float64, C-contiguous; the user's array itself when it already was.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Of X's dtype, C-contiguous.
    """
    X = check_X(X)
    y = as_float_array(y, "y")
    if y.ndim not in (1, 2) or y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y must be of shape (n_samples,) or (n_samples, n_targets) with "
                         f"n_targets >= 1, got shape {y.shape}.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y have different numbers of rows: X has {X.shape[0]}, y has {y.shape[0]}; "
            "pass one target value (or row of targets) per row of X."
        )
    check_finite(y, "y")
    if max(float(y.max()), -float(y.min())) > MAX_TARGET:  # no temporary the size of y
        raise ValueError(
            f"y has values beyond {MAX_TARGET:.0e}: squared errors of such a target overflow "
            "float64. Divide y by a power of ten and scale the fitted coefficients back."
        )
    return X, np.ascontiguousarray(y, dtype=X.dtype)


def check_sample_weight(sample_weight, n_samples, all_zero=False):
    """Return the sample weights as a float64 array of shape (n_samples,), or None.

    Weights must be finite and non-negative with a positive sum (or any sum, with
    ``all_zero``); zeros drop rows from the fit.
    """
    if sample_weight is None:
        return None
    weights = as_float_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), one weight per row of "
                         f"X, got shape {weights.shape}.")
    check_finite(weights, "sample_weight")
    if np.any(weights < 0):
        first = int(np.flatnonzero(weights < 0)[0])
        raise ValueError(f"sample_weight must be non-negative, got {weights[first]} at index "
                         f"{first}; use 0 to leave a row out.")
    if not all_zero and not weights.sum() > 0:
        raise ValueError("sample_weight is zero everywhere: give some rows a positive weight.")
    return np.ascontiguousarray(weights)


def check_loss(loss, epsilon, quantile):
    """The validated ``loss`` name, ``epsilon`` and ``quantile`` (see ``fastgd.fit``).

    Returns
    -------
    loss : str
    epsilon, quantile : float
    """
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: use one of {', '.join(map(repr, LOSSES))}.")
    epsilon = check_real(epsilon, "epsilon", 0.0, np.inf, high_open=True)
    if loss == "huber" and epsilon == 0.0:
        raise ValueError("loss='huber' needs epsilon > 0 (the residual size where the loss "
                         "turns from squared to linear, in y's units); for the absolute loss "
                         "use loss='quantile' with quantile=0.5.")
    quantile = check_real(quantile, "quantile", 0.0, 1.0, low_open=True, high_open=True)
    return loss, epsilon, quantile


def check_penalty(penalty):
    """Return ``penalty`` if it names a penalty (or is None), else raise ValueError."""
    if penalty is not None and penalty not in PENALTIES:
        raise ValueError(f"Unknown penalty {penalty!r}: use None or one of "
                         f"{', '.join(map(repr, PENALTIES))}.")
    return penalty


def check_real(value, name, low, high, high_open=False, low_open=False):
    """Return ``value`` as a float in the interval from ``low`` to ``high``.

    Raises TypeError for a non-number and ValueError (naming the interval) outside it.
    """
    if isinstance(value, bool) or not isinstance(value, _REALS):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):  # NaN fails too
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}.")
    return value


def check_average(average):
    """Return the update count after which iterates are averaged, or -1 for no averaging.

    ``True`` averages from the first update, an int ``a >= 1`` from update ``a`` on, ``False``
    and ``0`` not at all.
    """
    if isinstance(average, (bool, np.bool_)):
        return 0 if average else -1
    if not isinstance(average, _INTEGERS):
        raise TypeError(f"average must be True, False or a number of updates, got "
                        f"{average!r}.")
    if average < 0:
        raise ValueError(f"average must be >= 0 (updates before averaging starts), got "
                         f"{average}.")
    return int(average) if average > 0 else -1


def check_init(coef_init, intercept_init, n_features, y_shape, fit_intercept):
    """Validate warm-start values against the data's shapes.

    Parameters
    ----------
    coef_init : None or array_like of shape (n_features,) for 1-D y, (n_targets, n_features)
        for 2-D y
    intercept_init : None, float (1-D y) or array_like of shape (n_targets,)
    n_features : int
    y_shape : tuple
    fit_intercept : bool

    Returns
    -------
    coef : ndarray of shape (n_targets, n_features), float64
        Zeros when no start value was given.
    intercept : ndarray of shape (n_targets,), float64, or None
        None when no start value was given.
    """
    k = y_shape[1] if len(y_shape) == 2 else 1
    coef_shape = (k, n_features) if len(y_shape) == 2 else (n_features,)
    intercept_shape = (k,) if len(y_shape) == 2 else ()
    coef = np.zeros((k, n_features))
    intercept = None
    if coef_init is not None:
        coef[:] = _start_value(coef_init, "coef_init", coef_shape, "coef for this X and y")
    if intercept_init is not None:
        given = _start_value(intercept_init, "intercept_init", intercept_shape,
                             "intercept for this y")
        if not fit_intercept and np.any(given != 0):
            raise ValueError("intercept_init is given but fit_intercept=False fixes the "
                             "intercept at 0: drop intercept_init or set fit_intercept=True.")
        intercept = given.reshape(k).astype(np.float64)
    return coef, intercept


def _start_value(value, name, shape, what):
    """``value`` as a finite float array of ``shape`` (that of the fitted ``what``)."""
    given = as_float_array(value, name)
    if given.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (that of the fitted {what}), got "
                         f"shape {given.shape}.")
    check_finite(given, name)
    return given


def is_sparse(X):
    """Whether ``X`` is a ``scipy.sparse`` matrix or array (without importing SciPy)."""
    return "scipy.sparse" in sys.modules and sys.modules["scipy.sparse"].issparse(X)


def _sparse_frame(X):
    """A pandas DataFrame with sparse columns as a ``scipy.sparse`` CSR matrix, else None."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(X, pandas.DataFrame) or not any(
            isinstance(dtype, pandas.SparseDtype) for dtype in X.dtypes):
        return None
    as_float = X.astype(pandas.SparseDtype("float64", 0.0))
    try:
        return as_float.sparse.to_coo().tocsr()
    except (ValueError, TypeError) as exc:
        raise TypeError(f"X has sparse columns that could not be read as numbers ({exc}); "
                        "convert them with X.astype(pd.SparseDtype(float, 0.0)).") from None


def check_sparse_X(X):
    """Validate a ``scipy.sparse`` X: a CSR matrix of float32 or float64 with finite values.

    CSR input of a float dtype is used as it is; other formats (CSC, COO, ...) and dtypes are
    converted once (a copy). The index arrays are checked, so that a damaged matrix is refused
    here rather than read out of bounds by a kernel.

    Returns
    -------
    scipy.sparse.csr_matrix or csr_array
    """
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D of shape (n_samples, n_features), got a sparse X of "
                         f"shape {X.shape}.")
    X = X.tocsr()
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError(f"X is complex ({X.dtype}); fastgd fits real-valued models: pass the "
                        "real part (X.real).")
    if kind not in "fbiu":
        raise TypeError(f"X must hold real numbers, got a sparse X of dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32 if kind == "f" and X.dtype.itemsize < 4 else np.float64)
    if not X.data.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    _check_csr_indices(X)
    bad = np.flatnonzero(~np.isfinite(X.data))
    if bad.size:
        row = int(np.searchsorted(X.indptr, bad[0], side="right") - 1)
        raise ValueError(
            f"X contains {X.data[bad[0]]} at index ({row}, {int(X.indices[bad[0]])}) and "
            f"{bad.size - 1} more non-finite entries; drop or impute those rows before fitting.")
    return X


def _check_csr_indices(X):
    """Raise ValueError unless the index arrays of the CSR matrix X are consistent."""
    n, d = X.shape
    indptr, indices = X.indptr, X.indices
    problem = None
    if indptr.shape != (n + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        problem = "its indptr is not a non-decreasing array of n_samples + 1 offsets from 0"
    elif indptr[-1] != len(indices) or len(indices) != len(X.data):
        problem = "its indptr, indices and data disagree in length"
    elif len(indices) and (indices.min() < 0 or indices.max() >= d):
        problem = f"it has column indices outside 0..{d - 1}"
    if problem:
        raise ValueError(f"X is a damaged sparse matrix: {problem}. Rebuild it, for example "
                         "with scipy.sparse.csr_matrix((data, (rows, cols)), shape=(n, d)).")


def check_X(X, n_features=None):
    """Validate a 2-D feature array (training or prediction input).

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        A pandas DataFrame with sparse columns is taken as a sparse matrix.
    n_features : int, optional
        The number of columns X must have (that of the fitted model).

    Returns
    -------
    ndarray or scipy.sparse CSR matrix
        float32 or float64; C-contiguous when dense (:func:`check_sparse_X` when sparse).
    """
    frame = _sparse_frame(X)
    sparse = frame is not None or is_sparse(X)
    if sparse:
        X = check_sparse_X(X if frame is None else frame)
    else:
        X = as_float_array(X, "X")
    if X.ndim != 2:
        hint = " (one feature: pass X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ValueError(f"X must be 2-D of shape (n_samples, n_features), got shape "
                         f"{X.shape}{hint}.")
    if X.shape[0] == 0:
        raise ValueError("X has no rows: pass at least one sample.")
    if X.shape[1] == 0:
        raise ValueError("X has no columns: pass at least one feature.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model was fitted with "
                         f"{n_features}; pass the same columns as in the fit.")
    if sparse:
        return X
    check_finite(X, "X")
    return np.ascontiguousarray(X)


def check_positive_int(value, name):
    """Return ``value`` as an int if it is an integer >= 1, else raise TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, _INTEGERS):
        raise TypeError(f"{name} must be a positive integer, got {value!r} "
                        f"({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1), got {value}.")
    return int(value)


def check_n_jobs(n_jobs):
    """Threads of one fit: ``None`` is 1, a negative ``n_jobs`` counts back from the cores
    (-1: all of them, -2: all but one), as in scikit-learn."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, _INTEGERS):
        raise TypeError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r} "
                        f"({type(n_jobs).__name__}).")
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0: pass None or 1 for one thread, -1 for every "
                         "core, or a number of threads.")
    if n_jobs > 0:
        return int(n_jobs)
    return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))


def check_bool(value, name):
    """Return ``value`` if it is a bool (NumPy bools included), else raise TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_tol(tol):
    """Return ``tol`` as a float >= 0, or None (no stopping rule)."""
    if tol is None:
        return None
    if isinstance(tol, bool) or not isinstance(tol, _REALS):
        raise TypeError(f"tol must be a number >= 0 or None, got {tol!r}.")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0 or None (run every epoch), "
                         f"got {tol!r}.")
    return float(tol)


def check_learning_rate(learning_rate):
    """Return ``"auto"`` or a :class:`fastgd.schedules.Schedule`."""
    if isinstance(learning_rate, schedules.Schedule):
        return learning_rate
    if isinstance(learning_rate, str):
        return "auto" if learning_rate == "auto" else schedules.from_name(learning_rate)
    raise TypeError(
        f"learning_rate must be one of {', '.join(map(repr, schedules.SCHEDULE_NAMES))} or a "
        f"schedule object such as fastgd.schedules.Constant(0.01), got {learning_rate!r}."
    )


def check_backend(backend):
    """Return ``backend`` if it names a backend, else raise ValueError."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}: use one of "
                         f"{', '.join(map(repr, BACKENDS))}.")
    return backend


def check_random_state(random_state):
    """Turn ``random_state`` into a 63-bit seed.

    The seed is used as it is: the kernels' SplitMix64 generator and NumPy's ``default_rng``
    both scramble their seed, so nearby integers give unrelated streams.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        None draws fresh entropy from the operating system; an int gives the same seed every
        time; a generator is advanced by one draw.

    Returns
    -------
    int
    """
    if random_state is None:
        return int.from_bytes(os.urandom(8), "little") >> 1
    if isinstance(random_state, _INTEGERS) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}.")
        return int(random_state) % _SEED_RANGE
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, _SEED_RANGE))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, _SEED_RANGE, dtype=np.int64))
    raise TypeError(f"random_state must be None, an int or a numpy.random.Generator, got "
                    f"{random_state!r}.")


def check_options(*, batch_size, epochs, learning_rate, fit_intercept, loss, epsilon, quantile,
                  penalty, alpha, l1_ratio, early_stopping, validation_fraction, shuffle,
                  drop_last, tol, n_iter_no_change):
    """The validated keyword options of a fit (``fastgd.fit``'s names), as ``prepare`` takes
    them.

    Returns
    -------
    dict
    """
    loss, epsilon, quantile = check_loss(loss, epsilon, quantile)
    return dict(
        batch_size=check_positive_int(batch_size, "batch_size"),
        epochs=check_positive_int(epochs, "epochs"),
        learning_rate=check_learning_rate(learning_rate),
        fit_intercept=check_bool(fit_intercept, "fit_intercept"),
        loss=loss,
        epsilon=epsilon,
        quantile=quantile,
        penalty=check_penalty(penalty),
        alpha=check_real(alpha, "alpha", 0.0, np.inf, high_open=True),
        l1_ratio=check_real(l1_ratio, "l1_ratio", 0.0, 1.0),
        early_stopping=check_bool(early_stopping, "early_stopping"),
        validation_fraction=check_real(validation_fraction, "validation_fraction", 0.0, 1.0,
                                         low_open=True, high_open=True),
        shuffle=check_bool(shuffle, "shuffle"),
        drop_last=check_bool(drop_last, "drop_last"),
        tol=check_tol(tol),
        n_iter_no_change=check_positive_int(n_iter_no_change, "n_iter_no_change"),
    )


def check_data(X, y, sample_weight):
    """The validated X, y and sample weights (None for unit weights).

    Returns
    -------
    X, y, weights
    """
    X, y = check_X_y(X, y)
    return X, y, check_sample_weight(sample_weight, X.shape[0])
