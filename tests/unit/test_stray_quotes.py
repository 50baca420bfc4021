"""The raw-byte watch for quoted values that go on after their closing quote, read in pieces of any size."""

from __future__ import annotations

import io
from typing import Any

import pytest

from uniware_source.conversion.stray_quotes import AlteredValue, QuoteWatch, first_altered_value


def _watched(data: bytes, piece: int) -> bool:
    watch = QuoteWatch(io.BytesIO(data))
    while watch.read(piece):
        pass
    return watch.suspect


@pytest.mark.parametrize("dense", [False, True], ids=["few-quotes", "every-value-quoted"])
@pytest.mark.parametrize("piece", [1, 2, 7, 1000, 1 << 20])
@pytest.mark.parametrize("stray, suspect", [("", False), ('x"y', True), ('x"""y', True), ('x""y', False),
                                            ('x"",', True), ('x""\n', True), ('x""",', False)])
def test_a_stray_quote_is_seen_wherever_the_reads_cut_the_file(dense: bool, piece: int, stray: str,
                                                                suspect: bool) -> None:
    row = ",".join(f'"value {i}, text"' if dense else f"v{i}" for i in range(40)) + "\r\n"
    text = row * 300
    text = text[:-5000] + stray + text[-5000:]
    assert _watched(text.encode(), piece) is suspect


@pytest.mark.parametrize("raw, found", [
    ('a,b\n1,"32" TV\n', (2, 1, '"32" TV')),
    ('a,b\n1,"ok ""q"""\n2,32" TV\n3,"x,\ny" z",w\n', (4, 1, '"x,\ny" z"')),
    ('a,b\n1,32" TV\n', None),  # a quote inside an unquoted value is read as written
    ('a,b\n1, "32 TV"\n', (2, 1, ' "32 TV"', True)),  # quoted after a blank: read unquoted, quotes kept
    ('a,b\n1,"x"\n2,\t""\n', (3, 1, '\t""', True)),
    ('a,b\n1, 32" TV"\n2,32 "TV"\n', None),  # not quoted after blanks: as written
    ('a,b\n1," ""Pereira, Sofia"""\n2,"Size ""M"", Red"\n', None),  # quoted by the rules: blank and quotes inside
    ('a,b\n1," ""x"""\n2, "Flat 2\nMG Road"\n', (3, 1, ' "Flat 2', True)),  # the quote after a blank opens nothing
    ('a,b,c\n"1,2", "x",3\n', (2, 1, ' "x"', True)),  # a quoted field before it, with a separator inside
    ('a,b\n1, "Best" seller\n2,x\n3,"32"", black"\n', None),  # quotes inside an unquoted value, as written
    ('a,b\n1, "x" \n', (2, 1, ' "x" ', True)),  # blanks after the closing quote too
])
def test_the_strict_reading_names_the_row_the_column_and_the_value(raw: str, found: tuple[Any, ...] | None
                                                                   ) -> None:
    altered = first_altered_value(lambda: io.BytesIO(raw.encode()))
    assert altered == (found and AlteredValue(*found))
