"""The one feature and recognizer configuration shared by training, evaluation and the firmware export.

Everything that must agree between the host and the device is defined here once: the microfrontend
parameters (TFLM's micro_speech frontend), the mapping of its uint16 output to the model's int8 input,
and the posterior-smoothing parameters of the streaming recognizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND = "_background_noise_"
STANDARD_KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
DSCNN_FILTERS = 64  # the DS-CNN width `kws pipeline` trains by default (models/default was made with 40)


@dataclass(frozen=True)
class FeatureConfig:
    """micro_speech's audio frontend: 16 kHz, 30 ms window, 20 ms stride, 40 channels."""

    sample_rate: int = 16000
    clip_ms: int = 1000
    window_ms: int = 30
    stride_ms: int = 20
    channels: int = 40
    lower_band_hz: float = 125.0
    upper_band_hz: float = 7500.0
    smoothing_bits: int = 10
    even_smoothing: float = 0.025
    odd_smoothing: float = 0.06
    min_signal_remaining: float = 0.05
    enable_pcan: bool = True
    pcan_strength: float = 0.95
    pcan_offset: float = 80.0
    gain_bits: int = 21
    enable_log: bool = True
    scale_shift: int = 6
    # int8 input = clamp(((value * value_scale) + value_div / 2) / value_div - 128): micro_speech's mapping.
    value_scale: int = 256
    value_div: int = 666

    @property
    def clip_samples(self) -> int:
        return self.sample_rate * self.clip_ms // 1000

    @property
    def window_samples(self) -> int:
        return self.sample_rate * self.window_ms // 1000

    @property
    def stride_samples(self) -> int:
        return self.sample_rate * self.stride_ms // 1000

    @property
    def frames(self) -> int:
        """Feature frames (slices) in one clip: 49 for the defaults."""
        return 1 + (self.clip_samples - self.window_samples) // self.stride_samples

    @property
    def input_scale(self) -> float:
        """The model's float input is (int8 + 128) * input_scale, so int8 quantization is the identity."""
        return 1.0 / 256.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class RecognizerConfig:
    """Posterior smoothing of the streaming recognizer; times are in audio samples on host and device.

    Scores are the model's int8 outputs shifted to 0..255. A keyword is detected when it has the highest
    average score over the last `average_window_ms`, that average is at least `threshold`, at least
    `minimum_count` inferences are in the window, and no detection happened in the last `suppression_ms`.
    """

    average_window_ms: int = 500
    threshold: int = 180
    suppression_ms: int = 1000
    minimum_count: int = 3
    inference_every_frames: int = 5  # 100 ms; a streaming model's step (shipped: ~1.1 M instructions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecognizerConfig:
        return cls(**_known_fields(cls, data))


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return dict(data)


FEATURES = FeatureConfig()
RECOGNIZER = RecognizerConfig()
