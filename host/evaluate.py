"""Evaluation: float, TFLite int8 and TFLM int8 accuracy in one report (TFLM must match TFLite byte for
byte), confusion matrix, model size, TFLM arena bytes, ops and MACs. Streaming evaluation is in `detection`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from host import convert, features
from host.util import KwsError, pyplot, save_png

ENGINES = ("tflite", "tflm")


def tflm_interpreter(data: bytes, arena_bytes: int | None = None, replay_errors: bool = True) -> Any:
    from tflite_micro import runtime

    with convert.quiet_native_output(replay_errors):
        return runtime.Interpreter.from_bytes(data, arena_size=arena_bytes or 1 << 20)


def arena_bytes(data: bytes, limit: int = 1 << 20) -> int:
    """The smallest tensor arena TFLM (this x86-64 build) can allocate the model in.

    The recording allocator's total (head + tail, resource variables included) in a large arena is a lower
    bound; allocation may need a little more while the memory planner works, found by bisection above it.
    Nothing smaller is tried: TFLM's resource-variable kernels crash, rather than fail, when a temporary tensor
    does not fit. Pointer-sized bookkeeping is larger on a 64-bit host than on a Cortex-M, so this bounds the
    device's need."""

    def fits(size: int) -> bool:
        try:
            tflm_interpreter(data, size, replay_errors=False)  # a too-small arena is expected here
            return True
        except (RuntimeError, ValueError):
            return False

    printed: list[bytes] = []
    try:
        with convert.quiet_native_output(replay=False, keep=printed):
            tflm_interpreter(data, limit, replay_errors=False).print_allocations()
    except (RuntimeError, ValueError):
        raise KwsError(f"the model does not fit a {limit}-byte TFLM arena") from None
    match = re.search(rb"Arena allocation total (\d+) bytes", b"".join(printed))
    if match is None:
        raise KwsError("TFLM did not report its arena use")
    lo, hi = int(match.group(1)) - 1, limit  # lo does not fit (or is the bound), hi fits
    while hi - lo > 16:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def int8_runner(data: bytes, engine: str = "tflite") -> Callable[[np.ndarray], np.ndarray]:
    """A function from one int8 feature window to int8 scores, by TFLite's reference kernels or by TFLM."""
    if engine not in ENGINES:
        raise KwsError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if engine == "tflm":
        micro = tflm_interpreter(data)
        shape = tuple(micro.get_input_details(0)["shape"])

        def run_micro(x: np.ndarray) -> np.ndarray:
            micro.set_input(np.ascontiguousarray(x, np.int8).reshape(shape), 0)
            micro.invoke()
            return np.array(micro.get_output(0), np.int8).reshape(-1)

        return run_micro
    lite = convert.interpreter(data)
    i, o = lite.get_input_details()[0], lite.get_output_details()[0]

    def run_lite(x: np.ndarray) -> np.ndarray:
        lite.set_tensor(i["index"], np.ascontiguousarray(x, np.int8).reshape(i["shape"]))
        lite.invoke()
        return np.array(lite.get_tensor(o["index"]), np.int8).reshape(-1)

    return run_lite


def run_int8(data: bytes, q: np.ndarray, engine: str = "tflite", progress: bool = False) -> np.ndarray:
    """int8 scores (n, labels) for int8 feature windows (n, frames, channels); a streaming model runs each
    window's steps (`streaming.window_scores`)."""
    from host import streaming

    if streaming.is_streaming(convert.inspect(data).input_shape):
        return streaming.window_scores(data, q, engine, progress)
    run = int8_runner(data, engine)
    out = [run(x) for x in tqdm(q, desc=f"int8 ({engine})", unit="clip", disable=not progress, leave=False)]
    return np.stack(out) if out else np.zeros((0, 0), np.int8)


