"""The ``fit`` and ``predict`` commands: data files in, models and predictions out.

Every problem with the input (a file, a column, a cell, a flag) becomes a :class:`CommandError`
with one line that says which and what; ``fastgd.__main__`` prints it and exits with status 2.
Files are written only once everything they depend on has been read and checked.
"""

import csv
import dataclasses
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .. import schedules
from .._fit import fit
from .._results import load
from ..exceptions import DivergenceError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
ARRAY_SUFFIXES = (".npy", ".npz")
SVMLIGHT_SUFFIXES = (".svm", ".libsvm", ".svmlight")
#: Coefficients printed after a fit: above this many, the largest in magnitude.
MAX_PRINTED = 20


class CommandError(Exception):
    """A problem with the command's input, explained in one line."""


def add_fit_arguments(parser):
    """The ``fit`` command's arguments (the options of ``fastgd.fit`` as flags)."""
    parser.add_argument("data", help="CSV with a header row, Parquet, .npy (2-D), .npz "
                        "(arrays X and y, or a sparse matrix saved by scipy.sparse.save_npz) "
                        "or svmlight (.svm, .libsvm: sparse rows with their targets)")
    parser.add_argument("--target", action="append",
                        help="target column: a name (CSV, Parquet) or an index (.npy, sparse "
                        ".npz); repeat for several targets")
    parser.add_argument("--features", nargs="+", help="feature columns (default: all others)")
    parser.add_argument("--sample-weight", help="column of sample weights")
    parser.add_argument("--out", help="save the fitted model as JSON here")
    parser.add_argument("--plot", help="save the loss curve as an image here (matplotlib)")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", action="store_true", default=None,
                          help="show a progress bar (default: on a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    options = parser.add_argument_group("options of fastgd.fit")
    options.add_argument("--batch-size", type=int, default=32)
    options.add_argument("--epochs", type=int, default=1000)
    options.add_argument("--learning-rate", default="auto",
                         help="auto, a schedule name, or name:params such as constant:0.01 or "
                         "inverse_time:5,500")
    options.add_argument("--no-intercept", dest="fit_intercept", action="store_false")
    options.add_argument("--penalty", choices=["l2", "l1", "elasticnet"])
    options.add_argument("--alpha", type=float, default=0.0001)
    options.add_argument("--l1-ratio", type=float, default=0.15)
    options.add_argument("--average", nargs="?", type=int, const=True, default=False,
                         help="average the iterates (from update N, if given)")
    options.add_argument("--early-stopping", action="store_true")
    options.add_argument("--validation-fraction", type=float, default=0.1)
    options.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    options.add_argument("--drop-last", action="store_true")
    options.add_argument("--tol", type=number_or_none, default=1e-4, help="a number, or none")
    options.add_argument("--n-iter-no-change", type=int, default=5)
    options.add_argument("--random-state", type=int)
    options.add_argument("--backend", choices=["auto", "numba", "numpy"], default="auto")


def add_predict_arguments(parser):
    """The ``predict`` command's arguments."""
    parser.add_argument("model", help="a model saved by `fastgd fit --out`")
    parser.add_argument("data", help="rows to predict, in any format `fit` reads")
    parser.add_argument("--out", help="write the predictions here as CSV (default: stdout)")


def run_fit(args):
    """Fit a model to a data file; print it, and save it and its loss curve if asked."""
    for path, suffixes in ((args.out, (".json",)), (args.plot, None)):
        if path is not None:
            _check_writable(path, suffixes)
    X, Y, weights, features, targets = read_training_data(
        args.data, args.target, args.features, args.sample_weight)
    if args.plot is not None:
        _pyplot(args.plot)  # before the fit: a missing matplotlib must not cost a long fit
    try:
        with warnings.catch_warnings():  # an interrupted fit: reported below, in one line
            warnings.filterwarnings("ignore", "The fit was interrupted", RuntimeWarning)
            result = fit(X, Y, sample_weight=weights, batch_size=args.batch_size,
                         epochs=args.epochs, learning_rate=_learning_rate(args.learning_rate),
                         fit_intercept=args.fit_intercept, penalty=args.penalty,
                         alpha=args.alpha, l1_ratio=args.l1_ratio, average=args.average,
                         early_stopping=args.early_stopping,
                         validation_fraction=args.validation_fraction, shuffle=args.shuffle,
                         drop_last=args.drop_last, tol=args.tol,
                         n_iter_no_change=args.n_iter_no_change, random_state=args.random_state,
                         backend=args.backend, progress=args.progress)
    except (ValueError, TypeError, DivergenceError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    result = dataclasses.replace(result, metadata={
        "data": str(args.data), "features": features, "target": targets})
    _print_model(result, features, targets)
    if args.out is not None:
        _write_atomically(args.out, result.to_json())
        print(f"model saved to {args.out}")
    if args.plot is not None:
        axes = result.plot_loss()
        axes.figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"loss curve saved to {args.plot}")
    if result.interrupted:
        print(f"interrupted: the model is that of epoch {result.n_epochs}", file=sys.stderr)
        return 130
    return 0


