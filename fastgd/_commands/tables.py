"""CSV and Parquet tables, read with pyarrow: the columns a fit uses as float arrays, categorical
columns one-hot encoded, and every bad cell named by file, row, column and value.

Only the columns in use are converted; the others may hold anything (ids, names, dates).
pyarrow reads quoted fields, CRLF line ends and a UTF-8 byte-order mark as a user expects, and
takes the usual spellings of a missing value (an empty cell, NA, N/A, NaN, null, ...) as
missing. A missing value in a used column is an error naming its row and column, unless the
rows with one are dropped (:func:`drop_missing`). Rows are numbered from 1, the header not
counted.
"""

import csv

import numpy as np

from .errors import CommandError, first_line, listing


def _pyarrow(path):
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError:
        raise CommandError(f"{path}: reading CSV and Parquet files needs pyarrow (pip install "
                           "pyarrow)") from None
    return pyarrow


def read_table(path, suffix):
    """The pyarrow Table of a CSV (``suffix`` ".csv") or Parquet file, with distinct, non-empty
    column names and at least one row."""
    pa = _pyarrow(path)
    invalid_rows = []

    def invalid(row):
        invalid_rows.append(row)
        return "error"

    try:
        if suffix == ".csv":
            table = pa.csv.read_csv(path, parse_options=pa.csv.ParseOptions(
                invalid_row_handler=invalid))
        else:
            table = pa.parquet.read_table(path)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow raises many kinds
        if invalid_rows:
            row = invalid_rows[0]
            raise CommandError(f"{path}: row {_row_number(path, row.actual_columns)} has "
                               f"{row.actual_columns} cells, the header "
                               f"{row.expected_columns}") from None
        if "Empty CSV file" in str(exc):
            raise CommandError(f"{path}: is empty; a header row and data rows are needed") \
                from None
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise CommandError(f"{path}: cannot read as {kind} ({first_line(exc)})") from None
    columns = [str(name) for name in table.column_names]
    if len(set(columns)) != len(columns) or "" in columns:
        raise CommandError(f"{path}: the header row needs distinct, non-empty column names, "
                           f"got {listing(columns)}")
    if table.num_rows == 0:
        raise CommandError(f"{path}: has no data rows")
    return table.rename_columns(columns)


