"""The firmware against the host pipeline: unit tests of the core, features and int8 scores byte for byte,
streaming detections equal to the host's streaming evaluation, the Cortex-M4 image in QEMU."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from host import dataset, evaluate, features, firmware, pipeline, train
from host.audio import fit_to_length, read_wav, write_wav
from host.config import RecognizerConfig
from tests.firmware.conftest import MODEL


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


def test_stream_detections_equal_host_streaming_eval(sim: Path, shared_data: Path, tmp_path: Path) -> None:
    meta = json.loads((MODEL / "model.json").read_text())
    labels = meta["labels"]
    rcfg = RecognizerConfig.from_dict(meta["recognizer"])
    ds = dataset.load_folder(shared_data, labels)
    data = train.prepare(ds, progress=False)
    test = pipeline.by_origin(data.test)["real_speech"]
    names = [labels[i] for i in test.labels]
    audio, _ = evaluate.make_stream(test.audio, names, data.noise, minutes=1.0, seed=3)
    wav = tmp_path / "stream.wav"
    write_wav(wav, audio)
    tflite = (MODEL / "model.tflite").read_bytes()
    times, scores = evaluate.stream_results(tflite, audio, "tflm", rcfg, progress=False)
    expected = [(d.label, d.score, d.time) for d in evaluate.recognize(labels, times, scores, rcfg)]
    out = subprocess.run([sim, "--wav", str(wav), "--chunk", "123"], capture_output=True, text=True, check=True)
    got = [(d["label"], d["score"], d["time"]) for d in firmware.parse_lines(out.stdout) if d["type"] == "detection"]
    assert len(expected) >= 5
    assert got == expected
