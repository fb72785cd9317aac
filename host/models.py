"""Model architectures, all built from ops the firmware registers (see export.OP_RESOLVER).

The classifier heads are convolutions, not Dense layers: TFLite's reference FULLY_CONNECTED rounds
differently from TFLM's by one LSB now and then, while CONV_2D is bit-exact between the two, so the
int8 accuracy measured with TFLite is exactly what the device computes.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from host.config import DSCNN_FILTERS, FEATURES, FeatureConfig


def _head(x: keras.KerasTensor, n_labels: int) -> keras.KerasTensor:
    """Fully connected classifier as a convolution over the whole remaining feature map, then softmax."""
    x = layers.Conv2D(n_labels, (int(x.shape[1]), int(x.shape[2])), padding="valid", name="logits")(x)
    x = layers.Flatten()(x)
    return layers.Softmax(name="scores")(x)


def dscnn(
    n_labels: int,
    cfg: FeatureConfig = FEATURES,
    filters: int = DSCNN_FILTERS,
    blocks: int = 4,
    first_stride: tuple[int, int] = (2, 2),
) -> keras.Model:
    """Depthwise-separable CNN in the style of MLPerf Tiny's KWS reference model (Zhang et al., "Hello Edge"),
    sized for a Cortex-M4 at 64 MHz.

    The first convolution strides 2 in time and 4 in frequency (40 channels → 10 bands, as the 10 MFCCs of
    the reference), and the first depthwise block strides 2×2 again: about 0.9 M multiply-accumulates and
    3.4 M Cortex-M4 instructions per inference with CMSIS-NN (`kws bench firmware`).
    """
    inp = keras.Input((cfg.frames, cfg.channels, 1), name="features")
    x = layers.Conv2D(filters, (10, 4), strides=(2, 4), padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.1)(x)
    for i in range(blocks):
        stride = first_stride if i == 0 else (1, 1)
        x = layers.DepthwiseConv2D((3, 3), strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, (1, 1), use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])))(x)
    return keras.Model(inp, _head(x, n_labels), name="dscnn")


def sdscnn(n_labels: int, cfg: FeatureConfig = FEATURES, filters: int = DSCNN_FILTERS, blocks: int = 4) -> keras.Model:
    """Streaming DS-CNN: the DS-CNN with every layer causal in time (`valid`, stride 1), so that the model
    has an exact 49-frame receptive field and `host.streaming` can turn it into a stateful model that computes
    only the newest frames' columns at each step (same weights, the same float outputs).

    The first convolution strides 4 in frequency only (40 channels → 10 bands), the first pointwise
    convolution 2 more (→ 5); time keeps the frame rate throughout and the final average pools the last 32 columns.
    About 0.6 M multiply-accumulates per 5-frame step at 64 filters, against some 4.4 M for the whole window.
    """
    inp = keras.Input((cfg.frames, cfg.channels, 1), name="features")
    x = layers.Conv2D(filters, (10, 4), strides=(1, 4), padding="valid", use_bias=False, name="conv1")(inp)
    x = layers.BatchNormalization(momentum=0.9, name="conv1_bn")(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.1)(x)
    for i in range(blocks):
        x = layers.ZeroPadding2D(((0, 0), (1, 1)))(x)  # "same" in frequency, causal in time
        x = layers.DepthwiseConv2D((3, 3), padding="valid", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"dw{i}_bn")(x)
        x = layers.ReLU()(x)
        stride = (1, 2) if i == 0 else (1, 1)  # TF's depthwise kernels stride rows and columns alike
        x = layers.Conv2D(filters, (1, 1), strides=stride, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"pw{i}_bn")(x)
        x = layers.ReLU()(x)
    x = layers.Dropout(0.3)(x)
    # The global average in two steps, bands then time, as the streaming model pools: it then keeps one
    # column of `filters` values per time step instead of all bands.
    x = layers.AveragePooling2D(pool_size=(1, int(x.shape[2])), name="pool_bands")(x)
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), 1), name="pool")(x)
    return keras.Model(inp, _head(x, n_labels), name="sdscnn")


def tiny_conv(n_labels: int, cfg: FeatureConfig = FEATURES) -> keras.Model:
    """micro_speech's `tiny_conv`: one 10×8 convolution with 8 filters and a fully connected layer (~18 KB)."""
    inp = keras.Input((cfg.frames, cfg.channels, 1), name="features")
    x = layers.Conv2D(8, (10, 8), strides=(2, 2), padding="same", activation="relu")(inp)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inp, _head(x, n_labels), name="tiny_conv")


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {"dscnn": dscnn, "sdscnn": sdscnn, "tiny_conv": tiny_conv}
STREAMING = {"sdscnn"}  # shipped as streaming models (host.streaming)
WIDTHS = {"dscnn", "sdscnn"}  # built with `filters`; tiny_conv has a fixed size


def build(arch: str, n_labels: int, cfg: FeatureConfig = FEATURES, filters: int = DSCNN_FILTERS) -> keras.Model:
    """`arch` for `n_labels` classes; `filters` is the DS-CNN's width (tiny_conv has a fixed size)."""
    if arch not in ARCHITECTURES:
        from host.util import KwsError

        raise KwsError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    if arch in WIDTHS:
        return ARCHITECTURES[arch](n_labels, cfg, filters=filters)
    return ARCHITECTURES[arch](n_labels, cfg)
