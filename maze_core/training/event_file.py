"""TensorBoard event files, written directly: scalars only, without importing TensorBoard.

``torch.utils.tensorboard`` costs 0.1-0.2 s of every run's start-up (TensorBoard's protobuf modules
and a writer thread) for what is a few bytes per scalar: an ``Event`` protobuf with a ``Summary``
of ``simple_value`` s, framed as a TFRecord (length, data, each with a masked CRC-32C). TensorBoard
reads these files as its own; ``tests/training/test_run_context.py`` reads them with TensorBoard's
``EventAccumulator``.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # Castagnoli, reflected
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum of TFRecord frames."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> bytes:
    crc = crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def tfrecord(data: bytes) -> bytes:
    """One TFRecord frame: length, its masked CRC, the data, its masked CRC."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


# --- the few protobuf encodings an Event of scalars needs ----------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def event(
    wall_time: float, step: int = 0, scalars: Mapping[str, float] | None = None, file_version: str = ""
) -> bytes:
    """A serialized ``tensorflow.Event``: wall_time (1), step (2), file_version (3), and a summary
    (5) whose values (1) each hold a tag (1) and a simple_value (2)."""
    if step < 0:
        raise ValueError(f"an event's step must be >= 0, got {step}")
    data = _key(1, 1) + struct.pack("<d", wall_time) + _key(2, 0) + _varint(step)
    if file_version:
        data += _length_delimited(3, file_version.encode())
    if scalars:
        values = (
            _length_delimited(1, _length_delimited(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value))
            for tag, value in scalars.items()
        )
        data += _length_delimited(5, b"".join(values))
    return data


class EventFile:
    """An event file that this process creates in ``log_dir`` and appends whole records to.

    The file is new (``O_EXCL``, never through a link) and its name ends in ``suffix``, so that
    nothing placed beforehand is written through; records are appended in place rather than by
    rewriting, because TensorBoard follows a growing file by its offset.
    """

    def __init__(self, log_dir: str | Path, suffix: str = ""):
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}{suffix}"
        self.path = Path(log_dir) / name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self._fd: int | None = os.open(self.path, flags, 0o644)
        self._append(event(time.time(), file_version="brain.Event:2"))

    def add_scalars(self, scalars: Mapping[str, float], step: int) -> None:
        """One event holding every scalar at ``step``."""
        self._append(event(time.time(), step, {tag: float(value) for tag, value in scalars.items()}))

    def _append(self, data: bytes) -> None:
        record = memoryview(tfrecord(data))
        while record:
            record = record[os.write(self._fd, record) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
