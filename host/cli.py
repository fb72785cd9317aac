"""`kws`: a thin command line over the pipeline stages."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host import __version__, firmware, flash
from host.config import DSCNN_FILTERS, FEATURES, STANDARD_KEYWORDS
from host.util import KwsError, atomic_write_json

MODELS = Path("models")


def _keywords(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False)


def _stream_args(p: argparse.ArgumentParser, hours: float, what: str) -> None:
    p.add_argument("--hours", "--stream-hours", dest="stream_hours", type=float, default=hours, metavar="H",
                   help=f"hours of audio in {what} (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--target-fa-per-hour",
        type=float,
        default=1.0,
        help="the operating point: the lowest threshold with at most this many false accepts per hour "
        "(default: %(default)s)",
    )


def _data_args(p: argparse.ArgumentParser, split: str, split_help: str) -> None:
    p.add_argument("--data", type=Path, required=True, help="folder in the Speech Commands layout")
    p.add_argument("--split", choices=["all", "train", "validation", "test"], default=split, help=split_help)


def _check_stream_args(args: argparse.Namespace) -> None:
    if not args.stream_hours > 0:
        raise KwsError(f"--hours must be positive (got {args.stream_hours:g})")
    if not args.target_fa_per_hour > 0:
        raise KwsError(f"--target-fa-per-hour must be positive (got {args.target_fa_per_hour:g})")


def cmd_stream(args: argparse.Namespace) -> None:
    _check_stream_args(args)
    from host import dataset, detection, export, train
    from host.config import RecognizerConfig

    meta, data = export.load(args.model)
    labels = meta["labels"]
    folder = dataset.load_folder(args.data, labels, require_all=False)
    items = folder.items if args.split == "all" else folder.split(args.split)
    if not any(not it.label.startswith("_") for it in items):
        raise KwsError(f"{args.data} has no keyword clips ({', '.join(labels[:-2])}) in split {args.split!r}")
    print(f"loading {len(items)} clips of {args.data} ({args.split} speakers) ...", flush=True)
    clips = dataset.load_clips(items, progress=_progress(args))
    noise = train.noise_bank(folder.noise)
    rcfg = RecognizerConfig.from_dict(meta["recognizer"])
    print(f"streaming {args.stream_hours:g} h through {meta['name']} ({args.engine}) ...", flush=True)
    r = detection.benchmark(data, labels, clips, [it.label for it in items], noise, hours=args.stream_hours,
                            target_fa_per_hour=args.target_fa_per_hour, rcfg=rcfg, seed=args.seed,
                            engine=args.engine, progress=_progress(args))  # fmt: skip
    print(
        f"{meta['name']} on {r['hours']:g} h of {args.data.name} ({args.split} speakers): {r['keywords']} keywords "
        f"({r['keyword_clips']} clips), {r['seconds']['other words'] + r['seconds']['sentences']:.0f} s of other "
        f"speech, {r['seconds']['noise only']:.0f} s of noise only; {r['hours_per_minute']:g} h of audio per minute"
    )
    target = f"target {args.target_fa_per_hour:g} FA/h"
    for name, key in (("model threshold", "at_model_threshold"), (target, "at_target")):
        p = r[key]
        print(
            f"  {name:<22} threshold {p['threshold']:>3}: {p['false_accepts_per_hour']:6.1f} false accepts/h "
            f"({p['false_accepts']}, {p['substitutions']} of them substitutions), "
            f"{p['false_reject_rate']:.1%} false rejects ({p['false_rejects']})"
        )
    result = {"model": meta["name"], "sha256": meta["model"]["sha256"], "data": args.data.name, "split": args.split}
    if args.png:
        detection.plot(r, args.png, f"{meta['name']} on {args.data.name} ({args.split} speakers)")
        print(f"  wrote {args.png}")
    if args.json:
        atomic_write_json(args.json, result | r)
        print(f"  wrote {args.json}")


def check_keywords(keywords: list[str], per_word: int) -> tuple[str, ...]:
    """Check keywords before anything slow is loaded; say what was changed and what a long list costs."""
    from host import dataset

    if per_word < 1:
        raise KwsError(f"--per-word must be at least 1 (got {per_word})")
    labels = dataset.labels_for(keywords)
    changed = [f"{k.strip()!r} → {k.strip().lower()!r}" for k in keywords if k.strip() != k.strip().lower()]
    if changed:
        print(f"kws: note: keywords are lowercased: {', '.join(changed)}", file=sys.stderr)
    if len(labels) - 2 > 12:
        clips = (len(labels) - 2 + 3) * per_word
        print(
            f"kws: note: {len(labels) - 2} keywords: about {clips:,} synthetic clips; synthesis and training take "
            f"roughly {clips / 4000 * 5:.0f} minutes on 2 cores",
            file=sys.stderr,
        )
    return labels


def cmd_pipeline(args: argparse.Namespace) -> None:
    labels = check_keywords(args.keywords, args.per_word)
    for option, folders in (("--data", args.data), ("--eval-data", args.eval_data)):
        for folder in folders:
            if not folder.is_dir():
                raise KwsError(f"{option} folder {folder} does not exist")
    if args.epochs < 1:
        raise KwsError(f"--epochs must be at least 1 (got {args.epochs})")
    _check_stream_args(args)
    from host import pipeline  # loads TensorFlow: only once the arguments are known to be good

    pipeline.check_eval_dirs(args.eval_data, args.data)
    pipeline.run(
        args.out,
        labels[:-2],
        args.data,
        synthetic=not args.no_synthetic,
        per_word=args.per_word,
        arch=args.arch,
        filters=args.filters,
        epochs=args.epochs,
        patience=args.patience,
        real_weight=args.real_weight,
        seed=args.seed,
        stream_hours=args.stream_hours,
        target_fa_per_hour=args.target_fa_per_hour,
        eval_dirs=args.eval_data,
        progress=_progress(args),
    )


def cmd_data_synth(args: argparse.Namespace) -> None:
    from host import dataset

    labels = check_keywords(args.keywords, args.per_word)
    out = dataset.synthesize(
        labels[:-2], args.out, per_word=args.per_word, seed=args.seed, engines=args.engines, progress=_progress(args)
    )
    print(out)


def cmd_data_speech_commands(args: argparse.Namespace) -> None:
    from host import dataset

    print(dataset.download_speech_commands(args.out, progress=_progress(args)))


def cmd_data_info(args: argparse.Namespace) -> None:
    from host import dataset

    labels = dataset.labels_for(args.keywords)
    ds = dataset.load_folder(args.folder, labels, require_all=False)
    splits = {s: dataset.Dataset(ds.labels, ds.split(s)).counts() for s in dataset.SPLITS}
    speakers = {s: len({it.speaker for it in ds.split(s)}) for s in dataset.SPLITS}
    print(f"{args.folder}: {len(ds.items)} clips, {len(ds.noise)} noise recordings")
    print(f"{'label':<12}" + "".join(f"{s:>12}" for s in dataset.SPLITS))
    for lab in labels:
        print(f"{lab:<12}" + "".join(f"{splits[s][lab]:>12}" for s in dataset.SPLITS))
    print(f"{'speakers':<12}" + "".join(f"{speakers[s]:>12}" for s in dataset.SPLITS))


def cmd_eval(args: argparse.Namespace) -> None:
    from host import evaluate, export

    meta, data = export.load(args.model)
    labels = meta["labels"]
    float_model = None
    if (args.model / "model.keras").exists():
        import keras

        float_model = keras.models.load_model(args.model / "model.keras")
    report = evaluate.evaluate_folder(data, float_model, args.data, labels, args.split, _progress(args))
    report["model"] = evaluate.model_facts(data) | {"name": meta["name"], "sha256": meta["model"]["sha256"]}
    acc = report["accuracy"]
    print(f"{args.model} on {args.data} ({args.split}, n={report['n']}):")
    print("  accuracy  " + "  ".join(f"{k} {v:.4f}" for k, v in acc.items()))
    for lab, pc in report["per_class"].items():
        if pc["n"]:
            print(f"  {lab:<12} n={pc['n']:<5} tflm {pc['tflm']:.3f}")
    if args.png:
        import numpy as np

        cm = np.array(report["confusion"]["matrix"])
        evaluate.plot_confusion(cm, labels, args.png, f"{meta['name']} on {args.data.name}: {acc['tflm']:.1%}")
    if args.json:
        atomic_write_json(args.json, report)


def cmd_export(args: argparse.Namespace) -> None:
    from host import export

    meta, data = export.load(args.model)
    for path in export.write_sources(args.out, meta, data):
        print(path)


def cmd_firmware_tflm(args: argparse.Namespace) -> None:
    from host import firmware

    print(firmware.fetch_tflm(args.out))


def cmd_firmware_build(args: argparse.Namespace) -> None:
    from host import firmware

    out = firmware.build(args.board, args.model, args.build_dir / args.board, embed_wav=args.wav)
    print(out)


def cmd_bench_firmware(args: argparse.Namespace) -> None:
    from host import firmware

    r = firmware.bench(args.model, args.build_dir, args.wav, args.json)
    what = "streaming model, one step" if r["streaming_model"] else "whole-window model"
    print(f"model {r['model']} on the emulated Cortex-M4 (QEMU mps2-an386, CMSIS-NN kernels), {what} per inference:")
    print(
        f"  instructions per inference     {r['instructions_per_inference']:>12,}"
        f"  ({r['inference_load_at_64mhz']:.1%} of a 64 MHz core at {r['inferences_per_second']:g} inferences/s)"
    )
    print(
        f"  instructions per feature frame {r['instructions_per_feature_frame']:>12,}"
        f"  ({r['feature_load_at_64mhz']:.1%} of a 64 MHz core in real time)"
    )
    print(
        f"  instructions per audio second  {r['instructions_per_audio_second']:>12,}"
        f"  (features + inference: {r['load_at_64mhz']:.1%} of a 64 MHz core)"
    )
    print(f"  flash (app + model + TFLM)     {r['flash_bytes']:>12,} B")
    print(
        f"  RAM (static + heap + stack)    {r['ram_bytes']:>12,} B"
        f"  (static {r['static_ram_bytes']:,}, heap {r['heap_bytes']:,}, stack {r['stack_bytes']:,})"
    )
    print(f"  tensor arena used / reserved   {r['arena_bytes']:>12,} / {r['arena_reserved_bytes']:,} B")
    if args.json:
        print(f"  wrote {args.json}")


def cmd_bench_renode(args: argparse.Namespace) -> None:
    from host import emulate

    images = list(firmware.RENODE_IMAGES) if args.image == "all" else [args.image]
    problem = flash.platformio_problem() if "nano33ble_sense" in images else None
    if problem and args.image == "all":
        print(f"kws: the PlatformIO Arduino image is left out: {problem}")
        images.remove("nano33ble_sense")
    elif problem:
        raise KwsError(problem)
    results = {}
    for image in images:
        print(f"running the {firmware.RENODE_IMAGES[image]} on Renode ...", flush=True)
        results[image] = emulate.bench(args.model, args.build_dir, args.wav, image=image)
    first = next(iter(results.values()))
    print(f"model {first['model']} on Renode's Nano 33 BLE, CMSIS-NN kernels, {first['audio_seconds']:g} s of audio:")
    print(f"  {'':36}" + "".join(f"{image:>18}" for image in results))

    def row(label: str, value: Callable[[dict[str, Any]], str]) -> None:
        print(f"  {label:36}" + "".join(f"{value(r):>18}" for r in results.values()))

    row("inferences", lambda r: f"{r['inferences']:,}")
    row("instructions per inference", lambda r: f"{r['instructions_per_inference']:,}")
    row("  max", lambda r: f"{r['instructions_per_inference_max']:,}")
    row("  share of a 64 MHz core", lambda r: f"{r['inference_load_at_64mhz']:.1%}")
    row("flash (app + model + TFLM [+ mbed])", lambda r: f"{r['flash_bytes']:,} B")
    row("static RAM", lambda r: f"{r['static_ram_bytes']:,} B")
    for label, used, size in (
        ("tensor arena used / reserved", "arena_bytes", "arena_reserved_bytes"),
        ("heap used / reserved (mbed)", "heap_used", "heap_reserved"),
        ("main stack used / size (mbed)", "stack_used", "stack_size"),
    ):
        print(
            f"  {label:36}"
            + "".join(f"{f'{r[used]:,}/{r[size]:,}' if used in r else '-':>18}" for r in results.values())
        )
    if args.json:
        atomic_write_json(args.json, results)
        print(f"  wrote {args.json}")


def cmd_flash(args: argparse.Namespace) -> None:
    from host import flash

    flash.flash(args.model, args.env, args.port, args.dry_run)


def cmd_monitor(args: argparse.Namespace) -> None:
    from host import monitor

    monitor.monitor(args.port, baud=args.baud, json_out=args.json, csv_path=args.csv, duration=args.seconds)


def cmd_run(args: argparse.Namespace) -> None:
    from host import monitor

    results = monitor.run_files(args.port, args.files, baud=args.baud)
    failed = []
    for path, detections in results.items():
        found = ", ".join(
            f"{d['label']} ({d['score']}) at {d['time'] / FEATURES.sample_rate:.2f} s" for d in detections
        )
        print(f"{path}: {found or 'no detection'}")
        labels = {d["label"] for d in detections}
        if args.expect and labels != {args.expect}:
            failed.append(path)
    if failed:
        raise KwsError(f"{len(failed)} of {len(results)} file(s) did not give exactly {args.expect!r}")


def cmd_emulate(args: argparse.Namespace) -> None:
    from host import emulate

    emulate.emulate(args.files, args.model, args.build_dir, args.seconds)


def cmd_info(args: argparse.Namespace) -> None:
    from host import export

    meta, _ = export.load(args.model)
    keep = ("name", "labels", "architecture", "accuracy", "model", "streaming", "real_speech_eval")
    if args.json:
        print(json.dumps({k: meta[k] for k in keep if k in meta}, indent=2))
        return
    print(summary(meta))


def summary(meta: dict[str, Any]) -> str:
    """A few lines a person reads: what the model hears, how well, and what it costs on the board."""
    keywords = [lab for lab in meta["labels"] if not lab.startswith("_")]
    acc, model, ev = meta.get("accuracy", {}), meta.get("model", {}), meta.get("evaluation", {})
    lines = [
        f"{meta['name']}: {meta.get('architecture', '?')} for {len(keywords)} keywords: {', '.join(keywords)}",
        f"  held-out {ev.get('headline', 'clips').replace('_', ' ')}: TFLM int8 {acc.get('tflm', 0):.1%} "
        f"(float {acc.get('float', 0):.1%}, TFLite int8 {acc.get('int8', 0):.1%})",
    ]
    for name, r in meta.get("real_speech_eval", {}).items():
        lines.append(f"  real speech never trained on ({name}, {r['n']} clips): TFLM int8 {r['accuracy']['tflm']:.1%}")
    st = meta.get("streaming")
    if st:
        lines.append(
            f"  streaming: {st['false_accepts_per_hour']:.1f} false accepts/h, {st['false_reject_rate']:.1%} missed "
            f"at threshold {meta['recognizer']['threshold']}"
            + (f" ({st['hours']:g} h, {st['keywords']} keywords)" if "hours" in st else "")
        )
    lines.append(
        f"  board: {model.get('size_bytes', 0):,} B model, {model.get('arena_bytes', 0):,} B arena, "
        f"{model.get('macs', 0) / 1e6:.2f} M MACs per inference; sha256 {str(model.get('sha256', ''))[:12]}"
    )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kws",
        description="Keyword spotting for microcontrollers: datasets, training, int8 conversion, "
        "TFLM-verified evaluation and firmware export.",
    )
    p.add_argument("--version", action="version", version=f"kws {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser(
        "pipeline",
        help="dataset → training → int8 → evaluation → export, in one go",
        description="Build a dataset (synthetic speech by default, plus any --data folders), train, convert to "
        "int8, evaluate with TFLite and TFLM on held-out speakers, run a streaming evaluation and export "
        "models/<name>/ with the firmware sources.",
    )
    pl.add_argument(
        "--keywords",
        type=_keywords,
        default=list(STANDARD_KEYWORDS),
        help="comma-separated keywords (default: %(default)s)",
    )
    pl.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        help="a folder in the Speech Commands layout to add (repeatable)",
    )
    pl.add_argument("--no-synthetic", action="store_true", help="use only the --data folders")
    pl.add_argument(
        "--eval-data",
        type=Path,
        action="append",
        default=[],
        help="a Speech Commands-layout folder of real speech NOT trained on: its float/int8/TFLM accuracy per "
        "class goes into the report and model.json, apart from the held-out numbers (repeatable)",
    )
    pl.add_argument("--per-word", type=int, default=500, help="synthetic clips per keyword (default: %(default)s)")
    pl.add_argument(
        "--arch",
        default="sdscnn",
        choices=["dscnn", "sdscnn", "tiny_conv"],
        help="model: dscnn (whole window), sdscnn (streaming DS-CNN), tiny_conv (default: %(default)s)",
    )
    pl.add_argument(
        "--filters",
        type=int,
        default=DSCNN_FILTERS,
        help="DS-CNN width (default: %(default)s; the shipped sdscnn uses 36: 0.24 M MACs per step, 33 KB)",
    )
    pl.add_argument("--epochs", type=int, default=30, help="maximum epochs (default: %(default)s)")
    pl.add_argument("--patience", type=int, default=12, help="early-stopping patience (default: %(default)s)")
    pl.add_argument(
        "--real-weight",
        type=int,
        default=3,
        help="how many times each real clip is seen per epoch, against once for synthetic (default: %(default)s)",
    )
    pl.add_argument("--seed", type=int, default=0, help="seed for data, splits and training (default: %(default)s)")
    _stream_args(pl, hours=0.5, what="each of the two streams (validation speakers, then test speakers)")
    pl.add_argument(
        "--out", type=Path, default=MODELS / "synthetic", help="model folder to write (default: %(default)s)"
    )
    pl.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    pl.set_defaults(func=cmd_pipeline)

    data = sub.add_parser("data", help="build or fetch datasets").add_subparsers(dest="data_command", required=True)
    sy = data.add_parser("synth", help="generate a synthetic dataset with eSpeak NG (offline)")
    sy.add_argument("--keywords", type=_keywords, default=list(STANDARD_KEYWORDS), help="comma-separated keywords")
    sy.add_argument("--per-word", type=int, default=300, help="clips per keyword (default: %(default)s)")
    sy.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default: %(default)s)")
    sy.add_argument(
        "--engines",
        type=_keywords,
        default=None,
        help="comma-separated speech engines to use: espeak, flite, festival (default: every installed one)",
    )
    sy.add_argument("--out", type=Path, default=None, help="folder (default: a cache folder keyed by the settings)")
    sy.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sy.set_defaults(func=cmd_data_synth)
    sc = data.add_parser("speech-commands", help="download and verify Speech Commands v0.02 (2.4 GB; resumable)")
    sc.add_argument(
        "--out", type=Path, default=Path("data/speech_commands_v0.02"), help="folder (default: %(default)s)"
    )
    sc.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sc.set_defaults(func=cmd_data_speech_commands)
    di = data.add_parser("info", help="clips per label and speaker split of a dataset folder")
    di.add_argument("folder", type=Path, help="folder in the Speech Commands layout")
    di.add_argument("--keywords", type=_keywords, default=list(STANDARD_KEYWORDS), help="comma-separated keywords")
    di.set_defaults(func=cmd_data_info)

    ev = sub.add_parser("eval", help="evaluate an exported model on a Speech Commands-layout folder")
    ev.add_argument("--model", type=Path, required=True, help="model folder (models/NAME)")
    _data_args(ev, "all", "which speakers to use (default: %(default)s)")
    ev.add_argument("--json", type=Path, help="write the report as JSON")
    ev.add_argument("--png", type=Path, help="write the confusion matrix as PNG")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_eval)

    st = sub.add_parser(
        "stream",
        help="streaming benchmark: false accepts per hour and false rejects over hours of speech, DET curve",
        description="Builds a long, seeded stream from a Speech Commands-layout folder: continuous non-keyword "
        "speech (the folder's other words and eSpeak NG word sequences without the keywords) over background "
        "noise at several levels, noise-only stretches, and the folder's keyword clips at known times (2 s or "
        "more apart, some right after other speech). The model runs on it as the device does (int8; an "
        "inference every 100 ms on the newest window, or a streaming model's step) and the firmware's "
        "recognizer decides. Reports false accepts per hour (substitutions counted apart), the false-reject "
        "rate at the model's threshold and at the target operating point, and the whole DET curve.",
    )
    st.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
    _data_args(st, "test", "which speakers' clips (default: %(default)s: the speakers held out from training)")
    _stream_args(st, hours=1.0, what="the stream")
    st.add_argument("--engine", choices=["tflite", "tflm"], default="tflite",
                    help="int8 interpreter (default: %(default)s; TFLM gives the same bytes, slower)")  # fmt: skip
    st.add_argument("--seed", type=int, default=0, help="seed of the stream (default: %(default)s)")
    st.add_argument("--json", type=Path, help="write the results and the DET curve as JSON")
    st.add_argument("--png", type=Path, help="write the DET curve as PNG")
    st.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    st.set_defaults(func=cmd_stream)

    ex = sub.add_parser("export", help="write an exported model's C++ sources (model array, settings, ops)")
    ex.add_argument("--model", type=Path, required=True, help="model folder (models/NAME)")
    ex.add_argument("--out", type=Path, required=True, help="folder for kws_model.h/.cc and kws_model_ops.h")
    ex.set_defaults(func=cmd_export)

    fw = sub.add_parser("firmware", help="TFLM dependency and firmware builds").add_subparsers(
        dest="firmware_command", required=True
    )
    ft = fw.add_parser("tflm", help="download TFLM at the pinned commit and generate its source trees (internet)")
    ft.add_argument("--out", type=Path, default=None, help="folder (default: $TFLM_DIR or ~/.cache/kws/tflm/COMMIT)")
    ft.set_defaults(func=cmd_firmware_tflm)
    fb = fw.add_parser(
        "build", help="build the native simulator, the QEMU Cortex-M4 image or the bare-metal nRF52840 image"
    )
    fb.add_argument(
        "--board",
        choices=list(firmware.BOARDS),
        default="native",
        help="board layer (default: %(default)s)",
    )
    fb.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
    fb.add_argument("--wav", type=Path, default=None, help="audio compiled into the QEMU image")
    fb.add_argument("--build-dir", type=Path, default=Path("build"), help="CMake build folder (default: %(default)s)")
    fb.set_defaults(func=cmd_firmware_build)

    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench_command", required=True)
    bf = bench.add_parser(
        "firmware",
        help="instructions per inference and per feature frame (QEMU), flash, RAM, arena",
        description="Builds the Cortex-M4 image with CMSIS-NN kernels and the audio compiled in, runs it in "
        "QEMU's mps2-an386 with the project's instruction-counting plugin, and reports the figures.",
    )
    br = bench.add_parser(
        "renode",
        help="instructions per inference on Renode's Nano 33 BLE, flash, RAM, arena: bare-metal and Arduino image",
        description="Builds the bare-metal nRF52840 image and (where PlatformIO is installed) the PlatformIO "
        "Arduino BLE Sense image users flash, plays the audio into Renode's emulated PDM microphone and reads "
        "the instructions of every inference from Renode (ExecutedInstructions at the inference markers); the "
        "Arduino image adds mbed's heap and main-stack high-water marks.",
    )
    br.add_argument(
        "--image",
        choices=["all", *firmware.RENODE_IMAGES],
        default="all",
        help="which image to run (default: %(default)s; the Arduino one where PlatformIO is installed)",
    )
    for b, func in ((bf, cmd_bench_firmware), (br, cmd_bench_renode)):
        b.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
        b.add_argument("--wav", type=Path, default=None, help="audio to run (default: a built-in 4 s word stream)")
        b.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
        b.add_argument(
            "--build-dir", type=Path, default=Path("build"), help="CMake build folder (default: %(default)s)"
        )
        b.set_defaults(func=func)

    fl = sub.add_parser("flash", help="build and upload the firmware to a Nano 33 BLE (same as host/flash.py)")
    fl.add_argument("--port", help="serial port (default: found by USB id)")
    fl.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
    fl.add_argument(
        "--env",
        default="nano33ble",
        choices=flash.ENVS,
        help="PlatformIO environment: audio over serial, or the Sense's microphone (default: %(default)s)",
    )
    fl.add_argument("--dry-run", action="store_true", help="print every command instead of running it")
    fl.set_defaults(func=cmd_flash)

    mo = sub.add_parser(
        "monitor",
        help="live view of a board's predictions over serial",
        description="Shows the firmware's scores, detections and timing; reconnects when the board is unplugged "
        "and plugged in again. PORT is a device or any pyserial URL (socket://host:port, a pseudo-terminal).",
    )
    mo.add_argument("--port", required=True, help="serial device or pyserial URL")
    mo.add_argument("--baud", type=int, default=115200, help="baud rate (default: %(default)s)")
    mo.add_argument("--json", action="store_true", help="print the firmware's JSON lines instead of the view")
    mo.add_argument("--csv", type=Path, help="append detections to this CSV file (host and device time)")
    mo.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    mo.set_defaults(func=cmd_monitor)

    ru = sub.add_parser("run", help="feed WAV files to a board over serial and print its detections")
    ru.add_argument("--port", required=True, help="serial device or pyserial URL (socket://host:port for Renode)")
    ru.add_argument("--baud", type=int, default=115200, help="baud rate (default: %(default)s)")
    ru.add_argument("--expect", help="pass/fail: every file must give detections of this label and no other")
    ru.add_argument("files", type=Path, nargs="+", help="WAVs, each fed from a reset as the protocol's audio frames")
    ru.set_defaults(func=cmd_run)

    em = sub.add_parser(
        "emulate",
        help="run the firmware on Renode's emulated Nano 33 BLE, speech in its microphone, in the live monitor",
        description="Builds the bare-metal nRF52840 image, starts Renode headless with UART0 on a local socket, "
        "plays the WAV files (with a second of silence around each) into the emulated PDM microphone and shows "
        "the same live monitor as a real board.",
    )
    em.add_argument("files", type=Path, nargs="*", help="16 kHz mono WAVs for the microphone")
    em.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
    em.add_argument("--seconds", type=float, default=None, help="how long to watch (default: 3 × the audio + 5 s)")
    em.add_argument("--build-dir", type=Path, default=Path("build"), help="CMake build folder (default: %(default)s)")
    em.set_defaults(func=cmd_emulate)

    inf = sub.add_parser("info", help="summary of an exported model")
    inf.add_argument("--model", type=Path, default=MODELS / "default", help="model folder (default: %(default)s)")
    inf.add_argument("--json", action="store_true", help="the model.json facts as JSON instead of the summary")
    inf.set_defaults(func=cmd_info)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except KwsError as e:
        print(f"kws: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kws: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
