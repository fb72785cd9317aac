"""What the Renode tests share: renode-test, and the PlatformIO Arduino images."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from host import flash
from tests.conftest import MODEL, tflm_or_skip


def renode_test() -> Path:
    exe = os.environ.get("RENODE_TEST") or shutil.which("renode-test")
    if not exe:
        pytest.skip("renode-test not installed (see README: Renode)")
    return Path(exe).resolve()


@pytest.fixture(scope="session")
def arduino_images() -> dict[str, Path]:
    """Both PlatformIO Arduino images of the shipped model (`pio run`), where PlatformIO and the platform
    platformio.ini pins are installed (from the registry, or offline: README "PlatformIO offline")."""
    problem = flash.platformio_problem()
    if problem:
        pytest.skip(problem)
    tflm_or_skip("cmsis_nn")
    return {env: flash.build(env, MODEL) for env in flash.ENVS}
