"""Datasets in the Speech Commands layout: synthetic (eSpeak NG), real folders, and the official download.

Every dataset is a folder `<label>/<speaker>_nohash_<n>.wav` plus `_background_noise_/*.wav`; the synthetic
generator writes one too (cached by its parameters), so one loader serves them all. Splits are by speaker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import tarfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from host import augment, synth
from host.audio import fit_to_length, read_wav, write_wav
from host.config import BACKGROUND, FEATURES, SILENCE, UNKNOWN, FeatureConfig
from host.util import KwsError, atomic_dir, cache_dir

SPLITS = ("train", "validation", "test")
SYNTH_VERSION = 5  # bump when the generator changes, so cached datasets are rebuilt

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
    sources: list[dict[str, Any]] = field(default_factory=list)  # what each folder was, without machine paths

    def split(self, name: str, validation_pct: int = 10, test_pct: int = 15) -> list[Item]:
        return [it for it in self.items if which_split(it.speaker, validation_pct, test_pct) == name]

    def counts(self) -> dict[str, int]:
        c = Counter(it.label for it in self.items)
        return {label: c.get(label, 0) for label in self.labels}


MAX_KEYWORDS = 30  # the firmware's recognizer holds 32 labels: the keywords, `_silence_` and `_unknown_`
MAX_KEYWORD_CHARS = 24  # every label goes into the firmware's hello line, which has a fixed size
_KEYWORD = re.compile(r"[a-z]+(?:['-]?[a-z]+)*(?: [a-z]+(?:['-]?[a-z]+)*)*")


def labels_for(keywords: Sequence[str]) -> tuple[str, ...]:
    """The model's label order: the keywords as given (lowercased), then `_silence_` and `_unknown_`."""
    words = [k.strip().lower() for k in keywords if k.strip()]
    if not words:
        raise KwsError("the keyword list is empty: give at least one keyword, e.g. --keywords yes,no")
    bad = [w for w in words if w.startswith("_") or "/" in w or w in (SILENCE, UNKNOWN)]
    if bad:
        raise KwsError(f"invalid keyword(s) {bad}: keywords are words, not folder names starting with '_'")
    if len(set(words)) != len(words):
        raise KwsError(f"duplicate keywords in {words}")
    odd = [w for w in words if not _KEYWORD.fullmatch(w) or len(w) > MAX_KEYWORD_CHARS]
    if odd:
        raise KwsError(
            f"keyword(s) {odd} cannot be labels: use English words of the letters a-z (an apostrophe or hyphen "
            f"inside a word, single spaces between words), at most {MAX_KEYWORD_CHARS} characters; write "
            "numbers as words (forty two)"
        )
    if len(words) > MAX_KEYWORDS:
        raise KwsError(f"{len(words)} keywords: the firmware holds at most {MAX_KEYWORDS}")
    return (*words, SILENCE, UNKNOWN)


def check_speakable(keywords: Sequence[str]) -> None:
    """Refuse keywords the speech engines cannot say (eSpeak NG finds no pronunciation for them)."""
    engine = synth.Engine(0)
    mute = [k for k in keywords if not engine.phonemes(k)]
    if mute:
        raise KwsError(f"eSpeak NG finds no pronunciation for {mute}: spell keywords as ordinary words")


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
    ds = Dataset(tuple(labels))
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
    ds.sources = [describe_folder(root, ds)]
    missing = [lab for lab in labels if lab not in (SILENCE, UNKNOWN) and counts[lab] == 0]
    if require_all and missing:
        raise KwsError(f"dataset folder {root} has no clips for {missing}: each keyword needs a folder of WAVs")
    if not ds.items:
        raise KwsError(f"dataset folder {root} holds no WAV clips in the Speech Commands layout")
    return ds


def describe_folder(root: Path, ds: Dataset) -> dict[str, Any]:
    """A portable description of a dataset folder for model.json: its name, kind and size, and for synthetic
    data the generator's record (engines, voices, settings); never the machine's path."""
    source: dict[str, Any] = {
        "folder": root.name,
        "origin": "synthetic" if (root / "dataset.json").exists() else "real",
        "clips": len(ds.items),
        "speakers": len({it.speaker for it in ds.items}),
        "noise_recordings": len(ds.noise),
    }
    if source["origin"] == "synthetic":
        record = json.loads((root / "dataset.json").read_text())
        # eSpeak's hundreds of accent x variant voices are given as a count, the others by name
        record["engines"] = {e: v if len(v) <= 20 else f"{len(v)} voices" for e, v in record.get("engines", {}).items()}
        source["synthetic"] = record
    return source


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

