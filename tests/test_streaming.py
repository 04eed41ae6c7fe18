"""Tables larger than memory: ``--stream`` reads a CSV or Parquet file a block of rows at a
time into temporary files and fits the memory maps of them; errors still name the file's row.
"""

import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastgd
from fastgd._commands import cli
from fastgd._commands.errors import CommandError
from fastgd._commands.files import read_training_data, stream_training_data

from test_cli import fastgd_cli
from test_files import _diamonds, _write_csv

BLOCK = 4096  # bytes: a few dozen rows a block, so that every table here spans many blocks


def _stream(path, tmp_path, **options):
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    options = {"targets": ["price, USD"], "features": None, "weight_column": None,
               "categorical": [], "drop_missing": False, **options}
    return stream_training_data(path, folder=folder, block_bytes=BLOCK, **options)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_blocks_make_the_same_data_as_one_read(tmp_path, kind):
    table = _diamonds(3000)
    table["cut"] = list(table["cut"][:-1]) + ["Rare"]  # a category only the last block holds
    path = tmp_path / f"d.{kind}"
    if kind == "csv":
        _write_csv(path, table)
    else:
        pq.write_table(pa.table(table), path, row_group_size=500)
    whole = read_training_data(path, ["price, USD"], None, None, ["cut"], False)
    streamed = _stream(path, tmp_path, categorical=["cut"])
    assert isinstance(streamed[0], np.memmap) and streamed[0].shape == (3000, 5)
    np.testing.assert_array_equal(np.asarray(streamed[0]), whole[0].toarray())
    np.testing.assert_array_equal(np.asarray(streamed[1]), whole[1])
    assert streamed[3] == whole[3] == ["carat", "cut=Fair", "cut=Good", "cut=Ideal", "cut=Rare"]
    assert streamed[5] == whole[5]


def test_errors_name_the_row_of_the_file_in_a_later_block(tmp_path):
    table = _diamonds(3000)
    carat = [str(value) for value in table["carat"]]
    carat[2500] = "heavy"
    _write_csv(tmp_path / "bad.csv", {**table, "carat": carat})
    with pytest.raises(CommandError, match=r"row 2501, column 'carat': 'heavy' is not a number"):
        _stream(tmp_path / "bad.csv", tmp_path)
    carat[2500] = ""
    _write_csv(tmp_path / "missing.csv", {**table, "carat": carat})
    with pytest.raises(CommandError, match=r"row 2501, column 'carat': missing value"):
        _stream(tmp_path / "missing.csv", tmp_path)
    X, y, *_ = _stream(tmp_path / "missing.csv", tmp_path, drop_missing=True)
    assert X.shape[0] == y.shape[0] == 2999


def test_memory_stays_at_a_block_not_the_file(tmp_path):
    rng = np.random.default_rng(0)
    n = 200_000
    columns = {f"x{j}": rng.standard_normal(n) for j in range(5)}
    columns["price, USD"] = rng.standard_normal(n)
    _write_csv(tmp_path / "big.csv", columns)
    tracemalloc.start()
    try:
        X, *_ = stream_training_data(tmp_path / "big.csv", ["price, USD"], None, None, [], False,
                                     tmp_path, block_bytes=1 << 18)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.shape == (n, 5)
    assert peak < X.nbytes / 10  # NumPy's allocations: about a block's rows at a time


def test_stream_fit_and_predict_from_the_command_line(tmp_path):
    table = _diamonds(4000)
    _write_csv(tmp_path / "d.csv", table)
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--categorical", "cut",
                      "--stream", "--random-state", "0", "--out", "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = fastgd.load(tmp_path / "m.json")
    assert model.settings["streamed"] is True
    assert "R^2 0.99" in done.stdout
    done = fastgd_cli("predict", "m.json", "d.csv", "--stream", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    predicted = np.loadtxt(tmp_path / "p.csv", skiprows=1)
    assert np.sqrt(np.mean((predicted - table["price, USD"]) ** 2)) < 0.15
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--stream", "--early-stopping",
                      cwd=tmp_path)
    assert done.returncode == 2 and "early_stopping" in done.stderr, done.stderr


def test_a_table_above_a_third_of_the_memory_is_streamed(tmp_path, monkeypatch, capsys):
    _write_csv(tmp_path / "d.csv", _diamonds(100))
    size = (tmp_path / "d.csv").stat().st_size
    monkeypatch.setattr(cli, "memory_available", lambda: 3 * size)
    assert not cli._streams(str(tmp_path / "d.csv"), None)
    monkeypatch.setattr(cli, "memory_available", lambda: 3 * size - 1)
    assert cli._streams(str(tmp_path / "d.csv"), None)
    assert "larger than a third of the memory available" in capsys.readouterr().err
    assert not cli._streams(str(tmp_path / "d.npy"), None)  # only tables are streamed


def test_stream_is_refused_for_other_files(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((10, 3)))
    done = fastgd_cli("fit", "d.npy", "--target", "2", "--stream", cwd=tmp_path)
    assert done.returncode == 2 and "--stream is for CSV and Parquet tables" in done.stderr
