"""The downloader against a file host that lies about ranges, lengths and versions (tests/hostile_host.py).

Each case is real HTTP. The outcome is the file exactly as served, or a DownloadError, never a file
spliced from two versions, shifted, doubled or cut short; and no partial file is left behind.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Optional

import pytest
import requests

from uniware_source import ManualClock
from uniware_source.client.download import RESUME_OVERLAP, DownloadLimits, FileDownloader
from uniware_source.client.interruptible import InterruptibleAdapter, _Tracked, release
from uniware_source.client.interruptible import cut as cut_connections
from uniware_source.client.sessions import api_client, file_client
from uniware_source.errors import DownloadError
from uniware_source.settings import HttpPolicy

from .hostile_host import Answer, HostileHost, Request, Script, cut, part, whole

FILE = b"".join(b"%d,item-%d,%d.50\n" % (n, n, n) for n in range(4000))
HALF = FILE.index(b"\n", len(FILE) // 2) + 1  # a line boundary: a cut there still parses as CSV
NEW = FILE.replace(b"item", b"ITEM")
SMALL = FILE[:300]  # within the connection's first buffer, with the headers
GZIPPED = gzip.compress(FILE)  # the same size, other bytes: the file replaced on the host
POLICY = HttpPolicy(connect_timeout_seconds=5, read_timeout_seconds=5, max_attempts=1, backoff_factor=0,
                    max_retry_delay_seconds=0, download_max_attempts=4, download_max_bytes=10 << 20,
                    download_timeout_seconds=30, download_stall_timeout_seconds=5)


def fetch(script: Script, tmp_path: Path) -> tuple[Optional[bytes], HostileHost, str]:
    """(what was stored, or None when it failed; the host, with what it was asked; the error)."""
    target = tmp_path / "file.csv"
    downloader = FileDownloader(file_client(POLICY), ManualClock(), timeout=POLICY.timeout, max_attempts=4,
                                backoff_seconds=0, limits=DownloadLimits(10 << 20, 30, 5))
    with HostileHost(script) as host:
        try:
            downloader.fetch(host.url, target, "test")
        except DownloadError as error:
            assert not target.exists(), "a failed download left its partial file"
            return None, host, str(error)
        return target.read_bytes(), host, ""


def then(first: Answer, rest: Script) -> Script:
    return lambda number, request: first if number == 1 else rest(number, request)


def ranged(rest: Script) -> Script:
    """A host that cuts the first answer at HALF and answers the resume with `rest`."""
    return then(cut(FILE, HALF), rest)


def _shifted(start: int, shift: int) -> Answer:
    """A 206 whose Content-Range (and Content-Length) say bytes from `start`, with the body from `start + shift`."""
    piece = FILE[start + shift:][: len(FILE) - start]
    return Answer(206, {"Content-Type": "text/csv", "ETag": '"v1"', "Content-Length": str(len(piece)),
                        "Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(FILE)}"}, piece)


def _shifted_then_whole(shift: int) -> Script:
    return lambda n, r: _shifted(r.range_start, shift) if r.range_start else whole(FILE)


# hosts whose every answer is honest in the end: the file must arrive exactly
EXACT: dict[str, Script] = {
    "resume answered with the right range": ranged(lambda n, r: part(FILE, r.range_start or 0)),
    "resume answered with the whole file": ranged(lambda n, r: whole(FILE)),
    "206 from a wrong byte, then whole files": ranged(
        lambda n, r: part(FILE, HALF - 100, claimed_start=HALF - 100) if r.range_start else whole(FILE)),
    "206 without Content-Range, then whole files": ranged(
        lambda n, r: Answer(206, {"Content-Length": str(len(FILE))}, FILE) if r.range_start else whole(FILE)),
    "206 to a request without Range, from byte 500": lambda n, r: (
        part(FILE, 500) if n == 1 else whole(FILE)),
    "file replaced before the resume (new ETag)": ranged(
        lambda n, r: part(NEW, r.range_start, etag='"v2"') if r.range_start else whole(NEW, ETag='"v2"')),
    "file replaced and grown before the resume": ranged(
        lambda n, r: part(NEW + FILE[:500], r.range_start, etag='"v2"') if r.range_start
        else whole(NEW + FILE[:500], ETag='"v2"')),
    "no length, complete, Range past the end is 416": lambda n, r: (
        Answer(416, {"Content-Range": f"bytes */{len(FILE)}"}) if r.range_start else whole(FILE, length=False)),
    "no length, cut at a line, Range serves the rest": lambda n, r: (
        part(FILE, r.range_start) if r.range_start else Answer(200, {"ETag": '"v1"'}, FILE[:HALF], close=True)),
    "no length, complete, no Range support": lambda n, r: whole(FILE, length=False),
    "no length, cut at a line, the rest cut again without a length, then the rest": lambda n, r: (
        Answer(200, {"ETag": '"v1"'}, FILE[:HALF], close=True) if not r.range_start
        else Answer(206, {"ETag": '"v1"', "Content-Range": f"bytes {HALF}-{len(FILE) - 1}/{len(FILE)}"},
                    FILE[HALF:HALF + 999], close=True) if r.range_start == HALF else part(FILE, r.range_start)),
    "no length gzip, complete": lambda n, r: (
        Answer(416, {}) if r.range_start else Answer(200, {"Content-Encoding": "gzip"}, gzip.compress(FILE),
                                                      close=True)),
    # Content-Range (and Content-Length) say the byte asked for, the body starts elsewhere: caught by the
    # bytes a resume repeats, then whole files
    **{f"206 body {shift:+d} byte(s) from its Content-Range, then whole files": ranged(_shifted_then_whole(shift))
       for shift in (-1, 1, -7, 40)},
    # red team helper 87, F4: 2 of 48 rows landed, exit 0
    "a smaller whole file under the same ETag answers the resume, then honest": ranged(
        lambda n, r: whole(FILE[:HALF // 3]) if r.range_start else whole(FILE)),
    "a larger whole file under the same ETag answers the resume, then honest": ranged(
        lambda n, r: whole(FILE + FILE[:300]) if r.range_start else whole(FILE)),
    "a smaller whole file of unannounced size under the same ETag answers the resume, then honest": ranged(
        lambda n, r: whole(FILE[:HALF // 3], length=False) if r.range_start else whole(FILE)),
    # red team helper 90: the file it began had no size, or the whole answer no version
    "the first answer without a length, cut; a smaller whole file under its ETag answers the resume": lambda n, r: (
        whole(FILE[:HALF // 3]) if r.range_start else
        Answer(200, {"ETag": '"v1"'}, FILE[:HALF], close=True) if n == 1 else whole(FILE)),
    "a smaller whole file without an ETag answers the resume, then honest": ranged(
        lambda n, r: Answer(200, {"Content-Length": str(HALF // 3)}, FILE[:HALF // 3]) if r.range_start
        else whole(FILE)),
    "a body longer than its Content-Length once, then honest": lambda n, r: (
        Answer(200, {"Content-Type": "text/csv", "Content-Length": str(HALF)}, FILE) if n == 1 else whole(FILE)),
    "a Content-Length that is not ASCII digits, then honest": lambda n, r: (
        Answer(200, {"Content-Length": "\u00b2"}, FILE, close=True) if n == 1 else whole(FILE)),
}
# the file replaced (expected: the new one, whole)
REPLACED = {"file replaced before the resume (new ETag)", "file replaced and grown before the resume"}


@pytest.mark.parametrize("case", EXACT)
def test_a_host_that_misleads_once_still_gives_the_exact_file(case: str, tmp_path: Path) -> None:
    stored, host, error = fetch(EXACT[case], tmp_path)
    assert not error
    expected = NEW if case == "file replaced before the resume (new ETag)" else \
        NEW + FILE[:500] if case == "file replaced and grown before the resume" else FILE
    assert stored == expected
    first_etag = host.answers[0].headers.get("ETag")
    for request, answer in zip(host.requests[1:], host.answers, strict=False):
        if request.range_start and first_etag:  # a resume names the version it continues
            assert request.header("If-Range") == answer.headers.get("ETag", first_etag)


# hosts that never give a trustworthy file: a clear error, nothing kept
FAILING: dict[str, Script] = {
    "every resume answered with a smaller whole file under the same ETag, whole files cut": ranged(
        lambda n, r: whole(FILE[:HALF // 3]) if r.range_start else cut(FILE, HALF)),
    "every resume answered with a smaller whole file of unannounced size, whole files cut": ranged(
        lambda n, r: whole(FILE[:HALF // 3], length=False) if r.range_start else cut(FILE, HALF)),
    "every resume from a wrong byte, same length": ranged(
        lambda n, r: part(FILE, r.range_start - 200, claimed_start=r.range_start - 200) if r.range_start
        else cut(FILE, HALF)),
    "every 206 without Content-Range": ranged(
        lambda n, r: Answer(206, {"Content-Length": str(len(FILE))}, FILE) if r.range_start else cut(FILE, HALF)),
    "every answer a 206 from byte 500": lambda n, r: part(FILE, 500),
    "every resume's body a byte later than its Content-Range, whole files cut": ranged(
        lambda n, r: _shifted(r.range_start, 1) if r.range_start else cut(FILE, HALF)),
    "no length, cut at a line, Range ignored and cut again": lambda n, r: (
        Answer(200, {}, FILE[:HALF] if n % 2 else FILE[:HALF - 7], close=True)),
    "no length, cut at a line, Range past it refused": lambda n, r: (
        Answer(403, {"Content-Length": "0"}) if r.range_start else Answer(200, {}, FILE[:HALF], close=True)),
    "no length gzip, cut between two members, more when asked": lambda n, r: (
        Answer(206, {"Content-Range": "bytes 5-9/10"}, b"12345") if r.range_start
        else Answer(200, {"Content-Encoding": "gzip"}, gzip.compress(FILE[:HALF]), close=True)),
    "no length gzip cut inside a member, 416 without a size": lambda n, r: (
        Answer(416, {"Content-Length": "0"}) if r.range_start
        else Answer(200, {"Content-Encoding": "gzip"}, GZIPPED[:len(GZIPPED) // 2], close=True)),
    # red team helper 129: each question past the end answered with an empty 206 without a length (a
    # Content-Range of no bytes), asked again 60-100 times a second until download_timeout_seconds (an hour)
    "no length, every Range past the end an empty 206 without a length": lambda n, r: (
        Answer(206, {"Content-Range": f"bytes {r.range_start}-{r.range_start - 1}/{r.range_start}"}, close=True)
        if r.range_start else whole(FILE, length=False)),
    "no length, every Range past the end one more byte without a length, of a file of unknown size": lambda n, r: (
        Answer(206, {"Content-Range": f"bytes {r.range_start}-{r.range_start}/*"}, b"\n", close=True)
        if r.range_start else whole(FILE, length=False)),
    "a Content-Length of 5,000 digits": lambda n, r: Answer(200, {"Content-Length": "9" * 5000}, FILE, close=True),
    "a 206 whose Content-Range has 5,000 digits": ranged(lambda n, r: Answer(
        206, {"Content-Length": str(len(FILE) - HALF), "Content-Range": f"bytes {'9' * 5000}-1/{len(FILE)}"},
        FILE[HALF:])),
    # more bytes than the Content-Length, ending at a line (read as a shorter file, rows would be lost),
    # in a file larger than the connection's buffer and in one smaller
    "a body longer than its Content-Length": lambda n, r: Answer(
        200, {"Content-Type": "text/csv", "Content-Length": str(HALF)}, FILE),
    "a body longer than a Content-Length written +N": lambda n, r: Answer(
        200, {"Content-Type": "text/csv", "Content-Length": f"+{HALF}"}, FILE),
    "a small body longer than its Content-Length": lambda n, r: Answer(
        200, {"Content-Type": "text/csv", "Content-Length": str(SMALL.index(b"\n") + 1)}, SMALL),
    "deflate with rows after its end": lambda n, r: Answer(
        200, {"Content-Encoding": "deflate", "Content-Length": str(len(zlib.compress(FILE[:HALF])) + len(FILE) - HALF)},
        zlib.compress(FILE[:HALF]) + FILE[HALF:]),
}


@pytest.mark.parametrize("case", FAILING)
def test_a_host_that_keeps_misleading_is_a_clear_error(case: str, tmp_path: Path) -> None:
    stored, host, error = fetch(FAILING[case], tmp_path)
    assert stored is None
    assert "download of 127.0.0.1:" in error and "/acme/export.csv" in error
    # given up after its attempts (4), at most a whole answer and two questions past its end in each, never
    # asking on until download_timeout_seconds
    assert len(host.requests) <= 3 * 4, [r.range_start for r in host.requests]


def _late_past_the_end(body: bytes, end: int) -> Script:
    """A host announcing `end` bytes, sending them, and the rest of `body` 10 ms later on the same connection."""
    return lambda n, r: Answer(200, {"Content-Type": "text/csv", "Content-Length": str(end)}, body[:end],
                               late=body[end:], late_after=0.01)


def test_bytes_past_the_content_length_that_come_a_little_later_are_seen_too(tmp_path: Path) -> None:
    """Bytes past the body's end sent a moment after it, on a connection kept open (not in the
    connection's buffer when the body's last bytes are): still seen, the file is not taken as shorter."""
    for size in (len(SMALL), len(FILE)):  # within the first buffer, and beyond it
        body = (SMALL if size == len(SMALL) else FILE)
        end = body.index(b"\n", size // 2) + 1
        stored, _, error = fetch(_late_past_the_end(body, end), tmp_path)
        assert stored is None and "more bytes than its Content-Length" in error, size


def test_downloads_at_once_on_a_kept_alive_host_are_not_taken_for_bytes_past_an_end(tmp_path: Path) -> None:
    """Eight downloads at once through one client, from a host that keeps connections open: each file
    exact at the first attempt (a connection given back to the pool and taken by another download is
    never looked at, nor cut, by the one it served)."""
    downloader = FileDownloader(file_client(POLICY), ManualClock(), timeout=POLICY.timeout, max_attempts=1,
                                backoff_seconds=0, limits=DownloadLimits(10 << 20, 30, 5))
    errors: list[str] = []

    def one(number: int) -> None:
        target = tmp_path / f"file-{number}.csv"
        for _ in range(5):
            try:
                downloader.fetch(host.url, target, f"job {number}")
                assert target.read_bytes() == SMALL
            except DownloadError as error:
                errors.append(str(error))

    with HostileHost(lambda n, r: whole(SMALL)) as host:
        threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_a_changed_file_is_never_spliced_even_when_the_host_ignores_if_range(tmp_path: Path) -> None:
    """The resume's ETag differs: whatever the host does with If-Range, the old half is not kept."""
    stored, host, _ = fetch(ranged(lambda n, r: part(NEW, r.range_start, etag='"v2"') if r.range_start
                                   else whole(NEW, ETag='"v2"')), tmp_path)
    assert stored == NEW
    assert [r.range_start for r in host.requests] == [None, HALF - RESUME_OVERLAP, None]  # it repeats the last bytes
    assert host.requests[1].header("If-Range") == '"v1"'


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_files_deadline(tmp_path: Path) -> None:
    """Each byte comes well within the read timeout, so only the file's deadline can end the answer:
    the connection is cut there, before the host got its headers out."""
    target = tmp_path / "file.csv"
    downloader = FileDownloader(file_client(POLICY), ManualClock(), timeout=POLICY.timeout, max_attempts=2,
                                backoff_seconds=0, limits=DownloadLimits(10 << 20, 1.0, 5))
    # an empty body: once its headers are out the host has sent all it had, whatever the client does
    dripping = Answer(200, {"Content-Length": "0", "X-Padding": "p" * 200}, b"", drip=0.05)
    with HostileHost(lambda n, r: dripping) as host:
        with pytest.raises(DownloadError, match="not complete after 1 s"):
            downloader.fetch(host.url, target, "test")
        host.join()
    assert host.answers and not host.sent  # cut before the headers (~11 s of them) were out
    assert not target.exists()


