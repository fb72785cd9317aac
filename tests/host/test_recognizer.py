import numpy as np
import pytest

from host.config import FEATURES, RecognizerConfig
from host.recognizer import Recognizer, frame_end_sample, inference_times

LABELS = ["yes", "no", "_silence_", "_unknown_"]
CFG = RecognizerConfig(average_window_ms=500, threshold=180, suppression_ms=1000, minimum_count=3)
STEP = 640  # samples between inferences


def scores(top: int, value: int = 127) -> np.ndarray:
    s = np.full(len(LABELS), -128, np.int8)
    s[top] = value
    return s


def feed(rec: Recognizer, seq: list[np.ndarray], start: int = 0) -> list[tuple[str, int]]:
    out = []
    for i, s in enumerate(seq):
        d = rec.update(s, start + i * STEP)
        if d:
            out.append((d.label, d.time))
    return out


def test_needs_minimum_count_then_fires_once_within_suppression() -> None:
    rec = Recognizer(LABELS, CFG)
    got = feed(rec, [scores(0)] * 10)
    assert got == [("yes", 2 * STEP)]  # third result; later ones suppressed (1000 ms = 16000 samples)


def test_suppression_ends_and_fires_again() -> None:
    rec = Recognizer(LABELS, CFG)
    got = feed(rec, [scores(0)] * 40)
    times = [t for _, t in got]
    assert len(times) >= 2 and times[1] - times[0] >= 16000


def test_threshold_on_the_window_average() -> None:
    rec = Recognizer(LABELS, CFG)
    # 0..255 score 179 < 180: never fires; 180 fires
    assert feed(rec, [scores(0, 179 - 128)] * 10) == []
    rec.reset()
    assert feed(rec, [scores(0, 180 - 128)] * 10)[0][0] == "yes"


def test_silence_and_unknown_never_fire() -> None:
    rec = Recognizer(LABELS, CFG)
    assert feed(rec, [scores(2)] * 10 + [scores(3)] * 10) == []


def test_old_results_leave_the_window() -> None:
    rec = Recognizer(LABELS, CFG)
    # a single loud result far in the past must not count towards the minimum
    assert rec.update(scores(0), 0) is None
    assert rec.update(scores(0), 100000) is None
    assert rec.update(scores(0), 100640) is None
    assert len(rec.history) == 2


def test_time_must_increase() -> None:
    rec = Recognizer(LABELS, CFG)
    rec.update(scores(0), 1000)
    with pytest.raises(ValueError, match="increase"):
        rec.update(scores(0), 1000)


def test_inference_schedule() -> None:
    cfg = RecognizerConfig(inference_every_frames=2)
    assert inference_times(52, cfg) == [49, 51]
    assert frame_end_sample(49) == 48 * FEATURES.stride_samples + FEATURES.window_samples
