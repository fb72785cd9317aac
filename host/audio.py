"""WAV input and output: strict 16 kHz / 16-bit / mono reading with clear errors."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from host.util import KwsError, atomic_write_bytes


def read_wav(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """Read a 16-bit mono WAV at `sample_rate` as int16; anything else is a KwsError naming the file."""
    try:
        if Path(path).stat().st_size == 0:
            raise KwsError(f"{path}: empty file (0 bytes)")
        with wave.open(str(path), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(n)
    except FileNotFoundError:
        raise KwsError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as e:
        raise KwsError(f"{path}: not a readable PCM WAV file ({e or 'the header ends early'})") from None
    problems = []
    if channels != 1:
        problems.append(f"{channels} channels; expected mono (convert with: sox in.wav -c 1 out.wav)")
    if width != 2:
        problems.append(f"{8 * width}-bit samples; expected 16-bit PCM")
    if rate != sample_rate:
        problems.append(f"sample rate {rate} Hz; expected {sample_rate} Hz")
    if not problems and len(data) != n * 2:
        problems.append(f"truncated: header says {n} samples, file holds {len(data) // 2}")
    if problems:
        raise KwsError(f"{path}: " + "; ".join(problems))
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def wav_bytes(samples: np.ndarray, sample_rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 16000) -> None:
    atomic_write_bytes(path, wav_bytes(samples, sample_rate))


def fit_to_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad or trim a clip to exactly `length` samples (padding at the end, as Speech Commands does)."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def pad_short_clip(samples: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """A clip shorter than 2 s gives the recognizer fewer inferences than its minimum count (the first comes
    once a whole 1 s window is in): give it a second of silence before and after, as the native simulator's
    --wav does. Longer audio is returned unchanged."""
    if len(samples) >= 2 * sample_rate:
        return samples
    pad = np.zeros(sample_rate, np.int16)
    return np.concatenate([pad, np.asarray(samples, np.int16), pad])
