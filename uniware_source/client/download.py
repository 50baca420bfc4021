"""Stream an export file to disk: no credentials sent, bounded, length verified, truncation resumed,
HTML refused.

The file lives on an object store (another host). Nothing from Uniware's session goes there: the
download session has no Authorization header. Only a file on the Uniware host itself (a relative
`filePath`, see file_link.py) is fetched with the bearer token, renewed once after a 401. A short
body is resumed with an HTTP Range request (or restarted when the server ignores ranges). Every file
is bounded: `download_max_bytes` (an announced size above it is refused up front, a stream that
passes it is cut), a wall-clock deadline across all attempts (`download_timeout_seconds`, enforced
between chunks, and no socket wait is longer than what is left of it) and a stall timeout
(`download_stall_timeout_seconds`: no byte for that long ends the attempt). The free space of the
download directory is checked against the announced size, and a full disk is a clear error, not a
broken connection to retry. A partial file is removed on every way out.

Downloads ask for ``Accept-Encoding: identity``. A server that still answers gzip or deflate is
decoded here, chunk by chunk: the announced length is compared with the bytes on the wire, the
checksum and size recorded are those of the decoded file as stored, and a break restarts from byte
0 (a Range cannot be applied to a stream that was stored decoded).

The URL is never logged or put in an error with anything but scheme, host(:port) and path: the
query string of a presigned link and the userinfo of a link are credentials.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import logging
import shutil
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, Optional, Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from dlt.sources.helpers.requests import Client

from ..clock import Clock
from ..errors import DownloadError, InvalidFileError
from ..redact import SECRETS, excerpt, redact
from ..settings import DEFAULT_DOWNLOAD_MAX_BYTES
from .bearer import BearerTokens
from .interruptible import cut_after

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
IDENTITY = ("", "identity")
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@dataclass(frozen=True)
class DownloadedFile:
    path: Path
    bytes: int
    sha256: str
    host: str
    url_path: str  # without query string


@dataclass(frozen=True)
class DownloadLimits:
    """The bounds of one file's download (see README, "Configuration reference")."""

    max_bytes: int = DEFAULT_DOWNLOAD_MAX_BYTES
    timeout_seconds: float = 3600.0
    stall_seconds: float = 120.0


