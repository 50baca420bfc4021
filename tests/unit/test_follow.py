"""Converting a file while it downloads (jobs/follow.py): readers see exactly the finished file's bytes,
the end only once the download completed, and a restart or a failed download as an error, never as data."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from uniware_source.catalog import CATALOG
from uniware_source.conversion.chunk_threads import read_ahead
from uniware_source.conversion.column_names import ColumnNames
from uniware_source.conversion.csv_to_parquet import ConvertedFile, CsvConverter, Lineage
from uniware_source.conversion.key_check import KeyStore
from uniware_source.jobs.follow import DownloadAbandoned, DownloadRestarted, FollowedFile


class Download:
    """Plays the downloader: appends chunks to the file and tells the FollowedFile, as FileDownloader does."""

    def __init__(self, path: Path) -> None:
        self.followed = FollowedFile(path)
        self.out = open(path, "wb")  # noqa: SIM115 (closed by end(), as the downloader does)
        self.received = 0

    def store(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.out.flush()
        self.received += len(chunk)
        self.followed.stored(self.received)

    def restart(self) -> None:
        self.followed.restarted()
        self.out.seek(0)
        self.out.truncate()
        self.received = 0

    def end(self, complete: bool) -> None:
        self.out.close()
        self.followed.ended(complete)


def _read_all_in_thread(followed: FollowedFile, started: threading.Event) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def read() -> None:
        try:
            with followed.open() as reader:
                started.set()
                outcome.append(reader.read())
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=read)
    thread.start()
    return thread, outcome


def test_a_reader_gets_every_byte_and_the_end_only_when_the_download_completed(tmp_path: Path) -> None:
    download = Download(tmp_path / "f.csv")
    download.store(b"a,b\n1,2\n")
    started = threading.Event()
    thread, outcome = _read_all_in_thread(download.followed, started)
    started.wait()
    for number in range(200):  # the reader is at the stored end meanwhile: it must wait, not stop
        download.store(f"{number},x\n".encode())
    download.end(complete=True)
    thread.join()
    assert outcome == [(tmp_path / "f.csv").read_bytes()]


@pytest.mark.parametrize("ending", ["restart", "abandon"])
def test_a_restart_or_a_failed_download_is_an_error_to_the_reader_never_an_end(tmp_path: Path, ending: str) -> None:
    download = Download(tmp_path / "f.csv")
    download.store(b"a,b\n1,2\n")
    started = threading.Event()
    thread, outcome = _read_all_in_thread(download.followed, started)
    started.wait()
    if ending == "restart":
        download.restart()
        download.store(b"a,b\n")
        download.end(complete=True)
    else:
        download.end(complete=False)
    thread.join()
    expected = DownloadRestarted if ending == "restart" else DownloadAbandoned
    assert len(outcome) == 1 and isinstance(outcome[0], expected), outcome
    assert download.followed.ever_restarted == (ending == "restart")


def _rows(count: int) -> Iterator[bytes]:
    yield b"Sale Order Item Code,Sale Order Code,Created,Updated,Selling Price,Item SKU Code\n"
    for number in range(count):
        yield (f"SOI{number},SO{number // 2},2026-04-0{1 + number % 9} 10:{number % 60:02d}:00,"
               f"2026-04-1{number % 9} 11:00:00,{number % 997}.5,SKU{number % 13}\n").encode()


def test_converting_while_the_file_arrives_gives_the_file_converted_whole(tmp_path: Path) -> None:
    """The converter reads through a follower (small parse blocks, so it parses many times while bytes
    still arrive); its Parquet equals that of the finished file converted from disk."""
    spec = replace(CATALOG["Sale Orders"], columns=())  # a few columns of it: no check of the requested ones
    lineage = Lineage("JOB1", "BLR01", None, None, None)

    def converter() -> CsvConverter:
        names = ColumnNames(None, normalize=NamingConvention().normalize_identifier, reserved=(),
                            fixed=list(spec.primary_key))
        return CsvConverter(spec, names, key_store=keys, block_size=4096)

    keys = KeyStore()
    path = tmp_path / "file.csv"
    download = Download(path)
    result: list[object] = []
    first_chunk = threading.Event()

    def convert() -> None:
        first_chunk.wait()
        try:
            result.append(converter().convert(path, tmp_path / "followed.parquet", lineage, "job",
                                              source=download.followed.open))
        except Exception as error:
            result.append(error)

    thread = threading.Thread(target=convert)
    thread.start()
    for chunk in _rows(5000):
        download.store(chunk)
        first_chunk.set()
    download.end(complete=True)
    thread.join()
    whole = converter().convert(path, tmp_path / "whole.parquet", lineage, "job")
    followed = result[0]
    assert isinstance(followed, ConvertedFile), followed
    assert followed.rows == whole.rows == 5000
    assert pq.read_table(tmp_path / "followed.parquet").equals(pq.read_table(tmp_path / "whole.parquet"))
    assert pa.types.is_timestamp(pq.read_schema(tmp_path / "whole.parquet").field("created").type)
    keys.close()


def test_a_conversion_that_fails_early_does_not_wait_for_the_download_to_end(tmp_path: Path) -> None:
    """A bad value in the first rows fails the conversion while the download goes on: closing the file
    wakes pyarrow's read-ahead, which waits for more bytes, instead of waiting for the download."""
    spec = replace(CATALOG["Sale Orders"], columns=())  # a few columns of it: no check of the requested ones
    names = ColumnNames(None, normalize=NamingConvention().normalize_identifier, reserved=(),
                        fixed=list(spec.primary_key))
    keys = KeyStore()
    path = tmp_path / "file.csv"
    download = Download(path)
    rows = list(_rows(80000))  # enough for pyarrow to read ahead and type a first chunk while bytes still come
    rows[2] = rows[2].replace(b"2026-04-", b"20X6-04-", 1)  # the second data row: not a valid timestamp
    for chunk in rows:
        download.store(chunk)
    outcome: list[BaseException] = []

    def convert() -> None:
        try:
            CsvConverter(spec, names, key_store=keys).convert(path, tmp_path / "out.parquet",
                                                               Lineage("JOB1", "BLR01", None, None, None), "job",
                                                               source=download.followed.open)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=convert)
    thread.start()
    thread.join(timeout=60)  # a guard against a hang, not a timing: the download never ends before this
    ended_first = thread.is_alive()
    download.end(complete=True)
    thread.join()
    assert not ended_first, "the conversion waited for the download to end"
    assert len(outcome) == 1 and "row 3 (header is row 1)" in str(outcome[0]), outcome
    assert not (tmp_path / "out.parquet").exists()
    keys.close()


def test_chunks_read_ahead_arrive_in_order_with_the_readers_error_and_stop_with_the_consumer() -> None:
    """The reading thread hands over every chunk in order and then its error; when the consumer stops
    early, the thread stops too (it reads at most the chunk in hand and one more) and closes the source."""
    taken: list[int] = []
    closed = threading.Event()

    def chunks(count: int, fail: bool) -> Generator[Any, None, None]:
        try:
            for number in range(count):
                taken.append(number)
                yield number
            if fail:
                raise ValueError("row 7: not a number")
        finally:
            closed.set()

    seen: list[int] = []
    with pytest.raises(ValueError, match="row 7"):
        for chunk in read_ahead(chunks(5, fail=True)):
            seen.append(chunk)
    assert seen == [0, 1, 2, 3, 4]

    taken.clear()
    closed.clear()
    early = read_ahead(chunks(1000, fail=False))
    assert [next(early), next(early)] == [0, 1]
    early.close()
    assert closed.wait(timeout=30), "the reading thread went on after the consumer stopped"
    assert len(taken) <= 4, taken
