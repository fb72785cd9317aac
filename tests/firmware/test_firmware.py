"""The firmware against the host pipeline: unit tests of the core, features and int8 scores byte for byte,
streaming detections equal to the host's streaming evaluation, the Cortex-M4 image in QEMU."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from host import detection, evaluate, features, firmware
from host.audio import fit_to_length, read_wav, write_wav
from host.stream import audio_command
from tests.conftest import MODEL, golden_stream


def test_core_unit_tests(native: Path) -> None:
    run = subprocess.run(["ctest", "--output-on-failure"], cwd=native, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    out = subprocess.run([native / "boards/native/kws_core_tests"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("0 failed")


def _clips(shared_data: Path, per_label: int = 4) -> list[Path]:
    return [
        p
        for d in sorted(shared_data.iterdir())
        if d.is_dir() and d.name != "_background_noise_"
        for p in sorted(d.glob("*.wav"))[:per_label]
    ]


def test_features_and_scores_equal_host_and_tflm(sim: Path, shared_data: Path) -> None:
    files = _clips(shared_data)
    out = subprocess.run([sim, "--clips", *map(str, files)], capture_output=True, text=True, check=True)
    results = firmware.parse_lines(out.stdout)
    assert len(results) == len(files)
    tflite = (MODEL / "model.tflite").read_bytes()
    audio = np.stack([fit_to_length(read_wav(f), 16000) for f in files])
    host_q = features.batch_int8_features(audio)
    golden = evaluate.run_int8(tflite, host_q, "tflm")
    device_q = np.array([r["features"] for r in results], np.int8).reshape(host_q.shape)
    device_scores = np.array([r["scores"] for r in results], np.int8)
    assert np.array_equal(device_q, host_q), f"{int(np.sum(np.any(device_q != host_q, axis=(1, 2))))} clips differ"
    assert np.array_equal(device_scores, golden)


def test_stream_detections_equal_host_streaming_eval(sim: Path, held_out_speech, tmp_path: Path) -> None:
    audio, _ = detection.make_stream(*held_out_speech, minutes=1.0, seed=3)
    wav = tmp_path / "stream.wav"
    write_wav(wav, audio)
    expected = [(d.label, d.score, d.time) for d in golden_stream(audio)[2]]
    out = subprocess.run([sim, "--wav", str(wav), "--chunk", "123"], capture_output=True, text=True, check=True)
    got = [(d["label"], d["score"], d["time"]) for d in firmware.parse_lines(out.stdout) if d["type"] == "detection"]
    assert len(expected) >= 3
    assert got == expected


@pytest.fixture(scope="session")
def qemu_run(cm4_toolchain: None, build_root: Path, held_out_speech, tmp_path_factory: pytest.TempPathFactory):
    """The Cortex-M4 image (CMSIS-NN) with 6 s of held-out speech compiled in, run in QEMU with the
    instruction-counting plugin: (audio, UART lines, instruction counts, build folder)."""
    audio, _ = detection.make_stream(*held_out_speech, minutes=0.1, gap_s=(0.3, 0.8), seed=5)
    wav = tmp_path_factory.mktemp("qemu") / "stream.wav"
    write_wav(wav, audio)
    build = firmware.build("qemu_mps2", MODEL, build_root / "qemu_mps2", embed_wav=wav)
    elf = build / "boards" / "qemu_mps2" / "kws_qemu.elf"
    counts = build / "counts.json"
    lines = firmware.parse_lines(firmware.qemu(elf, counts=counts))
    return audio, lines, json.loads(counts.read_text()), build


def test_qemu_scores_and_detections_equal_tflm_golden(qemu_run) -> None:
    audio, lines, _, _ = qemu_run
    times, golden, detections = golden_stream(audio)
    scores = [line for line in lines if line["type"] == "scores"]
    assert [s["time"] for s in scores] == times.tolist()
    assert np.array_equal(np.array([s["scores"] for s in scores], np.int8), golden)
    expected = [(d.label, d.score, d.time) for d in detections]
    got = [(d["label"], d["score"], d["time"]) for d in lines if d["type"] == "detection"]
    assert got == expected
    assert lines[-1]["type"] == "done"


def test_qemu_counts_and_image_size(qemu_run) -> None:
    _, lines, counts, build = qemu_run
    hello = lines[0]
    assert (
        hello["type"] == "hello"
        and hello["hash"] == json.loads((MODEL / "model.json").read_text())["model"]["sha256"][:16]
    )
    assert 0 < hello["arena_used"] <= hello["arena_bytes"]
    inferences = sum(1 for line in lines if line["type"] == "scores")
    meta = json.loads((MODEL / "model.json").read_text())
    step = meta["recognizer"]["inference_every_frames"]
    # a streaming model also steps on the grid's frame counts before the first full window (4, 9, ..., 44)
    warm_up = len(range(49 % step, 49, step)) if meta["model"]["input"]["shape"][1] < 49 else 0
    assert counts["inference"]["pairs"] == inferences + warm_up
    assert 100_000 < counts["inference"]["min"] <= counts["inference"]["max"] < 50_000_000
    size = firmware.image_size(build / "boards" / "qemu_mps2" / "kws_qemu.elf")
    assert size["flash_bytes"] > json.loads((MODEL / "model.json").read_text())["model"]["size_bytes"]
    assert size["static_ram_bytes"] > hello["arena_bytes"] and size["test_audio_bytes"] > 0
    memory = next(line for line in lines if line["type"] == "memory")
    assert 0 < memory["heap_used"] < 16384 and 0 < memory["stack_used"] < 16384


def test_kws_bench_firmware(cm4_toolchain: None, build_root: Path, tmp_path: Path, capsys) -> None:
    """`kws bench firmware`: instructions per inference, per feature frame and per second of audio, and the
    share of a 64 MHz core taken by features + inference at the shipped decision rate."""
    from host import cli

    out = tmp_path / "bench.json"
    assert cli.main(["bench", "firmware", "--json", str(out), "--build-dir", str(build_root)]) == 0
    r = json.loads(out.read_text())
    meta = json.loads((MODEL / "model.json").read_text())
    rate = 16000 / (meta["recognizer"]["inference_every_frames"] * 320)
    assert r["inferences_per_second"] == rate and r["inferences"] >= 25
    assert r["instructions_per_audio_second"] == round(
        r["instructions_per_inference"] * rate + r["instructions_per_feature_frame"] * 50
    )
    assert r["load_at_64mhz"] == pytest.approx(r["feature_load_at_64mhz"] + r["inference_load_at_64mhz"])
    assert r["streaming_model"] == (meta["model"]["input"]["shape"][1] < 49)
    assert f"{r['load_at_64mhz']:.1%} of a 64 MHz core" in capsys.readouterr().out


def _corrupt_crc(line: bytes) -> bytes:
    """The same audio command with a CRC that does not match its samples."""
    parts = line.split(b" ")
    parts[3] = f"{int(parts[3], 16) ^ 1:08x}".encode()
    return b" ".join(parts)


def test_serial_protocol_survives_malformed_input(sim: Path, shared_data: Path) -> None:
    """Garbage, over-long lines, truncated and corrupted frames get error lines; the valid frames around
    them give exactly the scores of the same audio streamed cleanly."""
    clip = fit_to_length(read_wav(sorted((shared_data / "yes").glob("*.wav"))[0]), 16000)
    audio = np.concatenate([np.zeros(4000, np.int16), clip, np.zeros(4000, np.int16)])
    frames = [audio[i : i + 500] for i in range(0, len(audio), 500)]
    noise = [b"\x00\xff garbage \x01\n", b"x" * 5000 + b"\n", b"audio 1 2\n", b"threshold 999\n", b"bogus\n"]
    clean = b"scores on\n" + b"".join(audio_command(i, f) for i, f in enumerate(frames))
    dirty = bytearray(b"scores on\n")
    for i, f in enumerate(frames):
        dirty += noise[i % len(noise)]
        dirty += _corrupt_crc(audio_command(i, f))  # corrupted: dropped
        dirty += audio_command(i, f)[:40] + b"\n"  # truncated: dropped
        dirty += audio_command(i, f)
    results = []
    for data in (clean, bytes(dirty)):
        run = subprocess.run([sim], input=data, capture_output=True, timeout=120, check=True)
        results.append(firmware.parse_lines(run.stdout.decode()))
    clean_lines, dirty_lines = results
    scores = [[line for line in lines if line["type"] in ("scores", "detection")] for lines in results]
    assert scores[0] == scores[1] and len(scores[0]) > 5
    errors = [line["msg"] for line in dirty_lines if line["type"] == "error"]
    assert len(errors) >= 3 * len(frames)
    assert {"audio: crc mismatch", "line too long", "unknown command"} <= set(errors)
    acks = [line["seq"] for line in dirty_lines if line.get("cmd") == "audio"]
    assert acks == list(range(len(frames)))
    assert not [line for line in clean_lines if line["type"] == "error"]


def test_qemu_fed_over_uart_gives_golden_scores(cm4_toolchain: None, build_root: Path, shared_data: Path) -> None:
    """The Cortex-M4 image without compiled-in audio, fed the protocol's audio frames (and some garbage)
    over UART0: acknowledged frames, error lines for the garbage, int8 scores equal to TFLM's."""
    import os
    import select
    import time

    build = firmware.build("qemu_mps2", MODEL, build_root / "qemu_mps2_uart")
    clip = fit_to_length(read_wav(sorted((shared_data / "no").glob("*.wav"))[0]), 16000)
    audio = np.concatenate([np.zeros(3000, np.int16), clip])
    frames = [audio[i : i + 400] for i in range(0, len(audio), 400)]
    data = b"scores on\n" + b"".join(b"junk!\n" + audio_command(i, f) for i, f in enumerate(frames))
    cmd = firmware.qemu_command(build / "boards/qemu_mps2/kws_qemu.elf")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    received = b""
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(data)
        proc.stdin.flush()
        # QEMU hands UART0 one byte per pass of its I/O loop, so on a loaded machine the 50 KB take a while:
        # wait as long as the firmware keeps answering, and give up after 60 s without a new line.
        last_progress = time.time()
        while time.time() - last_progress < 60 and f'"seq":{len(frames) - 1},'.encode() not in received:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:  # QEMU exited
                    break
                received += chunk
                if b"\n" in chunk:
                    last_progress = time.time()
    finally:
        proc.kill()
        proc.wait()
    lines = firmware.parse_lines(received.decode())
    acked = [line["seq"] for line in lines if line.get("cmd") == "audio"]
    # (seen once, with a training job and another test run on the 2 cores: the last frame unacknowledged
    # after 60 s of silence; what the firmware said last is in the message for next time)
    assert acked == list(range(len(frames))), received[-400:].decode(errors="replace")
    assert sum(1 for line in lines if line.get("msg") == "unknown command") == len(frames)
    times, golden, _ = golden_stream(audio)
    scores = [line for line in lines if line["type"] == "scores"]
    assert [s["time"] for s in scores] == times.tolist() and len(scores) > 0
    assert np.array_equal(np.array([s["scores"] for s in scores], np.int8), golden)