# Words that sound like the standard keywords: the hardest `_unknown_` examples. Any word eSpeak pronounces
# exactly like a keyword ("know" for "no", "write" for "right") is dropped, since no model can tell them apart.
SOUND_ALIKES = {
    "yes": "yet yeah yep yell less guess mess chess bless says yesterday",
    "no": "now snow though low toe dough nose note know knee new",
    "up": "cup pup hop app op sup upper hope",
    "down": "town brown gown dawn dog done round crown",
    "left": "lift loft laughed theft lefty lest felt",
    "right": "light bright night fight ride ripe wright rate",
    "on": "an in own dawn one gone upon honest",
    "off": "of cough awe often scoff",
    "stop": "top shop step spot stock stomp drop",
    "go": "though low goat ghost dough grow goal good",
}
# Everyday words, and two- or three-word phrases built from them, for `_unknown_`.
VOCABULARY = tuple(UNKNOWN_WORDS) + tuple(
    "bag ball bank bath bell belt bike bill boat book boot bowl box boy bread bus cake call car card cart chair "
    "cheese chicken city class clock cloud coat cold cook corn cow cup dance dark desk door dream dress drink "
    "duck east egg face farm fast fish flag floor flower fork friend frog game gift girl glass goat gold grass "
    "hair hand hat head heart hill horse hot ice jacket juice key king kite lamp lemon line lion map milk moon "
    "mouse name nest nose note ocean page park party pen pig pizza plane plant queen rain ring road rock room "
    "rose salt sand school sea seat shirt shoe shop sister sky snake snow sock song soup star street sugar sun "
    "table tea tiger toast town toy train truck uncle van wall watch wheel wind winter wolf wood word year zoo "
    "alpha beta delta gamma omega hundred thousand million monday friday sunday april june july august".split()
)
NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
SPEECH_PEAK_DBFS = (-24.0, -1.0)  # peak level of a spoken clip
SNR_DB = (5.0, 50.0)  # speech-to-noise ratio of the noise mixed into a spoken clip
# How often each installed engine speaks a clip: Flite's and Festival's voices sound more like people, but
# eSpeak NG brings hundreds of accents and variants.
ENGINE_SHARE = {"espeak": 0.3, "flite": 0.4, "festival": 0.3}
VIRTUAL_SPEAKERS = 48  # per Flite or Festival voice: the voice with one fixed formant/pitch/tempo change each
CHUNK = 128  # clips per synthesis job; each job starts a fresh synthesizer, so the output never depends on
# how jobs were spread over processes


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


@dataclass(frozen=True)
class Speaker:
    """A synthetic person: an engine's voice, with a fixed voice change (none for eSpeak's own variants)."""

    voice: synth.Voice
    change: augment.VoiceChange | None
    index: int = 0

    @property
    def id(self) -> str:
        return f"{self.voice.speaker}-{self.index}"


def speakers(available: dict[str, tuple[synth.Voice, ...]], seed: int) -> dict[str, list[Speaker]]:
    """Per engine, its synthetic speakers: each eSpeak voice once (half of them with a voice change), each
    Flite and Festival voice as VIRTUAL_SPEAKERS people (the first one as the engine speaks it)."""
    rng = np.random.default_rng([seed, 1])
    out: dict[str, list[Speaker]] = {}
    for engine, vs in available.items():
        if engine == "espeak":
            out[engine] = [Speaker(v, augment.VoiceChange.draw(rng) if rng.random() < 0.5 else None) for v in vs]
        else:
            out[engine] = [
                Speaker(v, augment.VoiceChange.draw(rng) if i else None, i) for v in vs for i in range(VIRTUAL_SPEAKERS)
            ]
    return out


def hard_negatives(keywords: Sequence[str], engine: synth.Engine) -> list[str]:
    """`_unknown_` words that sound like the keywords: the curated sound-alikes of the standard keywords plus
    any vocabulary word one phoneme away from a keyword; never a word pronounced exactly like a keyword."""
    said = {k: engine.phonemes(k) for k in keywords}
    candidates = {w for k in keywords for w in SOUND_ALIKES.get(k, "").split()}
    for w in VOCABULARY:
        p = engine.phonemes(w)
        if any(_edit_distance(p, q) == 1 for q in said.values()):
            candidates.add(w)
    return sorted(
        w for w in candidates if engine.phonemes(w) not in said.values() and not set(w.split()) & set(keywords)
    )


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@dataclass(frozen=True)
class ClipPlan:
    label: str
    text: str  # what is said ("" for silence)
    speaker: Speaker | None
    before: str  # a word said right before the clip's word (its tail at the clip start), or ""


