"""Datasets in the Speech Commands layout: synthetic (eSpeak NG), real folders, and the official download.

Every dataset is a folder `<label>/<speaker>_nohash_<n>.wav` plus `_background_noise_/*.wav`; the synthetic
generator writes one too (cached by its parameters), so one loader serves them all. Splits are by speaker.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from host import synth
from host.audio import fit_to_length, read_wav, write_wav
from host.config import BACKGROUND, FEATURES, SILENCE, UNKNOWN, FeatureConfig
from host.util import KwsError, atomic_dir, cache_dir

SPLITS = ("train", "validation", "test")
SYNTH_VERSION = 2  # bump when the generator changes, so cached datasets are rebuilt

# Words spoken for the `_unknown_` class of synthetic datasets (the keywords themselves are removed).
UNKNOWN_WORDS = (
    "backward bed bird cat dog eight five follow forward four happy house learn marvin nine one seven sheila "
    "six three tree two visual wow zero yellow window water table paper music money apple orange purple green "
    "black white river mountain coffee hello thanks please sorry maybe never always today tomorrow yesterday "
    "morning evening night light sound voice phone computer garden kitchen open close start finish begin "
    "listen again number letter question answer people little great small large other about after before "
    "under over into onto where there here which while would could should might must these those every"
).split()

SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
SPEECH_COMMANDS_BYTES = 2428923189
SPEECH_COMMANDS_SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    speaker: str
    origin: str = "real"  # "real" speech or "synthetic"


@dataclass
class Dataset:
    """The clips of one or more folders, mapped onto `labels` (keywords first, then silence and unknown)."""

    labels: tuple[str, ...]
    items: list[Item] = field(default_factory=list)
    noise: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def split(self, name: str, validation_pct: int = 10, test_pct: int = 15) -> list[Item]:
        return [it for it in self.items if which_split(it.speaker, validation_pct, test_pct) == name]

    def counts(self) -> dict[str, int]:
        c = Counter(it.label for it in self.items)
        return {label: c.get(label, 0) for label in self.labels}


def labels_for(keywords: Sequence[str]) -> tuple[str, ...]:
    """The model's label order: the keywords as given, then `_silence_` and `_unknown_`."""
    words = [k.strip().lower() for k in keywords if k.strip()]
    if not words:
        raise KwsError("the keyword list is empty: give at least one keyword, e.g. --keywords yes,no")
    bad = [w for w in words if w.startswith("_") or "/" in w or w in (SILENCE, UNKNOWN)]
    if bad:
        raise KwsError(f"invalid keyword(s) {bad}: keywords are words, not folder names starting with '_'")
    if len(set(words)) != len(words):
        raise KwsError(f"duplicate keywords in {words}")
    return (*words, SILENCE, UNKNOWN)


def speaker_of(path: Path) -> str:
    """Speaker id from a Speech Commands file name: `[origin__]<speaker>_nohash_<n>.wav`."""
    return path.stem.split("_nohash_")[0].split("__")[-1]


def which_split(speaker: str, validation_pct: int = 10, test_pct: int = 15) -> str:
    """Stable assignment of a speaker to a split, from a hash of its id (never by clip)."""
    bucket = int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % 100
    if bucket < validation_pct:
        return "validation"
    if bucket < validation_pct + test_pct:
        return "test"
    return "train"


def load_folder(root: Path, labels: Sequence[str], *, require_all: bool = True) -> Dataset:
    """Index a Speech Commands-layout folder: keyword folders, other words as `_unknown_`, noise files."""
    root = Path(root)
    if not root.is_dir():
        raise KwsError(f"dataset folder {root} does not exist")
    ds = Dataset(tuple(labels), sources=[str(root)])
    origin = "synthetic" if (root / "dataset.json").exists() else "real"
    known = set(labels)
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name == BACKGROUND:
            continue
        label = sub.name if sub.name in known else UNKNOWN
        if sub.name.startswith("_") and sub.name not in known:
            continue
        ds.items.extend(Item(p, label, speaker_of(p), origin) for p in sorted(sub.glob("*.wav")))
    noise_dir = root / BACKGROUND
    if noise_dir.is_dir():
        ds.noise = [read_wav(p) for p in sorted(noise_dir.glob("*.wav"))]
    counts = ds.counts()
    missing = [lab for lab in labels if lab not in (SILENCE, UNKNOWN) and counts[lab] == 0]
    if require_all and missing:
        raise KwsError(f"dataset folder {root} has no clips for {missing}: each keyword needs a folder of WAVs")
    if not ds.items:
        raise KwsError(f"dataset folder {root} holds no WAV clips in the Speech Commands layout")
    return ds


