"""Make a few synthetic voices sound like many people in many rooms: voice changes (formants, pitch, tempo),
room reverberation, microphone colouring and background noise. Plain functions of float audio and a NumPy
random generator, so that a dataset built with the same seed is the same to the byte."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class VoiceChange:
    """Praat's "Change gender": formants scaled by `formants` (a shorter or longer vocal tract), the pitch
    median by `pitch`, the pitch range by `pitch_range`, the duration by `duration`."""

    formants: float = 1.0
    pitch: float = 1.0
    pitch_range: float = 1.0
    duration: float = 1.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> VoiceChange:
        # Formant ratios of adult men to women are about 1.15-1.2; children higher still.
        return cls(
            formants=float(np.exp(rng.uniform(math.log(0.86), math.log(1.2)))),
            pitch=float(np.exp(rng.uniform(math.log(0.7), math.log(1.5)))),
            pitch_range=float(rng.uniform(0.6, 1.6)),
            duration=float(np.exp(rng.uniform(math.log(0.8), math.log(1.25)))),
        )


def change_voice(audio: np.ndarray, change: VoiceChange, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Apply a VoiceChange with Praat (PSOLA resynthesis); audio without voiced frames keeps its pitch.
    Praat's resynthesis draws random numbers: they are seeded with `seed`, so the output is reproducible."""
    import warnings

    import parselmouth
    from parselmouth.praat import call, run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({int(seed)})")

    x = np.asarray(audio, np.float64)
    peak = float(np.abs(x).max())
    if peak == 0 or len(x) < sample_rate // 20:
        return np.asarray(audio, np.float32)
    sound = parselmouth.Sound(x / peak, sampling_frequency=sample_rate)
    try:
        median = call(call(sound, "To Pitch", 0.0, 75.0, 600.0), "Get quantile", 0.0, 0.0, 0.5, "Hertz")
    except parselmouth.PraatError:
        median = math.nan
    target = 0.0 if not math.isfinite(median) else float(np.clip(median * change.pitch, 60.0, 450.0))
    with warnings.catch_warnings():  # "no voiced segments": whispered or clipped words keep their pitch
        warnings.simplefilter("ignore", parselmouth.PraatWarning)
        try:
            out = call(
                sound, "Change gender", 75.0, 600.0, change.formants, target, change.pitch_range, change.duration
            )
        except parselmouth.PraatError:  # too little voicing to analyse (a fricative, a click): left as it is
            return np.asarray(audio, np.float32)
    y = np.asarray(out.values[0], np.float32) * peak
    return np.nan_to_num(y)


def room_impulse_responses(count: int, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """Impulse responses of `count` simulated rectangular rooms (image method, pyroomacoustics): rooms of
    2.5-10 m, wall absorption from a bare to a furnished room, speaker 0.3-4 m from the microphone. Each
    is normalised to a unit direct path and starts at it, so reverberation does not move the word."""
    import pyroomacoustics as pra

    out = []
    for _ in range(count):
        dims = rng.uniform([2.5, 2.5, 2.2], [10.0, 8.0, 4.0])
        absorption = float(rng.uniform(0.1, 0.7))
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=12)
        mic = rng.uniform([0.3, 0.3, 0.6], dims - 0.3)
        for _try in range(20):  # a source at a talking distance, inside the room
            direction = rng.standard_normal(3)
            source = mic + direction / np.linalg.norm(direction) * rng.uniform(0.3, 4.0)
            if np.all(source > 0.2) and np.all(source < dims - 0.2):
                break
        else:
            source = dims / 2
        room.add_source(source)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], np.float64)
        start = int(np.argmax(np.abs(rir)))
        rir = rir[start : start + int(0.6 * sample_rate)]
        out.append((rir / rir[0]).astype(np.float32))
    return out


def reverberate(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response; the output has the input's length and loudness peak."""
    x = np.asarray(audio, np.float32)
    y = fftconvolve(x, rir)[: len(x)]
    peak_in, peak_out = float(np.abs(x).max()), float(np.abs(y).max())
    return (y * (peak_in / peak_out if peak_out > 0 else 1.0)).astype(np.float32)


def colour(audio: np.ndarray, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A random microphone and channel: high-pass (small mics lose the bass), often a low-pass (cheap mics,
    codecs), a tilt of the spectrum, and sometimes clipping from too much gain."""
    x = np.asarray(audio, np.float64)
    nyquist = sample_rate / 2
    x = sosfilt(butter(2, rng.uniform(50, 350) / nyquist, "highpass", output="sos"), x)
    if rng.random() < 0.5:
        x = sosfilt(butter(4, rng.uniform(3400, 7600) / nyquist, "lowpass", output="sos"), x)
    if rng.random() < 0.5:  # tilt: boost or cut the highs by up to 8 dB above ~1.5 kHz
        highs = sosfilt(butter(1, rng.uniform(1000, 2500) / nyquist, "highpass", output="sos"), x)
        x = x + highs * (10 ** (rng.uniform(-8, 8) / 20) - 1)
    if rng.random() < 0.08:
        limit = float(np.abs(x).max()) * rng.uniform(0.3, 0.8)
        x = np.clip(x, -limit, limit)
    return x.astype(np.float32)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add `noise` to `speech` at the given speech-to-noise ratio (by RMS over the loud part), as float."""
    s = np.asarray(speech, np.float64)
    n = np.asarray(noise[: len(s)], np.float64)
    s_rms = np.sqrt(np.mean(s[np.abs(s) > 0.05 * np.abs(s).max()] ** 2)) if np.any(s) else 1.0
    n_rms = np.sqrt(np.mean(n**2)) + 1e-9
    return (s + n * (s_rms / n_rms) * 10 ** (-snr_db / 20)).astype(np.float32)


def to_int16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)
