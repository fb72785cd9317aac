"""Conversion to a fully int8 TFLite model (int8 input and output) and inspection of TFLite models."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from host.config import FEATURES, RECOGNIZER, FeatureConfig
from host.util import KwsError

STATE_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}  # a streaming model's state


@contextlib.contextmanager
def quiet_native_output(replay: bool = True, keep: list[bytes] | None = None) -> Iterator[None]:
    """Silence what native code prints on stdout/stderr (the converter is chatty); replay it on error, unless
    the error is expected (`replay=False`). With `keep`, what was printed is appended to it."""
    libc = ctypes.CDLL(None)
    libc.fflush(None)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            if replay:
                log.seek(0)
                os.write(2, log.read()[-4000:])
            raise
        finally:
            libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if keep is not None:
                log.seek(0)
                keep.append(log.read())


def to_int8(
    model: keras.Model, calibration: np.ndarray, cfg: FeatureConfig = FEATURES, max_samples: int = 2000
) -> bytes:
    """Full-integer quantization with a representative dataset of model inputs.

    An anchor sample spanning the whole input range [0, 255 * input_scale] comes first, so the converter
    chooses input scale = input_scale and zero point = -128: the int8 features of the device then feed the
    model unchanged.
    """
    anchor = np.zeros((1, *calibration.shape[1:]), np.float32)
    anchor.flat[0] = 255 * cfg.input_scale
    rng = np.random.default_rng(0)
    picks = calibration[rng.permutation(len(calibration))[:max_samples]].astype(np.float32)

    def representative() -> Iterator[list[np.ndarray]]:
        yield [anchor]
        for x in picks:
            yield [x[None]]

    # A fixed batch of one, so the converted graph has static shapes throughout.
    inp = keras.Input(calibration.shape[1:], batch_size=1)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, model(inp)))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with quiet_native_output():
        data = bytes(converter.convert())
    info = inspect(data)
    if abs(info.input_scale - cfg.input_scale) > 1e-9 or info.input_zero_point != -128:
        raise KwsError(
            f"converted input quantization is scale={info.input_scale} zero_point={info.input_zero_point}; "
            f"expected {cfg.input_scale} and -128"
        )
    return data


@dataclass
class ModelInfo:
    input_shape: tuple[int, ...]
    input_dtype: str
    input_scale: float
    input_zero_point: int
    output_shape: tuple[int, ...]
    output_dtype: str
    output_scale: float
    output_zero_point: int
    ops: list[str] = field(default_factory=list)
    macs: int = 0
    size_bytes: int = 0


def interpreter(data: bytes) -> tf.lite.Interpreter:
    """TFLite's interpreter with its reference kernels (no delegates): the int8 arithmetic TFLM implements."""
    with quiet_native_output():
        it = tf.lite.Interpreter(
            model_content=data, experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF
        )
        it.allocate_tensors()
    return it


def _macs(it: tf.lite.Interpreter) -> int:
    """Multiply-accumulates of the convolution and fully connected ops (the rest is negligible)."""
    shapes = {t["index"]: tuple(t["shape"]) for t in it.get_tensor_details()}
    total = 0
    for op in it._get_ops_details():
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            out = shapes[outs[0]]
            w = shapes[ins[1]]  # conv: (out_c, kh, kw, in_c); depthwise: (1, kh, kw, out_c)
            per_output = w[1] * w[2] * (w[3] if name == "CONV_2D" else 1)
            total += int(np.prod(out)) * int(per_output)
        elif name == "FULLY_CONNECTED":
            w = shapes[ins[1]]
            total += int(np.prod(shapes[outs[0]][:-1])) * int(w[0]) * int(w[1])
    return total


def inspect(data: bytes) -> ModelInfo:
    """Shapes, quantization, ops and MACs of a TFLite model; a KwsError if it is not a TFLite model."""
    try:
        it = interpreter(data)
    except (ValueError, RuntimeError) as e:
        raise KwsError(f"not a valid TFLite model: {str(e).splitlines()[0]}") from None
    ins, outs = it.get_input_details(), it.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise KwsError(f"expected one input and one output tensor, found {len(ins)} and {len(outs)}")
    i, o = ins[0], outs[0]
    return ModelInfo(
        input_shape=tuple(int(d) for d in i["shape"]),
        input_dtype=np.dtype(i["dtype"]).name,
        input_scale=float(i["quantization"][0]),
        input_zero_point=int(i["quantization"][1]),
        output_shape=tuple(int(d) for d in o["shape"]),
        output_dtype=np.dtype(o["dtype"]).name,
        output_scale=float(o["quantization"][0]),
        output_zero_point=int(o["quantization"][1]),
        ops=sorted({op["op_name"] for op in it._get_ops_details()}),
        macs=_macs(it),
        size_bytes=len(data),
    )


def require_int8(info: ModelInfo, cfg: FeatureConfig = FEATURES, step: int = RECOGNIZER.inference_every_frames) -> None:
    """The firmware feeds int8 features and reads int8 scores: anything else is refused with one message. The
    input is the whole window, or (a streaming model, with resource variables) the newest `step` frames."""
    if info.input_dtype != "int8" or info.output_dtype != "int8":
        raise KwsError(
            f"model is not fully int8 (input {info.input_dtype}, output {info.output_dtype}); "
            "convert it with int8 input and output (kws convert)"
        )
    shape = info.input_shape
    frames = shape[1] if len(shape) > 1 else 0
    if shape not in ((1, frames, cfg.channels, 1), (1, frames, cfg.channels)) or frames not in (cfg.frames, step):
        raise KwsError(
            f"model input shape {shape} does not match the features: {cfg.frames} frames of {cfg.channels} "
            f"channels (the whole window), or a streaming model's {step}-frame step"
        )
    stateful = bool(STATE_OPS & set(info.ops))
    if (frames < cfg.frames) != stateful:
        what = "takes a step but keeps no state" if not stateful else "keeps state but takes the whole window"
        raise KwsError(f"the model {what}: neither a streaming nor a whole-window model")
