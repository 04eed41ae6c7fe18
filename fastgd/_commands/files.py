"""Data files of the command line: what ``fit`` and ``predict`` read, in every format.

CSV and Parquet tables go through ``tables`` (pyarrow); ``.npy`` is a 2-D array whose columns
are named by their index; ``.npz`` holds arrays ``X`` and ``y`` (and ``sample_weight``), or a
sparse matrix saved by ``scipy.sparse.save_npz`` whose target is a column; svmlight files
(``.svm``, ``.libsvm``) hold sparse rows with their targets.
"""

import os
import sys
from pathlib import Path

import numpy as np

from . import tables
from .errors import CommandError, first_line, listing

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
ARRAY_SUFFIXES = (".npy", ".npz")
SVMLIGHT_SUFFIXES = (".svm", ".libsvm", ".svmlight")


def read_training_data(path, targets, features, weight_column, categorical=(),
                       drop_missing=False):
    """Read X, Y (1-D for one target), weights and the names from a data file.

    Returns
    -------
    X, Y, weights, feature_names, target_names
    inputs : list of (str, list or None), or None
        For tables: the columns X is made of, each with its categories (one-hot encoded) or
        None (numeric); what ``predict`` needs to make X again.
    """
    suffix = _suffix(path)
    if suffix in (".csv", ".parquet"):
        return _table_training_data(path, suffix, targets or [], features, weight_column,
                                    categorical or [], drop_missing)
    if categorical or drop_missing:
        raise CommandError(f"{path}: --categorical and --drop-missing are for CSV and Parquet "
                           "tables")
    if suffix == ".svm":
        if targets or features or weight_column:
            raise CommandError(f"{path}: an svmlight file holds the targets with its rows; "
                               "--target, --features and --sample-weight are for tables")
        X, y = _read_svmlight(path)
        return X, y, None, [str(j) for j in range(X.shape[1])], ["y"], None
    if suffix == ".npz" and _is_sparse_npz(path):
        return (*_sparse_training_data(path, targets, features, weight_column), None)
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
        return X, y, weights, names, target_names, None
    table = _read_npy(path)
    return (*_columns_of(table, [str(j) for j in range(table.shape[1])], path, targets,
                         features, weight_column), None)


def _columns_of(table, columns, path, targets, features, weight_column):
    """X, Y, weights and names from the columns of a 2-D array."""
    if not targets:
        raise CommandError(f"{path}: name the target column with --target (columns: "
                           f"{listing(columns)})")
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


def _choose_columns(table, path, targets, features, weight_column, categorical):
    """The columns a fit takes from a table (its first block, when it is streamed).

    Returns
    -------
    taken : list of str
        The targets and the weight column.
    chosen : list of (str, bool)
        The feature columns, each with whether it is categorical.
    ignored : list of str
        Text columns left out.
    """
    columns = table.column_names
    if not targets:
        raise CommandError(f"{path}: name the target column with --target (columns: "
                           f"{listing(columns)})")
    for name in [*targets, *([weight_column] if weight_column else []), *(features or []),
                 *categorical]:
        _column(columns, name, path)
    taken = [*targets, *([weight_column] if weight_column else [])]
    if features:
        chosen = [*features, *(name for name in categorical if name not in features)]
        ignored = []
    else:
        chosen = [name for name in columns if name not in taken and (
            name in categorical or not _is_text(table, name))]
        ignored = [name for name in columns if name not in taken and name not in chosen]
    overlap = [name for name in chosen if name in taken]
    if overlap:
        raise CommandError(f"{path}: column {overlap[0]!r} is both a feature and the target or "
                           "weight")
    if not chosen:
        raise CommandError(f"{path}: no feature columns are left besides the target")
    return taken, [(name, name in categorical or _is_text(table, name)) for name in chosen], \
        ignored


def _notes(path, ignored, dropped):
    """Notes once the data are read (an error stays the only line)."""
    if ignored:
        print(f"note: {path}: non-numeric columns left out: {listing(ignored)} (use them as "
              "categories with --categorical)", file=sys.stderr)
    if dropped:
        print(f"note: {path}: dropped {dropped} rows with a missing value", file=sys.stderr)


