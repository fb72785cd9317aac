"""host/flash.py: port discovery, the hello/hash check against the simulated board, clear errors, dry run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from host import export, flash, stream
from host.util import KwsError
from tests.conftest import MODEL, ROOT


def _port(device: str, vid: int | None, pid: int | None, description: str = "") -> SimpleNamespace:
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=description)


def test_port_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    from serial.tools import list_ports

    ports = [_port("/dev/ttyS0", None, None, "n/a"), _port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102")]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    with pytest.raises(KwsError, match=r"no Arduino Nano 33 BLE found .* /dev/ttyUSB0 \(10c4:ea60, CP2102\)"):
        flash.choose_port(None)
    ports.append(_port("/dev/ttyACM0", 0x2341, 0x805A, "Nano 33 BLE"))
    assert flash.choose_port(None) == "/dev/ttyACM0"
    assert flash.choose_port("/dev/custom") == "/dev/custom"
    ports.append(_port("/dev/ttyACM1", 0x2341, 0x805A, "Nano 33 BLE"))
    with pytest.raises(KwsError, match=r"several boards found; choose one with --port:\n  \[1\] /dev/ttyACM0"):
        flash.choose_port(None, ask=False)
    # After the 1200-baud touch the bootloader's port appears (here on the third look).
    looks = iter([[], [], [_port("/dev/ttyACM2", 0x2341, 0x005A)]])
    monkeypatch.setattr(list_ports, "comports", lambda: next(looks))
    assert flash.wait_for_bootloader(timeout=5) == "/dev/ttyACM2"
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    with pytest.raises(KwsError, match="double-tap the board's reset button"):
        flash.wait_for_bootloader(timeout=0.5)


def test_hello_and_hash_check_against_the_simulated_board(board) -> None:
    port = board()
    expected = export.model_hash((MODEL / "model.tflite").read_bytes())
    hello = flash.verify(port, expected, timeout=10)
    assert hello["hash"] == expected and hello["labels"][0] == "yes"
    with pytest.raises(KwsError, match="not the one just flashed"):
        flash.verify(port, "0" * 16, timeout=10)


def test_firmware_not_answering_is_reported() -> None:
    master, slave = os.openpty()  # a port nobody answers on
    try:
        with pytest.raises(KwsError, match="did not answer"):
            flash.verify(os.ttyname(slave), "0" * 16, timeout=1.5)
    finally:
        os.close(master)
        os.close(slave)


def test_dry_run_prints_every_command() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "host" / "flash.py"), "--dry-run", "--env", "nano33ble_sense"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    lines = run.stdout.splitlines()
    assert lines[1].startswith("KWS_MODEL=models/default pio run") and lines[1].endswith("-e nano33ble_sense")
    assert "1200-baud" in lines[2] and lines[3].startswith("bossac") and lines[3].endswith("firmware.bin -R")
    assert lines[4].endswith(export.model_hash((MODEL / "model.tflite").read_bytes()))


def test_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import serial

    model = tmp_path / "model"
    subprocess.run(["cp", "-r", str(MODEL), str(model)], check=True)
    monkeypatch.setenv("PATH", str(tmp_path))  # no pio on the PATH
    assert flash.main(["--port", "/dev/null", "--model", str(model)]) == 1
    assert "PlatformIO is not installed" in capsys.readouterr().err
    with pytest.raises(KwsError, match=r"upload failed \(exit 3\):\nbossac: No device found"):
        flash.run_tool([sys.executable, "-c", "import sys; print('bossac: No device found'); sys.exit(3)"], "upload")
    with pytest.raises(KwsError, match="could not fetch its packages"):
        flash.run_tool([sys.executable, "-c", "print('HTTPClientError: Could not resolve host'); exit(1)"], "build")

    def denied(*args: object, **kwargs: object) -> None:
        raise serial.SerialException("[Errno 13] could not open port /dev/ttyACM0: Permission denied")

    monkeypatch.setattr(serial, "serial_for_url", denied)
    with pytest.raises(KwsError, match="dialout"):
        stream.open_port("/dev/ttyACM0")
