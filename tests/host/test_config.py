import pytest

from host.config import FEATURES, RECOGNIZER, FeatureConfig, RecognizerConfig


def test_micro_speech_geometry() -> None:
    assert (FEATURES.window_samples, FEATURES.stride_samples, FEATURES.frames) == (480, 320, 49)
    assert FEATURES.channels == 40


def test_round_trip_and_unknown_keys() -> None:
    assert FeatureConfig.from_dict(FEATURES.to_dict()) == FEATURES
    assert RecognizerConfig.from_dict(RECOGNIZER.to_dict()) == RECOGNIZER
    with pytest.raises(ValueError, match="window_size"):
        FeatureConfig.from_dict({**FEATURES.to_dict(), "window_size": 30})
