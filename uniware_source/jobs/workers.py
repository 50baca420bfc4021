"""Runs many export jobs at once: poll, download and convert on worker threads, report by events.

dlt extracts on one thread; the export resources consume this collector's events there and own all
state changes. The workers only talk to Uniware and the disk, so a run waits for its slowest job,
not the sum of them, and files stream and convert while other jobs are still pending.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union
from urllib.parse import unquote

from ..client.api_call import UniwareClient
from ..client.download import DownloadedFile, DownloadLimits, FileDownloader, describe_url
from ..client.file_link import FileLink, resolve_file_link
from ..client.interruptible import cut, release
from ..client.sessions import file_client
from ..clock import Clock
from ..conversion.csv_to_parquet import ConvertedFile, CsvConverter, Lineage
from ..errors import CsvFormatError, DownloadError, InvalidFileError
from ..redact import redact, scrub_exception
from ..scratch import scratch_dir, sweep_abandoned
from ..settings import PollPolicy, Settings
from ..statuses import Outcome
from .follow import DownloadAbandoned, DownloadRestarted, FollowedFile
from .poll import Observation, PollResult, wait_for_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobTicket:
    """One submitted job to see through."""

    table_name: str
    entry_key: str
    job_code: str
    label: str
    lineage: Lineage
    polls_before: int = 0
    last_status: Optional[str] = None
    doubt: Optional[str] = None  # what an earlier run saw that says the job has a file or rows


@dataclass(frozen=True)
class StatusChanged:
    ticket: JobTicket
    observation: Observation


@dataclass(frozen=True)
class Doubted:
    """The job said it has a file or rows (see jobs/poll.py): never to be taken as empty."""

    ticket: JobTicket
    reason: str


@dataclass(frozen=True)
class FileReady:
    ticket: JobTicket
    download: DownloadedFile
    converted: ConvertedFile
    polls: int
    status: Optional[str]
    seconds_waiting: float
    seconds_transferring: float


@dataclass(frozen=True)
class JobEnded:
    """The job ended without a file to load: empty, failed, timed out, stopped, or a bad file."""

    ticket: JobTicket
    outcome: Outcome
    status: Optional[str]
    reason: str
    polls: int
    file: Optional[tuple[str, str]] = None  # (host, path) of a file that could not be loaded


@dataclass(frozen=True)
class Crashed:
    """Something no retry will fix (bad credentials, a bug): the run must stop."""

    ticket: JobTicket
    error: BaseException


Event = Union[StatusChanged, Doubted, FileReady, JobEnded, Crashed]


class JobCollector:
    def __init__(self, client: UniwareClient, downloader: FileDownloader, clock: Clock, policy: PollPolicy, *,
                 max_workers: int, max_parallel_conversions: int = 2, download_dir: Optional[Path] = None) -> None:
        self._client = client
        self._downloader = downloader
        self._clock = clock
        self._policy = policy
        self._pool = ThreadPoolExecutor(max(1, max_workers), thread_name_prefix="uniware-job")
        # a conversion that follows its download takes one of the same slots (try, never wait), on a thread of its own
        self._converting = ThreadPoolExecutor(max(1, max_parallel_conversions), thread_name_prefix="uniware-follow")
        self._conversions = threading.BoundedSemaphore(max(1, max_parallel_conversions))
        self._queues: dict[str, queue.Queue[Event]] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self._working: set[int] = set()  # the worker threads seeing a job through (their requests can be cut)
        sweep_abandoned(download_dir)  # what runs killed outright (SIGKILL) left behind
        self.workdir = scratch_dir("", download_dir)

    def _queue(self, table_name: str) -> queue.Queue[Event]:
        with self._lock:
            return self._queues.setdefault(table_name, queue.Queue())

    def start(self, tickets: list[JobTicket], converter: CsvConverter) -> None:
        for ticket in tickets:
            self._pool.submit(self._run, ticket, converter, self._queue(ticket.table_name))

    def next_event(self, table_name: str, timeout: float) -> Optional[Event]:
        try:
            return self._queue(table_name).get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.stop.set()
        with self._lock:
            working = list(self._working)
        cut(working)  # a request waiting on a slow answer ends now, not at its read timeout
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            release(working)
        self._converting.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self, ticket: JobTicket, converter: CsvConverter, events: queue.Queue[Event]) -> None:
        ident = threading.get_ident()
        with self._lock:
            self._working.add(ident)
        try:
            events.put(self._see_through(ticket, converter, events.put))
        except BaseException as error:
            log.debug("%s: worker failed: %s", ticket.label, redact(error))
            events.put(Crashed(ticket, scrub_exception(error)))  # re-raised on dlt's thread, into its trace
        finally:
            with self._lock:
                self._working.discard(ident)

    def _see_through(self, ticket: JobTicket, converter: CsvConverter,
                     emit: Callable[[Event], None]) -> Event:
        started = self._clock.monotonic()
        result: PollResult = wait_for_job(
            self._client, ticket.job_code, clock=self._clock, policy=self._policy,
            on_change=lambda observation: emit(StatusChanged(ticket, observation)),
            stop=self.stop, label=ticket.label, polls_before=ticket.polls_before, last_status=ticket.last_status,
            facility=ticket.lineage.facility, doubt_before=ticket.doubt,
            on_doubt=lambda reason: emit(Doubted(ticket, reason)),
        )
        if result.outcome != Outcome.COMPLETED or result.file_url is None:
            return JobEnded(ticket, result.outcome, result.status, result.reason, result.polls)
        waited = self._clock.monotonic() - started
        csv_path = self.workdir / f"{file_stem(ticket)}.csv"  # one file per export and job
        try:
            link = resolve_file_link(result.file_url, self._client.base_url)  # relative: the Uniware host
            where = describe_url(link.url)
        except ValueError as error:  # never the link itself in the message: its query string may be a key
            return JobEnded(ticket, Outcome.DOWNLOAD_FAILED, result.status,
                            f"the job's file link cannot be read as a URL ({redact(error)})", result.polls)
        try:
            download, converted = self._transfer(ticket, converter, link, csv_path)
        except InvalidFileError as error:
            return JobEnded(ticket, Outcome.INVALID_FILE, result.status, redact(error), result.polls, where)
        except DownloadError as error:
            return JobEnded(ticket, Outcome.DOWNLOAD_FAILED, result.status, redact(error), result.polls, where)
        except CsvFormatError as error:
            return JobEnded(ticket, Outcome.PARSE_FAILED, result.status, str(error), result.polls, where)
        finally:
            csv_path.unlink(missing_ok=True)
        transferred = self._clock.monotonic() - started - waited
        return FileReady(ticket, download, converted, result.polls, result.status, waited, transferred)

    def _transfer(self, ticket: JobTicket, converter: CsvConverter, link: FileLink,
                  csv_path: Path) -> tuple[DownloadedFile, ConvertedFile]:
        """Download the file and convert it: while it arrives (jobs/follow.py) when a conversion slot is
        free now, else once it is complete (waiting for a slot then: conversions stay bounded). A
        conversion that followed counts only when the download completed without ever starting again
        from byte 0; otherwise the complete file is converted again. A download error wins over a
        conversion error."""
        source_name = unquote(describe_url(link.url)[1].rsplit("/", 1)[-1])
        load_file = self.workdir / f"{file_stem(ticket)}.load.{converter.load_format}"
        tokens = self._client.tokens if link.with_token else None
        if not self._conversions.acquire(blocking=False):
            download = self._downloader.fetch(link.url, csv_path, ticket.label, self.stop, tokens=tokens)
            return download, self._convert(converter, csv_path, load_file, ticket, source_name)
        try:
            followed = FollowedFile(csv_path)
            streamed = self._converting.submit(converter.convert, csv_path, load_file, ticket.lineage, ticket.label,
                                               source_name=source_name, source=followed.open)
            complete = False
            try:
                download = self._downloader.fetch(link.url, csv_path, ticket.label, self.stop, tokens=tokens,
                                                  observer=followed)
                complete = True
            finally:
                followed.ended(complete)
                if not complete:
                    _settle(streamed, converter, ticket.label)
            converted: Optional[ConvertedFile]
            try:
                converted = streamed.result()
            except (DownloadRestarted, DownloadAbandoned):
                converted = None
            except CsvFormatError:
                if not followed.ever_restarted:
                    raise
                converted = None
        finally:
            self._conversions.release()
        if converted is None or followed.ever_restarted:
            if converted is not None:
                converter.discard(converted)
            converted = self._convert(converter, csv_path, load_file, ticket, source_name)
        return download, converted

    def _convert(self, converter: CsvConverter, csv_path: Path, load_file: Path, ticket: JobTicket,
                 source_name: str) -> ConvertedFile:
        """Convert a complete file, when one of the conversion slots is free."""
        with self._conversions:
            return converter.convert(csv_path, load_file, ticket.lineage, ticket.label, source_name=source_name)


_PLAIN_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def file_stem(ticket: JobTicket) -> str:
    """`<table>.<job code>` for a job's files in the scratch directory; a code that is not plain (a slash, a
    dot, a long one: Uniware's text, never trusted as a path) is named by its digest instead."""
    code = ticket.job_code
    if not _PLAIN_CODE.fullmatch(code):
        code = "job-" + hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{ticket.table_name}.{code}"


def _settle(future: Future[ConvertedFile], converter: CsvConverter, label: str) -> None:
    """Wait for a conversion whose download failed; its outcome no longer matters (the download's error
    is reported): it ends at once, woken by the failed download."""
    try:
        converted = future.result()
    except (DownloadAbandoned, DownloadRestarted, CsvFormatError):
        return
    except Exception as error:  # reported by the download's error; kept for debugging
        log.debug("%s: the conversion that followed a failed download failed too: %s", label, redact(error))
        return
    converter.discard(converted)


def job_collector(client: UniwareClient, settings: Settings, clock: Clock) -> JobCollector:
    """The job workers of one source, as its settings say: a worker per job in flight, downloads bounded."""
    http = settings.http
    downloader = FileDownloader(file_client(http), clock, timeout=http.timeout, max_attempts=http.download_max_attempts,
                                limits=DownloadLimits(http.download_max_bytes, http.download_timeout_seconds,
                                                      http.download_stall_timeout_seconds))
    return JobCollector(client, downloader, clock, settings.poll, max_workers=settings.max_concurrent_jobs,
                        download_dir=Path(settings.download_dir) if settings.download_dir else None)