def test_nrf52840_image_for_renode_and_bossac(cm4_toolchain: None, build_root: Path) -> None:
    """The bare-metal nRF52840 image: built without warnings, linked after the Arduino bootloader with its
    vector table at 0x10000 pointing at the UARTE0 and PDM interrupt handlers."""
    build = firmware.build("nrf52840", MODEL, build_root / "nrf52840")
    elf = build / "boards" / "nrf52840" / "kws_nrf52840.elf"
    symbols = firmware.symbol_addresses(elf, ["Reset_Handler", "UARTE0_IRQHandler", "PDM_IRQHandler"])
    dump = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.text", str(elf), "/dev/stdout"],
                          capture_output=True, check=True).stdout  # fmt: skip
    vectors = np.frombuffer(dump[: 64 * 4], "<u4")
    assert 0x20000000 < vectors[0] <= 0x20040000  # initial stack pointer in RAM
    assert vectors[1] == symbols["Reset_Handler"] | 1 and vectors[1] >= 0x10000
    assert vectors[16 + 2] == symbols["UARTE0_IRQHandler"] | 1
    assert vectors[16 + 29] == symbols["PDM_IRQHandler"] | 1
    headers = subprocess.run(["arm-none-eabi-readelf", "-S", str(elf)], capture_output=True, text=True).stdout
    assert re.search(r"\.text\s+PROGBITS\s+00010000", headers)
    assert firmware.image_size(elf)["flash_bytes"] < 200 * 1024  # the budget: app + model + TFLM


def test_a_single_one_second_clip_gives_its_keyword(sim: Path, shared_data: Path) -> None:
    """A 1 s clip alone fills one window: too few inferences for the recognizer's minimum count, so the
    simulator pads short clips with silence (as TFLM's micro_speech yes_1000ms.wav needs too)."""
    for label in ("yes", "no"):
        clip = sorted((shared_data / label).glob("*.wav"))[0]
        done = subprocess.run([str(sim), "--wav", str(clip)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "1 s of silence before and after" in done.stderr
        found = [json.loads(x) for x in done.stdout.splitlines() if '"detection"' in x]
        assert [d["label"] for d in found] == [label], done.stdout
