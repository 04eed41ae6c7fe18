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
from .._engine.loss_functions import LOSSES
from .._fit import fit
from .._results import load
from ..exceptions import DivergenceError
from .errors import CommandError, listing
from .files import (TABLE_SUFFIXES, read_features, read_training_data, stream_features,
                    stream_training_data)

#: Coefficients printed after a fit: above this many, the largest in magnitude.
MAX_PRINTED = 20


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
    parser.add_argument("--categorical", nargs="+", default=[],
                        help="columns one-hot encoded (text columns named in --features are "
                        "too); the categories are saved with the model")
    parser.add_argument("--drop-missing", action="store_true",
                        help="leave out the rows that miss a value in a column in use (default: "
                        "such a row is an error)")
    _add_stream_argument(parser)
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
    options.add_argument("--loss", choices=LOSSES, default="squared_error",
                         help="huber and epsilon_insensitive are robust to outlying targets; "
                         "quantile fits the --quantile-th quantile of the target")
    options.add_argument("--epsilon", type=float, default=0.1,
                         help="threshold of the huber and epsilon-insensitive losses, in the "
                         "target's units")
    options.add_argument("--quantile", type=float, default=0.5,
                         help="the quantile of --loss quantile, in (0, 1)")
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
    options.add_argument("--n-jobs", type=int, help="threads of the fit (-1: every core)")
    options.add_argument("--backend", choices=["auto", "numba", "numpy"], default="auto")


def add_predict_arguments(parser):
    """The ``predict`` command's arguments."""
    parser.add_argument("model", help="a model saved by `fastgd fit --out`")
    parser.add_argument("data", help="rows to predict, in any format `fit` reads")
    parser.add_argument("--out", help="write the predictions here as CSV (default: stdout)")
    _add_stream_argument(parser)


def _add_stream_argument(parser):
    parser.add_argument("--stream", action="store_true", default=None,
                        help="read a CSV or Parquet table a block of rows at a time, for tables "
                        "larger than memory (the default for a table file above a third of the "
                        "memory available); fit reads the rows through temporary files "
                        "($TMPDIR), without averaging or early stopping")


def run_fit(args):
    """Fit a model to a data file; print it, and save it and its loss curve if asked."""
    for path, suffixes in ((args.out, (".json",)), (args.plot, None)):
        if path is not None:
            _check_writable(path, suffixes, inputs=[args.data])
    if not _streams(args.data, args.stream):
        data = read_training_data(args.data, args.target, args.features, args.sample_weight,
                                  args.categorical, args.drop_missing)
        return _fit_data(args, *data)
    with tempfile.TemporaryDirectory(prefix="fastgd-") as folder:
        data = stream_training_data(args.data, args.target, args.features, args.sample_weight,
                                    args.categorical, args.drop_missing, folder)
        return _fit_data(args, *data)


def _streams(path, stream):
    """Whether a data file is read a block at a time: on request (``--stream``), or for a
    table file above a third of the memory available (in memory, a table takes about as many
    bytes as its file, and the fit's copy of X as many again)."""
    if stream or Path(path).suffix.lower() not in TABLE_SUFFIXES or not os.path.isfile(path):
        return bool(stream)
    available = memory_available()
    if available is None or 3 * os.path.getsize(path) <= available:
        return False
    print(f"note: {path}: larger than a third of the memory available; read a block of rows "
          "at a time (--stream)", file=sys.stderr)
    return True


def memory_available():
    """Bytes this process may still take: the system's available memory, bounded by the
    memory limit of its control group and its address-space limit (``ulimit -v``); None when
    unknown."""
    limits = []
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    limits += _cgroup_limits()
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def _cgroup_limits():
    """The memory limits of this process's control groups (v1 and v2), in bytes."""
    limits = []
    try:
        with open("/proc/self/cgroup") as file:
            groups = [line.rstrip("\n").split(":", 2) for line in file]
    except OSError:
        return limits
    for _, controllers, group in groups:
        if controllers == "":
            candidates = [f"/sys/fs/cgroup{group}/memory.max"]
        elif "memory" in controllers.split(","):
            candidates = [f"/sys/fs/cgroup/memory{group}/memory.limit_in_bytes"]
        else:
            continue
        for candidate in candidates:
            try:
                with open(candidate) as file:
                    text = file.read().strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
                limits.append(int(text))
    return limits


def _fit_data(args, X, Y, weights, features, targets, inputs):
    """Fit, print and save the model of data read by ``run_fit``."""
    if args.plot is not None:
        _pyplot(args.plot)  # before the fit: a missing matplotlib must not cost a long fit
    try:
        with warnings.catch_warnings():  # an interrupted fit: reported below, in one line
            warnings.filterwarnings("ignore", "The fit was interrupted", RuntimeWarning)
            result = fit(X, Y, sample_weight=weights, batch_size=args.batch_size,
                         epochs=args.epochs, learning_rate=_learning_rate(args.learning_rate),
                         fit_intercept=args.fit_intercept, loss=args.loss,
                         epsilon=args.epsilon, quantile=args.quantile, penalty=args.penalty,
                         alpha=args.alpha, l1_ratio=args.l1_ratio, average=args.average,
                         early_stopping=args.early_stopping,
                         validation_fraction=args.validation_fraction, shuffle=args.shuffle,
                         drop_last=args.drop_last, tol=args.tol,
                         n_iter_no_change=args.n_iter_no_change, random_state=args.random_state,
                         n_jobs=args.n_jobs, backend=args.backend, progress=args.progress)
    except (ValueError, TypeError, DivergenceError) as exc:
        raise CommandError(f"{args.data}: {exc}") from None
    metadata = {"data": str(args.data), "features": features, "target": targets}
    if inputs is not None:
        metadata["inputs"] = [[name, categories] for name, categories in inputs]
    result = dataclasses.replace(result, metadata=metadata)
    _print_model(result, features, targets, X, Y, weights)
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
        _check_writable(args.out, None, inputs=[args.model, args.data])
    try:
        model = load(args.model)
    except FileNotFoundError:
        raise CommandError(f"{args.model}: no such file") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    targets = model.metadata.get("target") or ["prediction"]
    k = int(np.prod(model.coef.shape[:-1], dtype=int))
    if len(targets) != k:
        targets = [f"prediction_{t}" for t in range(k)]
    if _streams(args.data, args.stream):
        blocks = stream_features(args.data, model.metadata, model.coef.shape[-1])
    else:
        blocks = [read_features(args.data, model.metadata, model.coef.shape[-1])]
    if args.out is None:
        _write_predictions(sys.stdout, model, targets, blocks)
        return 0
    folder = Path(args.out).resolve().parent
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8",
                                     newline="", suffix=".tmp") as file:
        try:
            _write_predictions(file, model, targets, blocks)
        except BaseException:
            file.close()
            os.unlink(file.name)
            raise
    os.replace(file.name, args.out)
    return 0


