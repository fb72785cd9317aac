"""The whole pipeline in one call: dataset → features → training → int8 → evaluation → streaming → export."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from host import convert, dataset, detection, evaluate, export, features, models, streaming, train
from host.config import DSCNN_FILTERS, FEATURES, RECOGNIZER, STANDARD_KEYWORDS, RecognizerConfig
from host.util import KwsError


def log(msg: str) -> None:
    print(f"[kws] {msg}", flush=True)


def build_dataset(
    labels: Sequence[str], data_dirs: Sequence[Path], synthetic: bool, per_word: int, seed: int, progress: bool
) -> dataset.Dataset:
    parts = [dataset.load_folder(d, labels) for d in data_dirs]
    if synthetic:
        folder = dataset.synthesize(labels[:-2], per_word=per_word, seed=seed, progress=progress)
        parts.append(dataset.load_folder(folder, labels))
    if not parts:
        raise KwsError("no data: give --data DIR or leave synthetic data on")
    return dataset.combine(parts)


def by_origin(split: train.Split) -> dict[str, train.Split]:
    """Real speech and synthetic clips of a split, each with the split's noise-only silence clips."""
    return {
        name: split.subset(split.origins != other)
        for name, origin, other in (("real_speech", "real", "synthetic"), ("synthetic", "synthetic", "real"))
        if np.any(split.origins == origin)
    }


def streaming_eval(
    data: bytes,
    labels: Sequence[str],
    tune: train.Split,
    test: train.Split,
    noise: np.ndarray,
    hours: float,
    target_fa_per_hour: float,
    seed: int = 0,
    progress: bool = True,
) -> tuple[RecognizerConfig, dict[str, Any]]:
    """Choose the detection threshold on a stream of validation speakers at the target false accepts per
    hour, then measure on a stream of test speakers (`detection.benchmark` for both)."""

    def run(split: train.Split, rcfg: RecognizerConfig, seed: int) -> dict[str, Any]:
        names = [labels[i] for i in split.labels]
        return detection.benchmark(data, labels, split.audio, names, noise, hours=hours, rcfg=rcfg,
                                   target_fa_per_hour=target_fa_per_hour, seed=seed, progress=progress)  # fmt: skip

    tuning = run(tune, RECOGNIZER, seed)
    rcfg = dataclasses.replace(RECOGNIZER, threshold=tuning["at_target"]["threshold"])
    result = run(test, rcfg, seed + 1)
    at = result["at_model_threshold"]
    summary = {k: at[k] for k in ("false_accepts_per_hour", "false_reject_rate", "false_accepts", "substitutions")}
    return rcfg, {
        **summary,
        "threshold": rcfg.threshold,
        "hours": result["hours"],
        "keywords": result["keywords"],
        "threshold_chosen_on": {
            "split": "validation speakers",
            "target_fa_per_hour": target_fa_per_hour,
            **{k: tuning[k] for k in ("hours", "keywords", "at_target")},
        },
        "test": result,
    }


