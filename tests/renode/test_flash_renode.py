"""host/flash.py end to end as far as this machine allows: the real `pio run` (offline platform), the real
bossac against a stand-in Nano 33 BLE bootloader on pseudo-terminals (tests/renode/standin_board.py), and the
flashed bytes booted in Renode, whose hello line flash.py checks for the model's hash."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from host import emulate, export, flash
from tests.conftest import MODEL
from tests.renode.conftest import renode_test
from tests.renode.standin_board import APP_START, StandInBoard


def test_flash_py_builds_uploads_and_checks_the_hash(arduino_images: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    renode_test()
    if not shutil.which("renode"):
        pytest.skip("renode not on the PATH (see README: Renode)")
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    renode: list[subprocess.Popen] = []

    def boot(image: bytes) -> str:  # the board after bossac's reset: Renode runs what was flashed
        (tmp_path / "flashed.bin").write_bytes(image)
        proc, url = emulate.start(tmp_path / "flashed.bin", tmp_path, binary_at=APP_START)
        renode.append(proc)
        return url

    board = StandInBoard(boot)
    from serial.tools import list_ports

    def comports() -> list[SimpleNamespace]:  # what USB enumeration shows: the sketch, then the bootloader
        if board.bootloader_port is None:
            return [SimpleNamespace(device=board.port, vid=flash.ARDUINO_VID, pid=min(flash.SKETCH_PIDS))]
        return [SimpleNamespace(device=board.bootloader_port, vid=flash.ARDUINO_VID, pid=min(flash.BOOTLOADER_PIDS))]

    monkeypatch.setattr(list_ports, "comports", comports)
    try:
        # A board answers within a second or two of its reset; Renode first has to start (Mono) and then boots
        # mbed far slower than the nRF52840 does, the more so on a busy machine.
        hello = flash.flash(model, "nano33ble", None, answer_timeout=120)
    finally:
        board.close()
        for proc in renode:
            proc.kill()
            proc.wait()
    assert board.error is None, board.error
    assert board.touched.is_set() and board.upload.identified and board.upload.reset
    assert board.upload.writes[0][0] == 0  # bossac's offset 0 is the application's start (0x10000)
    image = flash.firmware_binary("nano33ble").read_bytes()
    assert bytes(board.upload.flash[: len(image)]) == image
    assert hello is not None and hello["hash"] == export.model_hash((model / "model.tflite").read_bytes())
    assert hello["board"] == "nano33ble"
