"""Streaming evaluation with the firmware's recognizer: streams with keywords at known times, the model run
over them as the device runs it, false accepts per hour, false rejects and the DET curve.

The benchmark (`benchmark`, `kws stream`) runs hours of continuous non-keyword speech and noise with keyword
utterances at known times; `make_stream` is the simple form (clips over noise) the device tests use.

The stream is built from clips (any Speech Commands-layout folder, or a pipeline split) and eSpeak NG:
- negative speech without long gaps: the clips' other words (`_unknown_`) and eSpeak NG word sequences that
  contain none of the keywords, over background noise whose level changes every few seconds, and noise-only
  stretches;
- keyword utterances of the clips' speakers, at least `min_keyword_gap_s` apart, some right after other speech.

Everything is seeded: the same inputs and seed give the same stream to the sample.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from host.config import FEATURES, RECOGNIZER, SILENCE, UNKNOWN, FeatureConfig, RecognizerConfig
from host.recognizer import MAX_HISTORY, Detection, Recognizer, frame_end_sample, inference_times, keyword_mask
from host.util import KwsError, pyplot, save_png

NOISE_DBFS = (-70.0, -55.0, -45.0, -35.0)  # background levels (RMS): a quiet room to a noisy one
THRESHOLDS = tuple(range(60, 256))
LATE_MS = 1000  # a detection counts for a keyword from the word's start to this long after its end


@dataclass(frozen=True)
class Event:
    label: str
    start: int  # samples
    end: int


@dataclass
class Stream:
    audio: np.ndarray  # int16
    events: list[Event]  # the keyword utterances, in time order
    seconds: dict[str, float] = field(default_factory=dict)  # how much of it is what kind of audio
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return len(self.audio) / FEATURES.sample_rate / 3600


def speech_bounds(clip: np.ndarray) -> tuple[int, int]:
    """First and last sample of the loud part of a clip (within 20 dB of its peak, 10 ms frames)."""
    x = clip.astype(np.float64)
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(energy > 0.1 * (energy.max() + 1e-9))
    if not len(loud):
        return 0, len(clip)
    return int(loud[0] * 160), int((loud[-1] + 1) * 160)


def _trimmed(clip: np.ndarray, margin: int = 1600) -> tuple[np.ndarray, int, int]:
    """The clip cut to its speech with `margin` samples around it; the speech's bounds within the cut."""
    s, e = speech_bounds(clip)
    lo, hi = max(0, s - margin), min(len(clip), e + margin)
    return clip[lo:hi], s - lo, e - lo


def make_stream(
    clips: np.ndarray,
    clip_labels: Sequence[str],
    noise: np.ndarray,
    *,
    minutes: float = 5.0,
    gap_s: tuple[float, float] = (2.0, 4.0),
    noise_dbfs: tuple[float, float] = (-55.0, -35.0),
    seed: int = 0,
    cfg: FeatureConfig = FEATURES,
) -> tuple[np.ndarray, list[Event]]:
    """Background noise with whole clips placed at known times, `gap_s` apart; events for the keyword clips.

    `noise` is a bank of unit-RMS one-clip chunks; the level changes every clip length within `noise_dbfs`.
    """
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * cfg.sample_rate)
    n = cfg.clip_samples
    stream = np.zeros(total + n, np.float64)
    for start in range(0, total, n):
        level = 32767 * 10 ** (rng.uniform(*noise_dbfs) / 20)
        stream[start : start + n] = noise[rng.integers(len(noise))] * level
    events = []
    pos = int(rng.uniform(*gap_s) * cfg.sample_rate)
    order = rng.permutation(len(clips))
    k = 0
    while pos + n < total and len(order):
        i = order[k % len(order)]
        k += 1
        stream[pos : pos + n] += clips[i]
        if not clip_labels[i].startswith("_"):
            s, e = speech_bounds(clips[i])
            events.append(Event(clip_labels[i], pos + s, pos + e))
        pos += n + int(rng.uniform(*gap_s) * cfg.sample_rate)
    return np.clip(np.round(stream[:total]), -32768, 32767).astype(np.int16), events


