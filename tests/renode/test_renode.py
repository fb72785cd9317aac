"""Renode: the bare-metal nRF52840 image on Renode's Arduino Nano 33 BLE, driven by tests/renode/kws.robot."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from host import emulate, firmware
from host.audio import fit_to_length, read_wav, write_wav
from host.stream import audio_command
from tests.conftest import MODEL, golden_stream, tflm_or_skip
from tests.renode.conftest import renode_test

HERE = Path(__file__).resolve().parent


# The Arduino Sense image hears the microphone from sample SETTLE - PDM_LEAD on: the sketch drops the first
# SETTLE samples it is handed, and the Arduino PDM library's first callback hands over the 256 samples of a
# DMA buffer the microphone has not filled yet (its STARTED event swaps buffers as reception begins).
SETTLE = 8000
PDM_LEAD = 256


def detection_pattern(detection) -> str:
    return f'"label":"{detection.label}","index":{detection.index},"score":{detection.score},"time":{detection.time}'


def golden_file(audio: np.ndarray, dest: Path) -> tuple[Path, list]:
    """TFLM's scores lines (time and int8 scores, as the firmware prints them) for `audio`, and its detections."""
    times, golden, detections = golden_stream(audio)
    assert len(times) >= 3 and detections
    rows = zip(times, golden, strict=True)
    dest.write_text("".join(f'"time":{t},"scores":[{",".join(map(str, row))}]\n' for t, row in rows))
    return dest, detections


def speech_files(shared_data: Path, dest: Path, lead: int = 8000) -> tuple[dict[str, object], list]:
    """A spoken "yes" after `lead` samples of silence, as raw PCM for the PDM microphone and as the protocol's
    audio frames, with what TFLM makes of it: every scores line and the detections."""
    clip = fit_to_length(read_wav(sorted((shared_data / "yes").glob("*.wav"))[0]), 16000)
    audio = np.concatenate([np.zeros(lead, np.int16), clip, np.zeros(16000, np.int16)])
    pcm = dest / "yes.pcm"
    pcm.write_bytes(audio.astype("<i2").tobytes())  # what `pdm SetInputFile` plays: 16-bit mono PCM
    frames = dest / "frames.txt"
    starts = range(0, len(audio), 512)
    frames.write_text("".join(audio_command(i, audio[s : s + 512]).decode() for i, s in enumerate(starts)))
    expected, detections = golden_file(audio, dest / "golden.txt")
    sense_golden, sense_detections = golden_file(audio[SETTLE - PDM_LEAD :], dest / "sense_golden.txt")
    variables = {"WAV": pcm, "FRAMES": frames, "GOLDEN": expected, "DETECTION": detection_pattern(detections[0]),
                 "SENSE_GOLDEN": sense_golden, "SENSE_DETECTION": detection_pattern(sense_detections[0]),
                 "SENSE_MIN_SCORES": 3}  # fmt: skip
    return variables, detections


def run_suite(exe: Path, variables: dict[str, object], tmp_path: Path, *options: str) -> None:
    root = emulate.renode_root(exe)
    variables = {"REPL": emulate.local_platform(root, tmp_path), "UART_LOG": tmp_path / "uart0.log",
                 "UARTE": emulate.UARTE, **variables}  # fmt: skip
    cmd = [str(exe), str(HERE / "kws.robot"), "--results-dir", str(tmp_path / "results"), *options]
    for k, v in variables.items():
        cmd += ["--variable", f"{k}:{v}"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # Renode removes /tmp/renode-* folders it does not own
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]


def test_robot_suites(build_root: Path, shared_data: Path, tmp_path: Path) -> None:
    exe = renode_test()
    tflm_or_skip("cmsis_nn")
    elf = firmware.build("nrf52840", MODEL, build_root / "nrf52840") / "boards/nrf52840/kws_nrf52840.elf"
    # The firmware must give the host's first detection exactly: label, score and time in samples.
    variables, _ = speech_files(shared_data, tmp_path)
    marks = firmware.symbol_addresses(elf, ["kws_marker_inference_begin", "kws_marker_inference_end"])
    bench = tmp_path / "renode_bench.json"
    variables |= {
        "ELF": elf,
        "BENCH": bench,
        "INFERENCE_BEGIN": hex(marks["kws_marker_inference_begin"]),
        "INFERENCE_END": hex(marks["kws_marker_inference_end"]),
    }
    run_suite(exe, variables, tmp_path, "--exclude", "arduino")
    # Instructions per inference read from Renode (`ExecutedInstructions` at the inference markers).
    counts = json.loads(bench.read_text())
    assert counts["inferences"] >= 3
    assert 200_000 < counts["instructions_per_inference"] <= counts["instructions_per_inference_max"] < 4_000_000