def describe_url(url: str) -> tuple[str, str]:
    """(host[:port], path) of a URL: no userinfo, query string or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return (f"{host}:{port}" if port is not None else host), parts.path


RESUME_OVERLAP = 64  # bytes a resume asks for again, to check its answer continues the file


# a link no attempt can fetch: a scheme other than http(s) (`s3://`, `ftp://`), no scheme, no host
UNFETCHABLE = (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema, requests.exceptions.InvalidURL)


class _Retry(Exception):
    """A recoverable interruption; the download resumes from what was received (or restarts)."""


class StoreObserver(Protocol):
    """Told what is in the file while it downloads (jobs/follow.py converts it meanwhile)."""

    def stored(self, received: int) -> None:
        """`received` bytes are written and flushed."""

    def restarted(self) -> None:
        """The file is about to be truncated to start again from byte 0."""


class _Progress:
    """Bytes stored so far (decoded) and their running checksum."""

    def __init__(self, observer: Optional[StoreObserver] = None) -> None:
        self.received = 0
        self.total: Optional[int] = None  # the announced size of the stored file, when known
        self.digest = hashlib.sha256()
        self.resumable = True  # False once an encoded body or a wrong 206 came: no more Range requests
        self.validator: Optional[str] = None  # the ETag (or Last-Modified) of the answer that began the file
        self.probe: Optional[int] = None  # a body ended by the connection closing, without a length: its size
        self.observer = observer
        self.tail = b""  # the last RESUME_OVERLAP bytes stored: a resume asks for them again
        self.repeat = b""  # what the body of the resume asked for must start with

    def add(self, out: BinaryIO, chunk: bytes) -> None:
        out.write(chunk)
        self.digest.update(chunk)
        self.received += len(chunk)
        self.tail = (self.tail + chunk[-RESUME_OVERLAP:])[-RESUME_OVERLAP:]
        if self.observer is not None:
            out.flush()
            self.observer.stored(self.received)

    def restart(self, out: BinaryIO) -> None:
        if self.observer is not None:
            self.observer.restarted()
        out.seek(0)
        out.truncate()
        self.received = 0
        self.total = None
        self.validator = None
        self.probe = None
        self.tail = self.repeat = b""
        self.digest = hashlib.sha256()


@dataclass
class _Job:
    """One file being fetched."""

    url: str
    target: Path
    where: str  # "download of host/path", for messages
    label: str
    stop: Optional[threading.Event]
    deadline: float
    tokens: Optional[BearerTokens] = None  # only for a file on the Uniware host itself
    token: str = ""  # the bearer token the last attempt sent
    renewed: bool = False


class FileDownloader:
    def __init__(self, http: Client, clock: Clock, *, timeout: tuple[float, float], max_attempts: int,
                 backoff_seconds: float = 1.0, limits: Optional[DownloadLimits] = None,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self._clock = clock
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._limits = limits or DownloadLimits()
        self._wall = wall  # network time is real time, whatever clock the connector waits with

    def fetch(self, url: str, target: Path, label: str, stop: Optional[threading.Event] = None,
              tokens: Optional[BearerTokens] = None, observer: Optional[StoreObserver] = None) -> DownloadedFile:
        """Download `url` into `target`; raises DownloadError or InvalidFileError (and removes `target`).
        `tokens` only for a file on the Uniware host itself: it is sent the bearer token. `observer`
        is told of every chunk stored and of every restart from byte 0."""
        SECRETS.add_url(url)
        host, path = describe_url(url)
        job = _Job(url, target, f"download of {host}{path}", label, stop,
                   self._wall() + self._limits.timeout_seconds, tokens)
        finished = False
        try:
            out = _open(job)
            try:
                progress = self._fetch(job, out, observer)
                try:
                    out.flush()  # no fsync: the file is scratch, and a crash means downloading again anyway
                except OSError as error:
                    _disk_error(job, error, progress.received)
            finally:
                with contextlib.suppress(OSError):  # only after a failed flush, whose error is on its way
                    out.close()
            if progress.total is not None and progress.received != progress.total:
                raise DownloadError(f"{job.where}: received {progress.received} bytes, the server announced "
                                    f"{progress.total}")
            finished = True
            return DownloadedFile(target, progress.received, progress.digest.hexdigest(), host, path)
        finally:
            if not finished:  # errors, stop, KeyboardInterrupt: never leave a partial file behind
                target.unlink(missing_ok=True)

    def _fetch(self, job: _Job, out: BinaryIO, observer: Optional[StoreObserver]) -> _Progress:
        progress = _Progress(observer)
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            self._check_deadline(job, progress)
            _check_stop(job)
            try:
                with cut_after(job.deadline - self._wall()):  # a read no timeout ends (a slow header)
                    self._attempt(job, out, progress)
                    if progress.probe is not None:  # an end without a length: asked, within this attempt
                        self._check_deadline(job, progress)
                        _check_stop(job)
                        self._confirm_end(job, out, progress)
                    if progress.probe is not None:  # its rest ended without a length too: asked on next attempt
                        raise _Retry(f"the rest of a body without a length ended without one too, after "
                                     f"{progress.received} bytes; its end is asked for again")
                return progress
            except _Retry as retry:
                _check_stop(job)  # a connection the stop cut is no failure to retry (nor to say as one)
                problem = str(retry)
                log.warning("%s: %s: %s (attempt %d of %d)", job.label, job.where, problem, attempt,
                            self._max_attempts)
                if attempt < self._max_attempts:
                    left = job.deadline - self._wall()
                    self._clock.sleep(max(0.0, min(self._backoff * attempt, left)), job.stop)
        raise DownloadError(f"{job.where}: gave up after {self._max_attempts} attempts (download_max_attempts); "
                            f"last problem: {problem}")

    def _check_deadline(self, job: _Job, progress: _Progress) -> float:
        """The seconds left before the file's deadline; raises DownloadError when none are."""
        left = job.deadline - self._wall()
        if left <= 0:
            limit = self._limits.timeout_seconds
            raise DownloadError(
                f"{job.where}: not complete after {limit:g} s ({progress.received} bytes stored); "
                f"raise download_timeout_seconds (SOURCES__UNIWARE__DOWNLOAD_TIMEOUT_SECONDS) if the file "
                f"host is that slow")
        return left

    def _attempt(self, job: _Job, out: BinaryIO, progress: _Progress) -> None:
        if progress.probe is not None:
            self._confirm_end(job, out, progress)
            return
        # a resume is checked by If-Range: without a strong ETag or Last-Modified nothing tells the rest
        # of this file from the rest of a replaced one of the same size, so the file comes whole again
        validator = progress.validator if progress.received > 0 and progress.resumable else None
        if validator is not None and _repeats_itself(progress.tail):
            validator = None  # (`,,,,` of empty columns) a shifted answer would repeat them too: whole again
        if progress.received and validator is None:
            progress.restart(out)
        headers = {}
        progress.repeat = b""
        if validator is not None:
            # from a few bytes back: the answer must repeat them, so a host whose ranges are off by some
            # bytes (Content-Range says one start, the body has another) is caught, not spliced
            progress.repeat = progress.tail
            headers["Range"] = f"bytes={progress.received - len(progress.repeat)}-"
            headers["If-Range"] = validator  # a changed file comes whole (200), not spliced
        with self._request(job, progress, headers) as response:
            self._receive(job, out, progress, response, validator is not None)

    def _request(self, job: _Job, progress: _Progress, extra: dict[str, str]) -> requests.Response:
        """GET the file (streamed) with `extra` headers; a failure to get an answer is a _Retry."""
        left = self._check_deadline(job, progress)
        headers = {"Accept-Encoding": "identity", **extra}
        if job.tokens is not None:
            job.token = job.tokens.bearer()
            headers["Authorization"] = f"bearer {job.token}"
        connect_timeout, read_timeout = self._timeout
        wait = min(read_timeout, self._limits.stall_seconds, left)
        failure: Optional[str] = None
        unfetchable = False
        started = self._wall()
        try:
            return self._http.get(job.url, headers=headers, stream=True, timeout=(min(connect_timeout, left), wait),
                                  hooks={"response": _remember_redirect})
        except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                ValueError) as error:  # ValueError: a malformed header or redirect Location
            failure = f"{type(error).__name__}: {redact(error)}"
            unfetchable = isinstance(error, UNFETCHABLE)
        # raised outside the except block: the original quotes the URL
        if unfetchable:  # the same link would fail the same way on every attempt
            raise DownloadError(f"{job.where}: the link (or a redirect's) cannot be fetched over HTTP(S) ({failure}); "
                                "not retried")
        self._check_deadline(job, progress)
        if self._wall() - started >= self._limits.stall_seconds:
            failure = f"no answer for {self._limits.stall_seconds:g} s (download_stall_timeout_seconds)"
        raise _Retry(failure)

    def _confirm_end(self, job: _Job, out: BinaryIO, progress: _Progress) -> None:
        """A body ended by the connection closing, with neither Content-Length nor chunked framing,
        may be cut short: ask for what follows its last byte. 416 (nothing) confirms it; 206 from that
        byte continues it; a server that cannot answer that is an error, never a file taken as whole."""
        size = progress.probe
        assert size is not None
        progress.repeat = b""
        headers = {"Range": f"bytes={size}-"}
        if progress.validator is not None:
            headers["If-Range"] = progress.validator
        with self._request(job, progress, headers) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise _Retry(f"HTTP {status} to the request past the end of the body")
            if status == 416:
                total = _content_range(response)[1]
                if total is not None and total != size:
                    progress.restart(out)
                    raise _Retry(f"the body ended after {size} bytes but the file has {total}; restarting "
                                 "from byte 0")
                progress.probe = None
                return
            if status == 401 and job.tokens is not None and not job.renewed:
                job.tokens.invalidate(job.token)
                job.renewed = True
                raise _Retry("HTTP 401 from the Uniware host; renewing the access token")
            if status == 206 and _content_range(response)[0] == size:
                # an encoded body cannot be continued, nor one naming no version (its rest may be another
                # file's, red team 134), nor one from a host whose ranges were wrong before: whole again
                if not progress.resumable or progress.validator is None:
                    progress.resumable = False
                    progress.restart(out)
                    raise _Retry(f"the body ended after {size} bytes without a length and a Range request past it "
                                 "was answered with HTTP 206, which cannot be taken as its rest (the body was "
                                 "encoded, named no version of the file by a strong ETag or Last-Modified, or its "
                                 "host's ranges were wrong before); restarting from byte 0, without ranges")
                progress.probe = None  # the body had been cut short: the rest follows
                self._receive(job, out, progress, response, resume=True)
                if progress.probe is not None and progress.received == size:  # no byte, no length: not a 416
                    progress.restart(out)
                    raise _Retry(f"the body ended after {size} bytes without a length and the server answered a "
                                 "Range request past it with an empty HTTP 206 without a length, not 416: its end "
                                 "is not confirmed; restarting from byte 0")
                return
            if status == 200 and self._same_again(job, progress, response):
                progress.probe = None  # no Range support, but a second whole read agrees
                return
            progress.restart(out)
            raise _Retry(f"the body ended after {size} bytes without a length and the server did not confirm "
                         f"its end (HTTP {status} to a Range request past it); restarting from byte 0")

    def _same_again(self, job: _Job, progress: _Progress, response: requests.Response) -> bool:
        """Whether a whole second answer (200) is the file as stored: by its Content-Length, or when it
        has none, by its bytes (read, decoded, never more than what is stored plus one chunk)."""
        stored = progress.received
        length = _content_length(response)
        if length is not None and response.headers.get("Content-Encoding", "").strip().lower() in IDENTITY:
            return length == stored
        digest = hashlib.sha256()
        count = 0
        try:
            for data in response.iter_content(CHUNK_SIZE):
                self._check_deadline(job, progress)
                _check_stop(job)
                count += len(data)
                if count > stored:
                    return False
                digest.update(data)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
            return False
        return count == stored and digest.hexdigest() == progress.digest.hexdigest()

    def _receive(self, job: _Job, out: BinaryIO, progress: _Progress, response: requests.Response,
                 resume: bool) -> None:
        status = response.status_code
        if resume and status == 416 and progress.total == progress.received:
            return
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}")
        if status == 401 and job.tokens is not None and not job.renewed:
            job.tokens.invalidate(job.token)
            job.renewed = True
            raise _Retry("HTTP 401 from the Uniware host; renewing the access token")
        if status >= 400:
            raise DownloadError(f"{job.where}: HTTP {status}{_redirected_to(response)} ({_snippet(response)}); the "
                                "link may have expired")
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        decoder: Optional[_Decoder] = None
        if encoding not in IDENTITY:
            decoder = _Decoder(encoding, job.where)
            progress.resumable = False
            if progress.received:
                progress.restart(out)
                if status == 206:
                    raise _Retry(f"the server answered a Range request with a {encoding} body; restarting "
                                 "from byte 0")
        elif resume and status == 200:
            before, size = progress.validator, progress.total
            version, now = _validator(response), _expected_total(response, 0)
            progress.restart(out)
            if before is None or before != version or size is None or size != now:
                # taken as the file only when it is the same version of the same announced size as the file it
                # began (a host that ignores ranges); else which answer is the file cannot be told from this
                # one (another size, no size, another or no version): whole files only from now on
                progress.resumable = False
                raise _Retry(f"the server answered a Range request with a whole file "
                             f"({'of unannounced size' if now is None else f'{now} bytes'}, version "
                             f"{version or 'not given'}) that cannot be told to be the file it began "
                             f"({'of unannounced size' if size is None else f'{size} bytes'}, version "
                             f"{before or 'not given'}): restarting from byte 0, without ranges")
            log.info("%s: the server answered the Range request with the whole file; restarting from the "
                     "beginning", job.where)
        elif resume and status != 206:
            raise _Retry(f"unexpected HTTP {status} to a Range request")
        repeat = progress.repeat if status == 206 and decoder is None else b""
        progress.repeat = b""
        if status == 206 and decoder is None:
            self._check_partial(job, out, progress, response, len(repeat))
        wire_length = _content_length(response)
        if decoder is None:
            total = _expected_total(response, progress.received - len(repeat))
            if total is not None and progress.total is not None and total != progress.total:
                old_total = progress.total
                progress.restart(out)
                raise _Retry(f"the file's size changed from {old_total} to {total} bytes between requests; "
                             "restarting from byte 0")
            progress.total = total if total is not None else progress.total
            if progress.received == 0:
                progress.validator = _validator(response)
            announced = progress.total
        else:
            announced = wire_length  # the decoded size is unknown: at least what is on the wire
        limit = self._limits.max_bytes
        if announced is not None and announced > limit:
            raise DownloadError(f"{job.where}: the server announces {announced:,} bytes, more than "
                                f"download_max_bytes ({limit:,}); raise download_max_bytes "
                                "(SOURCES__UNIWARE__DOWNLOAD_MAX_BYTES) if a file that large is expected")
        if announced is not None:
            _check_free_space(job, announced - (progress.received if decoder is None else 0))
        content_type = response.headers.get("Content-Type", "").lower()
        first = progress.received == 0
        wire = 0
        sock = _socket_of(response)
        last_byte = self._wall()
        while True:
            left = self._check_deadline(job, progress)
            _check_stop(job)
            wait = min(self._timeout[1], self._limits.stall_seconds, left)
            _set_timeout(sock, wait)
            failure: Optional[str] = None
            data = b""
            beyond = False
            try:
                beyond = _beyond_its_length(response, sock, wait)  # near the body's end, while it is ours
                # read1 hands over whatever arrived, so a body cut short keeps its received part; the
                # body is decoded here, not by urllib3, to count wire bytes and bound every step
                if not beyond:
                    data = response.raw.read1(CHUNK_SIZE, decode_content=False)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                failure = self._read_failure(error, last_byte, progress)
            if beyond:
                self._sent_beyond_its_length(out, progress, sock, wire_length)
            if failure is not None:
                self._check_deadline(job, progress)
                raise _Retry(failure)
            if not data:
                break
            if _read_whole(response):  # the connection went back to the pool: another download's now
                sock = None
            last_byte = self._wall()
            wire += len(data)
            if repeat:  # the resume's first bytes: those stored last, or the ranges are off
                data, repeat = _repeated(data, repeat, job, out, progress)
            for piece in decoder.decode(data) if decoder is not None else (data,):
                if first:  # until the first byte that is not a blank or the BOM
                    first = not _reject_html(piece, content_type, job.where)
                self._store(job, out, progress, piece)
        if decoder is not None:
            for piece in decoder.finish():
                if first:
                    first = not _reject_html(piece, content_type, job.where)
                self._store(job, out, progress, piece)
        if first:
            _reject_html(b"", content_type, job.where, ended=True)
        if wire_length is not None and wire < wire_length:
            raise _Retry(f"body ended at {wire} of {wire_length} bytes")
        if decoder is not None and not decoder.complete:
            raise _Retry(f"the {encoding} body ended before its end ({wire} bytes on the wire)")
        framed = wire_length is not None or "chunked" in response.headers.get("Transfer-Encoding", "").lower()
        if not framed and not (decoder is not None and decoder.self_delimiting):
            if decoder is not None:  # an encoded body cannot be continued: only confirmed or restarted
                progress.resumable = False
            progress.probe = progress.received if decoder is None else wire
            return
        if progress.total is not None and progress.received < progress.total:
            raise _Retry(f"body ended at {progress.received} of {progress.total} bytes")

    @staticmethod
    def _sent_beyond_its_length(out: BinaryIO, progress: _Progress, sock: Optional[socket.socket],
                                length: Optional[int]) -> NoReturn:
        """The host sent more than the body's Content-Length: the file's end cannot be told (rows past
        the length would be lost, silently). Fetched again from byte 0 on a new connection."""
        progress.restart(out)
        if sock is not None:
            with contextlib.suppress(OSError):  # the bytes left in it must not be read as the next answer
                sock.shutdown(socket.SHUT_RDWR)
        announced = f" ({length:,} bytes)" if length is not None else ""
        raise _Retry(f"the server sent more bytes than its Content-Length{announced}: where the file ends cannot "
                     "be told; fetching it again from byte 0")

    @staticmethod
    def _check_partial(job: _Job, out: BinaryIO, progress: _Progress, response: requests.Response,
                       back: int = 0) -> None:
        """A 206 must continue the file where it stands (`back` bytes before its end, which it repeats):
        from the byte asked for, of the same file."""
        start = _content_range(response)[0]
        if start != progress.received - back:
            problem = (f"HTTP 206 with {'no usable Content-Range' if start is None else f'bytes from {start}'} "
                       f"where byte {progress.received - back} was expected; restarting from byte 0")
            progress.resumable = False  # its ranges cannot be trusted: whole files from now on
            progress.restart(out)
            raise _Retry(problem)
        validator = _validator(response)
        if progress.received and progress.validator is not None and validator is None:
            # (red team 134) a 206 without the strong ETag or Last-Modified it was asked to continue: nothing
            # says its bytes are of the file begun, not of one replaced since: whole files from now on
            progress.resumable = False
            progress.restart(out)
            raise _Retry("HTTP 206 naming no version of the file (no strong ETag or Last-Modified) to a resume "
                         "of a file that had one; restarting from byte 0, without ranges")
        if progress.received and progress.validator is not None and validator != progress.validator:
            progress.restart(out)
            raise _Retry("the file changed between requests (its ETag or Last-Modified differs); restarting "
                         "from byte 0")

    def _read_failure(self, error: BaseException, last_byte: float, progress: _Progress) -> str:
        timed_out = isinstance(error, (urllib3.exceptions.TimeoutError, requests.Timeout, socket.timeout))
        if timed_out and self._wall() - last_byte >= min(self._limits.stall_seconds, self._timeout[1]) * 0.99:
            if self._limits.stall_seconds <= self._timeout[1]:
                return (f"no byte for {self._limits.stall_seconds:g} s after {progress.received} bytes "
                        "(download_stall_timeout_seconds)")
            return f"no byte for {self._timeout[1]:g} s after {progress.received} bytes (read_timeout_seconds)"
        return f"connection broke after {progress.received} bytes ({type(error).__name__})"

    def _store(self, job: _Job, out: BinaryIO, progress: _Progress, piece: bytes) -> None:
        limit = self._limits.max_bytes
        if progress.received + len(piece) > limit:
            raise DownloadError(f"{job.where}: the file passed download_max_bytes ({limit:,} bytes) and was "
                                "not kept; raise download_max_bytes (SOURCES__UNIWARE__DOWNLOAD_MAX_BYTES) if "
                                "a file that large is expected")
        try:
            progress.add(out, piece)
        except OSError as error:
            _disk_error(job, error, progress.received)