def test_a_stop_cuts_a_request_that_waits_for_its_answer(tmp_path: Path) -> None:
    """A worker blocked on an answer that does not come (read timeout far away) is woken by `cut`, and
    its retrying session does not start the request over; once released it may ask again."""
    never = threading.Event()
    retrying = replace(POLICY, read_timeout_seconds=600, max_attempts=5)
    outcome: list[BaseException] = []
    arrived = threading.Event()

    def first_held(number: int, request: Request) -> Answer:
        arrived.set()
        return Answer(200, {"Content-Length": "0"}, hold=never if number == 1 else None)

    with HostileHost(first_held) as host:
        client = api_client(retrying)

        def ask() -> None:
            try:
                client.get(host.url, timeout=retrying.timeout)
            except BaseException as error:  # the outcome is the assertion
                outcome.append(error)
            else:
                return
            release([threading.get_ident()])
            client.get(host.url, timeout=retrying.timeout)  # released: asks again, answered at once

        worker = threading.Thread(target=ask)
        worker.start()
        arrived.wait()  # the request reached the host, which now holds its answer
        assert cut_connections([worker.ident or 0]) == 1
        worker.join()
        never.set()
    assert len(outcome) == 1 and isinstance(outcome[0], requests.RequestException), outcome
    assert len(host.requests) == 2  # the cut one (not retried), then the one after the release


