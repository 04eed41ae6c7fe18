"""Installs where Numba cannot write its cache still work, with one warning."""

import os
import subprocess
import sys
import textwrap


def test_unwritable_cache_falls_back_to_uncached_kernels():
    script = textwrap.dedent("""
        import warnings
        import numba
        import numpy as np

        njit = numba.njit

        def refusing_njit(*args, **kwargs):  # what Numba does with no writable cache location
            if kwargs.get("cache"):
                raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
            return njit(*args, **kwargs)

        numba.njit = refusing_njit
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fastgd
            result = fastgd.fit(np.arange(20.0)[:, None], np.arange(20.0), epochs=3)
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1 and "NUMBA_CACHE_DIR" in messages[0], messages
        assert result.backend == "numba" and np.isfinite(result.coef).all()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_kernels_run_as_python_with_the_jit_disabled():
    """NUMBA_DISABLE_JIT=1 runs the kernel source as Python: same answers, no warnings."""
    script = textwrap.dedent("""
        import warnings
        import numpy as np
        warnings.simplefilter("error")
        import fastgd
        from fastgd.datasets import make_problem

        X, y, _, _ = make_problem("several", random_state=0)
        X, y = X[:200], y[:200]
        everything = dict(penalty="elasticnet", sample_weight=np.arange(200.0) % 3,
                          average=True, early_stopping=True)
        for kwargs in (dict(), dict(batch_size=7, drop_last=True), dict(fit_intercept=False),
                       everything, dict(penalty="l1", alpha=0.1)):
            python = fastgd.fit(X, y, epochs=5, random_state=3, **kwargs)
            reference = fastgd.fit(X, y, epochs=5, random_state=3, backend="numpy",
                                   shuffle=False, **kwargs)
            assert python.backend == "numba" and np.isfinite(python.coef).all()
            ordered = fastgd.fit(X, y, epochs=5, shuffle=False, random_state=3, **kwargs)
            np.testing.assert_allclose(ordered.coef, reference.coef, rtol=1e-9)
        print("ok")
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
