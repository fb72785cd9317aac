import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from host import dataset
from host.audio import read_wav, write_wav
from host.util import KwsError


def test_labels_for_rejects_bad_lists() -> None:
    assert dataset.labels_for(["Yes", " no "]) == ("yes", "no", "_silence_", "_unknown_")
    assert dataset.labels_for(["hey robot", "don't"])[:2] == ("hey robot", "don't")
    for bad, msg in (
        ([], "empty"),
        ([" ", ""], "empty"),
        (["yes", "yes"], "duplicate"),
        (["_unknown_"], "invalid"),
        (["42"], "numbers as words"),
        (["café"], "letters a-z"),
        (['say "hi"'], "cannot be labels"),
        (["a" * 25], "at most 24"),
        ([f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(31)], "at most 30"),
    ):
        with pytest.raises(KwsError, match=msg):
            dataset.labels_for(bad)


def test_speaker_ids_and_splits() -> None:
    assert dataset.speaker_of(Path("yes/439c84f4_nohash_1.wav")) == "439c84f4"
    assert dataset.speaker_of(Path("_unknown_/bed__62581901_nohash_0.wav")) == "62581901"
    splits = [dataset.which_split(f"spk{i}") for i in range(2000)]
    share = {s: splits.count(s) / len(splits) for s in dataset.SPLITS}
    assert 0.07 < share["validation"] < 0.13 and 0.12 < share["test"] < 0.18
    assert dataset.which_split("abc") == dataset.which_split("abc")


def test_synthetic_is_deterministic_cached_and_speaker_split(tmp_path: Path) -> None:
    a = dataset.synthesize(["yes"], tmp_path / "a", per_word=8, seed=5, progress=False)
    b = dataset.synthesize(["yes"], tmp_path / "b", per_word=8, seed=5, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.wav"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    meta = json.loads((a / "dataset.json").read_text())
    assert meta["clips"] == 8 + 16 + 8
    mtime = (a / "dataset.json").stat().st_mtime_ns
    dataset.synthesize(["yes"], a, per_word=8, seed=5, progress=False)
    assert (a / "dataset.json").stat().st_mtime_ns == mtime  # reused, not regenerated
    ds = dataset.load_folder(a, dataset.labels_for(["yes"]))
    assert ds.counts() == {"yes": 8, "_silence_": 8, "_unknown_": 16}
    assert meta["engines"]["espeak"] and "augmentation" in meta
    assert len(ds.noise) == 5
    clip = read_wav(next((a / "yes").glob("*.wav")))
    assert len(clip) == 16000 and np.abs(clip.astype(int)).max() > 1000


def test_split_never_shares_a_speaker(synth_dir: Path) -> None:
    ds = dataset.load_folder(synth_dir, dataset.labels_for(["yes", "no"]))
    speakers = {s: {it.speaker for it in ds.split(s)} for s in dataset.SPLITS}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["validation"])
    assert sum(len(ds.split(s)) for s in dataset.SPLITS) == len(ds.items)


def test_folder_mapping_and_missing_class(tmp_path: Path) -> None:
    tone = (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16)
    for rel in ("yes/a_nohash_0.wav", "cat/b_nohash_0.wav", "_background_noise_/n.wav"):
        write_wav(tmp_path / rel, tone)
    ds = dataset.load_folder(tmp_path, dataset.labels_for(["yes"]))
    assert ds.counts() == {"yes": 1, "_silence_": 0, "_unknown_": 1} and len(ds.noise) == 1
    with pytest.raises(KwsError, match=r"no clips for \['no'\]"):
        dataset.load_folder(tmp_path, dataset.labels_for(["yes", "no"]))
    with pytest.raises(KwsError, match="does not exist"):
        dataset.load_folder(tmp_path / "nope", dataset.labels_for(["yes"]))


def test_bad_wav_in_dataset_is_named(tmp_path: Path) -> None:
    write_wav(tmp_path / "yes" / "a_nohash_0.wav", np.zeros(16000, np.int16), sample_rate=8000)
    ds = dataset.load_folder(tmp_path, dataset.labels_for(["yes"]))
    with pytest.raises(KwsError, match=r"a_nohash_0\.wav: sample rate 8000"):
        dataset.load_clips(ds.items)


def test_download_offline_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KWS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(KwsError, match="needs internet access"):
        dataset.download_speech_commands(
            tmp_path / "sc", url="http://127.0.0.1:9/speech_commands_v0.02.tar.gz", progress=False
        )
    assert not (tmp_path / "sc").exists()


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:
        start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(self.payload) - start))
        self.end_headers()
        self.wfile.write(self.payload[start:])

    def log_message(self, *args: object) -> None:
        pass


def test_download_resumes_verifies_and_unpacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KWS_CACHE", str(tmp_path / "cache"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("validation_list.txt", b"yes/a_nohash_0.wav\n"), ("yes/a_nohash_0.wav", os.urandom(5000))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    payload = buf.getvalue()
    _RangeHandler.payload = payload
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/sc.tar.gz"
    try:
        part = tmp_path / "cache" / "downloads" / "sc.tar.gz.part"
        part.parent.mkdir(parents=True)
        part.write_bytes(payload[:1000])  # an interrupted earlier download
        with pytest.raises(KwsError, match="checksum mismatch"):
            dataset.download_speech_commands(tmp_path / "bad", url, len(payload), "0" * 64, progress=False)
        assert not part.exists() and not (tmp_path / "bad").exists()
        part.write_bytes(payload[:1000])
        good = hashlib.sha256(payload).hexdigest()
        out = dataset.download_speech_commands(tmp_path / "sc", url, len(payload), good, progress=False)
        assert (out / "yes" / "a_nohash_0.wav").stat().st_size == 5000
    finally:
        server.shutdown()