def combine(datasets: Sequence[Dataset]) -> Dataset:
    labels = datasets[0].labels
    if any(d.labels != labels for d in datasets):
        raise KwsError("datasets to combine must use the same labels")
    out = Dataset(labels)
    for d in datasets:
        out.items += d.items
        out.noise += d.noise
        out.sources += d.sources
    return out


def load_clips(items: Sequence[Item], cfg: FeatureConfig = FEATURES, progress: bool = False) -> np.ndarray:
    """Read clips as an (n, clip_samples) int16 array, padded or trimmed to one clip length."""
    out = np.zeros((len(items), cfg.clip_samples), np.int16)
    for i, it in enumerate(tqdm(items, desc="reading clips", unit="clip", disable=not progress, leave=False)):
        out[i] = fit_to_length(read_wav(it.path, cfg.sample_rate), cfg.clip_samples)
    return out


# ---------------------------------------------------------------------------------------------- synthetic


def _noise(kind: str, n: int, rng: np.random.Generator, engine: synth.Engine) -> np.ndarray:
    """A unit-RMS noise signal of one of a few colours, or speech babble."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        x = np.fft.irfft(spectrum / (np.sqrt(f) if kind == "pink" else f), n)
    elif kind == "hum":
        t = np.arange(n) / FEATURES.sample_rate
        base = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 6))
        x = x + 0.3 * rng.standard_normal(n)
    else:  # babble: overlapping synthetic voices saying unknown words
        x = np.zeros(n)
        vs = synth.voices()
        for _ in range(n // 2000):
            w = synth.speak(engine, str(rng.choice(UNKNOWN_WORDS)), vs[rng.integers(len(vs))]).astype(np.float64)
            start = int(rng.integers(0, max(1, n - len(w))))
            x[start : start + len(w)] += w[: n - start]
    x = np.asarray(x, np.float64)
    return x / (np.sqrt(np.mean(x**2)) + 1e-9)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add `noise` to `speech` at the given speech-to-noise ratio (by RMS over the loud part)."""
    s = speech.astype(np.float64)
    n = noise[: len(s)].astype(np.float64)
    s_rms = np.sqrt(np.mean(s[np.abs(s) > 0.05 * np.abs(s).max()] ** 2)) if np.any(s) else 1.0
    n_rms = np.sqrt(np.mean(n**2)) + 1e-9
    return np.clip(s + n * (s_rms / n_rms) * 10 ** (-snr_db / 20), -32768, 32767).astype(np.int16)


