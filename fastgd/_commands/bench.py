"""``python -m fastgd bench``: fastgd against its peers on identical data, in one run.

Every method runs plain mini-batch gradient descent with the same rows, features, batch size,
constant step, number of epochs and per-epoch shuffling; each is warmed up first (JIT compile,
first-call imports), then timed over a few runs: the median is reported with the spread
(min-max), so that one run of the bench shows how much the machine's noise moved it. Seconds
per epoch are marginal: the time of ``1 + k`` epochs minus the time of 1 epoch, over ``k``, each
run timing the two back to back, so one-off costs (input checks, conversions, set-up passes)
count for no method. Optional peers (scikit-learn, PyTorch) are imported only if installed.
"""

import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import schedules
from .._fit import fit

STEP = 1e-3


@dataclass(frozen=True)
class Case:
    """One comparison: data shape, batch size, epochs timed."""

    name: str
    n_samples: int
    n_features: int
    batch_size: int
    epochs: int
    whole_fit: bool = False  # report seconds per whole fit of ``epochs`` epochs instead


CASES = [
    Case("lecture 100x1 b16 (whole fit, 100 epochs)", 100, 1, 16, 100, whole_fit=True),
    Case("100,000x10 b32", 100_000, 10, 32, 3),
    Case("100,000x10 b256", 100_000, 10, 256, 3),
    Case("1,000,000x10 b32", 1_000_000, 10, 32, 2),
    Case("1,000,000x10 b256", 1_000_000, 10, 256, 2),
    Case("20,000x1,000 b64", 20_000, 1_000, 64, 3),
]
QUICK_CASES = [
    Case("lecture 100x1 b16 (whole fit, 100 epochs)", 100, 1, 16, 100, whole_fit=True),
    Case("20,000x10 b32", 20_000, 10, 32, 2),
    Case("2,000x200 b64", 2_000, 200, 64, 2),
]


def make_data(n_samples, n_features, dtype=np.float64, seed=0):
    """Standard-normal features, a random linear model and unit noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = X @ rng.uniform(-2, 2, n_features) + 1.5 + rng.standard_normal(n_samples)
    return X.astype(dtype), y.astype(dtype)


def wall_time(func):
    """Seconds one call of ``func`` takes."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def times(func, repeats):
    """Wall times of ``repeats`` calls of ``func`` (warm it up before), an array."""
    return np.array([wall_time(func) for _ in range(repeats)])


def epoch_times(run, epochs, repeats):
    """Marginal seconds per epoch of ``run(n_epochs)``, one value per repeat: ``(T(1 + epochs)
    - T(1)) / epochs`` with the two timed back to back (warm ``run`` up before)."""
    return np.array([(wall_time(lambda: run(1 + epochs)) - wall_time(lambda: run(1))) / epochs
                     for _ in range(repeats)])


def spread(values, digits=6):
    """``median (min-max)`` of timings; one value alone is printed as it is."""
    values = np.asarray(values)
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{np.median(values):.{digits}f} ({values.min():.{digits}f}-"
            f"{values.max():.{digits}f})")


def fastgd_fit(X, y, batch_size, epochs, backend, n_jobs=1):
    return fit(X, y, batch_size=batch_size, epochs=epochs, tol=None, random_state=0,
               learning_rate=schedules.Constant(STEP), backend=backend, n_jobs=n_jobs)


def lecture_loop(X, y, batch_size, epochs, seed=0):
    """Mini-batch gradient descent as the lecture writes it in NumPy."""
    rng = np.random.default_rng(seed)
    m = len(X)
    X_b = np.c_[np.ones((m, 1)), X]
    theta = np.zeros(X_b.shape[1])
    for _ in range(epochs):
        shuffled = rng.permutation(m)
        X_s, y_s = X_b[shuffled], y[shuffled]
        for i in range(0, m, batch_size):
            xi, yi = X_s[i:i + batch_size], y_s[i:i + batch_size]
            gradients = xi.T @ (xi @ theta - yi) / len(xi)
            theta = theta - STEP * gradients
    return theta


