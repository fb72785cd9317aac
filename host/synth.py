"""Offline speech synthesis: eSpeak NG (the library and voices shipped by `espeakng-loader`, via ctypes),
and, where installed, Flite and Festival (Debian's `flite`, `festival` and `festvox-*` packages).

eSpeak NG always works: its "speakers" are an English accent plus a voice variant. Flite's and Festival's
voices (diphone, clustergen and HTS) are fewer but sound far more like people; `engines()` says which are
installed. Every engine's output is resampled to the feature sample rate and trimmed of silence.
"""

from __future__ import annotations

import ctypes
import functools
import math
import re
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.signal import resample_poly

from host.util import KwsError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_CHARS_AUTO, _ENDPAUSE, _PHONEMES_IPA = 0, 0x1000, 0x02

ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# Variants that sound too mechanical or distorted to stand for a person are left out.
_EXCLUDED_VARIANTS = {"Demonic", "UniRobot", "anikaRobot", "croak", "Tweaky", "AnxiousAndy"}

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Voice:
    """One synthetic voice: the engine that speaks it and the engine's name for it."""

    engine: str  # "espeak", "flite" or "festival"
    name: str  # eSpeak "<accent>+<variant>", a Flite voice, a Festival voice

    @property
    def speaker(self) -> str:
        """A speaker id for file names (`<speaker>_nohash_<n>.wav`): no underscores, spaces or '+'."""
        return re.sub(r"[^A-Za-z0-9]+", "-", f"{self.engine}-{self.name}").strip("-")


def _loader() -> ModuleType:
    try:
        import espeakng_loader
    except ImportError:
        raise KwsError("espeakng-loader is not installed: pip install espeakng-loader") from None
    return espeakng_loader


class Engine:
    """A private instance of the eSpeak NG library.

    eSpeak keeps synthesis state (pitch flutter phase, wave phase) in static variables across calls, so
    the same words come out slightly differently depending on what was said before. Each Engine loads its
    own copy of the library, so a fixed sequence of calls on a new Engine always gives the same samples
    (one Engine at a time: the C library's rand() they share is seeded per call).
    """

    def __init__(self, seed: int = 0) -> None:
        loader = _loader()
        self.data_path = Path(loader.get_data_path())
        with tempfile.TemporaryDirectory() as tmp:
            private = Path(tmp) / "libespeak-ng-private.so"
            shutil.copyfile(loader.get_library_path(), private)
            self.lib = ctypes.CDLL(str(private))
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), 0)
        if rate <= 0:
            raise KwsError(f"eSpeak NG failed to initialise with data at {self.data_path}")
        self.rate = rate
        self.chunks: list[np.ndarray] = []

        def collect(wav: ctypes._Pointer, n: int, _events: ctypes.c_void_p) -> int:  # type: ignore[type-arg]
            if n > 0:
                self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = _CALLBACK(collect)  # kept alive for the library's lifetime
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_ng_SetRandSeed(seed)
        self.seed = seed
        self.calls = 0

    def speak(self, text: str, voice: Voice, rate: int, pitch: int, pitch_range: int, volume: int) -> np.ndarray:
        if voice.engine != "espeak" or self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise KwsError(f"eSpeak NG has no voice {voice.name!r}")
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, volume)):
            self.lib.espeak_SetParameter(param, value, 0)
        self.chunks = []
        # Klatt voices draw their noise from the C library's process-wide rand(): seed it per call.
        _libc().srand((self.seed * 1_000_003 + self.calls) & 0xFFFFFFFF)
        self.calls += 1
        data = text.encode("utf-8") + b"\0"
        err = self.lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_AUTO | _ENDPAUSE, None, None)
        if err != 0:
            raise KwsError(f"eSpeak NG could not synthesise {text!r} (error {err})")
        self.lib.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)

    def phonemes(self, text: str, accent: str = "en-us") -> str:
        """How eSpeak pronounces `text`, in IPA without stress and length marks ("know" → "noʊ")."""
        self.lib.espeak_SetVoiceByName(accent.encode())
        buf = ctypes.c_char_p(text.encode("utf-8"))
        words = []
        while buf.value:
            out = self.lib.espeak_TextToPhonemes(ctypes.byref(buf), _CHARS_AUTO, _PHONEMES_IPA)
            if not out:
                break
            words.append(out.decode("utf-8", "replace"))
        return re.sub("[ˈˌː]", "", " ".join(words)).strip()


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.srand.argtypes = [ctypes.c_uint]
    return libc


