"""Shared fixtures: a small synthetic dataset and a small model trained once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KWS_SHARED_DATA", ROOT.parent / "shared" / "data" / "speech_commands"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep generated datasets of the tests out of the user's cache."""
    os.environ["KWS_CACHE"] = str(tmp_path_factory.mktemp("kws-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "yes").is_dir():
        pytest.skip(f"real speech clips not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from host import dataset

    return dataset.synthesize(
        ["yes", "no"], tmp_path_factory.mktemp("synth") / "ds", per_word=60, seed=3, progress=False
    )


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, synth_dir: Path) -> Path:
    """`kws pipeline` end to end on a small synthetic two-keyword set (tiny_conv, a few epochs)."""
    from host import cli

    out = tmp_path_factory.mktemp("models") / "small"
    argv = [
        "pipeline",
        "--keywords",
        "yes,no",
        "--data",
        str(synth_dir),
        "--no-synthetic",
        "--arch",
        "tiny_conv",
        "--epochs",
        "20",
        "--stream-minutes",
        "0.5",
        "--out",
        str(out),
        "--quiet",
    ]
    assert cli.main(argv) == 0
    return out