def negative_sentences(keywords: Sequence[str], count: int, seed: int) -> list[str]:
    """eSpeak NG word sequences (3-12 everyday words) with none of the keywords, nor a word said like one."""
    from host import dataset, synth

    engine = synth.Engine(seed)
    said = {engine.phonemes(k) for k in keywords}
    words = [w for w in dataset.VOCABULARY if w not in keywords and engine.phonemes(w) not in said]
    rng = np.random.default_rng([seed, 3])
    return [" ".join(rng.choice(words, size=int(rng.integers(3, 13)))) for _ in range(count)]


def synthetic_speech(keywords: Sequence[str], seconds: float, seed: int) -> list[np.ndarray]:
    """About `seconds` of eSpeak NG sentences without keywords, in many voices, rates and pitches (float)."""
    from host import synth

    engine = synth.Engine(seed)
    voices = synth.voices()
    rng = np.random.default_rng([seed, 4])
    out: list[np.ndarray] = []
    total = 0.0
    batch = negative_sentences(keywords, max(1, int(seconds / 2.5)), seed)
    for i in itertools.count():
        text = batch[i % len(batch)]
        x = synth.speak(
            engine,
            text,
            voices[int(rng.integers(len(voices)))],
            rate=int(rng.integers(130, 230)),
            pitch=int(rng.integers(20, 80)),
            pitch_range=int(rng.integers(20, 90)),
        ).astype(np.float32)
        if len(x):
            out.append(x / (np.abs(x).max() + 1e-9) * 32767 * 10 ** (rng.uniform(-24, -3) / 20))
            total += len(x) / FEATURES.sample_rate
        if total >= seconds:
            return out
    return out


