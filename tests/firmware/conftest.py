"""Firmware builds for the tests: skipped with one line when the TFLM trees or toolchains are absent."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import tflm_or_skip


@pytest.fixture(scope="session")
def cm4_toolchain() -> None:
    tflm_or_skip("cmsis_nn")
    for tool in ("arm-none-eabi-g++", "qemu-system-arm", "cmake"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