def plan_clips(
    keywords: Sequence[str], per_word: int, seed: int, available: dict[str, tuple[synth.Voice, ...]]
) -> list[ClipPlan]:
    """What each clip says and who says it: `per_word` clips per keyword, 2 × per_word `_unknown_` (a quarter
    of them sound-alikes, a sixth short phrases), per_word `_silence_`."""
    rng = np.random.default_rng(seed)
    people = speakers(available, seed)
    engines = list(people)
    share = np.array([ENGINE_SHARE[e] for e in engines])
    engine = synth.Engine(seed)
    words = [w for w in VOCABULARY if w not in keywords and engine.phonemes(w) not in map(engine.phonemes, keywords)]
    alikes = hard_negatives(keywords, engine) or words

    def someone() -> Speaker:
        group = people[engines[int(rng.choice(len(engines), p=share / share.sum()))]]
        return group[int(rng.integers(len(group)))]

    def before() -> str:
        return str(rng.choice(words)) if rng.random() < 0.2 else ""

    plan = [ClipPlan(k, k, someone(), before()) for k in keywords for _ in range(per_word)]
    for _ in range(per_word * 2):
        r = rng.random()
        if r < 0.25:
            text = str(rng.choice(alikes))
        elif r < 0.42:
            text = " ".join(rng.choice(words, size=int(rng.integers(2, 4))))
        else:
            text = str(rng.choice(words))
        plan.append(ClipPlan(UNKNOWN, text, someone(), before()))
    plan += [ClipPlan(SILENCE, "", None, "") for _ in range(per_word)]
    return plan