def sklearn_fit(X, y, batch_size, epochs):
    """scikit-learn's SGDRegressor: one update per sample (it has no mini-batches)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(penalty=None, tol=None, max_iter=epochs, learning_rate="constant",
                         eta0=STEP, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def torch_fit(X, y, batch_size, epochs):
    """PyTorch on the CPU: randperm, autograd and optim.SGD, one step per batch."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.zeros(X.shape[1], dtype=Xt.dtype, requires_grad=True)
    b = torch.zeros(1, dtype=Xt.dtype, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=STEP)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(Xt), generator=generator)
        for i in range(0, len(Xt), batch_size):
            rows = order[i:i + batch_size]
            loss = 0.5 * ((Xt[rows] @ w + b - yt[rows]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return w, b


def _available(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def peers():
    """Name -> function(X, y, batch_size, epochs) of every method that can run here."""
    methods = {
        "fastgd numba": lambda X, y, b, e: fastgd_fit(X, y, b, e, "numba"),
        "fastgd numba n_jobs=2": lambda X, y, b, e: fastgd_fit(X, y, b, e, "numba", 2),
        "fastgd numpy": lambda X, y, b, e: fastgd_fit(X, y, b, e, "numpy"),
        "lecture NumPy loop": lecture_loop,
    }
    if _available("sklearn"):
        methods["sklearn SGDRegressor"] = sklearn_fit
    if _available("torch"):
        methods["PyTorch SGD"] = torch_fit
    return methods


def compare(case, repeats, out):
    """Time every method on ``case`` and print a row per method with its ratio to fastgd."""
    X, y = make_data(case.n_samples, case.n_features)
    unit = "s per fit" if case.whole_fit else "s per epoch"
    out(f"\n{case.name}")
    timings = {}
    for name, method in peers().items():
        method(X[:256], y[:256], case.batch_size, 1)  # warm up: compile, imports
        runs = repeats if name.startswith("fastgd numba") or case.whole_fit else 1

        def run(epochs):
            return method(X, y, case.batch_size, epochs)

        if case.whole_fit:
            timings[name] = times(lambda: run(case.epochs), runs)
        else:
            timings[name] = epoch_times(run, case.epochs, runs)
    timings["X.sum() (one pass)"] = times(X.sum, repeats)
    reference = np.median(timings["fastgd numba"])
    for name, values in timings.items():
        seconds = np.median(values)
        note = f"{seconds / reference:8.1f}x fastgd numba" if name != "fastgd numba" else ""
        if name.startswith("X.sum"):
            threads = np.median(timings["fastgd numba n_jobs=2"])
            note = (f"fastgd numba = {reference / seconds:.1f}x this floor "
                    f"({threads / seconds:.1f}x with n_jobs=2)")
        out(f"  {name:22} {spread(values):>30} {unit}   {note}")
    return {name: float(np.median(values)) for name, values in timings.items()}


def float32_speedup(n_samples, n_features, batch_size, repeats, out):
    """Epoch time of float64 over float32 input on the same data."""
    X, y = make_data(n_samples, n_features)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    fastgd_fit(X32[:64], y32[:64], batch_size, 1, "numba")
    t64 = epoch_times(lambda k: fastgd_fit(X, y, batch_size, k, "numba"), 3, repeats)
    t32 = epoch_times(lambda k: fastgd_fit(X32, y32, batch_size, k, "numba"), 3, repeats)
    out(f"\nfloat32 vs float64, {n_samples:,}x{n_features:,} b{batch_size}: float32 is "
        f"{np.median(t64) / np.median(t32):.2f}x faster (s per epoch, float64 {spread(t64)}, "
        f"float32 {spread(t32)})")


def auto_vs_lstsq(n_samples, n_features, out):
    """A default ("auto") fit against np.linalg.lstsq: time and excess training MSE."""
    X, y = make_data(n_samples, n_features)
    fit(X[:256], y[:256], epochs=2)
    start = time.perf_counter()
    result = fit(X, y, random_state=0)
    t_fit = time.perf_counter() - start
    A = np.column_stack([X, np.ones(len(X))])
    start = time.perf_counter()
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    t_lstsq = time.perf_counter() - start
    best = np.mean((A @ solution - y) ** 2)
    excess = np.mean((result.predict(X) - y) ** 2) / best - 1
    out(f"\ndefault fit of {n_samples:,}x{n_features}: {t_fit:.3f} s, {result.n_epochs} epochs, "
        f"relative excess MSE {excess:.1e}; np.linalg.lstsq: {t_lstsq:.3f} s")


#: Shapes of the time-to-solution table (the last two in quick mode: small).
SOLUTION_SHAPES = [(1_000_000, 10), (200_000, 200), (50_000, 1_000), (20_000, 2_000)]
QUICK_SOLUTION_SHAPES = [(5_000, 10), (2_000, 50)]


def conditioned_data(n_samples, n_features, ill, seed=0):
    """Gaussian rows and a linear model with unit noise; ``ill``: correlated columns (AR(1),
    rho 0.9) scaled from 1e-2 to 1e2 (X's condition number is then above 1e4, and above 10
    once the columns are standardised)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    if ill:
        for j in range(1, n_features):  # AR(1) across the columns, one column at a time
            X[:, j] = 0.9 * X[:, j - 1] + np.sqrt(1 - 0.81) * X[:, j]
        X *= np.logspace(-2, 2, n_features)
    y = X @ (rng.uniform(-2, 2, n_features) / X.std(axis=0)) + 1.5 + rng.standard_normal(
        n_samples)
    return X, y


def time_to_solution(out, shapes=SOLUTION_SHAPES):
    """Seconds to a default fit against ``np.linalg.lstsq`` and scikit-learn's
    ``SGDRegressor`` defaults in a ``StandardScaler`` pipeline, with each one's relative
    excess training MSE over lstsq's, on well and ill conditioned data (every method warmed
    on small data first)."""
    sklearn = _available("sklearn")
    if sklearn:
        from sklearn.linear_model import SGDRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        def sgd(X, y):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning
                return make_pipeline(StandardScaler(), SGDRegressor(random_state=0)).fit(X, y)

        sgd(*make_data(200, 3))
    fit(*make_data(200, 3), random_state=0)
    fit(*make_data(5000, 3), random_state=0, n_jobs=2)
    out("\n| shape | data | fastgd default | epochs | excess | lstsq | sklearn SGD pipeline "
        "| excess | fastgd n_jobs=2 | epochs | excess |\n|---|---|---|---|---|---|---|---|---|---|"
        "---|")
    for n_samples, n_features in shapes:
        for ill in (False, True):
            X, y = conditioned_data(n_samples, n_features, ill)
            start = time.perf_counter()
            A = np.column_stack([X, np.ones(n_samples)])
            solution = np.linalg.lstsq(A, y, rcond=None)[0]
            t_lstsq = time.perf_counter() - start
            best = np.mean((A @ solution - y) ** 2)
            del A
            start = time.perf_counter()
            result = fit(X, y, random_state=0)
            t_fit = time.perf_counter() - start
            excess = np.mean((result.predict(X) - y) ** 2) / best - 1
            peer = "not installed | -"
            if sklearn:
                start = time.perf_counter()
                model = sgd(X, y)
                t_sgd = time.perf_counter() - start
                peer = (f"{t_sgd:.2f} s | {np.mean((model.predict(X) - y) ** 2) / best - 1:.1e}")
            start = time.perf_counter()
            threaded = fit(X, y, random_state=0, n_jobs=2)
            t_threaded = time.perf_counter() - start
            threaded_excess = np.mean((threaded.predict(X) - y) ** 2) / best - 1
            out(f"| {n_samples:,} x {n_features:,} | {'ill' if ill else 'well'} | "
                f"{t_fit:.2f} s | {result.n_epochs} | {excess:.1e} | {t_lstsq:.2f} s | {peer} | "
                f"{t_threaded:.2f} s | {threaded.n_epochs} | {threaded_excess:.1e} |")


def accuracy(out, seeds=5, max_epochs=200):
    """The README's accuracy table: relative excess training MSE over np.linalg.lstsq with
    the defaults, the worst of ``seeds`` shuffling seeds, on every problem family."""
    from ..datasets import FAMILIES, make_problem

    out("\n| family | rows x cols | worst excess MSE | mean epochs run |\n|---|---|---|---|")
    for name, family in FAMILIES.items():
        X, y, _, _ = make_problem(name, random_state=0)
        A = np.column_stack([X, np.ones(len(X))]) if family.fit_intercept else X
        best = np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
        excess, epochs = [], []
        for seed in range(seeds):
            result = fit(X, y, batch_size=16 if name == "one_feature" else 32,
                         epochs=max_epochs, fit_intercept=family.fit_intercept,
                         random_state=seed)
            excess.append(np.mean((result.predict(X) - y) ** 2) / best - 1)
            epochs.append(result.n_epochs)
        out(f"| {name} | {X.shape[0]} x {X.shape[1]} | {max(excess):.1e} | "
            f"{np.mean(epochs):.0f} |")


def out_of_core(out, n_samples=10_000_000, n_features=10, epochs=3):
    """A memory-mapped fit: peak Python-tracked memory against X's size, and seconds per
    epoch against the same fit in memory (constant step, ``epochs`` epochs, tol None)."""
    import os
    import tempfile
    import tracemalloc

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "X.npy")
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                      shape=(n_samples, n_features))
        y = np.empty(n_samples)
        rng = np.random.default_rng(0)
        coef = rng.uniform(-2, 2, n_features)
        for start in range(0, n_samples, 1_000_000):
            block = rng.standard_normal((min(1_000_000, n_samples - start), n_features))
            X[start:start + len(block)] = block
            y[start:start + len(block)] = block @ coef + 1.5 + rng.standard_normal(len(block))
        X.flush()
        del X
        X = np.load(path, mmap_mode="r")
        kwargs = dict(learning_rate=schedules.Constant(STEP), tol=None, random_state=0)
        fit(X[:100_000], y[:100_000], epochs=1, **kwargs)
        fit(np.load(path, mmap_mode="r")[:10], y[:10], epochs=1, **kwargs)
        tracemalloc.start()
        start = time.perf_counter()
        fit(X, y, epochs=epochs, **kwargs)
        streamed = (time.perf_counter() - start) / epochs
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        in_memory = np.array(X)
        start = time.perf_counter()
        fit(in_memory, y, epochs=epochs, **kwargs)
        loaded = (time.perf_counter() - start) / epochs
    out(f"\nmemory-mapped fit of {n_samples:,}x{n_features} ({in_memory.nbytes / 1e6:.0f} MB): "
        f"peak memory traced during the fit {peak / 1e6:.0f} MB "
        f"({peak / in_memory.nbytes:.1%} of X), {streamed:.3f} s per epoch; in memory "
        f"{loaded:.3f} s per epoch")


def dask_workers(out, n_samples=2_000_000, n_features=10, n_blocks=8, epochs=3):
    """fastgd.dask.fit seconds per epoch on a local cluster of 1 and 2 worker processes."""
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    from ..dask import fit as dask_fit

    rng = da.random.default_rng(0)  # made on the workers: nothing large leaves the client
    Xd = rng.standard_normal((n_samples, n_features), chunks=(n_samples // n_blocks, -1))
    y = Xd @ np.linspace(-2, 2, n_features) + 1.5 + rng.standard_normal(
        n_samples, chunks=n_samples // n_blocks)
    kwargs = dict(learning_rate=schedules.Constant(STEP), tol=None, random_state=0)
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster):
            X_here, y_here = Xd.persist(), y.persist()
            dask_fit(X_here, y_here, epochs=1, **kwargs)  # compile on the workers
            times = {}
            for count in (1, 1 + epochs):
                start = time.perf_counter()
                dask_fit(X_here, y_here, epochs=count, **kwargs)
                times[count] = time.perf_counter() - start
        out(f"fastgd.dask.fit, {n_samples:,}x{n_features} in {n_blocks} blocks, {workers} "
            f"worker(s): {(times[1 + epochs] - times[1]) / epochs:.3f} s per epoch")


def two_threads(n_samples, n_features, batch_size, out):
    """Two fits in two threads against the same two fits one after the other."""
    X, y = make_data(n_samples, n_features)
    fastgd_fit(X[:64], y[:64], batch_size, 1, "numba")
    one_after_other = np.median(times(lambda: [fastgd_fit(X, y, batch_size, 3, "numba")
                                               for _ in range(2)], 3))

    def concurrently():
        threads = [threading.Thread(target=fastgd_fit, args=(X, y, batch_size, 3, "numba"))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    together = np.median(times(concurrently, 3))
    out(f"\ntwo fits of {n_samples:,}x{n_features} in two threads: {together / one_after_other:.2f}"
        " of the time one after the other")


#: Sparse cases of :func:`sparse`: (name, rows, columns, density); the quick ones are a tenth.
SPARSE_CASES = [("random", 200_000, 20_000, 0.001), ("one-hot", 200_000, None, None)]


def sparse_data(n_samples, n_features, density, seed=0):
    """A CSR X (random, or the one-hot family when ``n_features`` is None) and y."""
    from ..datasets import _random_sparse, make_sparse_problem

    if n_features is None:
        return make_sparse_problem("one_hot", seed, size=n_samples / 20_000)[:2]
    rng = np.random.default_rng(seed)
    X = _random_sparse(rng, n_samples, n_features, density)
    return X, X @ rng.standard_normal(n_features) + 2.0 + 0.5 * rng.standard_normal(n_samples)


def sparse(out, quick=False, repeats=3, epochs=3, cases=SPARSE_CASES):
    """Sparse X: seconds per epoch against scikit-learn's ``SGDRegressor`` on the same CSR
    matrix (constant step, no penalty, batch 32 against its single rows; fastgd with an L2
    penalty too), and a default fit against ``scipy.sparse.linalg.lsqr`` (``atol = btol =
    1e-8``) with each one's excess training MSE over an exact solve."""
    from scipy.sparse import hstack
    from scipy.sparse.linalg import lsqr

    out("\n| sparse data | fastgd s/epoch | fastgd l2 s/epoch | sklearn SGD s/epoch | "
        "sklearn/fastgd | fastgd default | epochs | excess | lsqr | excess | "
        "fastgd n_jobs=2 s/epoch | sklearn/that | default n_jobs=2 | epochs | excess |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n_samples, n_features, density in cases:
        if quick:
            n_samples = n_samples // 10
            n_features = None if n_features is None else n_features // 10
        X, y = sparse_data(n_samples, n_features, density)
        name = f"{name} {X.shape[0]:,} x {X.shape[1]:,}, {X.nnz / X.shape[0]:.0f} a row"
        methods = {"fastgd": lambda k: fit(X, y, epochs=k, tol=None, random_state=0,
                                           learning_rate=schedules.Constant(0.01)),
                   "fastgd l2": lambda k: fit(X, y, epochs=k, tol=None, random_state=0,
                                              learning_rate=schedules.Constant(0.01),
                                              penalty="l2", alpha=1e-4),
                   "fastgd n_jobs=2": lambda k: fit(X, y, epochs=k, tol=None, random_state=0,
                                                    learning_rate=schedules.Constant(0.01),
                                                    n_jobs=2)}
        if _available("sklearn"):
            from sklearn.linear_model import SGDRegressor

            def sgd(k):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return SGDRegressor(penalty=None, learning_rate="constant", eta0=0.01,
                                        max_iter=k, tol=None, random_state=0).fit(X, y)

            methods["sklearn"] = sgd
        per_epoch = {}
        for method_name, method in methods.items():
            method(1)  # warm up: compile, imports
            runs = 1 if method_name == "fastgd l2" else repeats
            per_epoch[method_name] = np.median(epoch_times(method, epochs, runs))
        fit(X[:256], y[:256], epochs=2)
        start = time.perf_counter()
        result = fit(X, y, random_state=0)
        t_fit = time.perf_counter() - start
        start = time.perf_counter()
        threaded = fit(X, y, random_state=0, n_jobs=2)
        t_threaded = time.perf_counter() - start
        start = time.perf_counter()
        A = hstack([X, np.ones((X.shape[0], 1))], format="csr")
        solution = lsqr(A, y, atol=1e-8, btol=1e-8)[0]
        t_lsqr = time.perf_counter() - start
        exact = lsqr(A, y, atol=1e-14, btol=1e-14, iter_lim=20 * A.shape[1])[0]
        best = np.mean((A @ exact - y) ** 2)
        excess = np.mean((result.predict(X) - y) ** 2) / best - 1
        excess_lsqr = np.mean((A @ solution - y) ** 2) / best - 1
        excess_threaded = np.mean((threaded.predict(X) - y) ** 2) / best - 1
        sk = per_epoch.get("sklearn")
        two = per_epoch["fastgd n_jobs=2"]
        peer = "not installed | -" if sk is None else (
            f"{sk:.3f} | {sk / per_epoch['fastgd']:.2f}x")
        out(f"| {name} | {per_epoch['fastgd']:.3f} | {per_epoch['fastgd l2']:.3f} | {peer} | "
            f"{t_fit:.2f} s | {result.n_epochs} | {excess:.1e} | {t_lsqr:.2f} s | "
            f"{excess_lsqr:.1e} | {two:.3f} | {'-' if sk is None else f'{sk / two:.2f}x'} | "
            f"{t_threaded:.2f} s | {threaded.n_epochs} | {excess_threaded:.1e} |")


#: Shapes of :func:`losses` (rows, columns, batch); the quick ones are smaller.
LOSS_SHAPES = [(1_000_000, 10, 32), (20_000, 1_000, 64)]
QUICK_LOSS_SHAPES = [(100_000, 10, 32), (20_000, 200, 64)]
#: scikit-learn's SGDRegressor names of the losses it has.
SKLEARN_LOSSES = ("squared_error", "huber", "epsilon_insensitive",
                  "squared_epsilon_insensitive")


def losses(out, quick=False, repeats=3, shapes=None, lp_rows=None):
    """Seconds per epoch of each loss against squared error (and scikit-learn's SGDRegressor
    with the same loss) on ``shapes`` (rows, columns, batch; default :data:`LOSS_SHAPES`),
    then a default quantile fit of ``lp_rows`` rows against ``QuantileRegressor``."""
    from .._engine.loss_functions import LOSSES

    if shapes is None:
        shapes = QUICK_LOSS_SHAPES if quick else LOSS_SHAPES
    out("| data | loss | fastgd s/epoch | vs squared error | sklearn SGD s/epoch |")
    out("|---|---|---|---|---|")
    for n_samples, n_features, batch_size in shapes:
        X, y = make_data(n_samples, n_features)
        sklearn = _available("sklearn")
        for loss in LOSSES:  # warm up: compile, imports
            fit(X[:256], y[:256], batch_size=batch_size, epochs=1, loss=loss)
            if loss in SKLEARN_LOSSES and sklearn:
                _sklearn_loss_fit(X[:256], y[:256], loss, 1)
        base = None
        for loss in LOSSES:
            def run(epochs, loss=loss):
                fit(X, y, batch_size=batch_size, epochs=epochs, tol=None, loss=loss,
                    learning_rate=schedules.Constant(STEP), random_state=0, backend="numba")
            seconds = epoch_times(run, 2, repeats)
            base = np.median(seconds) if base is None else base
            peer = "-"
            if loss in SKLEARN_LOSSES and sklearn:
                peer = spread(epoch_times(lambda k, loss=loss: _sklearn_loss_fit(
                    X, y, loss, k), 2, 1))
            out(f"| {n_samples:,}x{n_features:,} b{batch_size} | {loss} | {spread(seconds)} | "
                f"{np.median(seconds) / base:.2f}x | {peer} |")
    if _available("sklearn"):
        _quantile_against_lp(out, lp_rows or (5_000 if quick else 20_000))


def _sklearn_loss_fit(X, y, loss, epochs):
    from sklearn.linear_model import SGDRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SGDRegressor(loss=loss, learning_rate="constant", eta0=STEP, max_iter=epochs, tol=None,
                     penalty=None, random_state=0).fit(X, y)


def _quantile_against_lp(out, n_samples, n_features=10):
    """A default 90% quantile fit on data with 5% outlying targets, against scikit-learn's
    ``QuantileRegressor`` (HiGHS linear programming): seconds and the objective excess."""
    from sklearn.linear_model import QuantileRegressor

    from ..datasets import make_outlier_problem

    X, y, *_ = make_outlier_problem(0, n_samples, n_features)
    fit(X[:256], y[:256], loss="quantile")  # compile

    def pinball(coef, intercept):
        r = X @ coef + intercept - y
        return float(np.mean(np.where(r > 0, 0.1 * r, -0.9 * r)))

    started = time.perf_counter()
    exact = QuantileRegressor(quantile=0.9, alpha=0.0, solver="highs").fit(X, y)
    lp_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = fit(X, y, loss="quantile", quantile=0.9, random_state=0)
    seconds = time.perf_counter() - started
    best = pinball(exact.coef_, exact.intercept_)
    excess = (pinball(result.coef, result.intercept) - best) / best
    out(f"\nquantile 0.9, {n_samples:,}x{n_features} with 5% outlying targets: fastgd default "
        f"{seconds:.2f} s ({result.n_epochs} epochs, objective excess {excess:.1e}), "
        f"QuantileRegressor (HiGHS) {lp_seconds:.2f} s")


def run_bench(quick=False, repeats=3, out=print, accuracy_only=False, scale_only=False,
              solution_only=False, sparse_only=False, losses_only=False):
    """Print the comparison tables.

    Parameters
    ----------
    quick : bool, default False
        Small cases only (seconds, for a smoke test).
    accuracy_only : bool, default False
        Print the accuracy table (:func:`accuracy`) instead.
    scale_only : bool, default False
        Measure :func:`out_of_core` and :func:`dask_workers` instead.
    solution_only : bool, default False
        Print the time-to-solution table (:func:`time_to_solution`) instead.
    sparse_only : bool, default False
        Print the sparse table (:func:`sparse`) instead.
    losses_only : bool, default False
        Print the losses table (:func:`losses`) instead.
    repeats : int, default 3
        Timed runs of the fast methods (their median is kept, with the spread).
    out : callable, default print
        Receives each line.
    """
    if accuracy_only:
        accuracy(out)
        return
    if scale_only:
        out_of_core(out)
        dask_workers(out)
        return
    if solution_only:
        time_to_solution(out, QUICK_SOLUTION_SHAPES if quick else SOLUTION_SHAPES)
        return
    if sparse_only:
        sparse(out, quick, repeats)
        return
    if losses_only:
        losses(out, quick, repeats)
        return
    out(f"fastgd bench: plain mini-batch gradient descent, constant step {STEP}, shuffling on; "
        f"median (min-max) of {repeats} runs of fastgd, peers warmed first")
    missing = [name for name, module in (("scikit-learn", "sklearn"), ("PyTorch", "torch"))
               if not _available(module)]
    if missing:
        out(f"(not installed, left out: {', '.join(missing)})")
    for case in QUICK_CASES if quick else CASES:
        compare(case, repeats, out)
    if quick:
        float32_speedup(20_000, 200, 64, repeats, out)
        auto_vs_lstsq(20_000, 10, out)
        two_threads(20_000, 10, 32, out)
    else:
        float32_speedup(20_000, 1_000, 64, repeats, out)
        auto_vs_lstsq(1_000_000, 10, out)
        two_threads(1_000_000, 10, 32, out)
