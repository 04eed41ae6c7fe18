"""The command line, run as a subprocess on small files made here: fit, predict, saved models,
loss curves, and one clear line with exit status 2 for every bad input."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastgd
from fastgd.datasets import make_problem

from helpers import default_sigint, interrupt_and_wait


def fastgd_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fastgd", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def data(tmp_path):
    """A CSV with a header, and the same rows as .npz, .npy and Parquet."""
    X, y, _, _ = make_problem("badly_scaled", random_state=0)
    X, y = X[:300], y[:300]
    names = [f"x{j}" for j in range(X.shape[1])]
    lines = [",".join(names + ["price"])] + [",".join(repr(float(v)) for v in row)
                                             for row in np.column_stack([X, y])]
    (tmp_path / "houses.csv").write_text("\n".join(lines) + "\n")
    np.savez(tmp_path / "houses.npz", X=X, y=y)
    np.save(tmp_path / "houses.npy", np.column_stack([X, y]))
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "price": y}),
                   tmp_path / "houses.parquet")
    return X, y


def test_fit_then_predict_round_trip(tmp_path, data):
    X, y = data
    done = fastgd_cli("fit", "houses.csv", "--target", "price", "--random-state", "0",
                      "--out", "model.json", "--plot", "loss.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "price: intercept" in done.stdout and "model saved to model.json" in done.stdout
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = fastgd.load(tmp_path / "model.json")
    assert model.metadata["features"] == [f"x{j}" for j in range(6)]
    same = fastgd.fit(X, y, random_state=0)
    np.testing.assert_allclose(model.coef, same.coef, rtol=1e-12)
    done = fastgd_cli("predict", "model.json", "houses.csv", "--out", "preds.csv",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    predictions = np.loadtxt(tmp_path / "preds.csv", delimiter=",", skiprows=1)
    assert (tmp_path / "preds.csv").read_text().startswith("price\n")
    np.testing.assert_array_equal(predictions, model.predict(X))


@pytest.mark.parametrize("file, extra", [("houses.npz", []), ("houses.npy", ["--target", "6"]),
                                         ("houses.parquet", ["--target", "price"])])
def test_the_other_formats_fit_the_same_model(tmp_path, data, file, extra):
    X, y = data
    done = fastgd_cli("fit", file, *extra, "--random-state", "0", "--out", "m.json",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = fastgd.load(tmp_path / "m.json")
    np.testing.assert_allclose(model.coef, fastgd.fit(X, y, random_state=0).coef, rtol=1e-12)
    done = fastgd_cli("predict", "m.json", file, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    predictions = np.array(done.stdout.split()[1:], dtype=float)
    np.testing.assert_allclose(predictions, model.predict(X), rtol=1e-15)


def test_options_reach_the_fit(tmp_path, data):
    done = fastgd_cli("fit", "houses.csv", "--target", "price", "--features", "x0", "x2",
                      "--penalty", "l1", "--alpha", "0.5", "--learning-rate", "constant:1e-7",
                      "--epochs", "7", "--tol", "none", "--no-shuffle", "--out", "m.json",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = fastgd.load(tmp_path / "m.json")
    assert model.coef.shape == (2,) and model.n_epochs == 7
    assert model.settings["penalty"] == "l1" and model.settings["shuffle"] is False
    assert model.learning_rate == fastgd.schedules.Constant(1e-7)


def test_threads_reach_the_fit(tmp_path, data):
    done = fastgd_cli("fit", "houses.csv", "--target", "price", "--n-jobs", "0", cwd=tmp_path)
    assert done.returncode != 0 and "n_jobs must not be 0" in done.stderr
    done = fastgd_cli("fit", "houses.csv", "--target", "price", "--n-jobs", "2", "--out",
                      "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert fastgd.load(tmp_path / "m.json").settings["n_jobs"] in (1, 2)


def test_progress_on_request_even_in_a_pipe(tmp_path, data):
    done = fastgd_cli("fit", "houses.csv", "--target", "price", "--epochs", "5", "--tol", "none",
                      "--progress", cwd=tmp_path)
    assert done.returncode == 0 and "5/5" in done.stderr and "loss=" in done.stderr
    quiet = fastgd_cli("fit", "houses.csv", "--target", "price", "--epochs", "5", cwd=tmp_path)
    assert quiet.stderr == ""


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return name


@pytest.mark.parametrize("make, args, message", [
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "price"],
     "a.csv: no column 'price' (columns: 'x', 'y')"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\nabc,4\n"), ["--target", "y"],
     "a.csv: row 2, column 'x': 'abc' is not a number"),
    (lambda p: write(p, "a.csv", ""), ["--target", "y"], "a.csv: is empty"),
    (lambda p: write(p, "a.csv", "x,y\n"), ["--target", "y"], "a.csv: has no data rows"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\nnan,4\n"), ["--target", "y"],
     "a.csv: row 2, column 'x': missing value; drop or impute the rows with one "
     "(--drop-missing drops them)"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n-inf,4\n"), ["--target", "y"],
     "a.csv: row 2, column 'x': -inf is not a finite number"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3\n"), ["--target", "y"],
     "a.csv: row 2 has 1 cells, the header 2"),
    (lambda p: "missing.csv", ["--target", "y"], "missing.csv: no such file"),
    (lambda p: write(p, "a.txt", "x"), ["--target", "y"], "unknown file type '.txt'"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "y", "--epochs", "x"],
     "argument --epochs: invalid int value: 'x'"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "y", "--epochs", "0"],
     "epochs must be a positive integer"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "y", "--learning-rate",
                                                      "constant:-1"], "must be a finite number"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "y", "--out", "m.txt"],
     "m.txt: the file name should end in .json"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), [], "name the target column with --target"),
    (lambda p: write(p, "a.csv", "x,y\n1,2\n3,4\n"), ["--target", "y", "--plot", "loss.xyz"],
     "loss.xyz: --plot writes"),
])
def test_bad_input_is_one_line_and_status_2_and_writes_nothing(tmp_path, make, args, message):
    name = make(tmp_path)
    before = sorted(os.listdir(tmp_path))
    done = fastgd_cli("fit", name, *args, "--out" if "--out" not in args else "--epochs",
                      "out.json" if "--out" not in args else "3", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("model_text, message", [
    ("not json", "is not a fastgd model file: not JSON"),
    (json.dumps({"a": 1}), "is not a fastgd model file"),
])
def test_predict_with_a_bad_model_file(tmp_path, data, model_text, message):
    (tmp_path / "m.json").write_text(model_text)
    done = fastgd_cli("predict", "m.json", "houses.csv", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_predict_needs_the_model_columns(tmp_path, data):
    assert fastgd_cli("fit", "houses.csv", "--target", "price", "--out", "m.json",
                      cwd=tmp_path).returncode == 0
    write(tmp_path, "few.csv", "x0,x1\n1,2\n")
    done = fastgd_cli("predict", "m.json", "few.csv", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 2 and "few.csv: no column 'x2'" in done.stderr
    assert not (tmp_path / "p.csv").exists()


def test_ctrl_c_saves_the_last_complete_epoch(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((20_000, 4))
    np.save(tmp_path / "big.npy", table)
    process = subprocess.Popen(
        [sys.executable, "-m", "fastgd", "fit", "big.npy", "--target", "3", "--epochs",
         "10000000", "--tol", "none", "--learning-rate", "constant:0.001", "--out", "m.json",
         "--progress"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=default_sigint)
    seen = bytearray()
    deadline = time.monotonic() + 120
    while b"loss=" not in seen and time.monotonic() < deadline:  # the fit has begun
        seen += os.read(process.stderr.fileno(), 4096)
    out, rest = interrupt_and_wait(process)
    err = (bytes(seen) + rest).decode()
    assert process.returncode == 130, err
    assert "interrupted: the model is that of epoch" in err
    model = fastgd.load(tmp_path / "m.json")
    assert model.interrupted and model.n_epochs == len(model.loss_history) >= 1


def test_sparse_files_svmlight_and_scipy_npz(tmp_path):
    """svmlight files and scipy.sparse.save_npz matrices (target a column) fit and predict
    as the same rows do in Python; wide models print their largest coefficients only."""
    import scipy.sparse as sp
    from sklearn.datasets import dump_svmlight_file

    from fastgd.datasets import make_sparse_problem

    X, y, _, _ = make_sparse_problem("one_hot", random_state=1, size=0.05)
    dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    sp.save_npz(tmp_path / "train.npz", sp.hstack([y[:, None], X], format="csr"))
    same = fastgd.fit(X, y, random_state=0)
    done = fastgd_cli("fit", "train.svm", "--random-state", "0", "--out", "svm.json",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"(20 coefficients of largest magnitude of {X.shape[1]})" in done.stdout
    np.testing.assert_allclose(fastgd.load(tmp_path / "svm.json").coef, same.coef, atol=1e-12)
    done = fastgd_cli("predict", "svm.json", "train.svm", "--out", "p.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    predicted = np.loadtxt(tmp_path / "p.csv", skiprows=1)
    np.testing.assert_allclose(predicted, same.predict(X), rtol=1e-12, atol=1e-12)
    done = fastgd_cli("fit", "train.npz", "--target", "0", "--random-state", "0", "--out",
                      "npz.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(fastgd.load(tmp_path / "npz.json").coef, same.coef, atol=1e-12)
    done = fastgd_cli("predict", "npz.json", "train.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.array(done.stdout.split()[1:], dtype=float),
                               same.predict(X), rtol=1e-12, atol=1e-12)
    for args, message in ((("train.npz",), "name the target column of the matrix with "
                           "--target"), (("train.svm", "--target", "0"), "holds the targets")):
        done = fastgd_cli("fit", *args, cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr, done.stderr
