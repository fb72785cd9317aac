"""Watching and driving a board over serial: `kws monitor` (live view, JSON pass-through, CSV log,
reconnects) and `kws run` (feed WAV files in the protocol's audio frames, collect detections)."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from host.stream import FRAME_SAMPLES, Device, check_hello
from host.util import KwsError

CSV_FIELDS = ("host_time", "device_time_s", "device_samples", "label", "score")


class CsvLog:
    """Detections appended to a CSV file, one flushed and synced line at a time (a crash loses nothing)."""

    def __init__(self, path: Path) -> None:
        new = not path.exists() or path.stat().st_size == 0
        self.file = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.writer = csv.writer(self.file)
        if new:
            self.write(CSV_FIELDS)

    def write(self, row: Sequence[Any]) -> None:
        self.writer.writerow(row)
        self.file.flush()
        os.fsync(self.file.fileno())

    def detection(self, message: dict[str, Any], sample_rate: int) -> None:
        t = int(message.get("time", 0))
        self.write([datetime.now(timezone.utc).isoformat(timespec="milliseconds"), f"{t / sample_rate:.3f}", t,
                    message.get("label", ""), message.get("score", "")])  # fmt: skip

    def close(self) -> None:
        self.file.close()


@dataclass
class View:
    """What the live view shows: the newest scores as bars, the last detections, timing, counters."""

    labels: list[str] = field(default_factory=list)
    scores: list[int] = field(default_factory=list)
    detections: list[str] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    sample_rate: int = 16000

    def render(self, garbage: int) -> str:
        lines = [f"kws monitor — {self.status}"]
        for label, score in zip(self.labels, self.scores, strict=False):
            value = score + 128
            lines.append(f"  {label:>10} {'█' * (value * 40 // 255):<40} {value:3d}")
        if self.timing:
            lines.append("  timing: " + ", ".join(f"{k} {v}" for k, v in self.timing.items() if k != "type"))
        lines.append("  last detections: " + (" | ".join(self.detections[-5:]) or "none yet"))
        if garbage:
            lines.append(f"  skipped {garbage} malformed line(s)")
        return "\n".join(lines)


def monitor(
    port: str,
    *,
    baud: int = 115200,
    json_out: bool = False,
    csv_path: Path | None = None,
    duration: float | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Show the firmware's messages until interrupted (or `duration` seconds); reconnects when the port
    goes away. Returns the number of detections seen."""
    import serial

    out = out or sys.stdout
    err = err or sys.stderr
    live = out.isatty() and not json_out
    view = View(status=f"connecting to {port}")
    log = CsvLog(csv_path) if csv_path else None
    end = time.monotonic() + duration if duration else None
    detections = 0
    device: Device | None = None
    garbage = 0  # malformed lines, over every connection
    earlier_garbage = 0
    connected_once = False
    try:
        while end is None or time.monotonic() < end:
            if device is None:
                try:
                    device = Device(port, baud)
                except KwsError as e:
                    if not connected_once:
                        raise
                    view.status = f"waiting for {port} ({e})"
                    time.sleep(0.5)
                    continue
                print(f"kws: {'reconnected to' if connected_once else 'connected to'} {port}", file=err)
                connected_once = True
                device.send("info")
                if live:
                    device.send("scores on")
            try:
                for message in device.messages(0.2):
                    detections += handle(message, view, log, json_out, out, err)
                garbage = earlier_garbage + device.reader.garbage
            except (serial.SerialException, OSError):
                print(f"kws: {port} disconnected; waiting for it to come back", file=err)
                earlier_garbage += device.reader.garbage
                device.close()
                device = None
                continue
            if live:
                out.write("\x1b[H\x1b[J" + view.render(garbage) + "\n")
                out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        if device is not None:
            device.close()
        if log:
            log.close()
    if garbage:
        print(f"kws: skipped {garbage} malformed line(s)", file=err)
    return detections


def handle(message: dict[str, Any], view: View, log: CsvLog | None, json_out: bool, out: TextIO, err: TextIO) -> int:
    kind = message.get("type")
    if json_out:
        out.write(json.dumps(message) + "\n")
        out.flush()
    if kind == "hello":
        view.labels = list(message.get("labels", []))
        view.sample_rate = int(message.get("features", {}).get("sample_rate", 16000))
        view.status = f"{message.get('board')} · model {message.get('model')} ({message.get('hash')})"
        warning = check_hello(message)
        if warning:
            print(f"kws: warning: {warning}", file=err)
    elif kind == "scores":
        view.scores = list(message.get("scores", []))
    elif kind == "timing":
        view.timing = message
    elif kind == "detection":
        t = int(message.get("time", 0)) / view.sample_rate
        text = f"{message.get('label')} ({message.get('score')}) at {t:.2f} s"
        view.detections.append(text)
        if log:
            log.detection(message, view.sample_rate)
        if not json_out and not out.isatty():
            out.write(f"detection: {text}\n")
            out.flush()
        return 1
    elif kind == "error" and not json_out:
        print(f"kws: firmware error: {message.get('msg')}", file=err)
    return 0


def run_files(port: str, files: Sequence[Path], *, baud: int = 115200) -> dict[Path, list[dict[str, Any]]]:
    """Feed each WAV to the firmware from a reset (time restarts at 0) and collect its detections."""
    from host.audio import pad_short_clip, read_wav

    results: dict[Path, list[dict[str, Any]]] = {}
    with Device(port, baud) as device:
        hello = device.hello()
        warning = check_hello(hello)
        if warning:
            print(f"kws: warning: {warning}", file=sys.stderr)
        rate = int(hello.get("features", {}).get("sample_rate", 16000))
        seq = 0
        for path in files:
            audio = read_wav(path, rate)
            if len(audio) < 2 * rate:
                print(
                    f"kws: {path} is a {len(audio) / rate:.2f} s clip: sent with 1 s of silence before and after",
                    file=sys.stderr,
                )
                audio = pad_short_clip(audio, rate)
            device.send("reset")
            if device.wait_for("ack", 5.0, cmd="reset") is None:
                raise KwsError(f"the firmware on {port} did not acknowledge reset")
            found = [m for m in device.feed_audio(audio, seq) if m.get("type") == "detection"]
            seq += -(-len(audio) // FRAME_SAMPLES)
            results[path] = found
    return results