def evaluate_folder(
    data: bytes,
    float_model: Any,
    folder: Path,
    labels: Sequence[str],
    split: str = "all",
    progress: bool = True,
) -> dict[str, Any]:
    """`evaluate_clips` on the clips of one Speech Commands-layout folder (all of it, or one speaker split)
    and nothing else; folders that are not labels count as `_unknown_`. `float_model` may be None."""
    from host import dataset

    ds = dataset.load_folder(folder, labels, require_all=False)
    items = ds.items if split == "all" else ds.split(split)
    if not items:
        raise KwsError(f"{folder} has no clips in split {split!r}")
    index = {lab: i for i, lab in enumerate(labels)}
    truth = np.array([index[it.label] for it in items], np.int32)
    q = features.batch_int8_features(dataset.load_clips(items, progress=progress))
    float_scores = (
        None if float_model is None else float_model.predict(features.model_input(q), verbose=0, batch_size=256)
    )
    report = evaluate_clips(data, q, truth, labels, float_scores, progress)
    report["data"] = {"folder": Path(folder).name, "split": split, "speakers": len({it.speaker for it in items})}
    return report


def confusion(pred: np.ndarray, truth: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (truth, pred), 1)
    return cm


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: Path, title: str) -> None:
    plt = pyplot()
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(labels), 0.8 + 0.55 * len(labels)))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(cm):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=8, color="white" if rows[r, c] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    save_png(fig, path)


def evaluate_clips(
    data: bytes,
    q: np.ndarray,
    truth: np.ndarray,
    labels: Sequence[str],
    float_scores: np.ndarray | None = None,
    progress: bool = True,
    lite: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy of the float model (if its scores are given), TFLite int8 (`lite`: its scores if already
    computed) and TFLM on the same features.

    Raises KwsError if TFLM's int8 scores differ from TFLite's in any byte: the device would then not
    reproduce what was measured here.
    """
    lite = run_int8(data, q, "tflite", progress) if lite is None else lite
    micro = run_int8(data, q, "tflm", progress)
    if lite.shape != micro.shape or not np.array_equal(lite, micro):
        if lite.shape != micro.shape:
            raise KwsError(f"TFLM and TFLite output shapes differ: {micro.shape} vs {lite.shape}")
        bad = int(np.sum(np.any(lite != micro, axis=1)))
        worst = int(np.abs(lite.astype(np.int32) - micro).max())
        raise KwsError(
            f"TFLM and TFLite int8 scores disagree on {bad} of {len(q)} clips (up to {worst} LSB): the device would "
            "not reproduce this evaluation (FULLY_CONNECTED layers are a known cause; use a 1x1 convolution head)"
        )
    preds = {"int8": lite.argmax(1), "tflm": micro.argmax(1)}
    if float_scores is not None:
        preds["float"] = float_scores.argmax(1)
    accuracy = {k: float(np.mean(p == truth)) if len(truth) else 0.0 for k, p in preds.items()}
    per_class = {}
    for i, lab in enumerate(labels):
        sel = truth == i
        per_class[lab] = {"n": int(sel.sum())} | {
            k: (float(np.mean(p[sel] == i)) if sel.any() else None) for k, p in preds.items()
        }
    cm = confusion(preds["tflm"], truth, len(labels))
    return {
        "accuracy": {k: accuracy[k] for k in ("float", "int8", "tflm") if k in accuracy},
        "per_class": per_class,
        "n": len(truth),
        "confusion": {"labels": list(labels), "matrix": cm.tolist()},
        "tflm_matches_tflite": True,
    }


def model_facts(data: bytes) -> dict[str, Any]:
    from tflite_micro import runtime

    info = convert.inspect(data)
    return {
        "resource_variables": runtime.count_resource_variables(data),
        "size_bytes": info.size_bytes,
        "arena_bytes": arena_bytes(data),
        "ops": info.ops,
        "macs": info.macs,
        "input": {"shape": list(info.input_shape), "scale": info.input_scale, "zero_point": info.input_zero_point},
        "output": {"shape": list(info.output_shape), "scale": info.output_scale, "zero_point": info.output_zero_point},
    }
