"""Streaming (stateful) models: the step model equals the whole-window model, in float and in int8, and
TFLite and TFLM agree on every step."""

from __future__ import annotations

import numpy as np
import pytest

from host import convert, evaluate, models, streaming
from host.config import FEATURES
from host.util import KwsError

STEP = 5


@pytest.fixture(scope="module")
def trained_like() -> tuple:
    """An sdscnn with random weights and batch-norm statistics (as if trained), a stream of int8 frames, and
    the float windows of that stream."""
    rng = np.random.default_rng(0)
    model = models.build("sdscnn", 4, filters=8)
    for layer in model.layers:
        if layer.name.endswith("_bn"):
            g, b, mu, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                               rng.normal(0, 0.2, mu.shape), rng.uniform(0.5, 2, v.shape)])  # fmt: skip
    # frames with slowly varying structure, as features have, rather than white noise
    base = rng.integers(-128, 100, (1, FEATURES.channels))
    q = np.clip(base + np.cumsum(rng.integers(-12, 13, (400, FEATURES.channels)), axis=0) % 160, -128, 127)
    q = q.astype(np.int8)
    return model, q


def test_float_step_model_equals_the_whole_window_model(trained_like: tuple) -> None:
    model, q = trained_like
    x = (q.astype(np.float32) + 128) / 256
    step_model = streaming.StepModel(model, STEP)
    outs = [step_model.run(s[None]).numpy()[0] for s in streaming.steps_of(x[..., None], STEP)]
    checked = 0
    for k, out in enumerate(outs):
        c = streaming.step_count(k, STEP)
        if c < FEATURES.frames:
            continue
        whole = model(x[None, c - FEATURES.frames : c, :, None], training=False).numpy()[0]
        np.testing.assert_allclose(out, whole, atol=1e-5)
        checked += 1
    assert checked == (len(q) - FEATURES.frames) // STEP + 1


def test_int8_streaming_model_equals_whole_window_int8_and_tflm(trained_like: tuple) -> None:
    model, q = trained_like
    x = (q.astype(np.float32) + 128) / 256
    windows = np.stack([x[i : i + FEATURES.frames, :, None] for i in range(0, 300, 3)])
    data = streaming.to_int8(model, windows)
    info = convert.inspect(data)
    assert info.input_shape == (1, STEP, FEATURES.channels, 1) and set(info.ops) >= convert.STATE_OPS
    counts = list(range(FEATURES.frames, len(q) + 1, STEP))
    lite = streaming.step_scores(data, q, counts, "tflite")
    micro = streaming.step_scores(data, q, counts, "tflm")
    assert np.array_equal(lite, micro)  # the device's reference, byte for byte, on every step
    windows_q = np.stack([q[c - FEATURES.frames : c] for c in counts])
    assert np.array_equal(streaming.window_scores(data, windows_q), lite)  # a window alone = in the stream
    whole = evaluate.run_int8(convert.to_int8(model, windows), windows_q)
    # The two int8 models quantize the stored columns alike only if their calibrated ranges agree: bound the
    # difference (a few LSB of the 1/256 output scale) and require the same top label nearly always.
    r = streaming.compare(lite, whole)
    assert r["windows"] == len(counts) and r["max_abs_diff"] <= 4 and r["top_label_agreement"] >= 0.97, r


def test_refuses_what_is_not_a_streaming_model(trained_like: tuple) -> None:
    model, q = trained_like
    with pytest.raises(KwsError, match="only an sdscnn"):
        streaming.StepModel(models.build("dscnn", 4, filters=8), STEP)
    calibration = ((q[:49].astype(np.float32) + 128) / 256)[None, :, :, None]
    whole = convert.to_int8(model, calibration)
    with pytest.raises(KwsError, match="whole-window model"):
        streaming.step_scores(whole, q, [49])
    with pytest.raises(KwsError, match="step grid"):
        streaming.step_scores(streaming.to_int8(model, calibration), q, [50])
    info = convert.inspect(whole)
    info.input_shape = (1, STEP, FEATURES.channels, 1)
    with pytest.raises(KwsError, match="keeps no state"):
        convert.require_int8(info)
    info.input_shape = (1, 7, FEATURES.channels, 1)
    with pytest.raises(KwsError, match="does not match the features"):
        convert.require_int8(info)
