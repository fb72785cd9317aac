"""The whole pipeline in one call: dataset → features → training → int8 → evaluation → streaming → export."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from host import convert, dataset, evaluate, export, features, train
from host.config import DSCNN_FILTERS, FEATURES, RECOGNIZER, SILENCE, STANDARD_KEYWORDS, RecognizerConfig
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


def stream_of(
    data: bytes,
    labels: Sequence[str],
    split: train.Split,
    noise: np.ndarray,
    minutes: float,
    seed: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[evaluate.Event], int]:
    """Keywords and other words of `split` over background noise, scored as the device would."""
    names = [labels[i] for i in split.labels]
    keep = [i for i, n in enumerate(names) if n != SILENCE]
    audio, events = evaluate.make_stream(split.audio[keep], [names[i] for i in keep], noise, minutes=minutes, seed=seed)
    times, scores = evaluate.stream_results(data, audio, "tflite", RECOGNIZER, progress=progress)
    return times, scores, events, len(audio)


def streaming_eval(
    data: bytes,
    labels: Sequence[str],
    tune: train.Split,
    test: train.Split,
    noise: np.ndarray,
    minutes: float,
    seed: int = 0,
    progress: bool = True,
) -> tuple[RecognizerConfig, dict[str, Any]]:
    """Choose the detection threshold on a validation-speaker stream, then measure on a test-speaker stream."""
    tuning = stream_of(data, labels, tune, noise, minutes / 2, seed, progress)
    threshold = evaluate.choose_threshold(evaluate.sweep_thresholds(labels, *tuning))
    rcfg = dataclasses.replace(RECOGNIZER, threshold=threshold)
    times, scores, events, total = stream_of(data, labels, test, noise, minutes, seed + 1, progress)
    result = evaluate.score_stream(evaluate.recognize(labels, times, scores, rcfg), events, total)
    result["recognizer"] = rcfg.to_dict()
    result["threshold_chosen_on"] = f"{minutes / 2:g} min stream of validation speakers (fewest errors)"
    result["inferences"] = len(times)
    result["sweep"] = evaluate.sweep_thresholds(labels, times, scores, events, total, rcfg)
    return rcfg, result


def run(
    out: Path,
    keywords: Sequence[str] = STANDARD_KEYWORDS,
    data_dirs: Sequence[Path] = (),
    *,
    synthetic: bool = True,
    per_word: int = 500,
    arch: str = "dscnn",
    filters: int = DSCNN_FILTERS,
    epochs: int = 60,
    patience: int = 12,
    real_weight: int = 3,
    seed: int = 0,
    stream_minutes: float = 10.0,
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
    tflite = convert.to_int8(model, train.features_of(data.train))

    held_out = data.test if len(data.test) else data.validation
    subsets = by_origin(held_out)
    headline = next(iter(subsets))
    reports = {}
    for name, split in subsets.items():
        log(f"evaluating on {len(split)} {name.replace('_', ' ')} clips of held-out speakers (float, int8, TFLM)")
        q = features.batch_int8_features(split.audio)
        float_scores = model.predict(features.model_input(q), verbose=0, batch_size=256)
        reports[name] = evaluate.evaluate_clips(tflite, q, split.labels, labels, float_scores, progress)
    report = reports[headline]
    facts = evaluate.model_facts(tflite)
    transfer = {}
    for folder in eval_dirs:
        log(f"evaluating on the real speech of {folder} (not trained on): float, int8, TFLM")
        r = evaluate.evaluate_folder(tflite, model, folder, labels, "all", progress)
        transfer[folder.name] = {k: r[k] for k in ("n", "data", "accuracy", "per_class", "confusion")}

    log(f"streaming evaluation: threshold from validation speakers, then {stream_minutes:g} min of test speakers")
    tune = by_origin(data.validation).get(headline, data.validation)
    rcfg, stream = streaming_eval(
        tflite, labels, tune, subsets[headline], data.noise, stream_minutes, seed=seed, progress=progress
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
        training={
            "data": {"sources": ds.sources, "synthetic_per_word": per_word if synthetic else 0, "clips": counts},
            "real_weight": real_weight,
            "filters": filters if arch == "dscnn" else None,
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
            "streaming_det.png": lambda p: evaluate.plot_det(
                stream["sweep"], rcfg.threshold, p, f"{out.name}: streaming, held-out {headline.replace('_', ' ')}"
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
        f"streaming: {stream['false_accepts_per_hour']:.1f} false accepts/h, "
        f"false-reject rate {stream['false_reject_rate']:.1%} ({stream['keywords']} keywords, "
        f"threshold {rcfg.threshold})"
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
