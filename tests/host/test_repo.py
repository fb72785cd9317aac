"""Repository hygiene: README's commands are what CI runs, and the Python code is ruff-clean."""

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    setup, test = blocks[0].strip(), blocks[1].strip()
    assert "pip install -e" in setup and "kws pipeline" in setup
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == test


def test_ruff_clean() -> None:
    if not shutil.which("ruff"):
        pytest.skip("ruff not installed")
    run = subprocess.run(["ruff", "check", "host", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_mypy_clean() -> None:
    if not shutil.which("mypy"):
        pytest.skip("mypy not installed")
    run = subprocess.run(["mypy", "host"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
