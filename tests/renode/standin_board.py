"""A stand-in for an Arduino Nano 33 BLE and its bootloader on pseudo-terminals, for host/flash.py's upload.

The sketch's port is a pseudo-terminal. Opening it at 1200 baud (the Arduino core's reset request) makes the
"board" reset into its bootloader: a second pseudo-terminal appears that speaks the SAM-BA dialect of the
Arduino nRF52840 bootloader as bossac 1.9.1-arduino uses it (binary mode, version with the [Arduino:IKXYZ]
extensions, chip identification, chip erase, buffer upload and write, reset). The bootloader writes what
bossac sends for offset 0 at the application's start, 0x10000. After the reset the flashed bytes are
handed to `boot`, which runs them and returns a serial URL of the running firmware; the sketch's port is
then bridged to it, so the host talks to what was flashed.
"""

from __future__ import annotations

import os
import select
import socket
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

APP_START = 0x10000
FLASH_SIZE = 0x100000


@dataclass
class Upload:
    """What the bootloader saw."""

    identified: bool = False
    erased_from: int | None = None
    writes: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) as bossac sent them
    flash: bytearray = field(default_factory=bytearray)  # from APP_START
    reset: bool = False


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class StandInBoard:
    def __init__(self, boot: Callable[[bytes], str]) -> None:
        self.boot = boot
        self.sketch_master, self.sketch_slave, self.port = _pty()
        self.bootloader_port: str | None = None
        self.touched = threading.Event()
        self.booted = threading.Event()
        self.upload = Upload()
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._guard(self._sketch), daemon=True)]
        self.threads[0].start()

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as e:  # reported by the test
                self.error = e

        return run

    # The sketch: wait for the 1200-baud touch (the slave's termios keep the speed while we hold it open).
    def _sketch(self) -> None:
        while not self.stop.is_set():
            if termios.tcgetattr(self.sketch_slave)[4] == termios.B1200:
                break
            time.sleep(0.01)
        else:
            return
        self.touched.set()
        master, slave, path = _pty()
        self._boot_fds = (master, slave)
        self.bootloader_port = path
        self._bootloader(master)
        url = self.boot(bytes(self.upload.flash))
        self.booted.set()
        self._bridge(url)

    # The bootloader: SAM-BA commands end with '#'; 'S' is followed by its data in binary.
    def _bootloader(self, fd: int) -> None:
        buffers: dict[int, bytes] = {}
        source = 0
        pending = b""

        def read_exactly(n: int) -> bytes:
            nonlocal pending
            while len(pending) < n:
                pending += self._read(fd)
            data, pending = pending[:n], pending[n:]
            return data

        while not self.stop.is_set():
            while b"#" not in pending:
                pending += self._read(fd)
            command, pending = pending.split(b"#", 1)
            command = command.lstrip(b"\r\n\x80")
            letter, args = chr(command[0]), [int(a, 16) for a in command[1:].split(b",") if a]
            if letter == "N":
                os.write(fd, b"\n\r")
            elif letter == "V":
                os.write(fd, b"Arduino Bootloader (SAM-BA extended) 2.0 [Arduino:IKXYZ]\n\r")
            elif letter == "I":
                self.upload.identified = True
                os.write(fd, b"nRF52840-QIAA\n\r")
            elif letter == "X":
                self.upload.erased_from = args[0]
                self.upload.flash = bytearray()
                os.write(fd, b"X\n\r")
            elif letter == "S":
                buffers[args[0]] = read_exactly(args[1])
            elif letter == "Y" and args[1] == 0:
                source = args[0]
                os.write(fd, b"Y\n\r")
            elif letter == "Y":
                offset, size = args
                self.upload.writes.append((offset, size))
                if APP_START + offset + size > FLASH_SIZE:
                    raise ValueError(f"write past the end of flash: offset {offset:#x}, {size} bytes")
                data = buffers[source][:size]
                end = offset + size
                if len(self.upload.flash) < end:
                    self.upload.flash.extend(b"\xff" * (end - len(self.upload.flash)))
                self.upload.flash[offset:end] = data
                os.write(fd, b"Y\n\r")
            elif letter == "Z":
                offset, size = args
                os.write(fd, b"Z%08X#\n\r" % _crc16(bytes(self.upload.flash[offset : offset + size])))
            elif letter in "WO":  # bossac's word-copy applet and its registers: not needed here
                pass
            elif letter in "wo":
                os.write(fd, bytes(4 if letter == "w" else 1))
            elif letter == "K":
                self.upload.reset = True
                return
            else:
                raise ValueError(f"unexpected SAM-BA command {command!r}")

    def _read(self, fd: int) -> bytes:
        while not self.stop.is_set():
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    return os.read(fd, 65536)
                except OSError:  # the other side closed: wait for it to open again
                    time.sleep(0.05)
        raise EOFError("stopped")

    # The running firmware: bytes between the sketch's port and the firmware's serial socket.
    def _bridge(self, url: str) -> None:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.setblocking(False)
            while not self.stop.is_set():
                ready, _, _ = select.select([self.sketch_master, conn], [], [], 0.1)
                if conn in ready:
                    data = conn.recv(65536)
                    if not data:
                        return
                    os.write(self.sketch_master, data)
                if self.sketch_master in ready:
                    try:
                        conn.sendall(os.read(self.sketch_master, 65536))
                    except OSError:  # nobody has the sketch's port open right now
                        time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=3)
        for fd in (self.sketch_master, self.sketch_slave, *getattr(self, "_boot_fds", ())):
            os.close(fd)


def _crc16(data: bytes) -> int:
    """CRC-16/XMODEM, as bossac's checksumBuffer expects."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc
