"""Training on CPU: audio-domain augmentation (time shift, gain, background noise) feeding the same
microfrontend features the device computes, SpecAugment-style masks, early stopping, a training-curve PNG."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from host import features, models
from host.config import DSCNN_FILTERS, FEATURES, SILENCE, UNKNOWN, FeatureConfig
from host.dataset import Dataset, load_clips
from host.util import KwsError, pyplot, save_png


@dataclass
class Split:
    audio: np.ndarray  # (n, clip_samples) int16
    labels: np.ndarray  # (n,) int32
    origins: np.ndarray  # (n,) str: "real", "synthetic" or "noise" (silence cut from noise recordings)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, keep: np.ndarray) -> Split:
        return Split(self.audio[keep], self.labels[keep], self.origins[keep])


@dataclass
class TrainingData:
    labels: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    noise: np.ndarray  # (chunks, clip_samples) float32, unit RMS each

    def describe(self) -> dict[str, Any]:
        return {
            name: {lab: int(np.sum(s.labels == i)) for i, lab in enumerate(self.labels)}
            for name, s in (("train", self.train), ("validation", self.validation), ("test", self.test))
        }


def noise_bank(noise: list[np.ndarray], cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """Cut noise recordings into unit-RMS one-clip chunks (white noise if the dataset has none)."""
    n = cfg.clip_samples
    chunks = [x[i : i + n].astype(np.float32) for x in noise for i in range(0, len(x) - n + 1, n // 2)]
    if not chunks:
        chunks = [np.random.default_rng(0).standard_normal(n).astype(np.float32) for _ in range(8)]
    bank = np.stack(chunks)
    return bank / (np.sqrt(np.mean(bank**2, axis=1, keepdims=True)) + 1e-6)


def _silence_clips(bank: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Noise-only clips at random levels (a tenth of them digital silence), for `_silence_`."""
    picks = bank[rng.integers(0, len(bank), count)]
    levels = 10 ** (rng.uniform(-75, -25, (count, 1)) / 20) * 32767
    levels[rng.random(count) < 0.1] = 0
    return np.clip(np.round(picks * levels), -32768, 32767).astype(np.int16)


def prepare(ds: Dataset, cfg: FeatureConfig = FEATURES, seed: int = 0, progress: bool = True) -> TrainingData:
    """Load the clips of each split. Training and validation get `_silence_` topped up to a tenth of the split
    from the noise recordings; the test split is exactly the clips on disk, so `kws eval` reproduces it."""
    if not any(it.label == UNKNOWN for it in ds.items):
        raise KwsError("the dataset has no `_unknown_` clips (other words): add some, or keep synthetic data on")
    bank = noise_bank(ds.noise, cfg)
    rng = np.random.default_rng(seed)
    index = {lab: i for i, lab in enumerate(ds.labels)}
    splits = {}
    for name in ("train", "validation", "test"):
        items = ds.split(name)
        audio = load_clips(items, cfg, progress)
        labels = np.array([index[it.label] for it in items], np.int32)
        origins = np.array([it.origin for it in items], dtype=object)
        missing = len(items) // 10 - int(np.sum(labels == index[SILENCE]))
        if missing > 0 and name != "test":
            audio = np.concatenate([audio, _silence_clips(bank, missing, rng)])
            labels = np.concatenate([labels, np.full(missing, index[SILENCE], np.int32)])
            origins = np.concatenate([origins, np.full(missing, "noise", dtype=object)])
        splits[name] = Split(audio, labels, origins)
    if len(splits["train"]) == 0 or len(splits["validation"]) == 0:
        raise KwsError("the dataset is too small to split by speaker: it needs clips from more speakers")
    return TrainingData(ds.labels, splits["train"], splits["validation"], splits["test"], bank)


def augment_tf(
    audio: tf.Tensor, seed: tf.Tensor, bank: tf.Tensor, cfg: FeatureConfig = FEATURES, max_shift_ms: int = 100
) -> tf.Tensor:
    """One augmented example: random shift, gain and background noise, then features and masks."""
    seeds = tf.random.experimental.stateless_split(seed, 8)
    n = cfg.clip_samples
    x = tf.cast(audio, tf.float32)
    max_shift = cfg.sample_rate * max_shift_ms // 1000
    shift = tf.random.stateless_uniform([], seeds[0], -max_shift, max_shift + 1, tf.int32)
    x = tf.pad(x, [[max_shift, max_shift]])[max_shift - shift : max_shift - shift + n]
    x *= 10 ** (tf.random.stateless_uniform([], seeds[1], -12.0, 6.0) / 20)
    chunk = bank[tf.random.stateless_uniform([], seeds[2], 0, tf.shape(bank)[0], tf.int32)]
    level = 32767 * 10 ** (tf.random.stateless_uniform([], seeds[3], -60.0, -25.0) / 20)
    use_noise = tf.cast(tf.random.stateless_uniform([], seeds[4]) < 0.8, tf.float32)
    x += chunk * level * use_noise
    x = tf.cast(tf.clip_by_value(tf.round(x), -32768, 32767), tf.int16)
    f = warp_channels(features.model_input_tf(features.int8_features_tf(x, cfg), cfg), seeds[5], cfg)
    t0 = tf.random.stateless_uniform([], seeds[5], 0, cfg.frames, tf.int32)
    t_len = tf.random.stateless_uniform([], seeds[6], 0, 6, tf.int32)
    f0 = tf.random.stateless_uniform([], seeds[7], 0, cfg.channels, tf.int32)
    frames = tf.range(cfg.frames)[:, None, None]
    chans = tf.range(cfg.channels)[None, :, None]
    mask = ((frames >= t0) & (frames < t0 + t_len)) | ((chans >= f0) & (chans < f0 + t_len))
    return tf.where(mask, 0.0, f)


