from pathlib import Path

import numpy as np
import tensorflow as tf

from host import features
from host.audio import fit_to_length, read_wav
from host.config import FEATURES


def reference_mapping(v: np.ndarray) -> np.ndarray:
    """micro_speech's feature_provider arithmetic, written out independently."""
    out = (v.astype(np.int64) * 256 + 666 // 2) // 666 - 128
    return np.clip(out, -128, 127).astype(np.int8)


def test_int8_mapping_matches_micro_speech_for_every_uint16() -> None:
    v = np.arange(0, 65536, dtype=np.uint16)
    got = features.to_int8_tf(tf.constant(v)).numpy()
    assert np.array_equal(got, reference_mapping(v))


def test_shape_silence_and_determinism() -> None:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(FEATURES.clip_samples) * 3000).astype(np.int16)
    f = features.int8_features(audio)
    assert f.shape == (49, 40) and f.dtype == np.int8
    assert np.array_equal(f, features.int8_features(audio))
    assert np.all(features.int8_features(np.zeros(16000, np.int16)) == -128)
    assert f.max() > -128  # noise produces energy


def test_batch_equals_single_and_stream_prefix(shared_data: Path) -> None:
    clips = np.stack([fit_to_length(read_wav(p), 16000) for p in sorted((shared_data / "yes").glob("*.wav"))[:3]])
    batch = features.batch_int8_features(clips)
    for clip, f in zip(clips, batch, strict=True):
        assert np.array_equal(features.int8_features(clip), f)
    # The frontend is causal: the first frames of a longer stream equal the clip's own frames.
    longer = features.int8_features(np.concatenate([clips[0], clips[1]]))
    assert np.array_equal(longer[:49], batch[0])
    # Real speech spans a good part of the int8 range.
    assert batch.max() > 40
