"""Features: TFLM's micro_speech frontend (TF's `audio_microfrontend` op runs the same C code as the device)
followed by micro_speech's integer mapping to the model's int8 input."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op as frontend_op

from host.config import FEATURES, FeatureConfig


def frontend_tf(audio: tf.Tensor, cfg: FeatureConfig = FEATURES) -> tf.Tensor:
    """uint16 frontend output, shape (frames, channels), for a 1-D int16 audio tensor (fresh state)."""
    return frontend_op.audio_microfrontend(
        audio,
        sample_rate=cfg.sample_rate,
        window_size=cfg.window_ms,
        window_step=cfg.stride_ms,
        num_channels=cfg.channels,
        upper_band_limit=cfg.upper_band_hz,
        lower_band_limit=cfg.lower_band_hz,
        smoothing_bits=cfg.smoothing_bits,
        even_smoothing=cfg.even_smoothing,
        odd_smoothing=cfg.odd_smoothing,
        min_signal_remaining=cfg.min_signal_remaining,
        enable_pcan=cfg.enable_pcan,
        pcan_strength=cfg.pcan_strength,
        pcan_offset=cfg.pcan_offset,
        gain_bits=cfg.gain_bits,
        enable_log=cfg.enable_log,
        scale_shift=cfg.scale_shift,
        out_scale=1,
        out_type=tf.uint16,
    )


def to_int8_tf(values: tf.Tensor, cfg: FeatureConfig = FEATURES) -> tf.Tensor:
    """micro_speech's mapping: clamp((v * 256 + 666 / 2) / 666 - 128), in 32-bit integer arithmetic."""
    v = tf.cast(values, tf.int32)
    q = (v * cfg.value_scale + cfg.value_div // 2) // cfg.value_div - 128
    return tf.cast(tf.clip_by_value(q, -128, 127), tf.int8)


def int8_features_tf(audio: tf.Tensor, cfg: FeatureConfig = FEATURES) -> tf.Tensor:
    return to_int8_tf(frontend_tf(audio, cfg), cfg)


def model_input_tf(features_int8: tf.Tensor, cfg: FeatureConfig = FEATURES) -> tf.Tensor:
    """The float the model is trained on: (int8 + 128) * input_scale, shaped (frames, channels, 1)."""
    return tf.expand_dims((tf.cast(features_int8, tf.float32) + 128.0) * cfg.input_scale, -1)


def model_input(q: np.ndarray, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """NumPy twin of `model_input_tf` for a batch of int8 features: (n, frames, channels, 1) float32."""
    return (np.asarray(q, np.float32)[..., None] + 128.0) * cfg.input_scale


@tf.function(reduce_retracing=True)
def _int8_features_fn(audio: tf.Tensor) -> tf.Tensor:
    return int8_features_tf(audio)


def int8_features(audio: np.ndarray, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """int8 features (frames, channels) of 1-D int16 audio of any length, from a fresh frontend state."""
    samples = tf.constant(np.asarray(audio, np.int16))
    out = _int8_features_fn(samples) if cfg == FEATURES else int8_features_tf(samples, cfg)
    return out.numpy()


def batch_int8_features(clips: np.ndarray, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """int8 features (n, frames, channels) for an (n, samples) int16 array of clips."""
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(clips, np.int16))
    ds = ds.map(lambda a: int8_features_tf(a, cfg), num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    parts = [b.numpy() for b in ds]
    return np.concatenate(parts) if parts else np.zeros((0, cfg.frames, cfg.channels), np.int8)