def _place(word: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Put a word (its end, if longer than the clip) at a random position in a clip of `length` samples."""
    word = word[-length:]
    start = int(rng.integers(0, length - len(word) + 1))
    out = np.zeros(length, np.float32)
    out[start : start + len(word)] = word
    return out


def _say(synthesizer: synth.Synthesizer, text: str, who: Speaker, rng: np.random.Generator) -> np.ndarray:
    """`text` spoken by `who`, with this utterance's own tempo and pitch."""
    espeak = who.voice.engine == "espeak"
    audio = synthesizer.say(
        text,
        who.voice,
        tempo=float(rng.uniform(0.65, 1.5) if espeak else rng.uniform(0.8, 1.25)),
        pitch=float(rng.uniform(0.3, 1.7) if espeak else rng.uniform(0.9, 1.1)),
        pitch_range=float(rng.uniform(0.4, 1.8)),
    )
    if who.change is not None:
        jitter = float(rng.uniform(0.9, 1.1))
        change = dataclasses.replace(who.change, duration=who.change.duration * jitter)
        audio = augment.change_voice(audio, change, seed=int(rng.integers(1 << 31)))
    return audio


def render(
    clip: ClipPlan,
    synthesizer: synth.Synthesizer,
    rng: np.random.Generator,
    noises: Sequence[np.ndarray],
    rirs: Sequence[np.ndarray],
    n: int,
) -> np.ndarray:
    """One clip as int16: the words, a room, a microphone, background noise."""
    noise = noises[int(rng.integers(len(noises)))]
    offset = int(rng.integers(0, len(noise) - n))
    noise = noise[offset : offset + n]
    if clip.speaker is None:  # silence: noise alone, digital silence now and then
        level = 0.0 if rng.random() < 0.08 else 32767 * 10 ** (rng.uniform(-80, -25) / 20)
        return augment.to_int16(augment.colour(noise * level, rng))
    audio = _say(synthesizer, clip.text, clip.speaker, rng)
    if clip.before:
        tail = _say(synthesizer, clip.before, clip.speaker, rng)[-int(rng.uniform(0.08, 0.3) * FEATURES.sample_rate) :]
        gap = np.zeros(int(rng.uniform(0.03, 0.15) * FEATURES.sample_rate), np.float32)
        audio = np.concatenate([tail * rng.uniform(0.5, 1.0), gap, audio])
    if rng.random() < 0.65:
        audio = augment.reverberate(np.pad(audio, (0, FEATURES.sample_rate // 4)), rirs[int(rng.integers(len(rirs)))])
    if rng.random() < 0.75:
        audio = augment.colour(audio, rng)
    peak = float(np.abs(audio).max() or 1)
    audio = audio * (32767 * 10 ** (rng.uniform(*SPEECH_PEAK_DBFS) / 20) / peak)
    # Words stay whole (a word said before one may be cut at the clip start). Other words cut at the clip
    # edges were tried: parts of "gone" or "upon" taught the model that "on" is unknown (real "on" 41 %,
    # against 57 % with whole words; 73.4 % against 71.6 % over the 12 classes).
    placed = _place(audio, n, rng)
    if rng.random() < 0.85:
        placed = augment.mix(placed, noise, float(rng.uniform(*SNR_DB)))
    return augment.to_int16(placed)


def _synth_job(args: tuple[int, list[ClipPlan], int, Path, list[np.ndarray], list[np.ndarray]]) -> list[np.ndarray]:
    first, clips, seed, _tmp, noises, rirs = args
    synthesizer = synth.Synthesizer(seed * 1_000_003 + first)
    try:
        return [
            render(c, synthesizer, np.random.default_rng([seed, first + i]), noises, rirs, FEATURES.clip_samples)
            for i, c in enumerate(clips)
        ]
    finally:
        synthesizer.close()


def synth_key(
    keywords: Sequence[str], per_word: int, seed: int, available: dict[str, tuple[synth.Voice, ...]] | None = None
) -> str:
    voices = {e: [v.name for v in vs] for e, vs in (available or synth.engines()).items()}
    spec = json.dumps([SYNTH_VERSION, list(keywords), per_word, seed, FEATURES.sample_rate, voices])
    return hashlib.sha1(spec.encode()).hexdigest()[:12]


def synthesize(
    keywords: Sequence[str],
    out: Path | None = None,
    *,
    per_word: int = 300,
    seed: int = 0,
    engines: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Generate (or reuse from the cache) a synthetic dataset folder for `keywords`; returns its path.

    Every installed engine (or those named in `engines`) speaks: each keyword `per_word` times, `_unknown_`
    2 × per_word times (other words, sound-alikes, short phrases), and `_silence_` gets per_word noise-only
    clips. Speech goes through a voice change, a simulated room, a microphone and background noise.
    `dataset.json` records the engines and voices. The same seed and engines give the same bytes.
    """
    labels = labels_for(keywords)
    words = list(labels[:-2])
    available = synth.engines()
    if engines is not None:
        unknown = sorted(set(engines) - set(synth.ENGINES))
        if unknown:
            raise KwsError(f"unknown speech engine(s) {unknown}; choose from {list(synth.ENGINES)}")
        missing = [e for e in engines if e not in available]
        if missing:
            raise KwsError(f"speech engine(s) {missing} not installed (see README: speech engines)")
        available = {e: vs for e, vs in available.items() if e in engines}
    check_speakable(words)
    out = Path(out) if out else cache_dir() / "synth" / synth_key(words, per_word, seed, available)
    if (out / "dataset.json").exists():
        return out
    rng = np.random.default_rng(seed)
    plan = plan_clips(words, per_word, seed, available)
    n = FEATURES.clip_samples
    with atomic_dir(out) as tmp:
        engine = synth.Engine(seed)
        noises = [_noise(k, n * 20, rng, engine) for k in NOISE_KINDS]
        for k, x in zip(NOISE_KINDS, noises, strict=True):
            write_wav(tmp / BACKGROUND / f"synthetic_{k}.wav", (x * 3000).clip(-32768, 32767).astype(np.int16))
        rirs = augment.room_impulse_responses(120, np.random.default_rng([seed, 2]))
        jobs = [(i, plan[i : i + CHUNK], seed, tmp, noises, rirs) for i in range(0, len(plan), CHUNK)]
        counter: Counter[str] = Counter()
        with tqdm(total=len(plan), desc="synthesizing", unit="clip", disable=not progress) as bar:
            for (first, clips, *_), audio in zip(jobs, _map(_synth_job, jobs, workers), strict=True):
                for c, a in zip(clips, audio, strict=True):
                    speaker = c.speaker.id if c.speaker else f"noise-{(first // CHUNK) % 97}"
                    idx = counter[f"{c.label}/{speaker}"]
                    counter[f"{c.label}/{speaker}"] += 1
                    write_wav(tmp / c.label / f"{speaker}_nohash_{idx}.wav", a)
                bar.update(len(clips))
        meta = {
            "generator": "kws synthetic speech",
            "version": SYNTH_VERSION,
            "keywords": words,
            "per_word": per_word,
            "seed": seed,
            "clips": len(plan),
            "engines": {e: [v.name for v in vs] for e, vs in available.items()},
            "speakers": {e: len(p) for e, p in speakers(available, seed).items()},
            "augmentation": "voice change (Praat: formants, pitch, tempo), simulated rooms (pyroomacoustics), "
            "microphone colouring, noise at 5-50 dB SNR",
        }
        (tmp / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _map(func: Any, jobs: list[Any], workers: int | None) -> Iterator[Any]:
    """`map` over synthesis jobs, in order, on up to `workers` processes (default: one per core)."""
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        yield from map(func, jobs)
        return
    # spawn, not fork: the parent may have TensorFlow's threads running, which a fork would copy half-way
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(func, jobs)


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
