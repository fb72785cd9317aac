"""Emulation with Renode: the bare-metal nRF52840 image on Renode's Arduino Nano 33 BLE, UART0 on a local
TCP socket, speech played into the emulated PDM microphone; `kws emulate` shows it in the live monitor."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from host import firmware
from host.util import KwsError, atomic_write_json

RESC = firmware.FIRMWARE / "boards" / "nrf52840" / "nano33ble.resc"
UARTE = firmware.FIRMWARE / "boards" / "nrf52840" / "nrf52840_uarte.cs"  # `include` it before the platform


def renode_root(exe: Path) -> Path:
    """The Renode installation a launcher belongs to (the folder holding `platforms/`)."""
    for parent in Path(exe).resolve().parents:
        if (parent / "platforms" / "boards" / "arduino_nano_33_ble.repl").exists():
            return parent
    raise KwsError(f"no Renode platforms found next to {exe}")


def local_platform(root: Path, dest: Path) -> Path:
    """Renode's Nano 33 BLE platform without its `ApplySVD` line (an SVD download, slow or failing offline),
    its UARTE0 the model of nrf52840_uarte.cs (the shortcut and pacing mbed's Serial1 needs)."""
    cpu = (root / "platforms/cpus/nrf52840.repl").read_text()
    cpu = "\n".join(line for line in cpu.splitlines() if "ApplySVD" not in line) + "\n"
    (dest / "nrf52840.repl").write_text(cpu.replace("uart0: UART.NRF52840_UART @", "uart0: UART.NRF52840_UARTE @"))
    board = (root / "platforms/boards/arduino_nano_33_ble.repl").read_text()
    board = board.replace('using "platforms/cpus/nrf52840.repl"', f'using "{dest / "nrf52840.repl"}"')
    (dest / "nano33ble.repl").write_text(board)
    return dest / "nano33ble.repl"


def listening(port: int) -> bool:
    """Whether something listens on the TCP port (without connecting: Renode's terminal serves one client)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(int(r.split()[1].split(":")[1], 16) == port and r.split()[3] == "0A" for r in rows):
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(elf: Path, work: Path, pcm: Path | None = None, extra: Sequence[str] = (),
          binary_at: int | None = None) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """Start Renode headless with the image (and `extra` monitor commands before it runs); returns the
    process and the pyserial URL of UART0. With `binary_at`, `elf` is a raw flash image (what bossac
    writes) loaded at that address, the vector table there."""
    exe = shutil.which("renode")
    if exe is None:
        raise KwsError(
            "Renode is not installed: get its portable Linux release from renode.io and put `renode` on PATH"
        )
    port = free_port()
    commands = [f"$elf=@{elf}", f"$platform=@{local_platform(renode_root(Path(exe)), work)}", f"$port={port}",
                f"$uarte=@{UARTE}", f"include @{RESC}"]  # fmt: skip
    if binary_at is not None:  # the .resc, loading the raw image where the ELF would be
        sp, pc = struct.unpack("<II", Path(elf).read_bytes()[:8])  # the reset vector, as the bootloader jumps
        load = (f"sysbus LoadBinary $elf {binary_at:#x}\nsysbus.cpu VectorTableOffset {binary_at:#x}\n"
                f"sysbus.cpu SP {sp:#x}\nsysbus.cpu PC {pc & ~1:#x}")  # fmt: skip
        (work / "binary.resc").write_text(RESC.read_text().replace("sysbus LoadELF $elf", load))
        commands[-1] = f"include @{work / 'binary.resc'}"
    if pcm is not None:
        commands.append(f"sysbus.pdm SetInputFile @{pcm}")
    commands += [*extra, "start"]
    env = {**os.environ, "TMPDIR": str(work)}  # Renode removes /tmp/renode-* folders it does not own
    cmd = [exe, "--console", "--plain", "--disable-xwt", "-e", "; ".join(commands)]
    quiet = subprocess.DEVNULL
    # Renode's console quits at end of input: give it a pipe that stays open while it runs.
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=quiet, stderr=quiet, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise KwsError(f"Renode exited with {proc.returncode} while starting")
        if listening(port):
            return proc, f"socket://127.0.0.1:{port}"
        time.sleep(0.3)
    proc.kill()
    proc.wait()
    raise KwsError("Renode did not open the UART socket within 60 s")


def microphone_audio(files: Sequence[Path], dest: Path, gap_s: float = 1.0) -> tuple[Path, float]:
    """The WAVs one after another with `gap_s` of silence around each, as raw 16-bit PCM for the PDM model."""
    from host.audio import read_wav

    gap = np.zeros(int(gap_s * 16000), np.int16)
    parts = [gap]
    for f in files:
        parts += [read_wav(f), gap]
    audio = np.concatenate(parts)
    dest.write_bytes(audio.astype("<i2").tobytes())
    return dest, len(audio) / 16000


def emulate(files: Sequence[Path], model: Path, build_root: Path, seconds: float | None = None) -> int:
    """Build the image, start Renode with the speech in the microphone, show the live monitor."""
    from host import monitor

    build = firmware.build("nrf52840", model, Path(build_root) / "nrf52840")
    elf = build / "boards" / "nrf52840" / "kws_nrf52840.elf"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pcm, length = microphone_audio(files, work / "mic.pcm") if files else (None, 0.0)
        proc, url = start(elf, work, pcm)
        print(f"kws: Renode runs {elf.name}; UART0 is {url}")
        try:
            return monitor.monitor(url, duration=seconds or (length * 3 + 5 if files else None))
        finally:
            proc.kill()
            proc.wait()


def bench_image(image: str, model: Path, build_root: Path) -> Path:
    """The ELF of `image` (a firmware.RENODE_IMAGES key) with the model, built if needed."""
    if image == "nrf52840":
        return firmware.build("nrf52840", model, Path(build_root) / "nrf52840") / "boards/nrf52840/kws_nrf52840.elf"
    if image not in firmware.RENODE_IMAGES:
        raise KwsError(f"unknown image {image!r}; choose one of {sorted(firmware.RENODE_IMAGES)}")
    from host import flash

    return flash.build_model(image, model)


def bench(model: Path, build_root: Path, wav: Path | None = None, json_path: Path | None = None,
          image: str = "nrf52840") -> dict[str, Any]:  # fmt: skip
    """Instructions per inference on Renode's Nano 33 BLE, read from `sysbus.cpu ExecutedInstructions` at the
    firmware's inference markers while `wav` (default: the QEMU benchmark's word stream) plays into the PDM
    microphone; flash and static RAM of the image, and for the Arduino image mbed's heap and main-stack
    high-water marks (its `memory` line). Optionally written as JSON."""
    from host.audio import read_wav
    from host.stream import Device

    elf = bench_image(image, model, build_root)
    marks = firmware.symbol_addresses(elf, ["kws_marker_inference_begin", "kws_marker_inference_end"])
    begin, end = marks["kws_marker_inference_begin"], marks["kws_marker_inference_end"]
    wav = wav or firmware.bench_audio(Path(build_root) / "bench.wav")
    audio = read_wav(wav)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pcm = work / "mic.pcm"
        pcm.write_bytes(audio.astype("<i2").tobytes())
        counts_path = work / "counts.json"
        g = "import __builtin__ as b"
        hooks = [
            f'python "{g}; b.kws_counts = []"',
            f'sysbus.cpu AddHook {begin:#x} "{g}; b.kws_start = self.ExecutedInstructions"',
            f'sysbus.cpu AddHook {end:#x} "{g}; b.kws_counts.append(int(self.ExecutedInstructions - b.kws_start))"',
        ]
        proc, url = start(elf, work, pcm, extra=hooks)
        try:
            with Device(url) as device:
                hello = device.hello(timeout=60.0)
                feats = hello["features"]
                period = feats["inference_every_frames"] * feats["sample_rate"] * feats["stride_ms"] // 1000
                device.send("scores on")
                # Until the firmware has run its last inference on the audio (scores carry its time in samples).
                last = None
                deadline = time.monotonic() + 60 + 10 * len(audio) / feats["sample_rate"]
                while time.monotonic() < deadline and (last is None or last["time"] + period <= len(audio)):
                    last = device.wait_for("scores", max(0.1, deadline - time.monotonic())) or last
                memory = None
                if image != "nrf52840":  # mbed's statistics, reported every 5 s: the first after all inferences
                    device.pending.clear()
                    memory = device.wait_for("memory", 30.0)
                    if memory is None:
                        raise KwsError(f"the {firmware.RENODE_IMAGES[image]} sent no memory line on Renode")
            dump = f"{g}, json; f = open(r'{counts_path}', 'w'); f.write(json.dumps(b.kws_counts)); f.close()"
            assert proc.stdin is not None
            proc.stdin.write(f'pause\npython "{dump}"\n'.encode())
            proc.stdin.flush()
            for _ in range(100):
                if counts_path.exists() and counts_path.read_text().endswith("]"):
                    break
                time.sleep(0.1)
            else:
                raise KwsError("Renode did not report the instruction counts")
            counts = json.loads(counts_path.read_text())
        finally:
            proc.kill()
            proc.wait()
    if not counts:
        raise KwsError("the firmware ran no inference on Renode")
    per_inference = sum(counts) // len(counts)
    result = {
        "model": hello.get("model"),
        "image": image,
        "emulator": "renode nano33ble (nRF52840)",
        "audio_seconds": len(audio) / feats["sample_rate"],
        "inferences": len(counts),
        "instructions_per_inference": per_inference,
        "instructions_per_inference_max": max(counts),
        "inference_load_at_64mhz": per_inference / (64e6 * period / feats["sample_rate"]),
        **firmware.image_size(elf),
        "arena_bytes": hello.get("arena_used", 0),
        "arena_reserved_bytes": hello.get("arena_bytes", 0),
    }
    if memory is not None:
        result |= {k: memory[k] for k in ("heap_used", "heap_reserved", "stack_used", "stack_size")}
    if json_path:
        atomic_write_json(Path(json_path), result)
    return result