def warp_channels(f: tf.Tensor, seed: tf.Tensor, cfg: FeatureConfig = FEATURES, most: float = 0.1) -> tf.Tensor:
    """Vocal-tract-length perturbation on the features: stretch or squeeze the filterbank channels by up to
    `most` (a longer or shorter vocal tract moves every formant by the same factor), anchored at the lowest
    channel; the top is filled with the highest channel left."""
    factor = tf.random.stateless_uniform([], seed + 7, 1.0 - most, 1.0 + most)
    width = tf.cast(tf.round(cfg.channels * factor), tf.int32)
    g = tf.image.resize(f, tf.stack([cfg.frames, width]))
    g = tf.concat([g, tf.repeat(g[:, -1:, :], cfg.channels, axis=1)], axis=1)[:, : cfg.channels, :]
    return tf.ensure_shape(g, (cfg.frames, cfg.channels, 1))


def epoch_order(split: Split, real_weight: int) -> np.ndarray:
    """Clip indices of one epoch: every clip once, real speech `real_weight` times (it is scarcer than
    synthetic speech, and what the model is for)."""
    real = np.flatnonzero(split.origins == "real")
    return np.concatenate([np.arange(len(split)), *([real] * (real_weight - 1))]).astype(np.int32)


def training_dataset(
    data: TrainingData, batch: int, seed: int, real_weight: int = 1, cfg: FeatureConfig = FEATURES
) -> tf.data.Dataset:
    bank = tf.constant(data.noise)
    audio, labels = tf.constant(data.train.audio), tf.constant(data.train.labels)
    order = epoch_order(data.train, real_weight)
    base = tf.data.Dataset.from_tensor_slices(order).shuffle(len(order), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    ds = tf.data.Dataset.zip((base.repeat(), seeds)).map(
        lambda i, s: (augment_tf(audio[i], s, bank, cfg), labels[i]), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.batch(batch).prefetch(2)


def features_of(split: Split, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """Float model input for un-augmented clips: (n, frames, channels, 1)."""
    return features.model_input(features.batch_int8_features(split.audio, cfg), cfg)


class _Progress(keras.callbacks.Callback):
    """One tqdm bar over epochs, showing loss and accuracies; a line per epoch when not on a terminal."""

    def __init__(self, epochs: int, enabled: bool) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc="training", unit="epoch", disable=not enabled)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        self.bar.set_postfix(
            loss=f"{logs.get('loss', 0):.3f}",
            acc=f"{logs.get('accuracy', 0):.3f}",
            val_acc=f"{logs.get('val_accuracy', 0):.3f}",
        )
        self.bar.update(1)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.bar.close()


def train(
    data: TrainingData,
    arch: str = "dscnn",
    *,
    epochs: int = 40,
    batch: int = 64,
    patience: int = 8,
    learning_rate: float = 3e-3,
    real_weight: int = 3,
    filters: int = DSCNN_FILTERS,
    seed: int = 0,
    cfg: FeatureConfig = FEATURES,
    progress: bool = True,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train `arch` with early stopping on validation accuracy; returns the best model and its history."""
    keras.utils.set_random_seed(seed)
    model = models.build(arch, len(data.labels), cfg, filters)
    steps = math.ceil(len(epoch_order(data.train, real_weight)) / batch)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps * epochs, alpha=0.02)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    val = (features_of(data.validation, cfg), data.validation.labels)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=patience,
        restore_best_weights=True,
        start_from_epoch=min(10, epochs // 4),
    )
    bar = _Progress(epochs, progress)
    try:
        hist = model.fit(
            training_dataset(data, batch, seed, real_weight, cfg),
            steps_per_epoch=steps,
            epochs=epochs,
            validation_data=val,
            callbacks=[stop, bar],
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=0,
        )
    finally:  # on Ctrl-C too, so that "kws: interrupted" is not written over by the bar
        bar.bar.close()
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items() if k != "learning_rate"}
    return model, history


def plot_history(history: dict[str, list[float]], path: Path, title: str = "") -> None:
    """Loss and accuracy per epoch for training and validation, the best epoch marked, as a PNG."""
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    best = int(np.argmax(history["val_accuracy"])) + 1
    for ax, key, name in ((ax1, "loss", "loss"), (ax2, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], label="train (augmented)")
        ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch ({best})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or "training curve")
    fig.tight_layout()
    save_png(fig, path)
