"""Firmware: fetch TFLM at the pinned commit, build the native simulator and the Cortex-M4 image with
CMake, run them (the simulator directly, the image in QEMU's mps2-an386), and benchmark the image."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from host.util import KwsError, atomic_dir, atomic_write_bytes, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
# The tflite-micro commit the firmware is built and tested against (its create_tflm_tree.py pins the
# third-party libraries: flatbuffers, gemmlowp, ruy, kissfft, CMSIS_6, CMSIS-NN).
TFLM_COMMIT = "90b983c2b3f1480642e040bbd2ddb37b998f3424"
TFLM_URL = f"https://github.com/tensorflow/tflite-micro/archive/{TFLM_COMMIT}.tar.gz"
KERNELS = {
    "reference": "",
    "cmsis_nn": "TARGET=cortex_m_generic TARGET_ARCH=cortex-m4+fp OPTIMIZED_KERNEL_DIR=cmsis_nn "
    "TARGET_TOOLCHAIN_ROOT=/usr/bin/",
}
# Headers the CMSIS-NN tree needs but create_tflm_tree.py leaves out (relative to the make downloads).
CMSIS_EXTRA = ("cmsis/CMSIS/Core/Include/m-profile", "cmsis/Cortex_DFP/Device/ARMCM4/Include")
BOARDS = {"native": "reference", "qemu_mps2": "cmsis_nn", "nrf52840": "cmsis_nn"}
MICROFRONTEND = "tensorflow/lite/experimental/microfrontend/lib"


# The images `kws bench renode` runs on Renode's Nano 33 BLE: the bare-metal one (CMake) and the one users flash.
RENODE_IMAGES = {
    "nrf52840": "bare-metal nRF52840 image",
    "nano33ble_sense": "PlatformIO Arduino image (BLE Sense)",
}


def tflm_root() -> Path:
    """Folder holding one TFLM tree per kernel set (`reference/`, `cmsis_nn/`): $TFLM_DIR, or where
    `kws firmware tflm` puts them ($XDG_CACHE_HOME or ~/.cache, then kws/tflm/<commit>)."""
    if os.environ.get("TFLM_DIR"):
        return Path(os.environ["TFLM_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kws" / "tflm" / TFLM_COMMIT[:12]


def tflm_tree(kernels: str) -> Path:
    tree = tflm_root() / kernels
    if not (tree / "tensorflow/lite/micro/micro_interpreter.h").exists():
        raise KwsError(
            f"no TFLM tree at {tree}: run `kws firmware tflm` (needs internet) or set TFLM_DIR to a folder "
            f"holding reference/ and cmsis_nn/ trees made by TFLM's create_tflm_tree.py at {TFLM_COMMIT[:12]}"
        )
    return tree


def fetch_tflm(dest: Path | None = None) -> Path:
    """Download tflite-micro at the pinned commit and generate both trees with its create_tflm_tree.py
    (which downloads the third-party libraries it pins), adding the microfrontend library it omits."""
    import tarfile
    import urllib.request

    dest = Path(dest or tflm_root())
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "tflm.tar.gz"
        try:
            urllib.request.urlretrieve(TFLM_URL, archive)
        except OSError as e:
            raise KwsError(f"cannot download {TFLM_URL} ({e}); offline, set TFLM_DIR to existing trees") from None
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        src = next(Path(tmp).glob("tflite-micro-*"))
        for kernels, options in KERNELS.items():
            out = Path(tmp) / f"tree-{kernels}"  # moved into place only when complete
            cmd = ["python3", "tensorflow/lite/micro/tools/project_generation/create_tflm_tree.py", str(out)]
            if options:
                cmd.insert(2, f"--makefile_options={options}")
            run(cmd, cwd=src)
            shutil.copytree(
                src / MICROFRONTEND,
                out / MICROFRONTEND,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("*_test.cc", "*_main.c", "*memmap*"),
            )
            if kernels == "cmsis_nn":
                downloads = src / "tensorflow/lite/micro/tools/make/downloads"
                for rel in CMSIS_EXTRA:
                    shutil.copytree(downloads / rel, out / "third_party" / rel, dirs_exist_ok=True)
            with atomic_dir(dest / kernels) as staged:
                staged.rmdir()
                shutil.move(out, staged)
    return dest


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 1800) -> str:
    """Run a build or emulator command; on failure a KwsError with its last lines."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise KwsError(f"{cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise KwsError(f"{' '.join(cmd[:3])} … did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise KwsError(f"{' '.join(cmd[:4])} … failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def build(board: str, model_dir: Path, build_dir: Path, embed_wav: Path | None = None) -> Path:
    """Configure and build one board layer with CMake for the exported model in `model_dir`."""
    if board not in BOARDS:
        raise KwsError(f"unknown board {board!r}; choose one of {sorted(BOARDS)}")
    sources = Path(model_dir) / "firmware"
    if not (sources / "kws_model.h").exists():
        raise KwsError(f"{model_dir} has no firmware/ sources: run kws export --model {model_dir} first")
    cmd = [
        "cmake",
        "-S",
        str(FIRMWARE),
        "-B",
        str(build_dir),
        f"-DTFLM_DIR={tflm_tree(BOARDS[board])}",
        f"-DKWS_MODEL_DIR={sources.resolve()}",
        f"-DKWS_BOARD={board}",
    ]
    if board != "native":
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={FIRMWARE / 'cmake' / 'arm-none-eabi.cmake'}")
    if board == "qemu_mps2":
        cmd.append(f"-DKWS_EMBED_WAV={Path(embed_wav).resolve() if embed_wav else ''}")
    if shutil.which("ccache"):
        cmd += ["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
    run(cmd)
    run(["cmake", "--build", str(build_dir), "-j2"])
    return Path(build_dir)


def parse_lines(text: str) -> list[dict[str, Any]]:
    """The protocol messages in a firmware's output (anything else is skipped)."""
    from host.stream import Reader

    return list(Reader().feed(text.encode() + b"\n"))


def image_size(elf: Path) -> dict[str, int]:
    """Flash (text + data, less any test audio compiled in) and static RAM (data + bss) of an ELF."""
    fields = run(["arm-none-eabi-size", "-A", str(elf)])
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", fields, re.M)}
    symbols = run(["arm-none-eabi-nm", "-S", str(elf)])
    audio = sum(
        int(m.group(1), 16) for m in re.finditer(r"^[0-9a-f]+ ([0-9a-f]+) \w _ZN3kws5audio5kDataE$", symbols, re.M)
    )
    text = sizes.get(".text", 0) + sizes.get(".ARM.exidx", 0)
    data, bss = sizes.get(".data", 0), sizes.get(".bss", 0)
    return {"flash_bytes": text + data - audio, "test_audio_bytes": audio, "static_ram_bytes": data + bss}


def symbol_addresses(elf: Path, names: list[str]) -> dict[str, int]:
    table = run(["arm-none-eabi-nm", str(elf)])
    found = {m.group(2): int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) \w (\S+)$", table, re.M)}
    missing = [n for n in names if n not in found]
    if missing:
        raise KwsError(f"{elf} lacks the marker functions {missing}")
    return {n: found[n] for n in names}


def plugin(build_dir: Path) -> Path:
    """Build the project's QEMU TCG plugin that counts instructions between marker functions."""
    out = Path(build_dir) / "libkws_count.so"
    src = FIRMWARE / "tools" / "qemu_count" / "kws_count.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(src)])
    return out


def qemu_command(elf: Path) -> list[str]:
    """QEMU's mps2-an386 (Cortex-M4) running `elf` headless: UART0 on stdin/stdout, semihosting to exit."""
    return ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "stdio",
            "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]  # fmt: skip


def qemu(elf: Path, *, counts: Path | None = None, timeout: float = 600) -> str:
    """Run an image until it exits through semihosting; returns what UART0 printed. With `counts`, the
    project's plugin writes the instructions executed between the marker functions to that file."""
    cmd = qemu_command(elf)
    if counts is not None:
        marks = symbol_addresses(elf, [f"kws_marker_{k}_{e}" for k in ("frame", "inference") for e in ("begin", "end")])
        args = ",".join(f"{k.removeprefix('kws_marker_')}={v:#x}" for k, v in marks.items())
        cmd += ["-plugin", f"{plugin(elf.parent)},out={counts},{args}"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise KwsError("qemu-system-arm is not installed (Debian: apt-get install qemu-system-arm)") from None
    except subprocess.TimeoutExpired:
        raise KwsError(f"QEMU did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise KwsError(f"the image exited with {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout.decode(errors="replace")


def bench_audio(path: Path, seconds: int = 4) -> Path:
    """A fixed test signal: one synthetic word per second over quiet noise (the same on every machine).
    Rewritten only when its bytes change, so that the image it is compiled into is not rebuilt each time."""
    import numpy as np

    from host import synth
    from host.audio import wav_bytes

    engine = synth.Engine(0)
    voices = synth.voices()
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 60, seconds * 16000)
    for i, word in enumerate(("yes", "no", "up", "down", "left", "right", "on", "off")[:seconds]):
        w = synth.speak(engine, word, voices[i * 37 % len(voices)]).astype(np.float64)[:12000]
        audio[i * 16000 + 2000 : i * 16000 + 2000 + len(w)] += w * (12000 / (np.abs(w).max() + 1))
    data = wav_bytes(np.clip(np.round(audio), -32768, 32767).astype(np.int16))
    if not path.exists() or path.read_bytes() != data:
        atomic_write_bytes(path, data)
    return path


def bench(model_dir: Path, build_root: Path, wav: Path | None = None, json_path: Path | None = None) -> dict[str, Any]:
    """Instructions per inference and per feature frame (QEMU, CMSIS-NN), flash and RAM of the Cortex-M4
    image, arena bytes; optionally written as JSON."""
    from host.audio import read_wav
    from host.config import FeatureConfig

    if wav is None:
        wav = bench_audio(Path(build_root) / "bench.wav")
    samples = len(read_wav(wav))
    meta = json.loads((Path(model_dir) / "model.json").read_text())
    feats = FeatureConfig.from_dict(meta["features"])
    window, stride = feats.window_samples, feats.stride_samples
    frames = 1 + (samples - window) // stride if samples >= window else 0
    build_dir = build("qemu_mps2", model_dir, Path(build_root) / "qemu_mps2", embed_wav=wav)
    elf = build_dir / "boards" / "qemu_mps2" / "kws_qemu.elf"
    counts_path = build_dir / "counts.json"
    lines = parse_lines(qemu(elf, counts=counts_path))
    counts = json.loads(counts_path.read_text())
    hello = next((line for line in lines if line.get("type") == "hello"), {})
    memory = next((line for line in lines if line.get("type") == "memory"), {})
    size = image_size(elf)
    inference = counts["inference"]
    frame_total = counts["frame"]["total"]
    per_inference = inference["total"] // max(inference["pairs"], 1)
    per_frame = frame_total // max(frames, 1)
    rate = feats.sample_rate / (meta["recognizer"]["inference_every_frames"] * stride)  # inferences per second
    per_second = per_inference * rate + per_frame * feats.sample_rate / stride
    result = {
        "model": meta["name"],
        "audio_seconds": samples / feats.sample_rate,
        "inferences": inference["pairs"],
        "streaming_model": meta["model"]["input"]["shape"][1] < feats.frames,
        "instructions_per_inference": per_inference,
        "instructions_per_inference_max": inference["max"],
        "instructions_per_feature_frame": per_frame,
        "feature_frames": frames,
        "inferences_per_second": rate,
        "instructions_per_audio_second": round(per_second),
        "feature_load_at_64mhz": per_frame / (64e6 * feats.stride_ms / 1000),
        "inference_load_at_64mhz": per_inference * rate / 64e6,
        "load_at_64mhz": per_second / 64e6,
        **size,
        "heap_bytes": memory.get("heap_used", 0),
        "stack_bytes": memory.get("stack_used", 0),
        # RAM in use: static data (arena, audio ring, features, buffers) + start-up heap + stack high-water.
        "ram_bytes": size["static_ram_bytes"] + memory.get("heap_used", 0) + memory.get("stack_used", 0),
        "arena_bytes": hello.get("arena_used", 0),
        "arena_reserved_bytes": hello.get("arena_bytes", 0),
        "detections": [line for line in lines if line.get("type") == "detection"],
    }
    if json_path:
        atomic_write_json(Path(json_path), result)
    return result