class _Decoder:
    """Decodes a gzip or deflate body chunk by chunk, never more than CHUNK_SIZE at a time."""

    def __init__(self, encoding: str, where: str) -> None:
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise DownloadError(f"{where}: the server sent Content-Encoding {encoding!r} although the "
                                "connector asked for identity; it cannot be decoded")
        self._encoding = encoding
        self._obj: Any = zlib.decompressobj(self._wbits)
        self._started = False

    @property
    def complete(self) -> bool:
        return bool(self._obj.eof)

    @property
    def self_delimiting(self) -> bool:
        """A deflate stream marks its own end (nothing may follow); gzip members may follow each other,
        so a gzip body cut between members looks whole."""
        return self.complete and self._wbits != 16 + zlib.MAX_WBITS

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._obj.eof:  # gzip allows several members back to back; after deflate, nothing counts
                if self._wbits != 16 + zlib.MAX_WBITS:
                    raise _Retry(f"{len(data)} bytes follow the end of the {self._encoding} body")
                self._obj = zlib.decompressobj(self._wbits)
            try:
                piece = self._obj.decompress(data, CHUNK_SIZE)
            except zlib.error as error:
                if self._encoding == "deflate" and not self._started and self._wbits > 0:
                    self._wbits = -zlib.MAX_WBITS  # "deflate" sent raw, without the zlib wrapper
                    self._obj = zlib.decompressobj(self._wbits)
                    continue
                raise _Retry(f"the {self._encoding} body does not decode ({error})") from None
            self._started = True
            if piece:
                yield piece
            data = self._obj.unused_data if self._obj.eof else self._obj.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        try:
            rest = self._obj.flush()
        except zlib.error as error:
            raise _Retry(f"the {self._encoding} body does not decode ({error})") from None
        for start in range(0, len(rest), CHUNK_SIZE):
            yield rest[start:start + CHUNK_SIZE]