def _write_predictions(file, model, targets, blocks):
    """Write the predictions of each block of rows to ``file`` as CSV."""
    writer = csv.writer(file, lineterminator="\n")  # quotes a name with a comma
    writer.writerow(map(str, targets))
    for X in blocks:
        predictions = model.predict(X).reshape(X.shape[0], -1)
        writer.writerows([repr(float(v)) for v in row] for row in predictions)


def _learning_rate(text):
    name, _, params = text.partition(":")
    if not params:
        return name
    if name not in schedules.SCHEDULE_NAMES or name == "auto":
        raise CommandError(f"--learning-rate {text!r}: unknown schedule {name!r} (use one of "
                           f"{listing(schedules.SCHEDULE_NAMES)})")
    try:
        values = [float(value) for value in params.split(",")]
        return type(schedules.from_name(name))(*values)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"--learning-rate {text!r}: {exc}") from None


def number_or_none(text):
    """A float, or None for "none" (argparse names this function in its messages)."""
    return None if text.lower() == "none" else float(text)


def _check_writable(path, suffixes, inputs):
    """Refuse an output path that is a folder, has the wrong suffix, lies in a folder that
    cannot be written, or is one of the command's ``inputs``."""
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a folder; name a file to write")
    if suffixes is not None and Path(path).suffix.lower() not in suffixes:
        raise CommandError(f"{path}: the file name should end in {' or '.join(suffixes)}")
    for given in inputs:
        if os.path.exists(given) and os.path.exists(path) and os.path.samefile(given, path):
            raise CommandError(f"{path}: is an input of this command ({given}); name another "
                               "file to write")
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


def _print_model(result, features, targets, X, Y, weights):
    """Print the fit, with each target's training MSE and R^2 (what a user compares; the
    objective minimised is half the MSE plus the penalty for squared error, and is printed
    for another loss), and the coefficients."""
    coef = np.reshape(result.coef, (len(targets), -1))
    intercept = np.reshape(result.intercept, -1)
    status = ("converged" if result.converged else
              "interrupted" if result.interrupted else "stopped at the epoch budget")
    print(f"fitted in {result.n_epochs} epochs ({status}), {result.n_updates} updates, "
          f"learning rate {result.learning_rate}")
    mse, variance = _errors(result, X, Y, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(variance > 0, 1.0 - mse / variance, np.nan)
    loss = result.settings.get("loss", "squared_error")
    penalised = result.settings.get("penalty") is not None
    objective = np.reshape(result.loss_history[-1], -1)
    for t, target in enumerate(targets):
        print(f"{target}: intercept {intercept[t]:.6g}, training MSE {mse[t]:.6g}, "
              f"R^2 {r2[t]:.6f}"
              + ("" if loss == "squared_error" else
                 f", mean {loss} loss{' + penalty' if penalised else ''} {objective[t]:.6g}"))
        shown = range(len(features))
        if len(features) > MAX_PRINTED:
            shown = np.sort(np.argsort(-np.abs(coef[t]), kind="stable")[:MAX_PRINTED])
            print(f"  ({MAX_PRINTED} coefficients of largest magnitude of {len(features)})")
        for j in shown:
            print(f"  {features[j]}: {coef[t, j]:.6g}")


#: Rows at a time in :func:`_errors` (X may be a memory map larger than memory).
ERROR_ROWS = 1 << 18


def _errors(result, X, Y, weights):
    """Each target's weighted training MSE of ``result`` and weighted variance, a block of
    rows at a time (the targets shifted by their first row, against cancellation)."""
    Y = np.reshape(Y, (Y.shape[0], -1))
    shift = np.array(Y[0], dtype=np.float64)
    sums = np.zeros((4, Y.shape[1]))  # sum s, s r^2, s (y - shift), s (y - shift)^2
    for start in range(0, Y.shape[0], ERROR_ROWS):
        rows = slice(start, start + ERROR_ROWS)
        y = np.asarray(Y[rows], dtype=np.float64) - shift
        s = np.ones(len(y)) if weights is None else np.asarray(weights[rows])
        r = np.reshape(result.predict(X[rows]), y.shape) - shift - y
        sums += np.stack([np.full(y.shape[1], s.sum()), s @ r**2, s @ y, s @ y**2])
    mean = sums[2] / sums[0]
    return sums[1] / sums[0], np.maximum(sums[3] / sums[0] - mean**2, 0.0)
