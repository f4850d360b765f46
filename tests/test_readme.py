"""The README cannot rot: its set-up lines are the CI's, and its Python examples run."""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

from conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"^(pip install .*?)\s+#", README[:1500], flags=re.M)
    assert commands[:2] == ['pip install . && noisenil quickstart',
                            'pip install ".[dev]" && python -m pytest']
    assert 'pip install ".[dev]" && python -m pytest' in (PROJECT_ROOT / ".ci/run").read_text()


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink(PROJECT_ROOT / "configs", tmp_path / "configs")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})
    # Where an example prints, the output must agree with the comment beside the print.
    for line in BLOCKS[index].splitlines():
        match = re.match(r"print\((.*)\)\s+#\s*(\S.*?)(:|$)", line)
        if match:
            assert match.group(2).strip() in out.getvalue(), line