def test_a_body_without_a_length_is_confirmed_within_its_attempt(tmp_path: Path) -> None:
    """The question past the end of a body without a length takes no attempt of its own: with a single
    attempt allowed, a whole body and a 416 after it are a file."""
    target = tmp_path / "file.csv"
    downloader = FileDownloader(file_client(POLICY), ManualClock(), timeout=POLICY.timeout, max_attempts=1,
                                backoff_seconds=0, limits=DownloadLimits(10 << 20, 30, 5))
    script = EXACT["no length, complete, Range past the end is 416"]
    with HostileHost(script) as host:
        downloader.fetch(host.url, target, "test")
    assert target.read_bytes() == FILE
    assert [r.range_start for r in host.requests] == [None, len(FILE)]


def test_requests_through_an_http_proxy_can_be_cut_too() -> None:
    adapter = InterruptibleAdapter()
    manager = adapter.proxy_manager_for("http://127.0.0.1:3128")
    assert all(issubclass(pool, _Tracked) for pool in manager.pool_classes_by_scheme.values())
    assert all(issubclass(pool, _Tracked) for pool in adapter.poolmanager.pool_classes_by_scheme.values())


@pytest.mark.parametrize("first_tag, later_tag", [(None, None), ('W/"v1"', 'W/"v2"')], ids=["none", "weak ETag"])
def test_without_a_strong_validator_a_cut_file_comes_whole_again_never_spliced(
        first_tag: Optional[str], later_tag: Optional[str], tmp_path: Path) -> None:
    """If-Range needs a strong ETag or Last-Modified: without one, the rest of a file replaced by another
    of the same size would be taken as the rest of the first (a file that never existed)."""
    def answer(status: int, body: bytes, tag: Optional[str], **more: str) -> Answer:
        headers = {"Content-Type": "text/csv", "Content-Length": str(len(body)), **more}
        return Answer(status, {**headers, "ETag": tag} if tag else headers, body)

    def script(number: int, request: Request) -> Answer:
        if number == 1:  # the full length announced, half of it sent
            first = answer(200, FILE, first_tag)
            return Answer(200, first.headers, FILE[:HALF], close=True)
        if request.range_start:  # the file was replaced meanwhile: its rest is not the first file's rest
            return answer(206, NEW[request.range_start:], later_tag,
                          **{"Content-Range": f"bytes {request.range_start}-{len(NEW) - 1}/{len(NEW)}"})
        return answer(200, NEW, later_tag)

    stored, host, error = fetch(script, tmp_path)
    assert not error and stored == NEW
    assert [r.range_start for r in host.requests] == [None, None]


