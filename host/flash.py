"""Build the firmware for an Arduino Nano 33 BLE / BLE Sense with PlatformIO, upload it through the Arduino
bootloader (1200-baud touch, wait for the bootloader port, bossac), and check that the board answers with
the model just flashed.

    python host/flash.py [--port PORT] [--model models/NAME] [--env nano33ble] [--dry-run]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):  # run as a script: import the `host` package, not host/'s files as modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from host.util import KwsError

ROOT = Path(__file__).resolve().parents[1]
ARDUINO_VID = 0x2341
SKETCH_PIDS = {0x805A: "Nano 33 BLE / BLE Sense"}  # running a sketch
BOOTLOADER_PIDS = {0x005A: "Nano 33 BLE / BLE Sense (bootloader)"}
ENVS = ("nano33ble", "nano33ble_sense")


@dataclass(frozen=True)
class Board:
    port: str
    pid: int
    description: str

    @property
    def in_bootloader(self) -> bool:
        return self.pid in BOOTLOADER_PIDS


def boards() -> tuple[list[Board], list[str]]:
    """Nano 33 BLE family boards by USB VID/PID, and a description of every other port seen."""
    from serial.tools import list_ports

    found, others = [], []
    for p in list_ports.comports():
        if p.vid == ARDUINO_VID and p.pid in {**SKETCH_PIDS, **BOOTLOADER_PIDS}:
            found.append(Board(p.device, p.pid, {**SKETCH_PIDS, **BOOTLOADER_PIDS}[p.pid]))
        else:
            vidpid = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else "no USB id"
            others.append(f"{p.device} ({vidpid}, {p.description})")
    return found, others


def choose_port(port: str | None, ask: bool = True) -> str:
    """The given port, else the one Nano 33 BLE found. Several: ask (or say to use --port); none: say what
    was seen instead."""
    if port:
        return port
    found, others = boards()
    if len(found) == 1:
        return found[0].port
    if not found:
        seen = "; ".join(others) if others else "no serial ports at all"
        raise KwsError(
            f"no Arduino Nano 33 BLE found (USB {ARDUINO_VID:04x}:{min(SKETCH_PIDS):04x}). Seen: {seen}. "
            "Plug it in with a data cable, or give --port"
        )
    listing = "\n".join(f"  [{i + 1}] {b.port}  {b.description}" for i, b in enumerate(found))
    if not ask or not sys.stdin.isatty():
        raise KwsError(f"several boards found; choose one with --port:\n{listing}")
    print(f"Several boards found:\n{listing}")
    choice = input(f"Which one [1-{len(found)}]? ").strip()
    if not choice.isdigit() or not 1 <= int(choice) <= len(found):
        raise KwsError(f"no board chosen (answer 1 to {len(found)})")
    return found[int(choice) - 1].port


def pio() -> str:
    exe = shutil.which("pio") or shutil.which("platformio")
    if exe is None:
        raise KwsError(
            "PlatformIO is not installed: pip install -e . (it is a dependency) or pip install platformio; "
            "its first build downloads the nordicnrf52 platform (internet), or see README: PlatformIO offline"
        )
    return exe


def platformio_core() -> Path:
    return Path(os.environ.get("PLATFORMIO_CORE_DIR", Path.home() / ".platformio"))


def pinned_packages() -> tuple[str, list[str]]:
    """platformio.ini's platform (name@version) and its platform_packages specs (owner/name@version)."""
    import configparser

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "platformio.ini")
    packages = [line.strip() for line in ini.get("env", "platform_packages", fallback="").splitlines() if line.strip()]
    return ini.get("env", "platform"), packages


def platformio_problem() -> str | None:
    """Why `pio run` would need the registry to build the Nano 33 BLE here (None: everything it needs is
    installed, so it builds offline). One line, for a test's skip reason or an offline error."""
    try:
        pio()
    except KwsError:
        return "PlatformIO is not installed (pip install -e .)"
    core = platformio_core()
    platform, packages = pinned_packages()
    name, _, version = platform.partition("@")
    manifest = core / "platforms" / name / "platform.json"
    try:
        installed = json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        installed = None
    if installed != version:
        return f"the PlatformIO platform {platform} is not installed in {core} (README: PlatformIO offline)"
    for spec in [*packages, "platformio/tool-scons"]:
        package = spec.split("@")[0].split("/")[-1]
        if not (core / "packages" / package / "package.json").exists():
            return f"the PlatformIO package {spec} is not installed in {core} (README: PlatformIO offline)"
    return None


def build_command(env: str, exe: str | None = None) -> list[str]:
    return [exe or pio(), "run", "-d", str(ROOT), "-e", env]


def build_dir(env: str) -> Path:
    return ROOT / ".pio" / "build" / env


def firmware_binary(env: str) -> Path:
    return build_dir(env) / "firmware.bin"


def model_setting(model: Path) -> str:
    """KWS_MODEL for platformio_tflm.py: the model folder relative to the project, or absolute."""
    path = Path(model).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def build(env: str, model: Path) -> Path:
    """`pio run -e ENV` for the model (its exported sources must exist); returns the ELF. A build that
    needs the registry without internet gets one message saying so."""
    if env not in ENVS:
        raise KwsError(f"unknown env {env!r}; choose one of {ENVS}")
    run_tool(build_command(env), "build", {**os.environ, "KWS_MODEL": model_setting(model)})
    return build_dir(env) / "firmware.elf"


