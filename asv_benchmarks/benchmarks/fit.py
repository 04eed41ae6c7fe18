"""Speed, memory and accuracy of ``fastgd.fit``."""

import numpy as np

import fastgd
from fastgd import _kernels
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


class EpochKernel(Benchmark):
    """The Numba kernel alone: one shuffle and one epoch of updates (one target, no weights)."""

    params = ([100_000, 1_000_000], [10], [32, 256], ["float32", "float64"])
    param_names = ["n_samples", "n_features", "batch_size", "dtype"]

    def setup(self, n_samples, n_features, batch_size, dtype):
        X, y = make_regression(n_samples, n_features, dtype)
        d = n_features
        self.index = np.arange(n_samples, dtype=np.int32)
        self.state = np.array([12345], dtype=np.uint64)
        coef, intercept = np.zeros((1, d)), np.zeros(1)
        work = (np.empty((1, d)), np.empty(1), np.empty((1, d)), np.empty(1))
        self.args = (X, y.reshape(-1, 1), None, self.index, 0, -(-n_samples // batch_size),
                     np.zeros(d), np.ones(d), np.zeros(1), np.ones(1), coef, intercept, True,
                     np.zeros((1, d)), np.zeros(d), batch_size, 0, 1e-3, 0.0, 0.0, 0, 0, -1,
                     coef.copy(), intercept.copy()) + work
        self.time_epoch_kernel(n_samples, n_features, batch_size, dtype)  # compile

    def time_epoch_kernel(self, n_samples, n_features, batch_size, dtype):
        _kernels._shuffle(self.index, self.state)
        _kernels._batches(*self.args)


class FitOptions(Benchmark):
    """``fastgd.fit`` with each model option, against the plain fit in the same run."""

    params = (["plain", "l1", "elasticnet", "sample_weight", "targets_3", "average",
               "early_stopping"],)
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