def _place(word: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Put a word at a random position in a clip of `length` samples (trimmed if it is longer)."""
    word = word[:length]
    out = np.zeros(length, np.int16)
    start = int(rng.integers(0, length - len(word) + 1))
    out[start : start + len(word)] = word
    return out


def synth_key(keywords: Sequence[str], per_word: int, seed: int) -> str:
    spec = json.dumps([SYNTH_VERSION, list(keywords), per_word, seed, FEATURES.sample_rate])
    return hashlib.sha1(spec.encode()).hexdigest()[:12]


def synthesize(
    keywords: Sequence[str], out: Path | None = None, *, per_word: int = 300, seed: int = 0, progress: bool = True
) -> Path:
    """Generate (or reuse from the cache) a synthetic dataset folder for `keywords`; returns its path.

    Each keyword gets `per_word` clips from random speakers (accent × voice variant), rates, pitches and
    placements, with noise at a random SNR; `_unknown_` gets 1.5 × per_word clips of other words and
    `_silence_` per_word noise-only clips. `_background_noise_` gets generated noise recordings.
    """
    labels = labels_for(keywords)
    words = list(labels[:-2])
    out = Path(out) if out else cache_dir() / "synth" / synth_key(words, per_word, seed)
    if (out / "dataset.json").exists():
        return out
    rng = np.random.default_rng(seed)
    vs = synth.voices()
    n = FEATURES.clip_samples
    unknown = [w for w in UNKNOWN_WORDS if w not in words]
    plan = [(w, w) for w in words for _ in range(per_word)]
    plan += [(UNKNOWN, str(rng.choice(unknown))) for _ in range(per_word * 3 // 2)]
    plan += [(SILENCE, "") for _ in range(per_word)]
    kinds = ("white", "pink", "brown", "hum", "babble")
    with atomic_dir(out) as tmp:
        engine = synth.Engine(seed)
        noises = {k: _noise(k, n * 20, rng, engine) for k in kinds}
        for k, x in noises.items():
            write_wav(tmp / BACKGROUND / f"synthetic_{k}.wav", (x * 3000).clip(-32768, 32767).astype(np.int16))
        counter: Counter[str] = Counter()
        for label, text in tqdm(plan, desc="synthesizing", unit="clip", disable=not progress):
            voice = vs[int(rng.integers(len(vs)))]
            speaker = f"espeak-{voice.accent}-{voice.variant}".replace("_", "-").replace(" ", "-")
            noise_kind = str(rng.choice(kinds))
            offset = int(rng.integers(0, len(noises[noise_kind]) - n))
            noise = noises[noise_kind][offset : offset + n]
            if label == SILENCE:
                level = float(rng.choice([0.0, rng.uniform(5, 2000)]))
                clip = (noise * level).clip(-32768, 32767).astype(np.int16)
            else:
                word = synth.speak(
                    engine,
                    text,
                    voice,
                    rate=int(rng.integers(110, 260)),
                    pitch=int(rng.integers(15, 85)),
                    pitch_range=int(rng.integers(20, 90)),
                )
                peak = float(np.abs(word.astype(np.int32)).max() or 1)
                word = (word * (rng.uniform(0.05, 0.9) * 32767 / peak)).astype(np.int16)
                clip = _place(word, n, rng)
                if rng.random() < 0.8:
                    clip = mix(clip, noise, float(rng.uniform(5, 40)))
            idx = counter[f"{label}/{speaker}"]
            counter[f"{label}/{speaker}"] += 1
            write_wav(tmp / label / f"{speaker}_nohash_{idx}.wav", clip)
        meta = {
            "generator": "espeak-ng",
            "version": SYNTH_VERSION,
            "keywords": words,
            "per_word": per_word,
            "seed": seed,
            "clips": len(plan),
        }
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


# ---------------------------------------------------------------------------------------------- download


def download_speech_commands(
    dest: Path,
    url: str = SPEECH_COMMANDS_URL,
    size: int = SPEECH_COMMANDS_BYTES,
    sha256: str = SPEECH_COMMANDS_SHA256,
    progress: bool = True,
) -> Path:
    """Download (resuming a partial file), verify and unpack Speech Commands v0.02 into `dest`."""
    dest = Path(dest)
    if (dest / "validation_list.txt").exists():
        return dest
    archive = cache_dir() / "downloads" / Path(url).name
    archive.parent.mkdir(parents=True, exist_ok=True)
    part = archive.with_suffix(archive.suffix + ".part")
    if not archive.exists():
        _fetch(url, part, size, progress)
        got = part.stat().st_size
        if got != size:
            raise KwsError(f"download incomplete: {got} of {size} bytes; run the command again to resume")
        digest = sha256_file(part, progress)
        if digest != sha256:
            part.unlink()
            raise KwsError(f"checksum mismatch for {url} (got {digest}); the corrupt download was removed")
        os.replace(part, archive)
    try:
        with atomic_dir(dest) as tmp, tarfile.open(archive) as tar:
            for m in tqdm(tar.getmembers(), desc="unpacking", unit="file", disable=not progress):
                tar.extract(m, tmp, filter="data")
    except tarfile.TarError as e:
        raise KwsError(f"{archive} is not a valid archive ({e}); delete it and download again") from None
    return dest


def _fetch(url: str, part: Path, size: int, progress: bool) -> None:
    """Append the rest of `url` to `part`, asking the server for the missing byte range only."""
    have = part.stat().st_size if part.exists() else 0
    if have == size:
        return
    if have > size:  # not a prefix of this file: start again
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            if have and resp.status != 206:
                have = 0  # the server ignored the range: start again
            with (
                open(part, "ab" if have else "wb") as f,
                tqdm(
                    total=size, initial=have, unit="B", unit_scale=True, desc=Path(url).name, disable=not progress
                ) as bar,
            ):
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise KwsError(
            f"cannot download {url}: {getattr(e, 'reason', e)}. This needs internet access; offline, pass an "
            "existing Speech Commands folder with --data DIR (a partial download resumes next time)"
        ) from None


def sha256_file(path: Path, progress: bool = False) -> str:
    h = hashlib.sha256()
    with (
        open(path, "rb") as f,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc="verifying", disable=not progress) as bar,
    ):
        while chunk := f.read(1 << 22):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()
