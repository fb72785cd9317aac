"""kws monitor and kws run against the native firmware behind a pseudo-terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from host import cli, detection, monitor, stream
from host.audio import fit_to_length, read_wav, write_wav
from tests.conftest import golden_stream


def test_reader_skips_and_counts_garbage() -> None:
    reader = stream.Reader()
    data = b'{"type":"hello","protocol":1}\nnot json\n\x00\xff\n[1,2]\n{"no_type":1}\n{"type":"det'
    got = list(reader.feed(data))
    assert got == [{"type": "hello", "protocol": 1}] and reader.garbage == 4
    assert list(reader.feed(b'ection","label":"yes"}\n')) == [{"type": "detection", "label": "yes"}]
    assert stream.check_hello({"protocol": 1}) is None
    assert "protocol version 99" in (stream.check_hello({"protocol": 99}) or "")


@pytest.fixture(scope="module")
def speech(held_out_speech, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, int]]]:
    """20 s of held-out keywords and other words over noise, as a WAV, and the host's streaming detections
    in it (label, score, time)."""
    audio, _ = detection.make_stream(*held_out_speech, minutes=1 / 3, gap_s=(0.5, 1.0), seed=11)
    wav = tmp_path_factory.mktemp("speech") / "speech.wav"
    write_wav(wav, audio)
    return wav, [(d.label, d.score, d.time) for d in golden_stream(audio)[2]]


def test_kws_run_gives_the_host_streaming_detections(board, speech, shared_data: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    wav, expected = speech
    port = board()
    results = monitor.run_files(port, [wav])
    got = [(d["label"], d["score"], d["time"]) for d in results[wav]]
    assert len(expected) >= 3 and got == expected
    # --expect: a clip of "yes" passes for yes and fails for no.
    clip = tmp_path / "yes.wav"
    write_wav(clip, np.concatenate([np.zeros(8000, np.int16), fit_to_length(
        read_wav(sorted((shared_data / "yes").glob("*.wav"))[0]), 16000), np.zeros(8000, np.int16)]))  # fmt: skip
    assert cli.main(["run", "--port", port, "--expect", "yes", str(clip)]) == 0
    assert "yes (" in capsys.readouterr().out
    assert cli.main(["run", "--port", port, "--expect", "no", str(clip)]) == 1
    assert "did not give exactly 'no'" in capsys.readouterr().err


def _monitor_in_thread(port: str, seconds: float, **kwargs) -> tuple[threading.Thread, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    thread = threading.Thread(target=monitor.monitor, args=(port,),
                              kwargs={"duration": seconds, "out": out, "err": err, **kwargs})  # fmt: skip
    thread.start()
    return thread, out, err


def test_monitor_json_and_csv(board, speech, tmp_path: Path) -> None:
    """A board with a microphone (the simulator streaming a file): JSON lines passed through, and every
    detection in the CSV with host and device time, each line complete."""
    wav, expected = speech
    log = tmp_path / "detections.csv"
    thread, out, err = _monitor_in_thread(board("--wav", str(wav), "--speed", "8"), 4.0, json_out=True, csv_path=log)
    thread.join()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert any(m["type"] == "hello" for m in lines)
    assert [(m["label"], m["score"], m["time"]) for m in lines if m["type"] == "detection"] == expected
    rows = list(csv.DictReader(log.open()))
    assert [(r["label"], int(r["score"]), int(r["device_samples"])) for r in rows] == expected
    assert all(r["host_time"].endswith("+00:00") and float(r["device_time_s"]) > 0 for r in rows)
    assert "connected to" in err.getvalue()


def test_monitor_survives_unplug(board, speech, tmp_path: Path) -> None:
    wav, _ = speech
    link = tmp_path / "ttyACM0"
    first = board("--wav", str(wav), "--speed", "8")
    link.symlink_to(first)
    thread, _, err = _monitor_in_thread(str(link), 6.0)
    time.sleep(1.5)
    # Unplug: the simulator process goes away (its pseudo-terminal with it), then a new one appears.
    board.procs[-1].kill()
    time.sleep(0.5)
    link.unlink()
    link.symlink_to(board("--wav", str(wav), "--speed", "8"))
    thread.join()
    text = err.getvalue()
    assert "disconnected" in text and "reconnected to" in text


def test_monitor_warns_on_unknown_protocol_and_counts_garbage() -> None:
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        thread, out, err = _monitor_in_thread(os.ttyname(slave), 1.5)
        time.sleep(0.5)  # once connected (opening a port flushes what was there before)
        os.write(master, b'{"type":"hello","protocol":99,"labels":["yes"]}\nnoise\n')
        os.write(master, b'{"type":"detection","label":"yes","score":200,"time":16000}\n')
        thread.join()
    finally:
        os.close(master)
        os.close(slave)
    assert "detection: yes (200) at 1.00 s" in out.getvalue()
    assert "protocol version 99" in err.getvalue() and "skipped 1 malformed line" in err.getvalue()


def test_live_view_shows_bars_detections_and_timing() -> None:
    view = monitor.View(labels=["yes", "no"], scores=[127, -128], detections=["yes (230) at 1.20 s"],
                        timing={"type": "timing", "inference_us": 52000}, status="native")  # fmt: skip
    text = view.render(garbage=2)
    assert "yes ████████████████████████████████████████ 255" in text and "no " in text
    assert "inference_us 52000" in text and "yes (230) at 1.20 s" in text and "skipped 2" in text