def run_predict(args):
    """Predict with a saved model; write CSV to ``--out`` or stdout."""
    if args.out is not None:
        _check_writable(args.out, None)
    try:
        model = load(args.model)
    except FileNotFoundError:
        raise CommandError(f"{args.model}: no such file") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    features = model.metadata.get("features")
    targets = model.metadata.get("target") or ["prediction"]
    X = read_features(args.data, features, model.coef.shape[-1])
    predictions = model.predict(X).reshape(X.shape[0], -1)
    if len(targets) != predictions.shape[1]:
        targets = [f"prediction_{t}" for t in range(predictions.shape[1])]
    lines = [",".join(map(str, targets))]
    lines += [",".join(repr(float(v)) for v in row) for row in predictions]
    text = "\n".join(lines) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        _write_atomically(args.out, text)
    return 0


def read_training_data(path, targets, features, weight_column):
    """Read X, Y (1-D for one target), weights and the column names from a data file.

    Returns
    -------
    X, Y, weights, feature_names, target_names
    """
    suffix = _suffix(path)
    if suffix == ".svm":
        if targets or features or weight_column:
            raise CommandError(f"{path}: an svmlight file holds the targets with its rows; "
                               "--target, --features and --sample-weight are for tables")
        X, y = _read_svmlight(path)
        return X, y, None, [str(j) for j in range(X.shape[1])], ["y"]
    if suffix == ".npz" and _is_sparse_npz(path):
        return _sparse_training_data(path, targets, features, weight_column)
    if suffix == ".npz":
        arrays = _read_npz(path)
        if targets or features or weight_column:
            raise CommandError(f"{path}: an .npz file holds arrays X and y (and optionally "
                               "sample_weight); --target, --features and --sample-weight are "
                               "for tables and .npy")
        X, y = _array(arrays, "X", path, 2), _array(arrays, "y", path, None)
        weights = _array(arrays, "sample_weight", path, 1) if "sample_weight" in arrays else None
        names = [f"x{j}" for j in range(X.shape[1])]
        target_names = (["y"] if y.ndim == 1 else [f"y{t}" for t in range(y.shape[1])])
        return X, y, weights, names, target_names
    table, columns = _read_table(path, suffix)
    if not targets:
        raise CommandError(f"{path}: name the target column with --target (columns: "
                           f"{_listing(columns)})")
    target_columns = [_column(columns, name, path) for name in targets]
    weight_index = None if weight_column is None else _column(columns, weight_column, path)
    taken = set(target_columns) | ({weight_index} - {None})
    feature_columns = ([_column(columns, name, path) for name in features] if features else
                       [j for j in range(len(columns)) if j not in taken])
    if not feature_columns:
        raise CommandError(f"{path}: no feature columns are left besides the target")
    overlap = set(feature_columns) & taken
    if overlap:
        raise CommandError(f"{path}: column {columns[min(overlap)]!r} is both a feature and "
                           "the target or weight")
    Y = table[:, target_columns]
    weights = None if weight_index is None else table[:, weight_index]
    return (table[:, feature_columns], Y[:, 0] if len(target_columns) == 1 else Y, weights,
            [columns[j] for j in feature_columns], [columns[j] for j in target_columns])


def read_features(path, features, n_features):
    """Read the feature matrix a saved model needs from a data file."""
    suffix = _suffix(path)
    if suffix == ".svm":
        return _read_svmlight(path, n_features)[0]
    if suffix == ".npz" and _is_sparse_npz(path):
        X = _read_sparse_npz(path)
        if X.shape[1] != n_features and features is not None:
            X = X[:, [_column([str(j) for j in range(X.shape[1])], name, path)
                      for name in features]]
        if X.shape[1] != n_features:
            raise CommandError(f"{path}: has {X.shape[1]} columns, the model takes "
                               f"{n_features} features")
        return X
    if suffix == ".npz":
        return _array(_read_npz(path), "X", path, 2)
    table, columns = _read_table(path, suffix)
    if suffix != ".npy" and features is not None:
        return table[:, [_column(columns, name, path) for name in features]]
    if table.shape[1] == n_features:
        return table
    if suffix == ".npy" and features is not None:  # the training file, target column included
        return table[:, [_column(columns, name, path) for name in features]]
    raise CommandError(f"{path}: has {table.shape[1]} columns, the model takes {n_features} "
                       "features")