def _untagged_rest(body: bytes, start: int, **tags: str) -> Answer:
    """A 206 with `body` from `start`, a right Content-Range and the given tags (none: no ETag at all)."""
    return Answer(206, {"Content-Type": "text/csv", "Content-Length": str(len(body) - start), **tags,
                        "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}, body[start:])


# the file replaced by one that is the same around HALF (the bytes a resume repeats) and differs elsewhere
OTHER = NEW[:HALF - 500] + FILE[HALF - 500:HALF + 500] + NEW[HALF + 500:]
LONGER = OTHER + FILE[:700]  # replaced and grown
LAST_MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"
# red team 134: the file begun had a version (a strong ETag or Last-Modified); the answer to its resume
# names none (no tag, a weak one, an empty one), so its bytes may be a replaced file's: never spliced
UNTAGGED_RESUMES: dict[str, Script] = {
    "no tag": lambda n, r: _untagged_rest(OTHER, r.range_start) if r.range_start else (
        cut(FILE, HALF) if n == 1 else whole(OTHER, ETag='"v2"')),
    "a weak ETag": lambda n, r: _untagged_rest(OTHER, r.range_start, ETag='W/"v2"') if r.range_start else (
        cut(FILE, HALF) if n == 1 else whole(OTHER, ETag='"v2"')),
    "an empty ETag": lambda n, r: _untagged_rest(OTHER, r.range_start, ETag="") if r.range_start else (
        cut(FILE, HALF) if n == 1 else whole(OTHER, ETag='"v2"')),
    "Last-Modified only, then no tag": lambda n, r: _untagged_rest(OTHER, r.range_start) if r.range_start else (
        Answer(200, {"Content-Length": str(len(FILE)), "Last-Modified": LAST_MODIFIED}, FILE[:HALF], close=True)
        if n == 1 else whole(OTHER, ETag="")),
    "a body without a length, its end asked past with If-Range, a longer file's rest without a tag": lambda n, r: (
        _untagged_rest(LONGER, r.range_start) if r.range_start and n == 2 else
        Answer(416, {"Content-Range": f"bytes */{len(OTHER)}"}) if r.range_start else
        Answer(200, {"ETag": '"v1"'}, FILE[:HALF], close=True) if n == 1 else whole(OTHER, length=False)),
    "a body without a length or a tag, its end asked past, a longer file's rest": lambda n, r: (
        _untagged_rest(LONGER, r.range_start) if r.range_start and n == 2 else
        Answer(416, {"Content-Range": f"bytes */{len(OTHER)}"}) if r.range_start else
        Answer(200, {}, FILE[:HALF], close=True) if n == 1 else whole(OTHER, length=False, ETag="")),
}


@pytest.mark.parametrize("case", UNTAGGED_RESUMES)
def test_a_resume_answered_without_the_files_version_is_never_spliced(case: str, tmp_path: Path) -> None:
    stored, host, error = fetch(UNTAGGED_RESUMES[case], tmp_path)
    assert not error and stored == OTHER, (error, None if stored is None else len(stored))
    # once a rest came without a version, no range is asked again in that download
    asked = [r.range_start for r in host.requests]
    assert asked[0] is None and asked[1] and asked[2] is None, asked


def test_a_size_changed_between_requests_is_said_with_both_sizes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bigger = FILE + FILE[:1000]
    script = ranged(lambda n, r: part(bigger, r.range_start) if r.range_start else whole(FILE))
    stored, _, error = fetch(script, tmp_path)
    assert not error and stored == FILE
    assert f"the file's size changed from {len(FILE)} to {len(bigger)} bytes" in caplog.text


SESSION_TOKEN = "RedirectedSessionToken0123456789abcdefXYZ"


@pytest.mark.parametrize("at", [5, 120, 135, 150])
def test_a_presigned_link_the_host_redirects_to_keeps_its_secrets_out_of_the_error(tmp_path: Path, at: int) -> None:
    """The file host redirects to another presigned link, which refuses with its session token in the
    body at `at` (whole, or where the error's 160-character excerpt cuts it): no
    character run of the token reaches the error, and the redirect was followed."""
    body = ("x" * at + f"<Token-0>{SESSION_TOKEN}</Token-0>" + "y" * 3000).encode()

    def script(number: int, request: Request) -> Answer:
        if request.line.startswith("GET /acme/"):
            target = (f"http://{request.header('Host')}/s3/obj?X-Amz-Credential=AKIA%2F20261129&"
                      f"X-Amz-Security-Token={SESSION_TOKEN}&X-Amz-Signature=abc")
            return Answer(302, {"Location": target, "Content-Length": "0"})
        return Answer(400, {"Content-Type": "application/xml", "Content-Length": str(len(body))}, body)

    target_file = tmp_path / "file.csv"
    downloader = FileDownloader(file_client(POLICY), ManualClock(), timeout=POLICY.timeout, max_attempts=1,
                                backoff_seconds=0, limits=DownloadLimits(10 << 20, 30, 5))
    with HostileHost(script) as host, pytest.raises(DownloadError) as failed:
        downloader.fetch(host.url, target_file, "test")
    assert any(r.line.startswith("GET /s3/obj") for r in host.requests)
    message = str(failed.value)
    assert "HTTP 400" in message
    assert "/s3/obj, the link the host sent it on to" in message and "X-Amz" not in message  # the one answering
    leaked = [SESSION_TOKEN[i:i + 6] for i in range(len(SESSION_TOKEN) - 5) if SESSION_TOKEN[i:i + 6] in message]
    assert not leaked, message


@pytest.mark.parametrize("trickled_part", ["headers", "body", "body, then the connection closes",
                                           "body without a length, ended by closing"])
def test_an_api_answer_trickled_in_is_cut_at_the_read_timeout_and_retried(trickled_part: str) -> None:
    """Each byte of the answer within the read timeout, the whole far beyond it: every attempt is cut once
    read_timeout_seconds have passed and retried like a timeout, and the call fails saying why, also when
    the body ends by the connection closing (which a cut would make look whole); a prompt answer is not
    touched. (Status calls go through this client: a trickled status cannot hold a job past its
    job_timeout_seconds.) A file's client streams its body under its own deadline instead."""
    from uniware_source.client.interruptible import AnswerTooSlow

    policy = replace(POLICY, read_timeout_seconds=0.5, max_attempts=2)
    body = b'{"successful": true, "status": "COMPLETE", "message": "' + b"x" * 60 + b'"}'
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    if "closes" in trickled_part:
        headers["Connection"] = "close"
    if "without a length" in trickled_part:
        del headers["Content-Length"]
    closing = "clos" in trickled_part

    def trickled(number: int, request: Request) -> Answer:
        slow = number <= 2  # ~4-6 s of headers or body at the host's pace for the first two answers
        return Answer(200, headers, body, close=closing, drip=0.05 if slow and trickled_part == "headers" else 0.0,
                      body_drip=0.05 if slow and trickled_part != "headers" else 0.0)

    with HostileHost(trickled) as host:
        client = api_client(policy)
        with pytest.raises(AnswerTooSlow, match=r"no whole answer within 0.5 s \(read_timeout_seconds\)"):
            client.post(host.url, json={"jobCode": "J1"}, timeout=policy.timeout)
        assert len(host.requests) == 2  # the first attempt and its retry, both cut
        assert client.post(host.url, json={"jobCode": "J1"}, timeout=policy.timeout).json()["status"] == "COMPLETE"


@pytest.mark.parametrize("framing", ["length", "closed"])
def test_an_api_answer_larger_than_any_uniware_sends_is_not_read_whole(framing: str) -> None:
    """A status answer padded with hundreds of MB took that much memory in each polling worker (red team
    helper 87, F3: 224 -> 1,656 MB): an answer past API_ANSWER_MAX_BYTES fails the call, read no further
    and not retried at once (the status poll asks again at its next poll); a normal answer after it is read
    as ever."""
    from uniware_source.client.interruptible import API_ANSWER_MAX_BYTES, AnswerTooBig

    policy = replace(POLICY, max_attempts=2)
    padded = b'{"successful": true, "status": "COMPLETE", "message": "' + b"x" * (API_ANSWER_MAX_BYTES + 1) + b'"}'
    plain = b'{"successful": true, "status": "COMPLETE"}'

    def answers(number: int, request: Request) -> Answer:
        body = padded if number == 1 else plain
        headers = {"Content-Type": "application/json"}
        if framing == "length":
            headers["Content-Length"] = str(len(body))
        return Answer(200, headers, body, close=framing == "closed")

    with HostileHost(answers) as host:
        client = api_client(policy)
        with pytest.raises(AnswerTooBig, match=f"more than {API_ANSWER_MAX_BYTES >> 10} KB"):
            client.post(host.url, json={"jobCode": "J1"}, timeout=policy.timeout)
        # one request (the host reads the request body that no answer consumed as a line of its own)
        assert len([r for r in host.requests if r.line.startswith("POST")]) == 1
        assert client.post(host.url, json={"jobCode": "J1"}, timeout=policy.timeout).json()["status"] == "COMPLETE"


def test_a_list_of_facilities_may_be_long_any_other_answer_is_small() -> None:
    """`[{},{},...]` under the cap still parsed into millions of dicts in every polling worker (red team
    helper 91: 1,237 MB for 10 jobs): a token, create or status answer is read up to 256 KB, a
    facility/search answer (a tenant's facilities) up to 8 MB."""
    from uniware_source.client.facility_search import FACILITY_PATH
    from uniware_source.client.interruptible import API_ANSWER_MAX_BYTES, LIST_ANSWER_MAX_BYTES, AnswerTooBig

    facilities = b'{"successful": true, "parties": [' + b",".join(
        b'{"facilityCode": "F%06d", "facilityStatus": "ENABLED"}' % n for n in range(20_000)) + b"]}"
    assert API_ANSWER_MAX_BYTES < len(facilities) < LIST_ANSWER_MAX_BYTES
    padded = b'{"successful": true, "status": "RUNNING", "pad": [' + b"{}," * (API_ANSWER_MAX_BYTES // 3) + b"{}]}"

    def answers(number: int, request: Request) -> Answer:
        body = facilities if FACILITY_PATH in request.line else padded
        return Answer(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)

    with HostileHost(answers) as host:
        client = api_client(POLICY)
        base = host.url.split("/acme/")[0]
        assert len(client.post(base + FACILITY_PATH, json={}, timeout=POLICY.timeout).json()["parties"]) == 20_000
        with pytest.raises(AnswerTooBig, match="more than 256 KB"):
            client.post(base + "/services/rest/v1/export/job/status", json={"jobCode": "J1"}, timeout=POLICY.timeout)


def test_an_api_answer_announcing_a_length_of_thousands_of_digits_is_too_big_not_a_crash() -> None:
    """int() of a 5,000-digit Content-Length raised ValueError (Python's digit limit), which no caller
    catches: the run crashed (review helper 92)."""
    from uniware_source.client.interruptible import AnswerTooBig

    def answers(number: int, request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/json", "Content-Length": "9" * 5000}, b"{}", close=True)

    with HostileHost(answers) as host, pytest.raises(AnswerTooBig):
        api_client(POLICY).post(host.url, json={"jobCode": "J1"}, timeout=POLICY.timeout)


def test_an_api_answer_nested_deeper_than_python_parses_is_no_json_not_a_crash() -> None:
    """`[[[[...` under the size cap: response.json() raised RecursionError, which no caller catches (review
    helper 92); it is an answer that is not JSON, as a caller already says of one."""
    from uniware_source.client.api_call import json_of

    nested = b"[" * 200_000

    def answers(number: int, request: Request) -> Answer:
        return Answer(200, {"Content-Type": "application/json", "Content-Length": str(len(nested))}, nested)

    with HostileHost(answers) as host:
        assert json_of(api_client(POLICY).post(host.url, json={"jobCode": "J1"}, timeout=POLICY.timeout)) is None


def test_a_redirect_larger_than_any_uniware_answer_is_not_read_whole() -> None:
    """requests reads a redirect's body whole before following it, and keeps it (review helper 89): the
    padded body of a 307 fails the call as a padded answer does; a small redirect is followed as ever."""
    from uniware_source.client.interruptible import API_ANSWER_MAX_BYTES, AnswerTooBig

    padding = b"x" * (API_ANSWER_MAX_BYTES + 1)
    plain = b'{"successful": true, "status": "COMPLETE"}'

    def answers(number: int, request: Request) -> Answer:
        if " /moved " in request.line:  # (the host does not read request bodies: the line may follow one)
            return Answer(200, {"Content-Type": "application/json", "Content-Length": str(len(plain))}, plain)
        body = padding if number == 1 else b"moved"
        return Answer(307, {"Location": "/moved", "Content-Length": str(len(body))}, body)

    with HostileHost(answers) as host:
        client = api_client(POLICY)
        with pytest.raises(AnswerTooBig, match=f"more than {API_ANSWER_MAX_BYTES >> 10} KB"):
            client.post(host.url, json={"jobCode": "J1"}, timeout=POLICY.timeout)
        assert len([r for r in host.requests if r.line.startswith("POST")]) == 1  # not followed (see above)
        answer = client.post(host.url, json={"jobCode": "J1"}, timeout=POLICY.timeout)
        assert answer.json()["status"] == "COMPLETE" and len(answer.history) == 1


def test_a_file_cut_where_its_bytes_repeat_themselves_is_fetched_whole_again(tmp_path: Path) -> None:
    """Cut inside a run of `,` (a wide row of empty columns): the last bytes cannot tell a resume that is a
    byte off from a right one, so no range is asked; the file comes whole, never spliced."""
    commas = FILE[:HALF - 100] + b"," * 200 + FILE[HALF + 100:]

    def shifted(number: int, request: Request) -> Answer:
        if number == 1:
            return cut(commas, HALF)
        if request.range_start:  # a byte early, as its Content-Range says the byte asked for
            piece = commas[request.range_start - 1:][: len(commas) - request.range_start]
            return Answer(206, {"ETag": '"v1"', "Content-Length": str(len(piece)), "Content-Range":
                                f"bytes {request.range_start}-{len(commas) - 1}/{len(commas)}"}, piece)
        return whole(commas)

    stored, host, error = fetch(shifted, tmp_path)
    assert not error and stored == commas
    assert [r.range_start for r in host.requests] == [None, None]
