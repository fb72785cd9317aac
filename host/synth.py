"""Offline speech synthesis with eSpeak NG (the library and voices shipped by `espeakng-loader`), via ctypes.

Each synthetic "speaker" is an English accent plus a voice variant; rate, pitch, pitch range and volume
vary per clip. Output is resampled from eSpeak's 22,050 Hz to the feature sample rate.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.signal import resample_poly

from host.util import KwsError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_CHARS_AUTO, _ENDPAUSE = 0, 0x1000

ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# Variants that sound too mechanical or distorted to stand for a person are left out.
_EXCLUDED_VARIANTS = {"Demonic", "UniRobot", "anikaRobot", "croak", "Tweaky", "AnxiousAndy"}

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Voice:
    accent: str
    variant: str

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant}"


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
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
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
    return [Voice(a, v) for a in ACCENTS for v in variants]


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
    raw = engine.speak(text, voice, rate, pitch, pitch_range, volume).astype(np.float32)
    audio = resample_poly(raw, sample_rate, engine.rate) if engine.rate != sample_rate else raw
    loud = np.flatnonzero(np.abs(audio) > 0.02 * (np.abs(audio).max() + 1e-9))
    if len(loud):
        audio = audio[loud[0] : loud[-1] + 1]
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)
