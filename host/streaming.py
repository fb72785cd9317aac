"""Streaming (stateful) models: a trained `sdscnn` turned into a model that takes only the newest feature frames
at each step and keeps the past columns of every layer in TFLM resource variables.

Every layer of `sdscnn` is causal in time with stride 1, so each layer's output column at frame t depends on a
fixed number of its input's newest columns. The streaming model keeps, per layer, the columns its kernel still
needs (9 input frames before the first convolution, 2 columns before each depthwise convolution, 27 band-
averaged columns before the average over time) in a variable: at each step it concatenates them with the new
columns, computes only the new output columns, and stores the newest ones back (VAR_HANDLE / READ_VARIABLE /
ASSIGN_VARIABLE; a CALL_ONCE subgraph zeroes them). The receptive field is exactly the model's 49-frame
window, so from the 49th frame on, each step's float output equals the whole-window model's on the newest 49
frames; int8 models differ by the quantization of the stored columns only (`compare` measures it).

The device runs one step every `inference_every_frames` frames from reset (the first ones fill the state) and
reports from the 49th frame on, at the same frame counts as a whole-window model. Host code runs the same
steps here (`step_scores`); `window_scores` gives a streaming model's scores for single windows (clips).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from host.config import FEATURES, RECOGNIZER, FeatureConfig
from host.util import KwsError


def is_streaming(input_shape: tuple[int, ...] | list[int], cfg: FeatureConfig = FEATURES) -> bool:
    """A streaming model takes fewer frames than the window: the newest ones."""
    return int(input_shape[1]) < cfg.frames


def _folded(model: keras.Model, conv: str) -> tuple[np.ndarray, np.ndarray]:
    """A convolution's kernel and bias with the batch normalization after it folded in."""
    kernel = model.get_layer(conv).get_weights()[0]
    gamma, beta, mean, var = model.get_layer(f"{conv}_bn").get_weights()
    scale = gamma / np.sqrt(var + model.get_layer(f"{conv}_bn").epsilon)
    axis = 2 if isinstance(model.get_layer(conv), keras.layers.DepthwiseConv2D) else 3
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    return (kernel * scale.reshape(shape)).astype(np.float32), (beta - mean * scale).astype(np.float32)


