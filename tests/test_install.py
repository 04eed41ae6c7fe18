"""Installs where Numba cannot write its cache still work, with one warning."""

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
