"""Speed, memory and accuracy of ``fastgd.fit``."""

import inspect

import numpy as np

import fastgd
from fastgd.datasets import FAMILIES, make_problem

from .common import EPOCHS, Benchmark, make_regression, relative_excess_mse, warm_up


class Fit(Benchmark):
    """A whole ``fastgd.fit`` call of ``EPOCHS`` epochs (tol=None), shuffling on."""

    params = ([10_000, 100_000], [10, 100], [32, 256], ["float32", "float64"],
              ["numba", "numpy"])
    param_names = ["n_samples", "n_features", "batch_size", "dtype", "backend"]

    def setup(self, n_samples, n_features, batch_size, dtype, backend):
        self.X, self.y = make_regression(n_samples, n_features, dtype)
        warm_up(backend, dtype)

    def _fit(self, batch_size, backend):
        return fastgd.fit(self.X, self.y, batch_size=batch_size, epochs=EPOCHS, tol=None,
                          random_state=0, backend=backend)

    def time_fit(self, n_samples, n_features, batch_size, dtype, backend):
        self._fit(batch_size, backend)

    def peakmem_fit(self, n_samples, n_features, batch_size, dtype, backend):
        self._fit(batch_size, backend)


class FitThreads(Benchmark):
    """A whole ``fastgd.fit`` call of ``EPOCHS`` epochs (tol=None) on one or two threads
    (``n_jobs``; commits from before it skip ``n_jobs=2``)."""

    params = (["1000000x10 b32", "20000x1000 b64"], ["float32", "float64"], [1, 2])
    param_names = ["case", "dtype", "n_jobs"]

    def setup(self, case, dtype, n_jobs):
        if n_jobs != 1 and "n_jobs" not in inspect.signature(fastgd.fit).parameters:
            raise NotImplementedError("this commit has no n_jobs")
        shape, batch = case.split(" b")
        n_samples, n_features = map(int, shape.split("x"))
        self.X, self.y = make_regression(n_samples, n_features, dtype)
        self.kwargs = dict(batch_size=int(batch), epochs=EPOCHS, tol=None, random_state=0)
        if n_jobs != 1:
            self.kwargs["n_jobs"] = n_jobs
        warm_up("numba", dtype)
        fastgd.fit(self.X[:20_000], self.y[:20_000], **self.kwargs)  # the threads' path

    def time_fit(self, case, dtype, n_jobs):
        fastgd.fit(self.X, self.y, **self.kwargs)


