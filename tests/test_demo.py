"""The main job: ``python -m fastgd demo``."""

import subprocess
import sys

import numpy as np

from fastgd._commands.demo import run_demo


def test_demo_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "fastgd", "demo", "--seed", "3", "--repeats",
                           "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "seed 3" in done.stdout
    for word in ("One feature", "Three features", "lstsq", "numba", "numpy"):
        assert word in done.stdout


def test_demo_auto_fit_is_as_good_as_lstsq():
    lines = []
    run_demo(seed=5, repeats=1, out=lines.append)
    auto = [float(line.split()[-2]) for line in lines if line.strip().startswith("auto")]
    assert len(auto) == 2 and all(np.abs(auto) <= 1e-3)


def test_bad_command_exits_with_one_line_pointing_to_help():
    done = subprocess.run([sys.executable, "-m", "fastgd", "nonsense"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "invalid choice: 'nonsense'" in done.stderr
    assert done.stderr.strip().endswith("(see fastgd --help)")
    assert len(done.stderr.strip().splitlines()) == 1


def test_demo_piped_into_a_closed_reader_ends_quietly():
    with subprocess.Popen([sys.executable, "-m", "fastgd", "demo", "--seed", "1", "--repeats",
                           "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.readline()
        proc.stdout.close()  # as `| head -1` does
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=300) == 0
    assert "Traceback" not in stderr
