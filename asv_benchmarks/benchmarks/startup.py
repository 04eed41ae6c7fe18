"""Start-up costs: compiling the kernels, and importing fastgd with a warm cache."""

import os
import subprocess
import sys
import tempfile

from .common import Benchmark

FIRST_FIT = (
    "import numpy as np, fastgd; "
    "X = np.random.default_rng(0).standard_normal((64, 3)); "
    "fastgd.fit(X, X.sum(axis=1), epochs=2, random_state=0)"
)


def _run_first_fit(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    subprocess.run([sys.executable, "-c", FIRST_FIT], env=env, check=True)


class Startup(Benchmark):
    """A new process that imports fastgd and makes one small fit."""

    number = 1
    repeat = 3
    warmup_time = 0

    def setup_cache(self):
        cache_dir = tempfile.mkdtemp(prefix="fastgd-asv-numba-")
        _run_first_fit(cache_dir)
        return cache_dir

    def time_compile_cold_cache(self, cache_dir):
        """Import, JIT-compile every kernel into an empty cache, fit."""
        with tempfile.TemporaryDirectory(prefix="fastgd-asv-cold-") as cold:
            _run_first_fit(cold)

    def time_import_and_first_fit_warm_cache(self, cache_dir):
        """Import, load the compiled kernels from the cache, fit."""
        _run_first_fit(cache_dir)
