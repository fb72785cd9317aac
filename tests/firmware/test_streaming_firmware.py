"""A streaming (stateful) model on the device: `kws pipeline --arch sdscnn` exports it, and the native firmware
steps it from reset with its state in TFLM resource variables, giving TFLM's int8 scores byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from host import detection, evaluate, features, firmware
from host.audio import fit_to_length, read_wav, write_wav
from host.config import RecognizerConfig
from tests.conftest import tflm_or_skip


@pytest.fixture(scope="module")
def streaming_model(tmp_path_factory: pytest.TempPathFactory, synth_dir: Path) -> Path:
    from host import cli

    out = tmp_path_factory.mktemp("models") / "streaming"
    argv = ["pipeline", "--keywords", "yes,no", "--data", str(synth_dir), "--no-synthetic", "--arch", "sdscnn",
            "--filters", "8", "--epochs", "4", "--stream-hours", "0.01", "--out", str(out), "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0
    return out


@pytest.fixture(scope="module")
def streaming_sim(streaming_model: Path, build_root: Path) -> Path:
    tflm_or_skip("reference")
    return firmware.build("native", streaming_model, build_root / "native_streaming") / "boards/native/kws_sim"


def test_pipeline_exports_a_streaming_model(streaming_model: Path) -> None:
    meta = json.loads((streaming_model / "model.json").read_text())
    assert meta["model"]["input"]["shape"] == [1, 5, 40, 1] and meta["model"]["resource_variables"] == 6
    assert meta["streaming_model"]["step_frames"] == 5
    assert meta["streaming_model"]["whole_window_int8"]["top_label_agreement"] >= 0.97
    header = (streaming_model / "firmware" / "kws_model.h").read_text()
    assert "constexpr int kInputFrames = 5;" in header and "constexpr int kResourceVariables = 6;" in header
    assert "AddVarHandle()" in (streaming_model / "firmware" / "kws_model_ops.h").read_text()


def test_device_steps_give_tflm_scores(
    streaming_model: Path, streaming_sim: Path, synth_dir: Path, tmp_path: Path
) -> None:
    meta = json.loads((streaming_model / "model.json").read_text())
    data = (streaming_model / "model.tflite").read_bytes()
    files = sorted(synth_dir.glob("*/*.wav"))[::20]
    clips = np.stack([fit_to_length(read_wav(f), 16000) for f in files])
    # single clips: the window's steps (sim --clips), as the host scores clips
    out = subprocess.run([streaming_sim, "--clips", *map(str, files)], capture_output=True, text=True, check=True)
    device = np.array([r["scores"] for r in firmware.parse_lines(out.stdout)], np.int8)
    assert np.array_equal(device, evaluate.run_int8(data, features.batch_int8_features(clips), "tflm"))
    # a stream: every step from reset, scores reported from the first full window on
    bank = np.random.default_rng(0).standard_normal((4, 16000)).astype(np.float32)
    audio, _ = detection.make_stream(clips, ["yes"] * len(clips), bank, minutes=0.5, seed=3)
    wav = tmp_path / "stream.wav"
    write_wav(wav, audio)
    rcfg = RecognizerConfig.from_dict(meta["recognizer"])
    times, golden = detection.stream_results(data, audio, "tflm", rcfg, progress=False)
    run = [streaming_sim, "--wav", str(wav), "--scores", "--chunk", "123"]
    lines = firmware.parse_lines(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    got = [(r["time"], r["scores"]) for r in lines if r["type"] == "scores"]
    assert [t for t, _ in got] == list(times) and len(got) > 250
    assert np.array_equal(np.array([s for _, s in got], np.int8), golden)