def _read_table(path, suffix):
    """A 2-D float array and its column names (indices as strings for .npy)."""
    if suffix == ".npy":
        try:
            table = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: cannot read as .npy ({_first_line(exc)})") from None
        if table.ndim != 2:
            raise CommandError(f"{path}: holds an array of shape {table.shape}; a 2-D array "
                               "of rows is needed")
        table = _as_float(table, path)
        columns = [str(j) for j in range(table.shape[1])]
    elif suffix == ".csv":
        table, columns = _read_csv(path)
    else:
        table, columns = _read_parquet(path)
    if table.shape[0] == 0:
        raise CommandError(f"{path}: has no data rows")
    bad = np.argwhere(~np.isfinite(table))
    if len(bad):
        row, column = bad[0]
        raise CommandError(f"{path}: row {row + 1}, column {columns[column]!r}: "
                           f"{table[row, column]} is not a finite number")
    return table, columns


def _read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise CommandError(f"{path}: is empty; a header row and data rows are needed")
            columns = [name.strip() for name in header]
            if len(set(columns)) != len(columns) or "" in columns:
                raise CommandError(f"{path}: the header row needs distinct, non-empty column "
                                   f"names, got {_listing(columns)}")
            rows = []
            for number, row in enumerate(reader, start=1):
                if not row:
                    continue
                if len(row) != len(columns):
                    raise CommandError(f"{path}: row {number} has {len(row)} cells, the header "
                                       f"{len(columns)}")
                rows.append(row)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"{path}: cannot read as CSV ({_first_line(exc)})") from None
    cells = np.array(rows, dtype=object).reshape(len(rows), len(columns))
    table = np.empty(cells.shape)
    for j, name in enumerate(columns):
        try:
            table[:, j] = np.array([cell.strip() for cell in cells[:, j]], dtype=np.float64)
        except ValueError:
            for number, cell in enumerate(cells[:, j], start=1):
                try:
                    float(cell)
                except ValueError:
                    raise CommandError(f"{path}: row {number}, column {name!r}: {cell!r} is not "
                                       "a number") from None
    return table, columns