def read_blocks(path, suffix, types, block_bytes):
    """The rows of a CSV or Parquet file in blocks of about ``block_bytes``: pairs of a pyarrow
    Table of the columns named in ``types``, each a pyarrow type (for CSV, the type it is read
    as; Parquet columns keep their own), and the file's number of the block's first row (the
    ``first_row`` of the functions here). A CSV cell that is not of its column's type is an
    error naming its row."""
    pa = _pyarrow(path)
    columns = list(types)
    first_row = 1
    try:
        if suffix == ".csv":
            batches = pa.csv.open_csv(path, read_options=pa.csv.ReadOptions(
                block_size=block_bytes), convert_options=pa.csv.ConvertOptions(
                    include_columns=columns, column_types=types))
        else:
            rows = max(1024, block_bytes // (8 * len(columns)))  # 8 bytes a cell, in memory
            batches = pa.parquet.ParquetFile(path).iter_batches(batch_size=rows, columns=columns)
        for batch in batches:
            yield pa.Table.from_batches([batch]), first_row
            first_row += batch.num_rows
    except pa.ArrowInvalid as exc:
        raise CommandError(f"{path}: {_bad_cell(path, types) or first_line(exc)}") from None


def block_types(table, columns, text):
    """The types the ``columns`` of a file whose first block is ``table`` are read as by
    :func:`read_blocks`: text for those in ``text``, booleans as booleans, any other as
    float64 (a column of integers in the first block may hold decimals further on)."""
    pa = _pyarrow("")
    return {name: pa.string() if name in text else pa.bool_()
            if pa.types.is_boolean(table.schema.field(name).type) else pa.float64()
            for name in columns}


def head(path, suffix, block_bytes):
    """The first block of rows of a CSV or Parquet file, with the types pyarrow infers."""
    pa = _pyarrow(path)
    try:
        if suffix == ".csv":
            table = pa.Table.from_batches([pa.csv.open_csv(path, read_options=pa.csv.ReadOptions(
                block_size=block_bytes)).read_next_batch()])
        else:
            table = pa.Table.from_batches([next(pa.parquet.ParquetFile(path).iter_batches(
                batch_size=1000))])
    except StopIteration:
        raise CommandError(f"{path}: has no data rows") from None
    except Exception as exc:  # pyarrow raises many kinds
        raise CommandError(f"{path}: cannot read ({first_line(exc)})") from None
    if table.num_rows == 0:
        raise CommandError(f"{path}: has no data rows")
    return table


def _bad_cell(path, types):
    """Where a CSV file first holds a cell that is not a number in a column read as one, for
    the error message: a second, plain read, only when reporting the error."""
    pa = _pyarrow(path)
    numbers = [name for name, kind in types.items() if pa.types.is_floating(kind)]
    missing = set(pa.csv.ConvertOptions().null_values)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as file:
        rows = csv.reader(file)
        header = next(rows, [])
        where = [(header.index(name), name) for name in numbers if name in header]
        for number, row in enumerate(rows, start=1):
            for j, name in where:
                value = row[j] if j < len(row) else ""
                try:
                    float(value)
                except ValueError:
                    if value not in missing:
                        return (f"row {number}, column {name!r}: {value!r} is not a number (for "
                                f"categories: --categorical {name})")
    return None


def _row_number(path, cells):
    """The number of the first data row of the CSV file with ``cells`` cells (pyarrow does not
    say it when reading in threads): a second, plain read, only when reporting the error."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as file:
        rows = csv.reader(file)
        header = next(rows, [])
        for number, row in enumerate(rows, start=1):
            if row and len(row) != len(header) and len(row) == cells:
                return number
    return "?"


def _to_numpy(column, dtype, out=None):
    """A pyarrow column without nulls, cast to ``dtype``, as one NumPy array (written into
    ``out`` when given), through its buffers: pyarrow's own ``to_numpy`` imports pandas (a
    quarter of a second)."""
    pa = _pyarrow("")
    dtype = np.dtype(dtype)
    out = np.empty(len(column), dtype) if out is None else out
    start = 0
    for chunk in pa.compute.cast(column, pa.from_numpy_dtype(dtype)).chunks:
        out[start:start + len(chunk)] = np.frombuffer(chunk.buffers()[1], dtype, len(chunk),
                                                      chunk.offset * dtype.itemsize)
        start += len(chunk)
    return out


def is_numeric(table, name):
    """Whether column ``name`` holds numbers (integers, floats, decimals or booleans)."""
    types = _pyarrow(name).types
    kind = table.schema.field(name).type
    return (types.is_integer(kind) or types.is_floating(kind) or types.is_decimal(kind)
            or types.is_boolean(kind))


def holds_numbers(table, name, sample=1000):
    """Whether a text column has a number among its first ``sample`` distinct values: a
    numeric column with a bad cell, rather than names, ids, dates or categories."""
    pa = _pyarrow(name)
    kind = table.schema.field(name).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_dictionary(kind)):
        return False
    for value in _as_text(table.column(name), name).unique()[:sample].to_pylist():
        try:
            float(value)
            return True
        except (TypeError, ValueError):
            continue
    return False


def drop_missing(table, names):
    """``table`` without the rows missing a value in any column of ``names``, and how many
    rows were dropped."""
    pc = _pyarrow("").compute
    keep = None
    for name in names:
        present = pc.is_valid(table.column(name))
        keep = present if keep is None else pc.and_(keep, present)
    kept = table if keep is None else table.filter(keep)
    return kept, table.num_rows - kept.num_rows


def _check_present(column, name, path, first_row=1):
    if column.null_count:
        pc = _pyarrow(path).compute
        row = pc.index(pc.is_null(column), True).as_py() + first_row
        raise CommandError(f"{path}: row {row}, column {name!r}: missing value; drop or impute "
                           "the rows with one (--drop-missing drops them)")


def numeric(table, name, path, out=None, first_row=1):
    """Column ``name`` as a float64 array (written into ``out`` when given): numbers, booleans
    as 0/1, or text that holds only numbers; a missing or non-finite value, or a text cell, is
    an error naming its row (the table's first is row ``first_row`` of the file)."""
    pa = _pyarrow(path)
    column = table.column(name)
    _check_present(column, name, path, first_row)
    if not is_numeric(table, name):
        kind = column.type
        if pa.types.is_dictionary(kind) or pa.types.is_string(kind) or pa.types.is_large_string(
                kind):
            for row, value in enumerate(pa.compute.cast(column, pa.string()).to_pylist(),
                                        first_row):
                try:
                    float(value)
                except ValueError:
                    raise CommandError(f"{path}: row {row}, column {name!r}: {value!r} is not a "
                                       f"number (for categories: --categorical {name})") from None
        else:
            raise CommandError(f"{path}: column {name!r} is not numeric ({kind})")
    try:
        values = _to_numpy(column, np.float64, out)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise CommandError(f"{path}: column {name!r}: {first_line(exc)}") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise CommandError(f"{path}: row {bad[0] + first_row}, column {name!r}: {values[bad[0]]} "
                           "is not a finite number")
    return values


def _as_text(column, path):
    pa = _pyarrow(path)
    return pa.compute.cast(column, pa.string())


def levels(table, name, path, first_row=1):
    """The categories of column ``name`` (its values as text), sorted."""
    column = table.column(name)
    _check_present(column, name, path, first_row)
    return sorted(_as_text(column, path).unique().to_pylist())


def codes(table, name, categories, path, first_row=1):
    """Each row's position in ``categories`` of its value in column ``name``; a value not
    among them is an error naming its row."""
    pa = _pyarrow(path)
    column = table.column(name)
    _check_present(column, name, path, first_row)
    text = _as_text(column, path)
    positions = pa.compute.index_in(text, value_set=pa.array(categories, pa.string()))
    if positions.null_count:
        row = pa.compute.index(pa.compute.is_null(positions), True).as_py()
        raise CommandError(f"{path}: row {row + first_row}, column {name!r}: "
                           f"{text[row].as_py()!r} is not one of the categories the model was "
                           f"fitted with ({listing(categories)})")
    return _to_numpy(positions, np.int64)


def encode(table, inputs, path, first_row=1, dense=False):
    """The feature matrix of ``inputs`` (pairs of a column name and its categories, or None for
    a numeric column) and the names of its columns (``name=category`` for one-hot ones).

    Returns a dense array, or (unless ``dense``) a ``scipy.sparse`` CSR matrix when there are
    categorical columns and SciPy is installed.
    """
    n = table.num_rows
    blocks, names = [], []  # (values, categories' positions) of each input column
    numbers = np.empty((n, sum(categories is None for _, categories in inputs)))  # rows: C order
    numeric_columns = 0
    for name, categories in inputs:
        if categories is None:
            blocks.append((numeric(table, name, path, numbers[:, numeric_columns], first_row),
                           None))
            numeric_columns += 1
            names.append(name)
        else:
            blocks.append((np.ones(n), codes(table, name, categories, path, first_row)))
            names += [f"{name}={category}" for category in categories]
    widths = [1 if categories is None else len(categories) for _, categories in inputs]
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.intp)
    cols = [start + (0 if where is None else where) for (_, where), start in zip(blocks, starts)]
    if numbers.shape[1] == len(names):
        return numbers, names
    try:
        import scipy.sparse as sp
    except ImportError:
        sp = None
    if sp is not None and not dense:
        rows = np.tile(np.arange(n), len(blocks))
        cols = np.concatenate([np.broadcast_to(c, (n,)) for c in cols])
        data = np.concatenate([values for values, _ in blocks])
        return sp.csr_matrix((data, (rows, cols)), shape=(n, len(names))), names
    X = np.zeros((n, len(names)))
    for (values, where), start in zip(blocks, starts):
        if where is None:
            X[:, start] = values
        else:
            X[np.arange(n), start + where] = 1.0
    return X, names
