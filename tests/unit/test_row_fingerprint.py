"""The rows' fingerprint of a file without a key: the same rows in any order and with any line ends match."""

from __future__ import annotations

import io

import pytest

from uniware_source.conversion.row_fingerprint import LineFingerprint

FILE = b'Date,Invoice,Note\n2026-04-01,I1,"two\nlines"\n2026-04-01,I2,plain\n2026-04-02,I3,""\n'


def fingerprint(data: bytes, block: int = 7) -> str:
    reader = LineFingerprint(io.BytesIO(data))
    while reader.read(block):
        pass
    return reader.value()


@pytest.mark.parametrize("same", [
    FILE,
    b'Date,Invoice,Note\n2026-04-02,I3,""\n2026-04-01,I2,plain\n2026-04-01,I1,"two\nlines"\n',  # reordered
    b"\xef\xbb\xbf" + FILE.replace(b"\n", b"\r\n"),  # a byte-order mark and CRLF
    FILE.rstrip(b"\n"),  # no line break after the last row
    FILE.replace(b"\n", b"\r"),  # CR alone
])
def test_the_same_rows_have_the_same_fingerprint_in_any_order_and_line_ends(same: bytes) -> None:
    assert fingerprint(same) == fingerprint(FILE) == fingerprint(FILE, block=1 << 20) == fingerprint(same, block=1)


@pytest.mark.parametrize("other", [
    FILE.replace(b"I2", b"I4"),  # a value changed
    FILE + b"2026-04-02,I3,\n",  # a row more
    FILE.replace(b"2026-04-01,I2,plain\n", b""),  # a row fewer
])
def test_other_rows_have_another_fingerprint(other: bytes) -> None:
    assert fingerprint(other) != fingerprint(FILE)
