"""`kws run`'s audio frames over a line that loses data: a proxy between host.stream.Device and the simulated
board (the native firmware on a pseudo-terminal) drops one byte of a frame, then one acknowledgement; the
host retransmits, the firmware does not queue a repeated frame twice, and the scores are those of a clean
line. A frame lost every time ends in one clear error."""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from host.audio import fit_to_length, read_wav
from host.stream import Device
from host.util import KwsError

Rule = Callable[[bytes], bytes | None]  # a line in, what to forward (None: drop it)


class LossyLine:
    """Forwards lines between a pseudo-terminal the host opens and the board's, applying a rule each way."""

    def __init__(self, board_port: str, to_board: Rule, to_host: Rule) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self.slave = slave
        self.board = os.open(board_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self.rules = {self.master: (to_board, self.board), self.board: (to_host, self.master)}
        self.seen_by_host: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = {self.master: b"", self.board: b""}
        while not self.stop.is_set():
            ready, _, _ = select.select(list(pending), [], [], 0.1)
            for fd in ready:
                try:
                    pending[fd] += os.read(fd, 4096)
                except OSError:
                    return
                rule, out = self.rules[fd]
                while b"\n" in pending[fd]:
                    line, pending[fd] = pending[fd].split(b"\n", 1)
                    forwarded = rule(line + b"\n")
                    if forwarded is not None:
                        os.write(out, forwarded)
                        if fd == self.board:
                            self.seen_by_host.append(forwarded)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        for fd in (self.master, self.slave, self.board):
            os.close(fd)


def keep(line: bytes) -> bytes:
    return line


def once(match: bytes, change: Callable[[bytes], bytes | None]) -> Rule:
    """Applies `change` to the first line containing `match`; forwards everything else unchanged."""
    done = False

    def rule(line: bytes) -> bytes | None:
        nonlocal done
        if not done and match in line:
            done = True
            return change(line)
        return line

    return rule


@pytest.fixture
def speech(shared_data: Path) -> np.ndarray:
    clip = fit_to_length(read_wav(sorted((shared_data / "yes").glob("*.wav"))[0]), 16000)
    return np.concatenate([np.zeros(8000, np.int16), clip, np.zeros(8000, np.int16)])


@pytest.fixture
def line(board) -> Iterator[Callable[[Rule, Rule], LossyLine]]:
    lines: list[LossyLine] = []

    def make(to_board: Rule, to_host: Rule) -> LossyLine:
        lines.append(LossyLine(board(), to_board, to_host))
        return lines[-1]

    yield make
    for opened in lines:
        opened.close()


def run(port: str, audio: np.ndarray, **options: float) -> tuple[list[dict], dict]:
    with Device(port) as device:
        device.hello()
        device.send("scores on")
        assert device.wait_for("ack", 5.0, cmd="scores") is not None
        scores = [m for m in device.feed_audio(audio, **options) if m.get("type") == "scores"]  # type: ignore[arg-type]
        device.send("info")  # everything queued is processed before this is answered
        hello = device.wait_for("hello", 5.0)
        assert hello is not None
        return scores, hello


def test_a_lost_byte_and_a_lost_ack_are_retransmitted_without_doubling_audio(line, speech: np.ndarray) -> None:
    clean = line(keep, keep)
    expected, _ = run(clean.port, speech)
    assert len(expected) > 5

    def drop_a_byte(frame: bytes) -> bytes:  # the firmware sees a corrupted frame and answers with an error
        return frame[:40] + frame[41:]

    lossy = line(once(b"audio 3 ", drop_a_byte), once(b'"cmd":"audio","seq":7,', lambda _: None))
    got, _ = run(lossy.port, speech, ack_timeout=1.0)
    assert got == expected  # the same scores at the same times: nothing lost, nothing fed twice
    seen = b"".join(lossy.seen_by_host)
    assert b'"seq":7,' in seen and b'"repeat":true' in seen  # frame 7 was resent and acknowledged as a repeat
    assert seen.count(b'"cmd":"audio"') == -(-len(speech) // 512)  # one per frame (7: only its repeat)
    assert b"audio: " in seen or b"usage: audio" in seen  # the corrupted frame 3 got an error line


def test_a_frame_that_never_arrives_ends_in_one_clear_error(line, speech: np.ndarray) -> None:
    black_hole = line(lambda frame: None if frame.startswith(b"audio 4 ") else frame, keep)
    with pytest.raises(KwsError, match=r"audio frame 4 was not accepted after 3 attempts \(0.3 s each; last: no ack"):
        run(black_hole.port, speech, ack_timeout=0.3, retries=2)