def build_stream(
    keyword_clips: np.ndarray,
    keyword_labels: Sequence[str],
    negative_clips: np.ndarray,
    noise: np.ndarray,
    *,
    hours: float = 1.0,
    seed: int = 0,
    keywords_per_minute: float = 6.0,
    min_keyword_gap_s: float = 2.0,
    synthetic_share: float = 0.5,
    cfg: FeatureConfig = FEATURES,
) -> Stream:
    """A stream of `hours`: background noise throughout (level from NOISE_DBFS, changing every 3-15 s);
    on it, one after another with 50-600 ms gaps, other words (`negative_clips`), eSpeak NG sentences
    (`synthetic_share` of the negative speech time), noise-only stretches of 1-8 s (a tenth of the segments)
    and keyword clips (`keywords_per_minute` on average, `min_keyword_gap_s` or more apart)."""
    if not len(keyword_clips):
        raise KwsError("the stream needs keyword clips, and there are none")
    if hours <= 0:
        raise KwsError(f"the stream length must be positive, not {hours:g} h")
    rng = np.random.default_rng([seed, 5])
    sr = cfg.sample_rate
    total = int(hours * 3600 * sr)
    stream = np.zeros(total, np.float32)
    pos = 0
    while pos < total:  # background noise, its level changing now and then
        length = int(rng.uniform(3, 15) * sr)
        level = 32767 * 10 ** (rng.choice(NOISE_DBFS) / 20)
        chunk = np.concatenate([noise[int(rng.integers(len(noise)))] for _ in range(length // cfg.clip_samples + 1)])
        stream[pos : pos + length] = (chunk[:length] * level)[: total - pos]
        pos += length

    sentences = synthetic_speech(
        [lab for lab in dict.fromkeys(keyword_labels)], hours * 3600 * 0.45 * synthetic_share, seed
    )
    negatives = [_trimmed(c)[0].astype(np.float32) for c in negative_clips]
    events: list[Event] = []
    seconds = {"keywords": 0.0, "other words": 0.0, "sentences": 0.0, "noise only": 0.0}
    counts = {"keywords": 0, "other words": 0, "sentences": 0, "noise only": 0}
    keyword_order = rng.permutation(len(keyword_clips))
    p_keyword = keywords_per_minute / 60 * 1.6  # per segment: segments average ~1.6 s
    pos = int(rng.uniform(0.5, 2.0) * sr)
    last_keyword_end = -10 * sr
    k = s = 0
    while True:
        r = rng.random()
        if r < p_keyword and pos - last_keyword_end >= min_keyword_gap_s * sr:
            i = keyword_order[k % len(keyword_order)]
            k += 1
            seg, s0, e0 = _trimmed(keyword_clips[i])
            kind, seg = "keywords", seg.astype(np.float32) * 10 ** (rng.uniform(-6, 3) / 20)
            event = Event(keyword_labels[i], pos + s0, pos + e0)
        elif r < p_keyword + 0.1:
            kind, seg, event = "noise only", np.zeros(int(rng.uniform(1, 8) * sr), np.float32), None
        elif sentences and (not negatives or rng.random() < synthetic_share):
            kind, seg, event = "sentences", sentences[s % len(sentences)], None
            s += 1
        elif negatives:
            kind, event = "other words", None
            seg = negatives[int(rng.integers(len(negatives)))] * 10 ** (rng.uniform(-6, 3) / 20)
        else:
            continue
        if pos + len(seg) > total:
            break
        if event is not None:
            if event.start - last_keyword_end < min_keyword_gap_s * sr:  # kept apart from the one before
                continue
            events.append(event)
            last_keyword_end = event.end
        stream[pos : pos + len(seg)] += seg
        seconds[kind] += len(seg) / sr
        counts[kind] += 1
        pos += len(seg) + int(rng.uniform(0.05, 0.6) * sr)
    audio = np.clip(np.round(stream), -32768, 32767).astype(np.int16)
    return Stream(audio, events, {k: round(v, 1) for k, v in seconds.items()}, counts)


def stream_results(
    data: bytes,
    audio: np.ndarray,
    engine: str = "tflite",
    rcfg: RecognizerConfig = RECOGNIZER,
    cfg: FeatureConfig = FEATURES,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the model as the device does over a stream: one frontend over all of it, an inference every
    `inference_every_frames` frames on the newest window (a streaming model steps through every frame from
    the first, as the device does). Returns (times in samples, int8 scores)."""
    from host import convert, evaluate, features, streaming

    feats = features.int8_features(audio, cfg)
    counts = inference_times(len(feats), rcfg, cfg)
    times = np.array([frame_end_sample(c, cfg) for c in counts], np.int64)
    if streaming.is_streaming(convert.inspect(data).input_shape, cfg):
        return times, streaming.step_scores(data, feats, counts, engine, progress)
    scores = np.zeros((len(counts), 0), np.int8)
    step = 20000  # windows per batch: bounded memory for hours of audio
    parts = []
    for lo in range(0, len(counts), step):
        windows = np.stack([feats[c - cfg.frames : c] for c in counts[lo : lo + step]])
        parts.append(evaluate.run_int8(data, windows, engine, progress))
    if parts:
        scores = np.concatenate(parts)
    return times, scores


def recognize(
    labels: Sequence[str],
    times: np.ndarray,
    scores: np.ndarray,
    rcfg: RecognizerConfig = RECOGNIZER,
    cfg: FeatureConfig = FEATURES,
) -> list[Detection]:
    """The firmware's recognizer, one result at a time (`smooth` + `detections` give the same, faster)."""
    rec = Recognizer(labels, rcfg, cfg)
    return [d for t, s in zip(times, scores, strict=True) if (d := rec.update(s, int(t))) is not None]


@dataclass(frozen=True)
class Smoothed:
    """The recognizer's averaging, which does not depend on the threshold: per inference the top label of the
    averaged scores, its average score, and whether enough results were averaged."""

    times: np.ndarray
    top: np.ndarray
    score: np.ndarray
    ready: np.ndarray


def smooth(
    labels: Sequence[str], times: np.ndarray, scores: np.ndarray, rcfg: RecognizerConfig, cfg: FeatureConfig = FEATURES
) -> Smoothed:
    """recognizer.Recognizer's averaging for a whole stream at once (the same integers)."""
    n = len(times)
    s = scores.astype(np.int64) + 128
    window = rcfg.average_window_ms * cfg.sample_rate // 1000
    csum = np.concatenate([np.zeros((1, s.shape[1]), np.int64), np.cumsum(s, axis=0)])
    idx = np.arange(n)
    first = np.searchsorted(times, times - window, side="right")  # results older than the window are gone
    first = np.maximum(first, idx - MAX_HISTORY + 1)
    count = idx - first + 1
    average = (csum[idx + 1] - csum[first]) // count[:, None]
    top = np.argmax(average, axis=1)
    keyword = np.array(keyword_mask(labels))
    return Smoothed(times, top, average[idx, top], (count >= rcfg.minimum_count) & keyword[top])


def detections(labels: Sequence[str], sm: Smoothed, threshold: int, rcfg: RecognizerConfig) -> list[Detection]:
    """What the recognizer reports at `threshold` (suppression after each detection)."""
    suppression = rcfg.suppression_ms * FEATURES.sample_rate // 1000
    out: list[Detection] = []
    last: int | None = None
    for i in np.flatnonzero(sm.ready & (sm.score >= threshold)):
        t = int(sm.times[i])
        if last is None or t - last >= suppression:
            out.append(Detection(labels[int(sm.top[i])], int(sm.top[i]), int(sm.score[i]), t))
            last = t
    return out


def score_stream(
    found: Sequence[Detection], events: Sequence[Event], total_samples: int, cfg: FeatureConfig = FEATURES
) -> dict[str, Any]:
    """Match detections to keyword events (same label, from the word's start to LATE_MS after its end).

    Every other detection is a false accept; `substitutions` counts those that fired on a keyword event with
    the wrong label (the rest fired on other speech or noise)."""
    late = LATE_MS * cfg.sample_rate // 1000
    starts = [e.start for e in events]
    matched: set[int] = set()
    false_accepts = substitutions = 0
    for d in found:
        near = [i for i in range(bisect.bisect_right(starts, d.time) - 1, -1, -1) if d.time <= events[i].end + late]
        near = near[:3]  # events are seconds apart: only the last few can still be open
        hit = next((i for i in near if events[i].label == d.label and i not in matched), None)
        if hit is None:
            false_accepts += 1
            substitutions += any(events[i].label != d.label for i in near)
        else:
            matched.add(hit)
    hours = total_samples / cfg.sample_rate / 3600
    return {
        "keywords": len(events),
        "detected": len(matched),
        "false_rejects": len(events) - len(matched),
        "false_reject_rate": (len(events) - len(matched)) / len(events) if events else 0.0,
        "false_accepts": false_accepts,
        "substitutions": substitutions,
        "false_accepts_per_hour": false_accepts / hours if hours else 0.0,
        "hours": hours,
    }


def sweep(
    labels: Sequence[str],
    sm: Smoothed,
    events: Sequence[Event],
    total_samples: int,
    rcfg: RecognizerConfig,
    thresholds: Sequence[int] = THRESHOLDS,
) -> list[dict[str, Any]]:
    """The DET curve: false accepts per hour and false-reject rate at each threshold."""
    keys = ("false_accepts", "substitutions", "false_accepts_per_hour", "false_rejects", "false_reject_rate")
    points = []
    for th in thresholds:
        r = score_stream(detections(labels, sm, th, rcfg), events, total_samples)
        points.append({"threshold": th, **{k: r[k] for k in keys}})
    return points


def check_target(target_fa_per_hour: float) -> None:
    if not target_fa_per_hour > 0:
        raise KwsError(f"the target false accepts per hour must be positive, not {target_fa_per_hour:g}")


def operating_point(points: Sequence[dict[str, Any]], target_fa_per_hour: float) -> dict[str, Any]:
    """The lowest threshold (fewest misses) whose false accepts per hour are at most the target; the highest
    threshold when none is."""
    check_target(target_fa_per_hour)
    ok = [p for p in points if p["false_accepts_per_hour"] <= target_fa_per_hour]
    return min(ok, key=lambda p: p["threshold"]) if ok else max(points, key=lambda p: p["threshold"])


def benchmark(
    data: bytes,
    labels: Sequence[str],
    clips: np.ndarray,
    clip_labels: Sequence[str],
    noise: np.ndarray,
    *,
    hours: float = 1.0,
    target_fa_per_hour: float = 1.0,
    rcfg: RecognizerConfig = RECOGNIZER,
    seed: int = 0,
    engine: str = "tflite",
    progress: bool = True,
) -> dict[str, Any]:
    """Build the stream from `clips` (keywords of `labels`; `_unknown_` clips as other words; silence clips
    left out), score it with the model and the recognizer; the result at `rcfg.threshold` and at the
    operating point for `target_fa_per_hour`, and the whole DET curve."""
    check_target(target_fa_per_hour)
    started = time.time()
    keywords = set(labels) - {SILENCE, UNKNOWN}
    kw = [i for i, lab in enumerate(clip_labels) if lab in keywords]
    neg = [i for i, lab in enumerate(clip_labels) if lab == UNKNOWN]
    if not kw:
        raise KwsError(f"no clips of the keywords {sorted(keywords)} to put in the stream")
    stream = build_stream(
        clips[kw], [clip_labels[i] for i in kw], clips[neg], noise, hours=hours, seed=seed, cfg=FEATURES
    )
    built = time.time()
    times, scores = stream_results(data, stream.audio, engine, rcfg, progress=progress)
    sm = smooth(labels, times, scores, rcfg)
    points = sweep(labels, sm, stream.events, len(stream.audio), rcfg)
    at = {p["threshold"]: p for p in points}
    target = operating_point(points, target_fa_per_hour)
    elapsed = time.time() - started
    return {
        "hours": round(stream.hours, 4),
        "keywords": len(stream.events),
        "keyword_clips": len(kw),
        "other_word_clips": len(neg),
        "seconds": stream.seconds,
        "segments": stream.counts,
        "inferences": len(times),
        "engine": engine,
        "seed": seed,
        "recognizer": rcfg.to_dict(),
        "at_model_threshold": at.get(rcfg.threshold)
        or score_stream(detections(labels, sm, rcfg.threshold, rcfg), stream.events, len(stream.audio))
        | {"threshold": rcfg.threshold},
        "target_fa_per_hour": target_fa_per_hour,
        "at_target": target,
        "sweep": points,
        "seconds_taken": {"stream": round(built - started, 1), "total": round(elapsed, 1)},
        "hours_per_minute": round(stream.hours / (elapsed / 60), 2) if elapsed else None,
    }


def plot(result: dict[str, Any], path: Path, title: str) -> None:
    """The DET curve (false-reject rate against false accepts per hour), the model's threshold and the
    target operating point marked."""
    plt = pyplot()
    points = result["sweep"]
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    fa = np.array([p["false_accepts_per_hour"] for p in points])
    fr = np.array([100 * p["false_reject_rate"] for p in points])
    ax.plot(np.maximum(fa, 0.1), fr, "-", color="C0")
    for key, style, name in (("at_model_threshold", "r*", "model threshold"), ("at_target", "gs", "target")):
        p = result[key]
        ax.plot([max(p["false_accepts_per_hour"], 0.1)], [100 * p["false_reject_rate"]], style, markersize=11,
                label=f"{name} {p['threshold']}: {p['false_accepts_per_hour']:.1f} FA/h, "
                f"{100 * p['false_reject_rate']:.1f}% FRR")  # fmt: skip
    for p, x, y in zip(points, fa, fr, strict=True):
        if p["threshold"] % 25 == 0:
            ax.annotate(str(p["threshold"]), (max(x, 0.1), y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("false accepts per hour (log; 0 drawn at 0.1)")
    ax.set_ylabel("false-reject rate (%)")
    ax.set_title(f"{title}\n{result['hours']:.2f} h, {result['keywords']} keywords")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)
