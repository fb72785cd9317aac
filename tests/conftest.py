"""Shared fixtures: a small synthetic dataset and a small model trained once per test session."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "default"
SHARED = Path(os.environ.get("KWS_SHARED_DATA", ROOT.parent / "shared" / "data" / "speech_commands"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep generated datasets of the tests out of the user's cache."""
    os.environ["KWS_CACHE"] = str(tmp_path_factory.mktemp("kws-cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "yes").is_dir():
        pytest.skip(f"real speech clips not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def held_out_speech(shared_data: Path) -> tuple[np.ndarray, list[str], list[np.ndarray]]:
    """The shipped model's labels on the real clips of held-out speakers: (clips, label names, noise)."""
    from host import dataset, pipeline, train

    labels = json.loads((MODEL / "model.json").read_text())["labels"]
    data = train.prepare(dataset.load_folder(shared_data, labels), progress=False)
    test = pipeline.by_origin(data.test)["real_speech"]
    return test.audio, [labels[i] for i in test.labels], data.noise


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from host import dataset

    return dataset.synthesize(
        ["yes", "no"], tmp_path_factory.mktemp("synth") / "ds", per_word=100, seed=3, progress=False
    )


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory, synth_dir: Path) -> Path:
    """`kws pipeline` end to end on a small synthetic two-keyword set (tiny_conv, a few epochs)."""
    from host import cli

    out = tmp_path_factory.mktemp("models") / "small"
    real = tmp_path_factory.mktemp("eval") / "real_eval"  # stands in for real speech never trained on
    for rel in sorted((synth_dir / "yes").glob("*.wav"))[:3] + sorted((synth_dir / "_unknown_").glob("*.wav"))[:2]:
        (real / rel.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(rel, real / rel.parent.name / rel.name)
    argv = [
        "pipeline",
        "--keywords",
        "yes,no",
        "--data",
        str(synth_dir),
        "--no-synthetic",
        "--arch",
        "tiny_conv",
        "--epochs",
        "30",
        "--stream-hours",
        "0.01",
        "--eval-data",
        str(real),
        "--out",
        str(out),
        "--quiet",
    ]
    assert cli.main(argv) == 0
    return out


def tflm_or_skip(kernels: str) -> None:
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

    tflm_or_skip("reference")
    if not shutil.which("cmake"):
        pytest.skip("cmake not installed")
    return firmware.build("native", MODEL, build_root / "native")


@pytest.fixture(scope="session")
def sim(native: Path) -> Path:
    return native / "boards" / "native" / "kws_sim"


class Boards:
    """Simulated boards (the native firmware on a pseudo-terminal): call to start one, get its port."""

    def __init__(self, sim: Path) -> None:
        self.sim = sim
        self.procs: list[subprocess.Popen] = []

    def __call__(self, *args: str) -> str:
        proc = subprocess.Popen([self.sim, "--pty", *args], stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.match(r"pty: (\S+)", line)
        assert match, line
        return match.group(1)


@pytest.fixture
def board(sim: Path) -> Iterator[Boards]:
    """Start simulated boards; they are stopped afterwards."""
    boards = Boards(sim)
    yield boards
    for proc in boards.procs:
        proc.kill()
        proc.wait()


def golden_stream(audio: np.ndarray) -> tuple:
    """The shipped model over `audio` as the device runs it, by TFLM: result times (samples), int8 scores,
    and the recognizer's detections."""
    from host import detection
    from host.config import RecognizerConfig

    meta = json.loads((MODEL / "model.json").read_text())
    rcfg = RecognizerConfig.from_dict(meta["recognizer"])
    times, scores = detection.stream_results((MODEL / "model.tflite").read_bytes(), audio, "tflm", rcfg, progress=False)
    return times, scores, detection.recognize(meta["labels"], times, scores, rcfg)
