"""The host side of the firmware's serial protocol: open a port (any pyserial URL), read JSON lines
(skipping and counting garbage), send commands and audio frames with flow control."""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from host.util import KwsError

PROTOCOL_VERSION = 1
FRAME_SAMPLES = 512  # the firmware's protocol::kMaxFrameSamples


def open_port(port: str, baud: int = 115200, timeout: float = 0.2) -> Any:
    """A pyserial port for a device path or URL (socket://host:port, loop://, a pseudo-terminal)."""
    import serial

    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=timeout)
    except serial.SerialException as e:
        text = str(e)
        if "Permission denied" in text or "Errno 13" in text:
            raise KwsError(
                f"permission denied on {port}: add yourself to the serial group "
                "(sudo usermod -aG dialout $USER, then log in again) or install the board's udev rules"
            ) from None
        raise KwsError(f"cannot open {port}: {text}") from None


def audio_command(seq: int, samples: np.ndarray) -> bytes:
    """One `audio` command: int16 little-endian samples, their CRC-32 and base64."""
    raw = np.asarray(samples, "<i2").tobytes()
    return f"audio {seq} {len(samples)} {zlib.crc32(raw):08x} {base64.b64encode(raw).decode()}\n".encode()


@dataclass
class Reader:
    """Splits a byte stream into protocol messages; anything that is not a JSON object is counted."""

    garbage: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    max_line: int = 1 << 16

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        self.buffer += data
        while (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[:end]).strip()
            del self.buffer[: end + 1]
            if line:
                message = self.parse(line)
                if message is not None:
                    yield message
        if len(self.buffer) > self.max_line:  # a runaway line without newline: drop it
            self.buffer.clear()
            self.garbage += 1

    def parse(self, line: bytes) -> dict[str, Any] | None:
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            message = None
        if not isinstance(message, dict) or "type" not in message:
            self.garbage += 1
            return None
        return message


def check_hello(hello: dict[str, Any]) -> str | None:
    """A warning for firmware speaking another protocol version, else None."""
    version = hello.get("protocol")
    if version != PROTOCOL_VERSION:
        return (
            f"the firmware speaks protocol version {version!r}, this tool version {PROTOCOL_VERSION}: "
            "some fields may be missing or misread (update the tool or the firmware)"
        )
    return None


class Device:
    """A connected firmware: send commands, read messages, feed audio with acknowledgements."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self.port_name = port
        self.serial = open_port(port, baud)
        self.reader = Reader()
        self.pending: list[dict[str, Any]] = []

    def close(self) -> None:
        self.serial.close()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, command: str | bytes) -> None:
        self.serial.write(command if isinstance(command, bytes) else (command.rstrip("\n") + "\n").encode())
        self.serial.flush()

    def messages(self, timeout: float) -> Iterator[dict[str, Any]]:
        """Messages as they arrive, until `timeout` seconds pass without the caller stopping."""
        deadline = time.monotonic() + timeout
        while self.pending:
            yield self.pending.pop(0)
        while time.monotonic() < deadline:
            data = self.serial.read(self.serial.in_waiting or 1)
            yield from self.reader.feed(data)

    def wait_for(self, kind: str, timeout: float, **match: Any) -> dict[str, Any] | None:
        """The first message of `kind` (with the given fields); others seen meanwhile are kept for later."""
        kept = []
        found = None
        for message in self.messages(timeout):
            if message.get("type") == kind and all(message.get(k) == v for k, v in match.items()):
                found = message
                break
            kept.append(message)
        self.pending = kept + self.pending
        return found

    def hello(self, timeout: float = 5.0, every: float = 3.0) -> dict[str, Any]:
        """The firmware's hello line, asked for every `every` seconds: a question sent while the firmware
        was still starting goes unanswered."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.send("info")
            hello = self.wait_for("hello", min(every, left))
            if hello is not None:
                return hello
        raise KwsError(f"no answer from the firmware on {self.port_name} within {timeout:g} s")

    def feed_audio(
        self, samples: np.ndarray, first_seq: int = 0, ack_timeout: float = 2.0, retries: int = 4
    ) -> Iterator[dict[str, Any]]:
        """Send audio in frames, each after the previous one is acknowledged; yields every other message.

        A real serial line drops a byte now and then: a frame whose acknowledgement does not come within
        `ack_timeout` seconds, or that the firmware answers with an error (a corrupted frame: bad CRC, base64,
        length or line), is sent again with the same seq, up to `retries` times; then one clear error. The
        firmware acknowledges a repeated seq without queueing its audio twice, so a lost acknowledgement
        costs nothing but the wait."""
        for i, start in enumerate(range(0, len(samples), FRAME_SAMPLES)):
            seq = first_seq + i
            command = audio_command(seq, samples[start : start + FRAME_SAMPLES])
            problem = "no acknowledgement"
            for _attempt in range(retries + 1):
                self.send(command)
                outcome = yield from self._await_ack(seq, ack_timeout)
                if outcome is None:
                    break
                problem = outcome
            else:
                raise KwsError(
                    f"audio frame {seq} was not accepted after {retries + 1} attempts "
                    f"({ack_timeout:g} s each; last: {problem}): is the line to the board reliable?"
                )

    def _await_ack(self, seq: int, timeout: float) -> Generator[dict[str, Any], None, str | None]:
        """Wait for frame `seq`'s ack (returns None), an error line or the timeout (returns what went wrong);
        yields the other messages. Acks of earlier frames (repeats answering a retransmission) are dropped."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages(min(0.5, max(0.0, deadline - time.monotonic()))):
                kind = message.get("type")
                if kind == "ack" and message.get("cmd") == "audio":
                    if message.get("seq") == seq:
                        return None
                    continue
                if kind == "error":
                    text = str(message.get("msg"))
                    if "not ready" in text:
                        raise KwsError(f"the firmware refused audio frame {seq}: {text}")
                    return f"error {text!r}"
                yield message
        return f"no acknowledgement within {timeout:g} s"
