"""``python -m fastgd demo``: the lecture's two examples, fitted by fastgd and by lstsq."""

import numpy as np

from .. import datasets, schedules
from .bench import times
from .._fit import fit

LECTURE_SCHEDULE = schedules.InverseTime()  # 5 / (t + 500)
LECTURE_BATCH = 16
LECTURE_EPOCHS = 100


def _lstsq(X, y):
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    return solution[:-1], solution[-1]


def _example(title, X, y, coef, intercept, seed, out):
    out(title)
    runs = {
        "lecture": dict(learning_rate=LECTURE_SCHEDULE, epochs=LECTURE_EPOCHS, tol=None),
        "auto": dict(learning_rate="auto", epochs=200),
    }
    fits = {name: fit(X, y, batch_size=LECTURE_BATCH, random_state=seed, **kwargs)
            for name, kwargs in runs.items()}
    ls_coef, ls_intercept = _lstsq(X, y)
    names = [f"w{j + 1}" for j in range(X.shape[1])] + ["b"]
    columns = {
        "true": np.r_[coef, intercept],
        "fastgd (5/(t+500), 100 epochs)": np.r_[fits["lecture"].coef, fits["lecture"].intercept],
        f"fastgd (auto, {fits['auto'].n_epochs} epochs)": np.r_[fits["auto"].coef,
                                                                  fits["auto"].intercept],
        "lstsq": np.r_[ls_coef, ls_intercept],
    }
    widths = [max(12, len(h) + 2) for h in columns]
    out("  " + f"{'':4}" + "".join(f"{h:>{w}}" for h, w in zip(columns, widths, strict=True)))
    for k, name in enumerate(names):
        cells = zip(columns.values(), widths, strict=True)
        out("  " + f"{name:4}" + "".join(f"{col[k]:>{w}.4f}" for col, w in cells))
    for name, res in fits.items():
        rel = (np.mean((res.predict(X) - y) ** 2) / np.mean((X @ ls_coef + ls_intercept - y) ** 2)
               - 1.0)
        out(f"  {name:8} training MSE above lstsq's: {rel:.2e} (relative)")
    return runs["lecture"]


def run_demo(seed=None, repeats=20, out=print):
    """Rerun the lecture: one feature, then three, and time both backends.

    Parameters
    ----------
    seed : int, optional
        Seed of the data and the shuffling; None draws one (it is printed).
    repeats : int, default 20
        Timed repetitions per backend (the best is shown).
    out : callable, default print
        Receives each line.
    """
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 10_000))
    out(f"fastgd demo: the lecture's mini-batch gradient descent (seed {seed})\n")
    X1, y1, w1, b1 = datasets.lecture_problem(1, seed)
    kwargs = _example("One feature: y = w1 * x + b + noise, 100 rows, batch 16", X1, y1, w1, b1,
                      seed, out)
    out("")
    X3, y3, w3, b3 = datasets.lecture_problem(3, seed)
    _example("Three features: y = X @ w + b + noise, 100 rows, batch 16", X3, y3, w3, b3, seed,
             out)
    out("\nTime of one fit of the one-feature example (5/(t+500), 100 epochs, "
        f"median of {repeats}):")
    for backend in ("numba", "numpy"):
        seconds = np.median(times(lambda: fit(X1, y1, batch_size=LECTURE_BATCH,
                                              random_state=seed, backend=backend, **kwargs),
                                  repeats))
        out(f"  {'fastgd, ' + backend:16} {seconds * 1e3:8.3f} ms")
    lstsq_time = np.median(times(lambda: _lstsq(X1, y1), repeats))
    out(f"  {'np.linalg.lstsq':16} {lstsq_time * 1e3:8.3f} ms")