def _table_training_data(path, suffix, targets, features, weight_column, categorical,
                         drop_missing):
    """:func:`read_training_data` of a CSV or Parquet table."""
    table = tables.read_table(path, suffix)
    taken, chosen, ignored = _choose_columns(table, path, targets, features, weight_column,
                                             categorical)
    dropped = 0
    if drop_missing:
        table, dropped = tables.drop_missing(table, [*taken, *(name for name, _ in chosen)])
        if table.num_rows == 0:
            raise CommandError(f"{path}: every row misses a value in a column in use")
    inputs = [(name, tables.levels(table, name, path) if text else None)
              for name, text in chosen]
    X, names = tables.encode(table, inputs, path)
    Y = np.column_stack([tables.numeric(table, name, path) for name in targets])
    weights = None if weight_column is None else tables.numeric(table, weight_column, path)
    _notes(path, ignored, dropped)
    return X, Y[:, 0] if len(targets) == 1 else Y, weights, names, list(targets), inputs


#: Bytes of a table file read at a time when it is streamed.
BLOCK_BYTES = 1 << 20


def stream_training_data(path, targets, features, weight_column, categorical, drop_missing,
                         folder, block_bytes=BLOCK_BYTES):
    """:func:`read_training_data` of a CSV or Parquet table larger than memory: the file is
    read in blocks of rows, twice (the categories first, when there are categorical columns),
    and X, Y and the weights are written to binary files in ``folder``; they are returned as
    read-only memory maps of them (``fastgd.fit`` then reads them a chunk at a time).
    """
    suffix, first = _streamed_head(path, block_bytes)
    taken, chosen, ignored = _choose_columns(first, path, targets or [], features,
                                             weight_column, categorical or [])
    used = [*taken, *(name for name, _ in chosen)]
    text = {name for name, is_text in chosen if is_text}
    types = tables.block_types(first, used, text)

    def blocks():  # each block, the file's row number of its first row, its rows dropped
        for block, first_row in tables.read_blocks(path, suffix, types, block_bytes):
            dropped = 0
            if drop_missing:
                block, dropped = tables.drop_missing(block, used)
            yield block, first_row, dropped

    found = {name: set() for name in text}
    if found:
        for block, first_row, _ in blocks():
            for name in found:
                found[name].update(tables.levels(block, name, path, first_row))
    inputs = [(name, sorted(found[name]) if name in found else None) for name, _ in chosen]
    files = {part: Path(folder) / f"{part}.bin" for part in ("X", "Y", "weights")}
    n_rows = n_dropped = 0
    with open(files["X"], "wb") as fx, open(files["Y"], "wb") as fy, \
            open(files["weights"], "wb") as fw:
        for block, first_row, dropped in blocks():
            X, names = tables.encode(block, inputs, path, first_row, dense=True)
            X.tofile(fx)
            np.column_stack([tables.numeric(block, name, path, first_row=first_row)
                             for name in targets]).tofile(fy)
            if weight_column is not None:
                tables.numeric(block, weight_column, path, first_row=first_row).tofile(fw)
            n_rows += block.num_rows
            n_dropped += dropped
    if n_rows == 0:
        raise CommandError(f"{path}: every row misses a value in a column in use")
    X = np.memmap(files["X"], np.float64, "r", shape=(n_rows, len(names)))
    Y = np.memmap(files["Y"], np.float64, "r", shape=(n_rows, len(targets)))
    weights = (None if weight_column is None else
               np.memmap(files["weights"], np.float64, "r", shape=(n_rows,)))
    _notes(path, ignored, n_dropped)
    return X, Y[:, 0] if len(targets) == 1 else Y, weights, names, list(targets), inputs


def _is_text(table, name):
    """Whether a column holds text rather than numbers (a numeric column with a bad cell is
    numbers: its bad cell is then named)."""
    return not (tables.is_numeric(table, name) or tables.holds_numbers(table, name))