def _open(job: _Job) -> BinaryIO:
    try:
        return open(job.target, "wb")  # closed by fetch, which also removes it on failure
    except OSError as error:
        _disk_error(job, error, 0)


def _check_stop(job: _Job) -> None:
    if job.stop is not None and job.stop.is_set():
        raise DownloadError(f"{job.where}: interrupted")


def _check_free_space(job: _Job, needed: int) -> None:
    directory = job.target.parent
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return  # cannot tell: writing will say
    if needed > free:
        raise DownloadError(f"{job.where}: no space left in {directory}: the file needs {needed:,} bytes, "
                            f"{free:,} are free; free space there or point download_dir "
                            "(SOURCES__UNIWARE__DOWNLOAD_DIR) elsewhere")


def _disk_error(job: _Job, error: OSError, received: int) -> NoReturn:
    directory = job.target.parent
    if error.errno in DISK_FULL:
        raise DownloadError(f"{job.where}: no space left in {directory} after {received:,} bytes "
                            f"({error.strerror}); free space there or point download_dir "
                            "(SOURCES__UNIWARE__DOWNLOAD_DIR) elsewhere") from None
    raise DownloadError(f"{job.where}: cannot write to {directory}: {error.strerror or type(error).__name__}") \
        from None


def _socket_of(response: requests.Response) -> Optional[socket.socket]:
    connection = getattr(response.raw, "_connection", None) or getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


