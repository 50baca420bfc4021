"""A fingerprint of a file's rows whatever their order: what tells two files of an export without a key apart.

An export with a key compares files by their keys (key_check.py). Without one, only the bytes were compared,
so a file host that served one window's rows for another window's job, in another order, had both jobs land
the same rows (and the second window's rows never). The fingerprint is the count and the sum of the CRC-32s
of the file's lines (the same multiset of lines, the same fingerprint): CR and LF both end a line, empty lines
and a leading byte-order mark do not count. A row whose value holds a line break is several lines, which the
same row gives alike. Not told the same: the same rows with the columns in another order, or quoted otherwise.
Measured on the benchmark's 1M-row, 40-column file (455 MB): 0.6-0.8 s of CPU beside the parse, about 1 s of
the append export's run (nineteenth session's benchmark).
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"
PREFIX = "lines:"  # a fingerprint's kind (key fingerprints are digits)


class LineFingerprint(io.RawIOBase):
    """The bytes of `handle`, unchanged; `value` is the fingerprint of the lines read so far (a line the
    reader has not finished counts once the file ends: read it to the end first)."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__()
        self._handle = handle
        self._tail = b""
        self._started = False
        self._lines = 0
        self._sum = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # what pyarrow calls
        data = self._handle.read(size)
        self._add(data)
        return data

    def _add(self, data: bytes) -> None:
        if not data:
            return
        if not self._started:  # the mark may come over several reads
            data = self._tail + data
            if len(data) < len(BOM) and BOM.startswith(data):
                self._tail = data
                return
            self._started, self._tail = True, b""
            data = data[len(BOM):] if data.startswith(BOM) else data
        data = self._tail + data
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if end < 0:
            self._tail = data
            return
        self._count(data[:end])
        self._tail = data[end + 1:]

    def _count(self, block: bytes) -> None:
        lines = (block.replace(b"\r", b"\n") if b"\r" in block else block).split(b"\n")
        self._lines += len(lines) - lines.count(b"")
        self._sum += sum(map(zlib.crc32, lines))

    def value(self) -> str:
        """`lines:<count>:<sum of CRC-32s>`, the unfinished last line included."""
        lines, total = self._lines, self._sum
        if self._tail:
            lines, total = lines + 1, total + zlib.crc32(self._tail)
        return f"{PREFIX}{lines}:{total}"

    def close(self) -> None:
        self._handle.close()
        super().close()