def run(
    out: Path,
    keywords: Sequence[str] = STANDARD_KEYWORDS,
    data_dirs: Sequence[Path] = (),
    *,
    synthetic: bool = True,
    per_word: int = 500,
    arch: str = "sdscnn",
    filters: int = DSCNN_FILTERS,
    epochs: int = 30,
    patience: int = 12,
    real_weight: int = 3,
    seed: int = 0,
    stream_hours: float = 0.5,
    target_fa_per_hour: float = 1.0,
    eval_dirs: Sequence[Path] = (),
    progress: bool = True,
) -> dict[str, Any]:
    started = time.time()
    labels = dataset.labels_for(keywords)
    check_eval_dirs(eval_dirs, data_dirs)
    log(f"dataset: {len(labels) - 2} keywords {list(labels[:-2])} + _silence_ + _unknown_")
    ds = build_dataset(labels, data_dirs, synthetic, per_word, seed, progress)
    data = train.prepare(ds, seed=seed, progress=progress)
    counts = data.describe()
    log("clips per split: " + ", ".join(f"{k} {sum(v.values())}" for k, v in counts.items()))

    log(f"training {arch} (up to {epochs} epochs, early stopping after {patience} without improvement)")
    t0 = time.time()
    model, history = train.train(
        data,
        arch,
        epochs=epochs,
        patience=patience,
        real_weight=real_weight,
        filters=filters,
        seed=seed,
        progress=progress,
    )
    train_seconds = time.time() - t0

    log("converting to int8")
    calibration = train.features_of(data.train)
    tflite = convert.to_int8(model, calibration)
    held_out = data.test if len(data.test) else data.validation
    subsets = by_origin(held_out)
    headline = next(iter(subsets))
    held_out_q = {name: features.batch_int8_features(split.audio) for name, split in subsets.items()}
    stateful = None
    lite_scores: dict[str, np.ndarray] = {}
    if arch in models.STREAMING:
        log(f"converting to a streaming int8 model ({RECOGNIZER.inference_every_frames} frames a step)")
        whole, tflite = tflite, streaming.to_int8(model, calibration)
        q = held_out_q[headline]
        lite_scores[headline] = evaluate.run_int8(tflite, q)
        agreement = streaming.compare(lite_scores[headline], evaluate.run_int8(whole, q))
        stateful = {**streaming.describe(tflite), "whole_window_int8": agreement}
        log(
            f"  streaming vs whole-window int8 on {agreement['windows']} held-out clips: top label agrees on "
            f"{agreement['top_label_agreement']:.1%}, scores differ by {agreement['max_abs_diff']} LSB at most"
        )
    reports = {}
    for name, split in subsets.items():
        log(f"evaluating on {len(split)} {name.replace('_', ' ')} clips of held-out speakers (float, int8, TFLM)")
        q = held_out_q[name]
        float_scores = model.predict(features.model_input(q), verbose=0, batch_size=256)
        reports[name] = evaluate.evaluate_clips(
            tflite, q, split.labels, labels, float_scores, progress, lite=lite_scores.get(name)
        )
    report = reports[headline]
    facts = evaluate.model_facts(tflite)
    transfer = {}
    for folder in eval_dirs:
        log(f"evaluating on the real speech of {folder} (not trained on): float, int8, TFLM")
        r = evaluate.evaluate_folder(tflite, model, folder, labels, "all", progress)
        transfer[folder.name] = {k: r[k] for k in ("n", "data", "accuracy", "per_class", "confusion")}

    log(
        f"streaming: threshold at {target_fa_per_hour:g} false accepts/h on {stream_hours:g} h of validation "
        f"speakers, then {stream_hours:g} h of test speakers"
    )
    tune = by_origin(data.validation).get(headline, data.validation)
    rcfg, stream = streaming_eval(
        tflite, labels, tune, subsets[headline], data.noise, stream_hours, target_fa_per_hour, seed, progress
    )

    best = int(np.argmax(history["val_accuracy"]))
    meta = export.metadata(
        out.name,
        list(labels),
        tflite,
        facts,
        FEATURES,
        rcfg,
        architecture=arch,
        accuracy=report["accuracy"],
        per_class=report["per_class"],
        evaluation={
            "split": "test" if len(data.test) else "validation",
            "speakers": "held out (never seen in training or validation)",
            "headline": headline,
            **{name: {k: r[k] for k in ("n", "accuracy", "confusion")} for name, r in reports.items()},
        },
        streaming=stream,
        streaming_model=stateful,
        training={
            "data": {"sources": ds.sources, "synthetic_per_word": per_word if synthetic else 0, "clips": counts},
            "real_weight": real_weight,
            "filters": filters if arch in models.WIDTHS else None,
            "epochs_run": len(history["loss"]),
            "best_epoch": best + 1,
            "val_accuracy": history["val_accuracy"][best],
            "seed": seed,
            "seconds": round(train_seconds, 1),
        },
    )
    if transfer:
        meta["real_speech_eval"] = transfer  # folders never trained on, apart from the held-out numbers
    meta["pipeline_seconds"] = round(time.time() - started, 1)
    cm = np.array(report["confusion"]["matrix"])
    title = f"{out.name}: TFLM int8, held-out {headline.replace('_', ' ')} ({report['accuracy']['tflm']:.1%})"
    export.export(
        out,
        meta,
        tflite,
        model,
        {
            "training_curve.png": lambda p: train.plot_history(history, p, f"{out.name} ({arch})"),
            "confusion_matrix.png": lambda p: evaluate.plot_confusion(cm, labels, p, title),
            "streaming_det.png": lambda p: detection.plot(
                stream["test"], p, f"{out.name}: streaming, held-out {headline.replace('_', ' ')}"
            ),
        },
    )
    acc = report["accuracy"]
    log(
        f"{headline.replace('_', ' ')} accuracy: float {acc['float']:.3f} | int8 {acc['int8']:.3f} | "
        f"tflm {acc['tflm']:.3f} "
        f"(n={report['n']}); {facts['size_bytes']} B model, {facts['arena_bytes']} B arena, "
        f"{facts['macs'] / 1e6:.2f} M MACs"
    )
    log(
        f"streaming (threshold {rcfg.threshold}): {stream['false_accepts_per_hour']:.1f} false accepts/h, "
        f"false-reject rate {stream['false_reject_rate']:.1%} ({stream['hours']:g} h, {stream['keywords']} keywords)"
    )
    for name, r in transfer.items():
        a = r["accuracy"]
        measured = [(k, v) for k, v in r["per_class"].items() if v["n"]]
        worst = sorted(measured, key=lambda kv: kv[1]["tflm"])[:3]
        log(
            f"real speech ({name}, n={r['n']}, never trained on): float {a['float']:.3f} | int8 {a['int8']:.3f} | "
            f"tflm {a['tflm']:.3f}; weakest: " + ", ".join(f"{k} {v['tflm']:.0%}" for k, v in worst)
        )
    log(f"wrote {out} in {meta['pipeline_seconds']:.0f} s")
    next_steps(out, synthetic and not data_dirs, bool(transfer))
    return meta


def check_eval_dirs(eval_dirs: Sequence[Path], data_dirs: Sequence[Path]) -> None:
    """--eval-data folders must exist and must not be training folders (their numbers would be no test)."""
    for folder in eval_dirs:
        if not Path(folder).is_dir():
            raise KwsError(f"--eval-data folder {folder} does not exist")
        if any(Path(folder).resolve() == Path(d).resolve() for d in data_dirs):
            raise KwsError(
                f"--eval-data {folder} is also a training folder (--data): evaluate on speech not trained on"
            )


def next_steps(out: Path, synthetic_only: bool, checked_on_real: bool) -> None:
    print(f"""
Next:
  kws eval --model {out} --data DIR        # accuracy on real recordings (a Speech Commands-layout folder)
  python host/flash.py --model {out}       # build, upload and check it on a Nano 33 BLE
  kws emulate --model {out} yes.wav        # or run it on Renode's emulated board, speech in its microphone""")
    if synthetic_only and not checked_on_real:
        print(
            "This model learned from synthetic voices only: check it on real people (kws eval --data, or "
            "kws pipeline --eval-data DIR) before you rely on it."
        )