def build_model(env: str, model: Path) -> Path:
    """Write the model's firmware sources from model.json and model.tflite, then `build` them."""
    from host import export

    meta, data = export.load(model)
    export.write_sources(Path(model) / export.SOURCES_DIR, meta, data)
    return build(env, model)


def bossac() -> str:
    """bossac from PlatformIO's packages (or the PATH)."""
    for candidate in sorted(platformio_core().glob("packages/tool-bossac*/bossac")):
        return str(candidate)
    exe = shutil.which("bossac")
    if exe is None:
        raise KwsError("bossac not found: it comes with PlatformIO's nordicnrf52 platform (run a build first)")
    return exe


def upload_command(port: str, binary: Path, exe: str | None = None) -> list[str]:
    """The Arduino core's bossac invocation (platform.txt), with the port's full path (bossac 1.9.1-arduino
    opens it as given, else under /dev/). No --offset: the Nano 33 BLE's bootloader writes what bossac sends
    for offset 0 at 0x10000, where the image is linked (its vector table is the start of firmware.bin)."""
    return [exe or bossac(), "-d", f"--port={port}", "-U", "-i", "-e", "-w", str(binary), "-R"]


def touch_1200(port: str) -> None:
    """Open and close the sketch's port at 1200 baud: the Arduino core then resets into its bootloader."""
    import serial

    try:
        # A port without modem lines (a pseudo-terminal) cannot drop DTR: opening it at 1200 baud is the request.
        with serial.Serial(port, 1200) as s, contextlib.suppress(OSError):
            s.dtr = False
    except serial.SerialException as e:
        if "Permission denied" in str(e):
            raise KwsError(f"permission denied on {port}: sudo usermod -aG dialout $USER (then log in again)") from None
        raise KwsError(f"cannot open {port} for the 1200-baud reset: {e}") from None


def wait_for_bootloader(timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found, _ = boards()
        for b in found:
            if b.in_bootloader:
                return b.port
        time.sleep(0.2)
    raise KwsError(
        f"the bootloader port did not appear within {timeout:g} s: double-tap the board's reset button "
        "(the LED pulses), then run again with the port it shows (--port)"
    )


def run_tool(cmd: Sequence[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        offline = ("HTTPClientError", "Could not resolve", "ConnectionError", "Max retries exceeded")
        if what == "build" and any(s in tail for s in offline):
            missing = platformio_problem() or "a package it wants"
            raise KwsError(f"PlatformIO could not fetch its packages (offline?): {missing}:\n{tail}")
        raise KwsError(f"{what} failed (exit {done.returncode}):\n{tail}")


def verify(port: str, expected_hash: str, timeout: float = 10.0) -> dict:
    """Wait for the firmware after reset and check that it runs the model just flashed: ask again every few
    seconds, since a question sent while the board was still starting goes unanswered."""
    from host.stream import Device

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with Device(port) as device:
                hello = device.hello(timeout=max(0.5, min(3.0, deadline - time.monotonic())))
        except KwsError as e:
            last = e
            time.sleep(0.3)
            continue
        if hello.get("hash") != expected_hash:
            raise KwsError(f"the board runs model {hello.get('hash')}, not the one just flashed ({expected_hash})")
        return hello
    raise KwsError(f"the firmware did not answer on {port} after the reset ({last})")


def flash(
    model: Path,
    env: str,
    port: str | None,
    dry_run: bool = False,
    out: TextIO | None = None,
    answer_timeout: float = 10.0,
) -> dict | None:
    """Build `env` with `model`, upload it, and return the hello line of the firmware after its reset (the
    firmware has `answer_timeout` seconds to answer)."""
    from host import export

    out = out or sys.stdout
    if env not in ENVS:
        raise KwsError(f"unknown env {env!r}; choose one of {ENVS}")
    meta, data = export.load(model)
    expected = export.model_hash(data)
    build_env = {**os.environ, "KWS_MODEL": model_setting(model)}
    if dry_run:
        port = port or "<board port>"
        for cmd in (
            ["kws", "export", "--model", str(model), "--out", str(Path(model) / export.SOURCES_DIR)],
            [f"KWS_MODEL={build_env['KWS_MODEL']}", *build_command(env, "pio")],
            ["<1200-baud touch>", port],
            upload_command("<bootloader port>", firmware_binary(env), "bossac"),
            ["<wait for hello, check hash>", port, expected],
        ):
            print(" ".join(cmd), file=out)
        return None
    port = choose_port(port)
    print(f"building {env} with model {meta['name']} ({expected})", file=out)
    build_model(env, model)
    print(f"resetting {port} into the bootloader", file=out)
    touch_1200(port)
    boot = wait_for_bootloader()
    print(f"uploading through {boot}", file=out)
    run_tool(upload_command(boot, firmware_binary(env)), "upload")
    hello = verify(port, expected, answer_timeout)
    print(f"flashed: {hello.get('board')} runs {hello.get('model')} ({expected})", file=out)
    return hello


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="flash.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--port", help="serial port of the board (default: found by USB id)")
    p.add_argument(
        "--model", type=Path, default=ROOT / "models" / "default", help="model folder (default: %(default)s)"
    )
    p.add_argument("--env", default="nano33ble", choices=ENVS, help="PlatformIO env (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="print every command instead of running it")
    args = p.parse_args(argv)
    try:
        flash(args.model, args.env, args.port, args.dry_run)
    except KwsError as e:
        print(f"flash: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
