"""The README's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, request):
    """Each example as a script would run it (``__name__`` is ``"__main__"``)."""
    if "LocalCluster" in BLOCKS[index]:
        request.getfixturevalue("dask_cluster_lock_each")
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), {"__name__": "__main__"})


def test_readme_command_line_example_runs(tmp_path):
    """The command-line section's commands, in a fresh folder (``fastgd`` as this Python's)."""
    import shlex
    import subprocess
    import sys

    section = README.read_text().split("## Command line", 1)[1]
    commands = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1).splitlines()
    assert len(commands) == 3
    for command in commands:
        words = shlex.split(command)
        words = [sys.executable, "-m", "fastgd", *words[1:]] if words[0] == "fastgd" else (
            [sys.executable, *words[1:]])
        done = subprocess.run(words, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "predictions.csv").read_text().startswith("price\n")
    assert (tmp_path / "loss.png").exists()


@pytest.mark.usefixtures("dask_cluster_lock_each")
def test_readme_dask_example_runs_as_a_script(tmp_path):
    """Saved as a file and run by Python, the Dask example starts its worker processes (which
    re-import the script) without starting clusters of their own."""
    import subprocess
    import sys

    (block,) = [block for block in BLOCKS if "LocalCluster" in block]
    (tmp_path / "example.py").write_text(block + "    print(res.coef.round(1))\n")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    import numpy as np

    coef = np.array(done.stdout.strip().strip("[]").split(), dtype=float)
    np.testing.assert_allclose(coef, [1.0, 2.0, 0.0, -1.0, 0.5], atol=0.051)