@functools.cache
def voices() -> list[Voice]:
    """Every accent × voice variant combination, in a fixed order."""
    folder = Path(_loader().get_data_path()) / "voices" / "!v"
    variants = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in _EXCLUDED_VARIANTS)
    return [Voice("espeak", f"{a}+{v}") for a in ACCENTS for v in variants]


def speak(
    engine: Engine,
    text: str,
    voice: Voice,
    *,
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    volume: int = 100,
    sample_rate: int = 16000,
) -> np.ndarray:
    """Synthesise `text` as int16 samples at `sample_rate`, with leading and trailing silence trimmed."""
    raw = engine.speak(text, voice, rate, pitch, pitch_range, volume)
    return np.clip(np.round(_to_rate(raw, engine.rate, sample_rate)), -32768, 32767).astype(np.int16)


def _to_rate(audio: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """Resample float audio from `rate` to `sample_rate`, then trim leading and trailing silence."""
    audio = np.asarray(audio, np.float32)
    if rate != sample_rate:
        g = math.gcd(rate, sample_rate)
        audio = resample_poly(audio, sample_rate // g, rate // g)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * (np.abs(audio).max() + 1e-9))
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


# --------------------------------------------------------------------------------------------------- Flite

# Flite's English voices and their natural mean pitch (Hz). `awb_time` only speaks clock times: left out.
FLITE_VOICES = {"kal16": 105.0, "kal": 105.0, "awb": 115.0, "rms": 100.0, "slt": 170.0}


@functools.cache
def flite_voices() -> tuple[Voice, ...]:
    """Flite's English voices that the installed `flite` has (none when it is not installed)."""
    exe = shutil.which("flite")
    if not exe:
        return ()
    try:
        listing = subprocess.run([exe, "-lv"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    have = set(listing.partition(":")[2].split())
    return tuple(Voice("flite", v) for v in FLITE_VOICES if v in have)


def flite_say(text: str, voice: Voice, tempo: float, pitch: float, pitch_range: float) -> tuple[np.ndarray, int]:
    """Speak with the `flite` program; returns float samples and their rate."""
    mean = FLITE_VOICES[voice.name] * pitch
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = [
            "flite",
            "-voice",
            voice.name,
            "--setf",
            f"duration_stretch={1 / tempo:.3f}",
            "--setf",
            f"int_f0_target_mean={mean:.1f}",
            "--setf",
            f"int_f0_target_stddev={mean * 0.12 * pitch_range:.1f}",
            "-t",
            text,
            "-o",
            str(wav),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not wav.exists():
            raise KwsError(f"flite could not say {text!r} with voice {voice.name}: {done.stderr.strip()[-300:]}")
        return _read_any_wav(wav)


def _read_any_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    return np.frombuffer(data, "<i2").astype(np.float32), rate


# ------------------------------------------------------------------------------------------------ Festival

# Festival voices that speak English (other languages' voices read English text with their own letter-to-
# sound rules, i.e. other words, so they are not used).
_FESTIVAL_ENGLISH = ("kal_", "ked_", "rab_", "don_", "cmu_us_", "cmu_uk_", "cstr_us_", "cstr_uk_")


class Festival:
    """One long-running `festival --pipe` process (starting Festival costs ~0.3 s; a word then ~40 ms)."""

    def __init__(self) -> None:
        exe = shutil.which("festival")
        if not exe:
            raise KwsError("Festival is not installed (apt-get install festival festvox-kallpc16k)")
        # Festival block-buffers its output on a pipe; stdbuf makes it line-buffered, so each command's
        # "done" marker arrives when the command has finished.
        cmd = [exe, "--pipe"] if not shutil.which("stdbuf") else ["stdbuf", "-oL", exe, "--pipe"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.tmp = tempfile.TemporaryDirectory()
        self.voice = ""

    def command(self, scheme: str, timeout: float = 60.0) -> str:
        """Run Scheme code; returns what Festival printed before the marker."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f'{scheme}\n(print "kws-done")\n')
        self.proc.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise KwsError(f"Festival stopped unexpectedly: {''.join(out)[-300:]}")
            if "kws-done" in line:
                return "".join(out)
            out.append(line)
        raise KwsError(f"Festival did not answer within {timeout:g} s")

    def voices(self) -> tuple[Voice, ...]:
        names = self.command("(print (voice.list))").strip().strip("()").split()
        return tuple(Voice("festival", v) for v in sorted(names) if v.startswith(_FESTIVAL_ENGLISH))

    def say(self, text: str, voice: Voice, tempo: float) -> tuple[np.ndarray, int]:
        """Speak `text`; diphone voices follow `tempo`, HTS voices keep their own durations."""
        wav = Path(self.tmp.name) / "out.wav"
        wav.unlink(missing_ok=True)
        quoted = text.replace("\\", " ").replace('"', " ")
        select = f"(voice_{voice.name})" if voice.name != self.voice else ""
        self.command(
            f"{select}(Parameter.set 'Duration_Stretch {1 / tempo:.3f})"
            f'(utt.save.wave (utt.synth (Utterance Text "{quoted}")) "{wav}" \'riff)'
        )
        self.voice = voice.name
        if not wav.exists():
            raise KwsError(f"Festival could not say {text!r} with voice {voice.name}")
        return _read_any_wav(wav)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


@functools.cache
def festival_voices() -> tuple[Voice, ...]:
    """Festival's English voices that are installed (none when Festival is not)."""
    if not shutil.which("festival"):
        return ()
    fest = Festival()
    try:
        return fest.voices()
    except KwsError:
        return ()
    finally:
        fest.close()


# ------------------------------------------------------------------------------------------ all engines

ENGINES = ("espeak", "flite", "festival")


def engines() -> dict[str, tuple[Voice, ...]]:
    """The installed engines and their English voices (eSpeak NG is always there)."""
    found = {"espeak": tuple(voices()), "flite": flite_voices(), "festival": festival_voices()}
    return {name: vs for name, vs in found.items() if vs}


class Synthesizer:
    """Every installed engine behind one call. A new Synthesizer given the same calls gives the same samples
    (eSpeak is deterministic per instance; Flite and Festival are deterministic programs)."""

    def __init__(self, seed: int = 0) -> None:
        self.espeak = Engine(seed)
        self._festival: Festival | None = None

    def say(
        self,
        text: str,
        voice: Voice,
        *,
        tempo: float = 1.0,
        pitch: float = 1.0,
        pitch_range: float = 1.0,
        sample_rate: int = 16000,
    ) -> np.ndarray:
        """`text` in `voice` as float samples at `sample_rate`, trimmed: `tempo` > 1 speaks faster, `pitch`
        scales the voice's mean pitch and `pitch_range` its intonation (where the engine can)."""
        if voice.engine == "espeak":
            raw = self.espeak.speak(
                text,
                voice,
                rate=round(175 * tempo),
                pitch=int(np.clip(round(50 * pitch), 0, 99)),
                pitch_range=int(np.clip(round(50 * pitch_range), 0, 99)),
                volume=100,
            ).astype(np.float32)
            audio, rate = raw, self.espeak.rate
        elif voice.engine == "flite":
            audio, rate = flite_say(text, voice, tempo, pitch, pitch_range)
        elif voice.engine == "festival":
            if self._festival is None:
                self._festival = Festival()
            audio, rate = self._festival.say(text, voice, tempo)
        else:
            raise KwsError(f"unknown speech engine {voice.engine!r}; choose one of {ENGINES}")
        return _to_rate(audio, rate, sample_rate)

    def close(self) -> None:
        if self._festival is not None:
            self._festival.close()
            self._festival = None