def test_platformio_arduino_images(arduino_images: dict[str, Path], shared_data: Path, tmp_path: Path) -> None:
    """The PlatformIO Arduino images on Renode, on Serial1 (UART0): the BLE Sense gives the host's detection
    and TFLM's scores from the PDM microphone; the plain Nano 33 BLE TFLM's scores from serial audio frames."""
    exe = renode_test()
    variables, _ = speech_files(shared_data, tmp_path, lead=16000)
    images = {"ARDUINO_NANO33BLE_SENSE_ELF": arduino_images["nano33ble_sense"],
              "ARDUINO_NANO33BLE_ELF": arduino_images["nano33ble"]}  # fmt: skip
    run_suite(exe, {**variables, **images}, tmp_path, "--include", "arduino")
    results = (tmp_path / "results" / "robot_output.xml").read_text()
    assert results.count('status="SKIP"') == 0 and results.count("<test ") == 2


def _between_silences(clip: np.ndarray) -> np.ndarray:
    """A clip with silence around it, as the keyword would be spoken."""
    return np.concatenate([np.zeros(8000, np.int16), clip, np.zeros(16000, np.int16)])


def _clip_the_model_hears(shared_data: Path, word: str) -> Path:
    """The first clip of `word` the shipped model detects on the host (TFLM), alone between silences: these
    tests check the device's path, not the model's recall."""
    for path in sorted((shared_data / word).glob("*.wav"))[:20]:
        if [d.label for d in golden_stream(_between_silences(read_wav(path)))[2]] == [word]:
            return path
    pytest.fail(f"the shipped model detects none of the first 20 {word!r} clips")


def test_kws_emulate_shows_detections_from_the_microphone(build_root: Path, shared_data: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`kws emulate FILE.wav…`: Renode headless, the files in the PDM microphone, the monitor on UART0's socket."""
    renode_test()
    tflm_or_skip("cmsis_nn")
    from host import cli

    files = [_clip_the_model_hears(shared_data, word) for word in ("go", "stop")]
    assert cli.main(["emulate", *map(str, files), "--seconds", "12", "--build-dir", str(build_root)]) == 0
    out = capsys.readouterr().out
    assert "detection: go" in out and "detection: stop" in out


def test_kws_run_over_the_emulated_uart(build_root: Path, shared_data: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`kws run --port socket://…` against Renode's UART0: the host's audio frames, the expected keywords."""
    renode_test()
    tflm_or_skip("cmsis_nn")
    from host import cli

    elf = firmware.build("nrf52840", MODEL, build_root / "nrf52840") / "boards/nrf52840/kws_nrf52840.elf"
    proc, url = emulate.start(elf, tmp_path)
    try:
        for word in ("go", "stop"):
            wav = tmp_path / f"{word}.wav"
            write_wav(wav, _between_silences(read_wav(_clip_the_model_hears(shared_data, word))))
            assert cli.main(["run", "--port", url, str(wav), "--expect", word]) == 0, capsys.readouterr()
    finally:
        proc.kill()
        proc.wait()


def test_kws_bench_renode(build_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kws bench renode`: instructions per inference read from Renode while the word stream plays, in JSON, for
    the bare-metal image and (where PlatformIO is installed) the Arduino image users flash, with its mbed heap
    and stack high-water marks."""
    renode_test()
    tflm_or_skip("cmsis_nn")
    from host import cli, flash

    out = tmp_path / "bench.json"
    assert cli.main(["bench", "renode", "--json", str(out), "--build-dir", str(build_root)]) == 0
    printed = capsys.readouterr().out
    images = json.loads(out.read_text())
    assert set(images) == ({"nrf52840"} if flash.platformio_problem() else {"nrf52840", "nano33ble_sense"})
    for r in images.values():
        assert r["inferences"] >= 25  # 4 s of audio, an inference every 100 ms
        assert 200_000 < r["instructions_per_inference"] <= r["instructions_per_inference_max"] < 4_000_000
        assert 0 < r["flash_bytes"] < 1_000_000 and r["arena_bytes"] <= r["arena_reserved_bytes"]
        assert f"{r['instructions_per_inference']:,}" in printed
    if "nano33ble_sense" in images:
        arduino, bare = images["nano33ble_sense"], images["nrf52840"]
        # The same CMSIS-NN kernels and model built by another GCC 12: within a few per cent of each other.
        assert abs(arduino["instructions_per_inference"] / bare["instructions_per_inference"] - 1) < 0.1
        assert 0 < arduino["heap_used"] < arduino["heap_reserved"] and 0 < arduino["stack_used"] < arduino["stack_size"]
        assert arduino["flash_bytes"] > bare["flash_bytes"]  # the mbed core on top
