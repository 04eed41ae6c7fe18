"""Data files as people have them, through the command line (a subprocess): text columns, a
byte-order mark, quoted names, categories, missing values, Parquet types, and outputs that
must not overwrite an input. Each gives the right fit or one line with exit status 2."""

import csv

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastgd

from test_cli import fastgd_cli


def _diamonds(n=600, seed=0):
    """A small table like the diamonds data: numbers, a category that matters, text that
    does not (an id, a name, a date)."""
    rng = np.random.default_rng(seed)
    carat = rng.uniform(0.2, 2.0, n)
    cut = rng.choice(["Fair", "Good", "Ideal"], n)
    price = 3.0 * carat + np.select([cut == "Fair", cut == "Good"], [-1.0, 0.0], 1.0) + 0.1 * (
        rng.standard_normal(n))
    return {"id": [f"d{i:05d}" for i in range(n)], "carat": carat, "cut": cut,
            "name": [f"stone {i}" for i in range(n)],
            "date": [f"2024-01-{1 + i % 28:02d}" for i in range(n)], "price, USD": price}


def _write_csv(path, columns, bom=False, crlf=False):
    names = list(columns)
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as file:
        writer = csv.writer(file, lineterminator="\r\n" if crlf else "\n")
        writer.writerow(names)
        writer.writerows(zip(*(columns[name] for name in names)))


def _one_line_error(done, message):
    assert done.returncode == 2, done.stdout
    assert message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_text_columns_bom_quoted_names_and_categories(tmp_path):
    table = _diamonds()
    _write_csv(tmp_path / "d.csv", table, bom=True, crlf=True)
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--categorical", "cut",
                      "--random-state", "0", "--out", "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "non-numeric columns left out: 'id', 'name', 'date'" in done.stderr
    assert "cut=Ideal:" in done.stdout and "R^2 0.99" in done.stdout
    model = fastgd.load(tmp_path / "m.json")
    assert model.metadata["features"] == ["carat", "cut=Fair", "cut=Good", "cut=Ideal"]
    assert model.metadata["inputs"] == [["carat", None], ["cut", ["Fair", "Good", "Ideal"]]]
    coef = dict(zip(model.metadata["features"], model.coef))
    assert abs(coef["carat"] - 3.0) < 0.05
    assert abs((coef["cut=Ideal"] - coef["cut=Fair"]) - 2.0) < 0.05
    done = fastgd_cli("predict", "m.json", "d.csv", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "p.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["price, USD"]  # one quoted column, not two
    predicted = np.array([float(row[0]) for row in rows[1:]])
    assert np.sqrt(np.mean((predicted - table["price, USD"]) ** 2)) < 0.15


def test_text_named_as_a_feature_is_one_hot_and_unseen_categories_are_refused(tmp_path):
    table = _diamonds()
    _write_csv(tmp_path / "d.csv", table)
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--features", "carat", "cut",
                      "--random-state", "0", "--out", "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the other text columns were not asked for: no note
    assert fastgd.load(tmp_path / "m.json").metadata["features"][1:] == [
        "cut=Fair", "cut=Good", "cut=Ideal"]
    table["cut"] = list(table["cut"])
    table["cut"][4] = "Premium"
    _write_csv(tmp_path / "new.csv", table)
    done = fastgd_cli("predict", "m.json", "new.csv", cwd=tmp_path)
    _one_line_error(done, "new.csv: row 5, column 'cut': 'Premium' is not one of the "
                    "categories the model was fitted with ('Fair', 'Good', 'Ideal')")


def test_missing_values_name_the_cell_or_are_dropped(tmp_path):
    table = _diamonds()
    table["carat"] = [str(v) for v in table["carat"]]
    table["carat"][7] = "NA"
    table["name"][3] = ""  # a column not in use may miss values
    _write_csv(tmp_path / "d.csv", table)
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--out", "m.json",
                      cwd=tmp_path)
    _one_line_error(done, "d.csv: row 8, column 'carat': missing value")
    assert not (tmp_path / "m.json").exists()
    done = fastgd_cli("fit", "d.csv", "--target", "price, USD", "--drop-missing",
                      "--random-state", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dropped 1 rows with a missing value" in done.stderr


def test_parquet_string_dictionary_and_nullable_columns(tmp_path):
    table = _diamonds()
    arrow = pa.table({"id": table["id"], "carat": table["carat"],
                      "cut": pa.array(table["cut"]).dictionary_encode(),
                      "count": pa.array([None if i == 9 else i for i in range(600)],
                                        pa.int64()),
                      "price": table["price, USD"]})
    pq.write_table(arrow, tmp_path / "d.parquet")
    done = fastgd_cli("fit", "d.parquet", "--target", "price", "--features", "carat", "cut",
                      "--random-state", "0", "--out", "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cut=Good:" in done.stdout
    done = fastgd_cli("predict", "m.json", "d.parquet", cwd=tmp_path)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 601, done.stderr
    done = fastgd_cli("fit", "d.parquet", "--target", "price", "--features", "carat",
                      "count", cwd=tmp_path)
    _one_line_error(done, "d.parquet: row 10, column 'count': missing value")


@pytest.mark.parametrize("command", ["fit_out_folder", "fit_plot_folder", "predict_over_data",
                                     "predict_over_model", "fit_over_data"])
def test_outputs_never_overwrite_inputs_or_folders(tmp_path, command):
    _write_csv(tmp_path / "d.csv", {"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.1, 5.9, 8.0]})
    assert fastgd_cli("fit", "d.csv", "--target", "y", "--out", "m.json",
                      cwd=tmp_path).returncode == 0
    (tmp_path / "folder").mkdir()
    before = {name: (tmp_path / name).read_bytes() for name in ("d.csv", "m.json")}
    args, message = {
        "fit_out_folder": (["fit", "d.csv", "--target", "y", "--out", "folder"],
                           "folder: is a folder"),
        "fit_plot_folder": (["fit", "d.csv", "--target", "y", "--plot", "folder"],
                            "folder: is a folder"),
        "predict_over_data": (["predict", "m.json", "d.csv", "--out", "d.csv"],
                              "d.csv: is an input of this command"),
        "predict_over_model": (["predict", "m.json", "d.csv", "--out", "./m.json"],
                               "./m.json: is an input of this command"),
        "fit_over_data": (["fit", "m.json", "--target", "y", "--out", "m.json"], ""),
    }[command]
    done = fastgd_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert before == {name: (tmp_path / name).read_bytes() for name in ("d.csv", "m.json")}