# how near its end a body's buffered bytes are looked at for bytes past its Content-Length (the buffer of
# http.client's reader holds 8 KB; looking earlier would make every read return only what is buffered)
NEAR_THE_END = 64 << 10
# how long bytes past a body's end are waited for, once its last bytes are all buffered (sent with them: there)
BEYOND_THE_END_SECONDS = 0.05


def _beyond_its_length(response: requests.Response, sock: Optional[socket.socket], wait: float) -> bool:
    """Whether the host sent more than the body's Content-Length: more bytes buffered than are left of the
    body, or, once its last bytes are all buffered, a byte waiting on the socket within
    BEYOND_THE_END_SECONDS. Looked at near the body's end only, before its last read: the connection is
    still this download's then (once read whole, it goes back to the pool and another download's
    answer may come on it). A peek waits for the next bytes as the read that follows would."""
    inner = getattr(response.raw, "_fp", None)  # http.client's response, under urllib3's
    left, reader = getattr(inner, "length", None), getattr(inner, "fp", None)
    if not isinstance(left, int) or not 0 < left <= NEAR_THE_END or reader is None or not hasattr(reader, "peek"):
        return False
    try:
        buffered = len(reader.peek(1))
    except ValueError:  # a reader closed under it: the read that follows says so
        return False
    if buffered != left:
        return buffered > left
    return _socket_holds_more(sock, wait)