class EpochKernel(Benchmark):
    """The compiled epoch engine alone: one shuffle and one epoch of updates (one target, no
    weights, no checks)."""

    params = ([100_000, 1_000_000], [10], [32, 256], ["float32", "float64"])
    param_names = ["n_samples", "n_features", "batch_size", "dtype"]

    def setup(self, n_samples, n_features, batch_size, dtype):
        # Imported here: a module-level import of the engine would keep every benchmark of
        # this file from loading on commits from before the engine's layout (asv continuous).
        from fastgd._engine import groups
        from fastgd._kernels import epochs

        self.run_epochs = epochs.run_epochs
        X, y = make_regression(n_samples, n_features, dtype)
        d = n_features
        model = groups.Model(np.zeros((1, d)), np.zeros(1))
        rows = groups.Rows(X, y.reshape(-1, 1), None, groups.index_for(n_samples))
        no_rows = groups.Rows(X[:0], y[:0].reshape(0, 1), None, groups.index_for(0))
        standard = groups.Standardisation(np.zeros(d), np.ones(d), np.zeros(1), np.ones(1))
        if hasattr(groups, "Loss"):  # the engine with losses: a Loss group, l2 per target
            objective = (groups.Loss(0, np.zeros(1), 0.5),
                         groups.Penalty(np.zeros((1, d)), np.zeros((1, d))))
        else:
            objective = (groups.Penalty(np.zeros((1, d)), np.zeros(d)),)
        self.args = (
            rows, standard, *objective,
            groups.Plan(True, batch_size, -(-n_samples // batch_size), False, True, 12345, -1,
                        0, 1, 1.0),
            groups.Steps(0, 1e-3, 0.0, 0.0),
            groups.Checks(0, 0.0, False, 1, False, np.empty((0, 0)), False), model,
            groups.Model(np.zeros((1, d)), np.zeros(1)), groups.new_tracker(model, 1, 1e-3),
            no_rows, groups.new_histories(1, 1),
            np.zeros(2, dtype=np.int64))
        self.time_epoch_kernel(n_samples, n_features, batch_size, dtype)  # compile

    def time_epoch_kernel(self, n_samples, n_features, batch_size, dtype):
        self.run_epochs(*self.args)


class FitOptions(Benchmark):
    """``fastgd.fit`` with each model option (the losses too: a loss should cost at most 1.3x
    squared error, the plain fit), against the plain fit in the same run."""

    params = (["plain", "l1", "elasticnet", "sample_weight", "targets_3", "average",
               "early_stopping", "huber", "epsilon_insensitive", "quantile"],)
    param_names = ["option"]

    def setup(self, option):
        self.X, self.y = make_regression(200_000, 10)
        rng = np.random.default_rng(1)
        self.kwargs = {
            "plain": {}, "l1": dict(penalty="l1", alpha=0.01),
            "elasticnet": dict(penalty="elasticnet", alpha=0.01),
            "sample_weight": dict(sample_weight=rng.exponential(size=len(self.y))),
            "targets_3": {}, "average": dict(average=True),
            "early_stopping": dict(early_stopping=True),
            "huber": dict(loss="huber"), "epsilon_insensitive": dict(loss="epsilon_insensitive"),
            "quantile": dict(loss="quantile", quantile=0.9),
        }[option]
        if option == "targets_3":
            self.y = np.column_stack([self.y, -self.y, 2 * self.y])
        self.time_fit(option)  # compile this option's specialisation

    def time_fit(self, option):
        fastgd.fit(self.X, self.y, epochs=EPOCHS, tol=None, random_state=0, **self.kwargs)


class Accuracy(Benchmark):
    """Relative excess training MSE over np.linalg.lstsq with the defaults and 200 epochs."""

    params = (list(FAMILIES),)
    param_names = ["family"]
    unit = "relative excess MSE"

    def setup(self, family):
        self.X, self.y, _, _ = make_problem(family, random_state=0)
        self.fit_intercept = FAMILIES[family].fit_intercept
        warm_up()

    def track_excess_mse(self, family):
        result = fastgd.fit(self.X, self.y, batch_size=16 if family == "one_feature" else 32,
                            epochs=200, fit_intercept=self.fit_intercept, random_state=1)
        return relative_excess_mse(self.X, self.y, result, self.fit_intercept)


class SparseFit(Benchmark):
    """``fastgd.fit`` on a scipy.sparse CSR X (``EPOCHS`` epochs, constant step, tol=None),
    beside scikit-learn's ``SGDRegressor`` on the same matrix in the same run, and the
    relative excess MSE of a default fit over lsqr's."""

    params = (["random", "one_hot"], ["fastgd", "fastgd_l2", "sklearn"])
    param_names = ["data", "method"]

    def setup(self, data, method):
        # Imported here: commits from before sparse input have neither the bench helpers nor
        # sparse support (asv continuous would otherwise fail to load the file).
        from fastgd._commands.bench import sparse_data

        shape = (200_000, 20_000, 0.001) if data == "random" else (200_000, None, None)
        self.X, self.y = sparse_data(*shape)
        if method == "sklearn":
            import warnings

            from sklearn.linear_model import SGDRegressor

            def run():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    SGDRegressor(penalty=None, learning_rate="constant", eta0=0.01,
                                 max_iter=EPOCHS, tol=None, random_state=0).fit(self.X, self.y)
        else:
            penalty = dict(penalty="l2", alpha=1e-4) if method == "fastgd_l2" else {}

            def run():
                fastgd.fit(self.X, self.y, epochs=EPOCHS, tol=None, random_state=0,
                           learning_rate=fastgd.schedules.Constant(0.01), **penalty)
        self.run = run
        self.run()  # compile, imports

    def time_fit(self, data, method):
        self.run()


class DefaultFit(Benchmark):
    """Time to a solution: a default ``fastgd.fit`` (``"auto"``, run to its stopping rule) of
    50,000 x 1,000, well or ill conditioned (``bench --time-to-solution``'s data), its epochs
    and its relative excess MSE over lstsq."""

    params = (["well", "ill"],)
    param_names = ["data"]

    def setup(self, data):
        try:
            from fastgd._commands.bench import conditioned_data
        except ImportError:
            raise NotImplementedError("this commit has no conditioned data") from None
        self.X, self.y = conditioned_data(50_000, 1_000, data == "ill")
        warm_up()
        fastgd.fit(*make_regression(2_000, 60), random_state=0)  # every phase of "auto"

    def _fit(self):
        return fastgd.fit(self.X, self.y, random_state=0)

    def time_fit(self, data):
        self._fit()

    def track_epochs(self, data):
        return self._fit().n_epochs

    def track_excess_mse(self, data):
        return relative_excess_mse(self.X, self.y, self._fit())


class MessyFit(Benchmark):
    """A default ``fastgd.fit`` of the messy families (``fastgd.datasets.make_messy_problem``:
    rows and weights shaped like users' data), with 60 columns where the family takes a
    width: its time, epochs and relative excess weighted MSE over weighted lstsq."""

    params = (["rare_indicators", "one_hot", "weight_mask", "heavy_weights", "heavy_rows",
               "outlying_rows"],)
    param_names = ["family"]

    def setup(self, family):
        try:
            from fastgd import datasets
        except ImportError:
            raise NotImplementedError("this commit has no messy families") from None
        if not hasattr(datasets, "MESSY_FAMILIES"):
            raise NotImplementedError("this commit has no messy families")
        make = datasets.MESSY_FAMILIES[family]
        rng = np.random.default_rng(0)
        wide = family in ("weight_mask", "heavy_weights", "heavy_rows", "outlying_rows")
        self.X, self.y, self.w = make(rng, d=60) if wide else make(rng)
        warm_up()
        self._fit()  # this family's specialisation compiled

    def _fit(self):
        return fastgd.fit(self.X, self.y, sample_weight=self.w, random_state=0)

    def time_fit(self, family):
        self._fit()

    def track_epochs(self, family):
        return self._fit().n_epochs

    def track_excess_mse(self, family):
        s = np.ones(len(self.y)) if self.w is None else self.w
        root = np.sqrt(s)
        A = np.column_stack([self.X, np.ones(len(self.X))])
        solution = np.linalg.lstsq(A * root[:, None], self.y * root, rcond=None)[0]
        best = np.average((A @ solution - self.y) ** 2, weights=s)
        ours = np.average((self._fit().predict(self.X) - self.y) ** 2, weights=s)
        return float(ours / best - 1.0)
