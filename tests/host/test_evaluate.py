import numpy as np

from host import evaluate
from host.recognizer import Detection


def test_score_stream_matches_by_label_and_time() -> None:
    events = [evaluate.Event("yes", 16000, 24000), evaluate.Event("no", 64000, 70000)]
    dets = [
        Detection("yes", 0, 200, 20000),  # hit
        Detection("yes", 0, 200, 30000),  # second detection of the same word: false accept
        Detection("go", 2, 200, 66000),  # wrong label: false accept; "no" is missed
    ]
    r = evaluate.score_stream(dets, events, 16000 * 3600)
    assert (r["detected"], r["false_rejects"], r["false_accepts"], r["substitutions"]) == (1, 1, 2, 1)
    assert r["false_reject_rate"] == 0.5 and r["false_accepts_per_hour"] == 2.0


def test_make_stream_places_keywords_at_known_times() -> None:
    clip = np.zeros(16000, np.int16)
    clip[6000:10000] = 10000
    clips = np.stack([clip, clip])
    bank = np.random.default_rng(0).standard_normal((4, 16000)).astype(np.float32)
    audio, events = evaluate.make_stream(clips, ["yes", "_unknown_"], bank, minutes=1.0, seed=1)
    assert len(audio) == 16000 * 60 and audio.dtype == np.int16
    assert 5 <= len(events) <= 9 and all(e.label == "yes" for e in events)
    for e in events:
        assert 4000 <= e.end - e.start <= 4400  # the loud part, to the 10 ms frame
        assert np.abs(audio[e.start : e.end].astype(int)).mean() > 5000  # the word is really there
    gaps = np.diff([e.start for e in events])
    assert np.all(gaps >= 16000 + 2 * 16000)  # clip length + minimum gap, with the unknown word in between


def test_confusion_counts() -> None:
    cm = evaluate.confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_choose_threshold_minimises_errors() -> None:
    points = [
        {"threshold": 100, "false_accepts": 9, "false_rejects": 1},
        {"threshold": 150, "false_accepts": 2, "false_rejects": 3},
        {"threshold": 200, "false_accepts": 0, "false_rejects": 5},
        {"threshold": 250, "false_accepts": 0, "false_rejects": 9},
    ]
    assert evaluate.choose_threshold(points) == 200  # 5 errors at 150 and 200: the higher one