class StepModel(tf.Module):
    """The streaming form of a trained `sdscnn` (weights folded to constants; states as variables)."""

    def __init__(self, model: keras.Model, step: int, cfg: FeatureConfig = FEATURES) -> None:
        super().__init__()
        if model.name != "sdscnn":
            raise KwsError(f"only an sdscnn model can be made a streaming model, not {model.name!r}")
        self.conv1 = _folded(model, "conv1")
        self.blocks = []
        i = 0
        while any(layer.name == f"dw{i}" for layer in model.layers):
            stride = int(model.get_layer(f"pw{i}").strides[1])
            self.blocks.append((_folded(model, f"dw{i}"), stride, _folded(model, f"pw{i}")))
            i += 1
        logits = model.get_layer("logits").get_weights()
        self.logits = (logits[0].astype(np.float32), logits[1].astype(np.float32))
        pool = int(model.get_layer("pool").pool_size[0])
        if pool < step:
            raise KwsError(f"the model pools {pool} columns, fewer than a {step}-frame step")
        kt = int(self.conv1[0].shape[0])
        bands = [cfg.channels // 4]
        for _, stride, _ in self.blocks:
            bands.append(-(-bands[-1] // stride))
        filters = int(self.conv1[0].shape[3])
        shapes = [(kt - 1, cfg.channels, 1)] + [(2, bands[j], filters) for j in range(len(self.blocks))]
        shapes.append((pool - step, 1, filters))  # columns averaged over the bands
        self.states = [tf.Variable(tf.zeros((1, *shape)), trainable=False) for shape in shapes]
        spec = tf.TensorSpec((1, step, cfg.channels, 1), tf.float32)
        self.run = tf.function(self._step, input_signature=[spec])

    def _buffer(self, state: tf.Variable, x: tf.Tensor) -> tf.Tensor:
        """The state's columns followed by the new ones; the newest go back into the state. The control
        dependencies keep the converter from reading every state first and writing them all last, which
        would keep every concatenation alive through the whole step (a larger arena)."""
        with tf.control_dependencies([x]):
            old = state.read_value()
        y = tf.concat([old, x], axis=1)
        with tf.control_dependencies([state.assign(y[:, -int(state.shape[1]) :])]):
            return tf.identity(y)

    def _step(self, x: tf.Tensor) -> tf.Tensor:
        states = iter(self.states)
        k, b = self.conv1
        x = tf.nn.relu(tf.nn.conv2d(self._buffer(next(states), x), k, (1, 1, 4, 1), "VALID") + b)
        for (dk, db), stride, (pk, pb) in self.blocks:
            x = tf.pad(self._buffer(next(states), x), [[0, 0], [0, 0], [1, 1], [0, 0]])
            x = tf.nn.relu(tf.nn.depthwise_conv2d(x, dk, (1, 1, 1, 1), "VALID") + db)
            x = tf.nn.relu(tf.nn.conv2d(x, pk, (1, 1, stride, 1), "VALID") + pb)
        x = tf.nn.avg_pool2d(x, (1, int(x.shape[2])), 1, "VALID")  # bands, then time: as sdscnn pools
        x = self._buffer(next(states), x)
        x = tf.nn.avg_pool2d(x, (int(x.shape[1]), 1), 1, "VALID")
        k, b = self.logits
        return tf.nn.softmax(tf.reshape(tf.nn.conv2d(x, k, 1, "VALID") + b, (1, -1)))


def steps_of(frames: np.ndarray, step: int, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    """Frames (n, channels, ...) from reset as the device's steps (k, step, channels, ...): the device steps
    after the frame counts that fall on its inference grid (count ≡ cfg.frames mod step: 4, 9, ..., 49, 54, ...),
    so zero frames stand in front (outside every window's receptive field); a partial last step is left out."""
    pad = -cfg.frames % step
    x = np.concatenate([np.zeros((pad, *frames.shape[1:]), frames.dtype), frames])
    n = len(x) // step
    return x[: n * step].reshape(n, step, *frames.shape[1:])


def step_count(k: int, step: int, cfg: FeatureConfig = FEATURES) -> int:
    """The 1-based frame count after which step k (0-based, as `steps_of` gives them) runs."""
    return (k + 1) * step - (-cfg.frames % step)


def to_int8(
    model: keras.Model,
    calibration: np.ndarray,
    cfg: FeatureConfig = FEATURES,
    step: int = RECOGNIZER.inference_every_frames,
    max_windows: int = 400,
) -> bytes:
    """The int8 streaming model of a trained `sdscnn`: int8 input (`step` frames) and output, the states
    quantized as variables. Calibrated on the steps of `calibration` windows (float model inputs) in a row,
    after an anchor step spanning the input range, so the input quantization is the features' (as `convert`)."""
    from host import convert

    sm = StepModel(model, step, cfg)
    rng = np.random.default_rng(0)
    picks = calibration[rng.permutation(len(calibration))[:max_windows]].astype(np.float32)
    anchor = np.zeros((1, step, cfg.channels, 1), np.float32)
    anchor.flat[0] = 255 * cfg.input_scale

    def representative() -> Iterator[list[np.ndarray]]:
        yield [anchor]
        for w in picks:
            for s in steps_of(w, step):
                yield [s[None]]

    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(sm, tmp, signatures=sm.run.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter._experimental_variable_quantization = True
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        with convert.quiet_native_output():
            data = bytes(converter.convert())
    info = convert.inspect(data)
    if abs(info.input_scale - cfg.input_scale) > 1e-9 or info.input_zero_point != -128:
        raise KwsError(
            f"converted input quantization is scale={info.input_scale} zero_point={info.input_zero_point}; "
            f"expected {cfg.input_scale} and -128"
        )
    return data


def step_frames(data: bytes, cfg: FeatureConfig = FEATURES) -> int:
    """Frames a streaming model takes per step; a whole-window model is refused."""
    from host import convert

    frames = int(convert.inspect(data).input_shape[1])
    if not frames < cfg.frames:
        raise KwsError(f"a whole-window model ({frames} frames per inference) given where a streaming model is needed")
    return frames


def window_scores(data: bytes, q: np.ndarray, engine: str = "tflite", progress: bool = False) -> np.ndarray:
    """A streaming model's int8 scores (n, labels) for int8 windows (n, frames, channels): each window's
    steps in a row (the state then holds only that window's frames), the last step's scores."""
    from tqdm import tqdm

    from host import evaluate

    step = step_frames(data)
    run = evaluate.int8_runner(data, engine)  # its interpreter keeps the state between calls
    out = []
    for w in tqdm(q, desc=f"int8 streaming ({engine})", unit="clip", disable=not progress, leave=False):
        for s in steps_of(np.asarray(w).reshape(len(w), -1), step):
            scores = run(s)  # a window's steps: after the last, the state holds only that window
        out.append(scores)
    return np.stack(out) if out else np.zeros((0, 0), np.int8)


def step_scores(
    data: bytes, feats: np.ndarray, counts: Sequence[int], engine: str = "tflite", progress: bool = False
) -> np.ndarray:
    """Run a streaming model over a stream's int8 frames (n, channels) from reset as the device does, and
    return the scores of the steps after the given 1-based frame counts (each on the step grid)."""
    from tqdm import tqdm

    from host import evaluate

    step = step_frames(data)
    if any((c - FEATURES.frames) % step for c in counts):
        raise KwsError(f"frame counts off the {step}-frame step grid")
    run = evaluate.int8_runner(data, engine)  # its interpreter keeps the state between calls
    x = steps_of(feats, step)
    wanted = {c: i for i, c in enumerate(counts)}
    out: np.ndarray | None = None
    for k in tqdm(range(len(x)), desc=f"int8 streaming ({engine})", unit="step", disable=not progress, leave=False):
        scores = run(x[k])
        i = wanted.get(step_count(k, step))
        if i is not None:
            if out is None:
                out = np.zeros((len(counts), len(scores)), np.int8)
            out[i] = scores
    return out if out is not None else np.zeros((len(counts), 0), np.int8)


def compare(streaming: np.ndarray, whole: np.ndarray) -> dict[str, Any]:
    """How far a streaming int8 model's scores are from the whole-window int8 model's on the same windows."""
    diff = np.abs(streaming.astype(np.int32) - whole.astype(np.int32))
    return {
        "windows": len(diff),
        "max_abs_diff": int(diff.max()) if diff.size else 0,
        "mean_abs_diff": round(float(diff.mean()), 4) if diff.size else 0.0,
        "top_label_agreement": float(np.mean(streaming.argmax(1) == whole.argmax(1))) if diff.size else 1.0,
    }


def describe(data: bytes, cfg: FeatureConfig = FEATURES) -> dict[str, Any]:
    """What model.json says of a streaming model."""
    return {"step_frames": step_frames(data), "receptive_frames": cfg.frames}