def _read_whole(response: requests.Response) -> bool:
    """Whether http.client has read the body's last byte (of a body with a length)."""
    inner = getattr(response.raw, "_fp", None)
    return getattr(inner, "length", None) == 0 or (inner is not None and getattr(inner, "fp", True) is None)


def _socket_holds_more(sock: Optional[socket.socket], wait: float) -> bool:
    """Whether a byte comes on the connection within BEYOND_THE_END_SECONDS (its timeout is then set back
    to `wait`); under TLS, whether it holds decrypted bytes (no peeking there, and a closing host's alert
    would look like data)."""
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket):
        with contextlib.suppress(OSError, ValueError):
            return sock.pending() > 0
        return False
    try:
        sock.settimeout(BEYOND_THE_END_SECONDS)
        return bool(sock.recv(1, socket.MSG_PEEK))
    except (OSError, ValueError):  # nothing came (a timeout), or the connection is gone
        return False
    finally:
        _set_timeout(sock, wait)


def _set_timeout(sock: Optional[socket.socket], seconds: float) -> None:
    """Bound the next socket read by what is left of the stall timeout and the file's deadline."""
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: the read says so
            sock.settimeout(max(seconds, 0.001))


BEYOND_ANY_FILE = 10**18  # what a number of more digits than that stands for (int() refuses 4,300+)