def read_features(path, metadata, n_features):
    """Read the feature matrix a saved model needs from a data file.

    ``metadata`` is the model's: its ``inputs`` (or ``features``) name the columns to take.
    """
    suffix = _suffix(path)
    features = metadata.get("features")
    if suffix in (".csv", ".parquet"):
        table = tables.read_table(path, suffix)
        X, _ = tables.encode(table, _model_inputs(metadata, table, path), path)
    elif suffix == ".svm":
        return _read_svmlight(path, n_features)[0]
    elif suffix == ".npz" and _is_sparse_npz(path):
        X = _read_sparse_npz(path)
        if X.shape[1] != n_features and features is not None:
            X = X[:, [_column([str(j) for j in range(X.shape[1])], name, path)
                      for name in features]]
    elif suffix == ".npz":
        X = _array(_read_npz(path), "X", path, 2)
    else:
        X = _read_npy(path)
        if X.shape[1] != n_features and features is not None:
            X = X[:, [_column([str(j) for j in range(X.shape[1])], name, path)
                      for name in features]]
    if X.shape[1] != n_features:
        raise CommandError(f"{path}: has {X.shape[1]} columns, the model takes {n_features} "
                           "features")
    return X


def _model_inputs(metadata, table, path):
    """The columns of ``table`` a saved model takes, each with its categories or None."""
    features = metadata.get("features")
    inputs = metadata.get("inputs") or (
        [(name, None) for name in features] if features else None)
    if inputs is None:
        inputs = [(name, None) for name in table.column_names]
    for name, _ in inputs:
        _column(table.column_names, name, path)
    return [(name, categories) for name, categories in inputs]


def stream_features(path, metadata, n_features, block_bytes=BLOCK_BYTES):
    """:func:`read_features` of a CSV or Parquet table larger than memory: its feature
    matrix a block of rows at a time (a generator of dense arrays)."""
    suffix, first = _streamed_head(path, block_bytes)
    inputs = _model_inputs(metadata, first, path)
    width = sum(1 if categories is None else len(categories) for _, categories in inputs)
    if width != n_features:
        raise CommandError(f"{path}: has {width} feature columns, the model takes {n_features} "
                           "features")
    types = tables.block_types(first, [name for name, _ in inputs],
                               {name for name, categories in inputs if categories is not None})
    for block, first_row in tables.read_blocks(path, suffix, types, block_bytes):
        yield tables.encode(block, inputs, path, first_row, dense=True)[0]


def _streamed_head(path, block_bytes):
    """The kind of a table file read a block at a time, and its first block."""
    suffix = _suffix(path)
    if suffix not in (".csv", ".parquet"):
        raise CommandError(f"{path}: --stream is for CSV and Parquet tables")
    return suffix, tables.head(path, suffix, block_bytes)


def _read_npy(path):
    """A 2-D array of finite floats from an .npy file."""
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CommandError(f"{path}: cannot read as .npy ({first_line(exc)})") from None
    if table.ndim != 2:
        raise CommandError(f"{path}: holds an array of shape {table.shape}; a 2-D array of "
                           "rows is needed")
    table = _as_float(table, path)
    if table.shape[0] == 0:
        raise CommandError(f"{path}: has no data rows")
    bad = np.argwhere(~np.isfinite(table))
    if len(bad):
        row, column = bad[0]
        raise CommandError(f"{path}: row {row + 1}, column '{column}': {table[row, column]} is "
                           "not a finite number")
    return table


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
        raise CommandError(f"{path}: cannot read as svmlight ({first_line(exc)})") from None
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
        raise CommandError(f"{path}: cannot read as a sparse matrix ({first_line(exc)})") \
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
        raise CommandError(f"{path}: cannot read as .npz ({first_line(exc)})") from None


def _array(arrays, key, path, ndim):
    if key not in arrays:
        raise CommandError(f"{path}: has no array {key!r} (arrays: {listing(arrays)})")
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
    raise CommandError(f"{path}: no column {name!r} (columns: {listing(columns)})")


def _suffix(path):
    """The kind of a data file by its suffix: .csv, .parquet, .npy, .npz or .svm."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES + ARRAY_SUFFIXES + SVMLIGHT_SUFFIXES:
        raise CommandError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv, "
                           ".parquet, .npy, .npz or .svm (.libsvm)")
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file")
    if suffix in SVMLIGHT_SUFFIXES:
        return ".svm"
    return ".parquet" if suffix == ".pq" else suffix
