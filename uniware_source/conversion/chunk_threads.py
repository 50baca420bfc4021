"""The converter's threads: parsed chunks read one ahead, and load files written in the background, so
parsing, typing and encoding overlap on two cores."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.csv as pacsv

from .load_files import PARQUET, ChunkWriter, open_writer


class BackgroundWriter:
    """Writes row groups (or CSV lines) on its own thread, so encoding one chunk overlaps parsing the next."""

    def __init__(self, path: Path, schema: pa.Schema, load_format: str = PARQUET,
                 dictionary: Optional[list[str]] = None) -> None:
        self._queue: queue.Queue[Optional[pa.Table]] = queue.Queue(maxsize=1)
        self._error: Optional[BaseException] = None
        self._writer: ChunkWriter = open_writer(load_format, path, schema, dictionary)
        self._thread = threading.Thread(target=self._run, name="uniware-parquet", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as error:  # re-raised by write() or close()
                    self._error = error

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error


def regrouped(reader: pacsv.CSVStreamingReader, rows: int, max_bytes: int) -> Generator[pa.RecordBatch, None, None]:
    """The reader's small batches, concatenated into batches of `rows` rows, or fewer once they hold
    `max_bytes` (wide files: thousands of columns make each row large). A parse error comes as
    ParseFailed (told apart from errors of the chunk's consumer)."""
    pending: list[pa.RecordBatch] = []
    count = size = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as error:
            raise ParseFailed(error) from None
        pending.append(batch)
        count += batch.num_rows
        size += batch.nbytes
        if count >= rows or size >= max_bytes:
            yield pa.concat_batches(pending)
            pending, count, size = [], 0, 0
    if pending:
        yield pa.concat_batches(pending)


def read_ahead(batches: Generator[pa.RecordBatch, None, None]) -> Generator[pa.RecordBatch, None, None]:
    """`batches`, produced on a thread of their own one chunk ahead, so the next chunk parses while this
    one is typed (the converter's wall time on the 1M-row Sale Orders file 5.0 -> 3.6 s). When the
    consumer stops (an error, an interrupt), so does the producer, at its next chunk or when the file it
    reads is closed (a followed download wakes its waiting read then): never joined, it cannot hold the
    consumer up."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def offer(kind: str, item: Any) -> bool:
        while not stopped.is_set():
            try:
                handoff.put((kind, item), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer("batch", batch):
                    return
            offer("end", None)
        except BaseException as error:  # raised again on the consumer's side
            offer("error", error)
        finally:
            batches.close()

    threading.Thread(target=produce, name="uniware-csv", daemon=True).start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stopped.set()


class ParseFailed(Exception):
    """pyarrow's parse error, from the reading thread: explained (see `_parse_error`) by the consumer."""

    def __init__(self, error: pa.ArrowInvalid) -> None:
        super().__init__(str(error))
        self.error = error