def _read_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CommandError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") \
            from None
    try:
        frame = pq.read_table(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow raises its own many kinds
        raise CommandError(f"{path}: cannot read as Parquet ({_first_line(exc)})") from None
    columns = [str(name) for name in frame.column_names]
    table = np.empty((frame.num_rows, len(columns)))
    for j, name in enumerate(columns):
        try:
            table[:, j] = frame.column(j).to_numpy(zero_copy_only=False).astype(np.float64)
        except (TypeError, ValueError):
            raise CommandError(f"{path}: column {name!r} is not numeric "
                               f"({frame.schema.field(j).type})") from None
    return table, columns


def _read_svmlight(path, n_features=None):
    """The sparse rows and targets of an svmlight file (scikit-learn's reader)."""
    try:
        from sklearn.datasets import load_svmlight_file
    except ImportError:
        raise CommandError(f"{path}: reading svmlight files needs scikit-learn (pip install "
                           "scikit-learn)") from None
    try:
        X, y = load_svmlight_file(str(path), n_features=n_features)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(f"{path}: cannot read as svmlight ({_first_line(exc)})") from None
    if X.shape[0] == 0:
        raise CommandError(f"{path}: has no data rows")
    bad = np.flatnonzero(~np.isfinite(X.data))
    if len(bad) or not np.all(np.isfinite(y)):
        raise CommandError(f"{path}: holds a value that is not a finite number (nan or inf)")
    return X, y


def _is_sparse_npz(path):
    """Whether an .npz file is a sparse matrix saved by ``scipy.sparse.save_npz``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return "format" in archive.files and "shape" in archive.files
    except (OSError, ValueError):
        return False  # _read_npz says what is wrong


def _read_sparse_npz(path):
    import scipy.sparse as sp

    try:
        X = sp.load_npz(path).tocsr()
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot read as a sparse matrix ({_first_line(exc)})") \
            from None
    if X.dtype.kind not in "biuf":
        raise CommandError(f"{path}: the matrix is not numeric (dtype {X.dtype})")
    X = X.astype(np.float64) if X.dtype.kind != "f" else X
    if not np.all(np.isfinite(X.data)):
        raise CommandError(f"{path}: holds a value that is not a finite number (nan or inf)")
    return X


def _sparse_training_data(path, targets, features, weight_column):
    """X, y and names from a sparse .npz matrix whose target is a column (``--target J``)."""
    X = _read_sparse_npz(path)
    columns = [str(j) for j in range(X.shape[1])]
    if not targets:
        raise CommandError(f"{path}: name the target column of the matrix with --target "
                           f"(an index from 0 to {X.shape[1] - 1})")
    target_columns = [_column(columns, name, path) for name in targets]
    weight_index = [] if weight_column is None else [_column(columns, weight_column, path)]
    taken = set(target_columns) | set(weight_index)
    feature_columns = ([_column(columns, name, path) for name in features] if features else
                       [j for j in range(len(columns)) if j not in taken])
    if set(feature_columns) & taken or not feature_columns:
        raise CommandError(f"{path}: the feature columns must be others than the target and "
                           "weight columns")
    Y = X[:, target_columns].toarray()
    weights = X[:, weight_index].toarray()[:, 0] if weight_index else None
    return (X[:, feature_columns], Y[:, 0] if len(target_columns) == 1 else Y, weights,
            [columns[j] for j in feature_columns], [columns[j] for j in target_columns])


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot read as .npz ({_first_line(exc)})") from None


def _array(arrays, key, path, ndim):
    if key not in arrays:
        raise CommandError(f"{path}: has no array {key!r} (arrays: {_listing(arrays)})")
    array = _as_float(arrays[key], path, key)
    if ndim is not None and array.ndim != ndim:
        raise CommandError(f"{path}: array {key!r} has shape {array.shape}, a {ndim}-D array "
                           "is needed")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        raise CommandError(f"{path}: array {key!r} holds {array[tuple(bad[0])]} at index "
                           f"{tuple(int(i) for i in bad[0])}")
    return array


def _as_float(array, path, key=None):
    if array.dtype.kind not in "biuf":
        where = f"array {key!r}" if key else "the array"
        raise CommandError(f"{path}: {where} is not numeric (dtype {array.dtype})")
    return array.astype(np.float64) if array.dtype.kind != "f" else array


def _column(columns, name, path):
    if name in columns:
        return columns.index(name)
    raise CommandError(f"{path}: no column {name!r} (columns: {_listing(columns)})")


def _learning_rate(text):
    name, _, params = text.partition(":")
    if not params:
        return name
    if name not in schedules.SCHEDULE_NAMES or name == "auto":
        raise CommandError(f"--learning-rate {text!r}: unknown schedule {name!r} (use one of "
                           f"{_listing(schedules.SCHEDULE_NAMES)})")
    try:
        values = [float(value) for value in params.split(",")]
        return type(schedules.from_name(name))(*values)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"--learning-rate {text!r}: {exc}") from None


def number_or_none(text):
    """A float, or None for "none" (argparse names this function in its messages)."""
    return None if text.lower() == "none" else float(text)


def _suffix(path):
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES + ARRAY_SUFFIXES + SVMLIGHT_SUFFIXES:
        raise CommandError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv, "
                           ".parquet, .npy, .npz or .svm (.libsvm)")
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file")
    if suffix in SVMLIGHT_SUFFIXES:
        return ".svm"
    return ".parquet" if suffix == ".pq" else suffix


def _check_writable(path, suffixes):
    if suffixes is not None and Path(path).suffix.lower() not in suffixes:
        raise CommandError(f"{path}: the file name should end in {' or '.join(suffixes)}")
    folder = Path(path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CommandError(f"{path}: cannot write in {folder}")


def _write_atomically(path, text):
    folder = Path(path).resolve().parent
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8",
                                     suffix=".tmp") as file:
        file.write(text)
    os.replace(file.name, path)


def _pyplot(path):
    try:
        import matplotlib
    except ImportError:
        raise CommandError('--plot needs matplotlib: pip install "fastgd[plot]"') from None
    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    if Path(path).suffix.lower().lstrip(".") not in kinds:
        raise CommandError(f"{path}: --plot writes {', '.join('.' + k for k in sorted(kinds))}; "
                           "name the file with one of these")


def _print_model(result, features, targets):
    coef = np.reshape(result.coef, (len(targets), -1))
    intercept = np.reshape(result.intercept, -1)
    status = ("converged" if result.converged else
              "interrupted" if result.interrupted else "stopped at the epoch budget")
    print(f"fitted in {result.n_epochs} epochs ({status}), {result.n_updates} updates, "
          f"learning rate {result.learning_rate}")
    for t, target in enumerate(targets):
        loss = np.reshape(result.loss_history, (result.n_epochs, -1))[-1, t]
        print(f"{target}: intercept {intercept[t]:.6g}, training loss {loss:.6g}")
        shown = range(len(features))
        if len(features) > MAX_PRINTED:
            shown = np.sort(np.argsort(-np.abs(coef[t]), kind="stable")[:MAX_PRINTED])
            print(f"  ({MAX_PRINTED} coefficients of largest magnitude of {len(features)})")
        for j in shown:
            print(f"  {features[j]}: {coef[t, j]:.6g}")


def _listing(names):
    names = list(names)
    shown = ", ".join(map(repr, names[:12]))
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
