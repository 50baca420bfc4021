"""Stream an export file to disk: no credentials sent, length verified, truncation resumed, HTML refused.

The file lives on an object store (another host). Nothing from Uniware's session goes there: the
download session has no Authorization header. A short body is resumed with an HTTP Range request
(or restarted when the server ignores ranges). The URL is never logged with its query string, which
on presigned links is itself a credential.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional
from urllib.parse import urlsplit

import requests
import urllib3
from dlt.sources.helpers.requests import Client

from .clock import Clock
from .errors import DownloadError, InvalidFileError
from .redact import redact

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
HTML_MARKERS = (b"<!doctype html", b"<html", b"<?xml")


@dataclass(frozen=True)
class DownloadedFile:
    path: Path
    bytes: int
    sha256: str
    host: str
    url_path: str  # without query string


def describe_url(url: str) -> tuple[str, str]:
    """(host, path) of a URL, leaving out the query string and fragment."""
    parts = urlsplit(url)
    return parts.netloc, parts.path


class _Retry(Exception):
    """A recoverable interruption; the download resumes from what was received."""


class FileDownloader:
    def __init__(self, http: Client, clock: Clock, *, timeout: tuple[float, float], max_attempts: int,
                 backoff_seconds: float = 1.0) -> None:
        self._http = http
        self._clock = clock
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds

    def fetch(self, url: str, target: Path, label: str, stop: Optional[threading.Event] = None) -> DownloadedFile:
        """Download `url` into `target`; raises DownloadError or InvalidFileError."""
        host, path = describe_url(url)
        where = f"download from {host}{path}"
        progress = _Progress()
        problem = ""
        with open(target, "wb") as out:
            for attempt in range(1, self._max_attempts + 1):
                if stop is not None and stop.is_set():
                    raise DownloadError(f"{where}: interrupted")
                try:
                    self._attempt(url, out, progress, where, stop)
                    break
                except _Retry as retry:
                    problem = str(retry)
                    log.warning("%s: %s: %s (attempt %d of %d)", label, where, problem, attempt, self._max_attempts)
                    if attempt < self._max_attempts:
                        self._clock.sleep(self._backoff * attempt, stop)
            else:
                raise DownloadError(f"{where}: gave up after {self._max_attempts} attempts; last problem: {problem}")
            out.flush()  # no fsync: the file is scratch, and a crash means downloading again anyway
        if progress.total is not None and progress.received != progress.total:
            raise DownloadError(f"{where}: received {progress.received} bytes, the server announced {progress.total}")
        return DownloadedFile(target, progress.received, progress.digest.hexdigest(), host, path)

    def _attempt(self, url: str, out: BinaryIO, progress: _Progress, where: str,
                 stop: Optional[threading.Event]) -> None:
        headers = {"Range": f"bytes={progress.received}-"} if progress.received else {}
        failure: Optional[str] = None
        try:
            response = self._http.get(url, headers=headers, stream=True, timeout=self._timeout)
        except requests.RequestException as error:
            failure = f"{type(error).__name__}: {redact(error)}"
        if failure is not None:
            raise _Retry(failure)
        with response:
            status = response.status_code
            if progress.received and status == 416 and progress.total == progress.received:
                return
            if status == 429 or status >= 500:
                raise _Retry(f"HTTP {status}")
            if status >= 400:
                raise DownloadError(f"{where}: HTTP {status} ({_snippet(response)}); the link may have expired")
            if progress.received and status == 200:
                log.info("%s: the server ignored the Range request; restarting from the beginning", where)
                progress.restart(out)
            elif progress.received and status != 206:
                raise _Retry(f"unexpected HTTP {status} to a Range request")
            progress.total = _expected_total(response, progress.received) or progress.total
            content_type = response.headers.get("Content-Type", "").lower()
            first = progress.received == 0
            try:
                # read1 hands over whatever arrived, so a body cut short keeps its received part
                while chunk := response.raw.read1(CHUNK_SIZE, decode_content=True):
                    if stop is not None and stop.is_set():
                        raise DownloadError(f"{where}: interrupted")
                    if first:
                        _reject_html(chunk, content_type, where)
                        first = False
                    progress.add(out, chunk)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                raise _Retry(f"connection broke after {progress.received} bytes ({type(error).__name__})") from None
            if first:
                _reject_html(b"", content_type, where)
            if progress.total is not None and progress.received < progress.total:
                raise _Retry(f"body ended at {progress.received} of {progress.total} bytes")


class _Progress:
    """Bytes received so far and their running checksum."""

    def __init__(self) -> None:
        self.received = 0
        self.total: Optional[int] = None
        self.digest = hashlib.sha256()

    def add(self, out: BinaryIO, chunk: bytes) -> None:
        out.write(chunk)
        self.digest.update(chunk)
        self.received += len(chunk)

    def restart(self, out: BinaryIO) -> None:
        out.seek(0)
        out.truncate()
        self.received = 0
        self.digest = hashlib.sha256()


def _expected_total(response: requests.Response, received: int) -> Optional[int]:
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        try:
            return int(content_range.rsplit("/", 1)[1])
        except ValueError:
            return None
    length = response.headers.get("Content-Length")
    return received + int(length) if length and length.isdigit() else None


def _reject_html(chunk: bytes, content_type: str, where: str) -> None:
    head = chunk[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if "text/html" in content_type or head.startswith(HTML_MARKERS):
        raise InvalidFileError(f"{where}: got an HTML page instead of the CSV (Content-Type "
                               f"{content_type or 'missing'}); the export link is not usable")


def _snippet(response: requests.Response) -> str:
    try:
        text = response.text.strip().replace("\n", " ")
    except Exception:  # a body that cannot be decoded says nothing useful
        text = ""
    return redact(text[:160]) or "no body"