def _number(text: str) -> Optional[int]:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) < 19 else BEYOND_ANY_FILE


def _content_length(response: requests.Response) -> Optional[int]:
    return _number(response.headers.get("Content-Length", ""))


def _content_range(response: requests.Response) -> tuple[Optional[int], Optional[int]]:
    """(first byte, total size) of `Content-Range: bytes first-last/total` (or `bytes */total`)."""
    unit, _, spec = response.headers.get("Content-Range", "").strip().partition(" ")
    if unit.lower() != "bytes" or "/" not in spec:
        return None, None
    span, _, total = spec.partition("/")
    return _number(span.partition("-")[0]) if span.strip() != "*" else None, _number(total)


def _repeats_itself(tail: bytes) -> bool:
    """Whether `tail` repeats with a period of at most half its length: a body shifted by a multiple of
    the period would repeat it too, so it cannot check a resume."""
    return any(tail[period:] == tail[:-period] for period in range(1, len(tail) // 2 + 1))


def _repeated(data: bytes, repeat: bytes, job: _Job, out: BinaryIO, progress: _Progress) -> tuple[bytes, bytes]:
    """`data` past the bytes a resume repeats, and what is left to repeat; a body that does not repeat
    them continues the file from elsewhere than its Content-Range says: whole files from now on."""
    count = min(len(data), len(repeat))
    if data[:count] != repeat[:count]:
        progress.resumable = False
        progress.restart(out)
        raise _Retry("the resumed part did not start with the file's last bytes (its Content-Range does not say "
                     "where its bytes come from); restarting from byte 0, without ranges")
    return data[count:], repeat[count:]


def _expected_total(response: requests.Response, received: int) -> Optional[int]:
    total = _content_range(response)[1]
    if total is not None:
        return total
    length = _content_length(response)
    return received + length if length is not None else None


def _validator(response: requests.Response) -> Optional[str]:
    """What identifies this version of the file: a strong ETag, else Last-Modified (If-Range takes either)."""
    etag = response.headers.get("ETag", "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified", "").strip() or None


def _reject_html(chunk: bytes, content_type: str, where: str, ended: bool = False) -> bool:
    """An HTML page (a login or error page) instead of the CSV is refused. The body decides: one that
    starts with markup (`<`: a tag, a doctype, a comment; no Uniware header label does) whatever its
    Content-Type, or a blank one labelled text/html; a CSV body that a host labels text/html is still
    the CSV. False while `chunk` holds only blanks or the BOM (the next piece decides), unless `ended`."""
    head = chunk.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    labelled = "text/html" in content_type
    if head == b"<" or (labelled and not head and ended):
        raise InvalidFileError(f"{where}: got an HTML page instead of the CSV (Content-Type "
                               f"{content_type or 'missing'}); the export link is not usable")
    if not head:
        return False
    if labelled:
        log.warning("%s: the file host calls the CSV text/html; its content is a CSV, so it is read", where)
    return True


def _redirected_to(response: requests.Response) -> str:
    """` from <host/path>, the link the host sent it on to` where a redirect made another link answer."""
    if not response.history:
        return ""
    final = urlsplit(response.url)  # host, port and path only: the query and userinfo are credentials
    port = f":{final.port}" if final.port else ""
    return f" from {final.hostname or '?'}{port}{final.path}, the link the host sent it on to"


def _snippet(response: requests.Response) -> str:
    try:
        body = response.raw.read(2048, decode_content=True)
    except Exception:  # a body that cannot be read says nothing useful
        body = b""
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return excerpt(text, 160, cut=len(body) >= 2048) or "no body"  # cut: the body goes on past what was read


def _remember_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A requests response hook: the link a file host redirects to is a secret like the first one
    (a presigned object-store link), registered before the redirect is followed or reported."""
    location = response.headers.get("Location")
    if location and response.is_redirect:
        SECRETS.add_url(urljoin(response.url, location))
