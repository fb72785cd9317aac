"""Firmware builds for the tests: skipped with one line when the TFLM trees or toolchains are absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

MODEL = ROOT / "models" / "default"


def _tflm_or_skip(kernels: str) -> None:
    from host import firmware
    from host.util import KwsError

    try:
        firmware.tflm_tree(kernels)
    except KwsError:
        pytest.skip(f"no TFLM {kernels} tree (set TFLM_DIR, or run `kws firmware tflm`)")


@pytest.fixture(scope="session")
def build_root() -> Path:
    """Builds persist between runs (incremental) in $KWS_BUILD_DIR, default build/ in the repository."""
    root = Path(os.environ.get("KWS_BUILD_DIR", ROOT / "build"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def native(build_root: Path) -> Path:
    """The native build (simulator + core unit tests) of the shipped model."""
    from host import firmware

    _tflm_or_skip("reference")
    if not shutil.which("cmake"):
        pytest.skip("cmake not installed")
    return firmware.build("native", MODEL, build_root / "native")


@pytest.fixture(scope="session")
def sim(native: Path) -> Path:
    return native / "boards" / "native" / "kws_sim"


@pytest.fixture(scope="session")
def cm4_toolchain() -> None:
    _tflm_or_skip("cmsis_nn")
    for tool in ("arm-none-eabi-g++", "qemu-system-arm", "cmake"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
