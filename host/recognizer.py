"""The streaming recognizer: posterior smoothing of int8 scores, the same integer algorithm as the firmware's.

Scores are int8 model outputs shifted to 0..255. Time is counted in audio samples, never wall-clock, so a
stream gives the same detections whatever the transport speed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from host.config import FEATURES, RECOGNIZER, FeatureConfig, RecognizerConfig

MAX_HISTORY = 32  # results kept in the averaging window; the firmware's array has this size too


@dataclass(frozen=True)
class Detection:
    label: str
    index: int
    score: int  # average score 0..255
    time: int  # audio samples since the stream started


def keyword_mask(labels: Sequence[str]) -> list[bool]:
    """Labels that can be detected: everything but `_silence_` and `_unknown_` (names starting with '_')."""
    return [not lab.startswith("_") for lab in labels]


class Recognizer:
    def __init__(
        self, labels: Sequence[str], cfg: RecognizerConfig = RECOGNIZER, features: FeatureConfig = FEATURES
    ) -> None:
        self.labels = list(labels)
        self.keywords = keyword_mask(labels)
        self.cfg = cfg
        self.window = cfg.average_window_ms * features.sample_rate // 1000
        self.suppression = cfg.suppression_ms * features.sample_rate // 1000
        self.history: deque[tuple[int, np.ndarray]] = deque(maxlen=MAX_HISTORY)
        self.last_detection: int | None = None

    def reset(self) -> None:
        self.history.clear()
        self.last_detection = None

    def update(self, scores: np.ndarray, time: int) -> Detection | None:
        """Add one inference's int8 scores at `time` (samples); return a detection if one fires now."""
        if self.history and time <= self.history[-1][0]:
            raise ValueError(f"result times must increase: {time} after {self.history[-1][0]}")
        self.history.append((time, np.asarray(scores, np.int32) + 128))
        while self.history and self.history[0][0] <= time - self.window:
            self.history.popleft()
        if len(self.history) < self.cfg.minimum_count:
            return None
        average = np.sum([s for _, s in self.history], axis=0) // len(self.history)
        top = int(np.argmax(average))
        score = int(average[top])
        if not self.keywords[top] or score < self.cfg.threshold:
            return None
        if self.last_detection is not None and time - self.last_detection < self.suppression:
            return None
        self.last_detection = time
        return Detection(self.labels[top], top, score, time)


def inference_times(n_frames: int, cfg: RecognizerConfig = RECOGNIZER, features: FeatureConfig = FEATURES) -> list[int]:
    """1-based frame counts after which the device runs an inference: once a full window of frames exists,
    then every `inference_every_frames` frames."""
    return list(range(features.frames, n_frames + 1, cfg.inference_every_frames))


def frame_end_sample(frame_count: int, features: FeatureConfig = FEATURES) -> int:
    """Time (in samples) of a result computed after `frame_count` frames: the end of the newest window."""
    return (frame_count - 1) * features.stride_samples + features.window_samples
