import wave
from pathlib import Path

import numpy as np
import pytest

from host.audio import fit_to_length, pad_short_clip, read_wav, write_wav
from host.util import KwsError


def _wav(path: Path, channels: int = 1, width: int = 2, rate: int = 16000, frames: int = 1600) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01" * frames * channels * width)
    return path


def test_round_trip(tmp_path: Path) -> None:
    x = (np.sin(np.arange(16000) / 10) * 20000).astype(np.int16)
    write_wav(tmp_path / "a.wav", x)
    assert np.array_equal(read_wav(tmp_path / "a.wav"), x)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"channels": 2}, "2 channels"), ({"width": 1}, "8-bit"), ({"rate": 44100}, "sample rate 44100")],
)
def test_rejects_wrong_format(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(KwsError, match=message):
        read_wav(_wav(tmp_path / "x.wav", **kwargs))


def test_rejects_truncated_and_non_audio(tmp_path: Path) -> None:
    full = _wav(tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[:-1000])
    with pytest.raises(KwsError, match="truncated"):
        read_wav(tmp_path / "cut.wav")
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(KwsError, match="not a readable PCM WAV"):
        read_wav(tmp_path / "text.wav")
    with pytest.raises(KwsError, match="no such file"):
        read_wav(tmp_path / "missing.wav")


def test_fit_to_length() -> None:
    assert len(fit_to_length(np.ones(10, np.int16), 16)) == 16
    assert len(fit_to_length(np.ones(20, np.int16), 16)) == 16


def test_empty_file_and_every_problem_named(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(KwsError, match=r"empty\.wav: empty file"):
        read_wav(tmp_path / "empty.wav")
    with pytest.raises(KwsError, match=r"2 channels.*; 8-bit samples.*; sample rate 44100 Hz"):
        read_wav(_wav(tmp_path / "bad.wav", channels=2, width=1, rate=44100))


def test_short_clips_are_padded_with_silence() -> None:
    clip = np.ones(16000, np.int16)
    padded = pad_short_clip(clip)
    assert len(padded) == 48000 and not padded[:16000].any() and not padded[32000:].any()
    assert np.array_equal(padded[16000:32000], clip)
    long = np.ones(32000, np.int16)
    assert pad_short_clip(long) is long
