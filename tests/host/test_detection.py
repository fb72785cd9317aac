"""The streaming benchmark: stream building, the vectorised recognizer, scoring, the DET curve, `kws stream`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from host import audio, detection
from host.config import FEATURES, RecognizerConfig
from host.recognizer import Detection
from host.util import KwsError

LABELS = ["yes", "no", "_silence_", "_unknown_"]


def test_score_stream_matches_by_label_and_time() -> None:
    events = [detection.Event("yes", 16000, 24000), detection.Event("no", 64000, 70000)]
    dets = [
        Detection("yes", 0, 200, 20000),  # hit
        Detection("yes", 0, 200, 30000),  # second detection of the same word: false accept
        Detection("go", 2, 200, 66000),  # wrong label: false accept and a substitution; "no" is missed
        Detection("no", 1, 200, 70000 + 17000),  # later than LATE_MS after the word: false accept
    ]
    r = detection.score_stream(dets, events, 16000 * 3600)
    assert (r["detected"], r["false_rejects"], r["false_accepts"], r["substitutions"]) == (1, 1, 3, 1)
    assert r["false_reject_rate"] == 0.5 and r["false_accepts_per_hour"] == 3.0


def test_make_stream_places_keywords_at_known_times() -> None:
    clip = np.zeros(16000, np.int16)
    clip[6000:10000] = 10000
    clips = np.stack([clip, clip])
    bank = np.random.default_rng(0).standard_normal((4, 16000)).astype(np.float32)
    audio_, events = detection.make_stream(clips, ["yes", "_unknown_"], bank, minutes=1.0, seed=1)
    assert len(audio_) == 16000 * 60 and audio_.dtype == np.int16
    assert 5 <= len(events) <= 9 and all(e.label == "yes" for e in events)
    for e in events:
        assert 4000 <= e.end - e.start <= 4400  # the loud part, to the 10 ms frame
        assert np.abs(audio_[e.start : e.end].astype(int)).mean() > 5000  # the word is really there
    gaps = np.diff([e.start for e in events])
    assert np.all(gaps >= 16000 + 2 * 16000)  # clip length + minimum gap, with the unknown word in between


@pytest.mark.parametrize("threshold", [100, 180, 230])
def test_smoothed_detections_equal_the_recognizer(threshold: int) -> None:
    """The vectorised averaging + suppression gives exactly the firmware recognizer's detections."""
    rng = np.random.default_rng(threshold)
    n = 3000
    top = np.repeat(rng.integers(0, len(LABELS), n // 10), 10)  # runs of one winner, as around words
    scores = rng.integers(-128, 0, (n, len(LABELS)))
    scores[np.arange(n), top] = rng.integers(0, 128, n)
    scores = scores.astype(np.int8)
    times = np.arange(n, dtype=np.int64) * 1600 + 15840
    times[1000:] += 40000  # a gap longer than the averaging window
    rcfg = RecognizerConfig(threshold=threshold)
    expected = detection.recognize(LABELS, times, scores, rcfg)
    got = detection.detections(LABELS, detection.smooth(LABELS, times, scores, rcfg), threshold, rcfg)
    assert got == expected and len(expected) > 3


def _fake_clips(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clips = np.zeros((n, FEATURES.clip_samples), np.int16)
    for c in clips:
        s = int(rng.integers(2000, 8000))
        c[s : s + 4000] = (rng.standard_normal(4000) * 8000).astype(np.int16)
    return clips


def test_build_stream_is_seeded_spaced_and_really_has_the_words() -> None:
    kw = _fake_clips(6, 1)
    labels = ["yes", "no"] * 3
    neg = _fake_clips(4, 2)
    bank = np.random.default_rng(0).standard_normal((3, FEATURES.clip_samples)).astype(np.float32)
    a = detection.build_stream(kw, labels, neg, bank, hours=0.05, seed=4)
    b = detection.build_stream(kw, labels, neg, bank, hours=0.05, seed=4)
    c = detection.build_stream(kw, labels, neg, bank, hours=0.05, seed=5)
    assert np.array_equal(a.audio, b.audio) and a.events == b.events
    assert not np.array_equal(a.audio, c.audio)
    assert len(a.audio) == int(0.05 * 3600 * 16000) and abs(a.hours - 0.05) < 1e-9
    assert 6 <= len(a.events) <= 40 and {e.label for e in a.events} == {"yes", "no"}  # ~6 a minute, 3 min
    starts = np.array([e.start for e in a.events])
    ends = np.array([e.end for e in a.events])
    assert np.all(starts[1:] - ends[:-1] >= 2 * 16000)  # at least 2 s between keywords
    for e in a.events:  # -6..+3 dB of an 8000-RMS word over noise of at most -35 dBFS (~580 RMS)
        assert np.sqrt(np.mean(a.audio[e.start : e.end].astype(float) ** 2)) > 3000
    assert a.counts["sentences"] > 0 and a.counts["other words"] > 0 and a.counts["noise only"] > 0
    assert sum(a.seconds.values()) > 0.5 * 0.05 * 3600  # speech or noise-only segments most of the time


def test_build_stream_refuses_bad_input() -> None:
    bank = np.ones((1, FEATURES.clip_samples), np.float32)
    empty = np.zeros((0, FEATURES.clip_samples), np.int16)
    with pytest.raises(KwsError, match="no"):
        detection.build_stream(empty, [], empty, bank, hours=0.01)
    with pytest.raises(KwsError, match="positive"):
        detection.build_stream(_fake_clips(1, 0), ["yes"], empty, bank, hours=0)


def test_operating_point_is_the_lowest_threshold_within_the_target() -> None:
    points = [
        {"threshold": 100, "false_accepts_per_hour": 9.0},
        {"threshold": 150, "false_accepts_per_hour": 2.0},
        {"threshold": 200, "false_accepts_per_hour": 0.5},
        {"threshold": 250, "false_accepts_per_hour": 0.0},
    ]
    assert detection.operating_point(points, 1.0)["threshold"] == 200
    assert detection.operating_point(points, 2.0)["threshold"] == 150
    assert detection.operating_point(points[:2], 1.0)["threshold"] == 150  # none reaches it: the highest
    with pytest.raises(KwsError, match="positive"):
        detection.operating_point(points, 0)


def test_kws_stream_writes_results_and_det_curve(small_model: Path, synth_dir: Path, tmp_path: Path) -> None:
    from host import cli

    out_json, out_png = tmp_path / "r.json", tmp_path / "det.png"
    argv = ["stream", "--model", str(small_model), "--data", str(synth_dir), "--split", "all"]
    assert cli.main([*argv, "--hours", "0.02", "--json", str(out_json), "--png", str(out_png), "-q"]) == 0
    r = json.loads(out_json.read_text())
    assert r["hours"] == pytest.approx(0.02) and r["keywords"] > 0
    assert len(r["sweep"]) == len(detection.THRESHOLDS)
    fa = [p["false_accepts"] for p in r["sweep"]]
    fr = [p["false_rejects"] for p in r["sweep"]]
    # a higher threshold fires less and misses more (not strictly step by step: an early detection's
    # suppression can hide a later keyword)
    assert fa[0] >= fa[-1] and fr[0] <= fr[-1] and max(fr) <= r["keywords"]
    assert r["at_target"]["false_accepts_per_hour"] <= 1.0 or r["at_target"]["threshold"] == 255
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["det.png", "r.json"]  # nothing half-written left


def test_kws_stream_refuses_bad_input(
    small_model: Path, synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from host import cli

    no_keywords = tmp_path / "data"
    (no_keywords / "_unknown_").mkdir(parents=True)
    clip = next((synth_dir / "_unknown_").glob("*.wav"))
    audio.write_wav(no_keywords / "_unknown_" / "a.wav", audio.read_wav(clip))
    out = tmp_path / "r.json"
    base = ["stream", "--model", str(small_model), "--json", str(out), "-q"]
    capsys.readouterr()
    assert cli.main([*base, "--data", str(no_keywords), "--split", "all"]) == 1
    assert "no keyword clips" in capsys.readouterr().err
    assert cli.main([*base, "--data", str(synth_dir), "--target-fa-per-hour", "0"]) == 1
    assert "--target-fa-per-hour must be positive" in capsys.readouterr().err
    assert cli.main([*base, "--data", str(synth_dir), "--hours", "-1"]) == 1
    assert not out.exists()
