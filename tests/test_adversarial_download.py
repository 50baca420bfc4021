"""Hostile file hosts: endless, huge, trickling, gzipped, full-disk, and presigned links with secrets.

Every case drives the real pipeline over HTTP against the simulator and checks what landed, what
the history says, that no partial file is left behind, and that no part of a link other than
scheme, host(:port) and path reached a log, an error, the history or a table.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import pytest

from tests.simulator_fixtures import fast_config
from uniware_simulator import (
    DELAY,
    ENDLESS,
    GZIP,
    GZIP_TRUNCATE,
    HTTP_ERROR,
    HUGE_LENGTH,
    RESET,
    TRICKLE,
    TRUNCATE,
    UniwareSimulator,
)
from uniware_source import ExportsFailed
from uniware_source.client import download
from uniware_source.client.download import RESUME_OVERLAP

from .harness import Harness
from .hostile_host import Answer, HostileHost, Request, whole

RETURNS: list[Any] = ["Return Invoices"]
ONE: dict[str, Any] = {"exports": RETURNS, "facilities": ["BLR01"]}
SIGNATURE = "5f2c0a9d3b8e41f7a6c2d9e0b1f3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE%2F20260416%2Fap-south-1%2Fs3%2Faws4_request"
SECURITY_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENvalue0123456789"
QUERY = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date=20260416T063000Z"
         f"&X-Amz-Expires=3600&X-Amz-Security-Token={SECURITY_TOKEN}&X-Amz-SignedHeaders=host"
         f"&X-Amz-Signature={SIGNATURE}")
USERINFO = "exporter:hunter2-LinkSecret"
LINK_SECRETS = [SIGNATURE, CREDENTIAL, "AKIAIOSFODNN7EXAMPLE", SECURITY_TOKEN, "X-Amz-Signature",
                "X-Amz-Credential", USERINFO, "hunter2-LinkSecret", "exporter:", "exporter@",
                base64.b64encode(USERINFO.encode()).decode()]


@pytest.fixture
def harness(uniware_simulator: UniwareSimulator, tmp_path: Path) -> Harness:
    return Harness(uniware_simulator, tmp_path)


@pytest.fixture
def link_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UniwareSimulator]:
    """A simulator whose links carry a presigned query string and userinfo."""
    config = fast_config(file_url_query=QUERY, file_url_userinfo=USERINFO,
                         files_dir=tmp_path_factory.mktemp("sim-files"))
    with UniwareSimulator(config) as sim:
        yield sim


def assert_no_leftovers(download_dir: Path) -> None:
    """Nothing but the DuckDB file and dlt's pipeline folder: no CSV, Parquet, partial file or workdir."""
    left = sorted(p.name for p in download_dir.iterdir()
                  if p.name != "pipelines" and not p.name.endswith((".duckdb", ".duckdb.wal", ".duckdb.lock")))
    assert left == []


def failed_download(harness: Harness, **settings: Any) -> tuple[str, dict[str, Any]]:
    """Run a collect that must end in DOWNLOAD_FAILED; (the problem text, the job's last history row)."""
    with pytest.raises(ExportsFailed) as raised:
        harness.run(**{**ONE, **settings})
    [problem] = raised.value.problems
    [job] = harness.sim.jobs.all()
    last = harness.history(job.code)[-1]
    assert last["status"] == "DOWNLOAD_FAILED"
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
    assert_no_leftovers(harness.workdir)
    assert job.file is not None
    host = harness.sim.file_base_url.split('://')[1]
    assert f"{host}{job.file.url_path}" in problem  # host + path named
    assert (last["file_host"], last["file_path"]) == (host, job.file.url_path)  # and in the history's columns
    return problem, last


def assert_reexported_next_run(harness: Harness) -> None:
    harness.run(**ONE)
    jobs = harness.sim.jobs.all()
    assert len(jobs) == 2  # a new job for the same window
    assert jobs[1].file is not None and harness.count("return_invoices") == jobs[1].file.rows
    assert_no_leftovers(harness.workdir)


def assert_reexported_next_run_after_clearing(harness: Harness) -> None:
    harness.sim.faults.clear()
    assert_reexported_next_run(harness)


def assert_loaded_exactly(harness: Harness) -> dict[str, Any]:
    [job] = harness.sim.jobs.all()
    assert job.file is not None
    assert harness.count("return_invoices") == job.file.rows
    [loaded] = [r for r in harness.history(job.code) if r["status"] == "LOADED"]
    assert loaded["file_bytes"] == job.file.bytes
    assert loaded["file_sha256"] == hashlib.sha256(job.file.path.read_bytes()).hexdigest()
    assert_no_leftovers(harness.workdir)
    return loaded


# -- item 5: bounds --------------------------------------------------------------------------


def test_a_file_link_that_is_not_a_url_fails_that_job_not_the_run(harness: Harness,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    served = harness.sim.file_url
    links: list[str] = []

    def first_link_broken(url_path: str) -> str:  # the first job to complete gets a link no parser reads
        links.append(url_path)
        return f"https://[fd00::1{url_path}?X-Amz-Signature=s3cr3t" if len(links) == 1 else served(url_path)

    monkeypatch.setattr(harness.sim, "file_url", first_link_broken)
    with pytest.raises(ExportsFailed) as raised:
        harness.run(exports=[*RETURNS, "Invoice"], facilities=["BLR01"])
    [problem] = raised.value.problems
    assert "cannot be read as a URL" in problem and "s3cr3t" not in problem
    failed = [j for j in harness.sim.jobs.all() if harness.history(j.code)[-1]["status"] == "DOWNLOAD_FAILED"]
    loaded = [j for j in harness.sim.jobs.all() if harness.history(j.code)[-1]["status"] == "LOADED"]
    assert len(failed) == len(loaded) == 1  # the other export loaded in the same run
    tables = {"Return Invoices": "return_invoices", "Invoice": "invoices"}
    assert loaded[0].file is not None and harness.count(tables[loaded[0].report.name]) == loaded[0].file.rows
    monkeypatch.setattr(harness.sim, "file_url", served)
    harness.run(exports=[failed[0].report.name], facilities=["BLR01"])  # its window is exported again and loads
    newest = harness.sim.jobs.all()[-1]
    assert newest.file is not None and harness.count(tables[failed[0].report.name]) == newest.file.rows


def test_endless_chunked_body_is_cut_at_download_max_bytes(harness: Harness) -> None:
    harness.sim.inject("download", action=ENDLESS)
    problem, last = failed_download(harness, download_max_bytes=300_000)
    assert "download_max_bytes" in problem and "300,000" in problem and "DOWNLOAD_MAX_BYTES" in problem
    assert last["message"] in problem
    assert harness.sim.requests.count("download") == 1  # refused, not retried
    assert_reexported_next_run(harness)


def test_announced_size_above_the_limit_is_refused_up_front(harness: Harness) -> None:
    harness.sim.inject("download", action=HUGE_LENGTH, length=50_000_000_000)
    problem, _ = failed_download(harness)  # the default limit: 20 GB
    assert "announces 50,000,000,000 bytes" in problem and "download_max_bytes (20,000,000,000)" in problem
    assert harness.sim.requests.count("download") == 1
    assert_reexported_next_run(harness)


def test_a_trickle_is_stopped_by_the_overall_deadline(harness: Harness) -> None:
    # 1 byte every 0.2 s never trips a read or stall timeout; only the per-file deadline ends it
    harness.sim.inject("download", action=TRICKLE, chunk_bytes=1, seconds=0.2, times=None)
    problem, _ = failed_download(harness, download_timeout_seconds=1.0, download_stall_timeout_seconds=0.5)
    assert "not complete after 1 s" in problem and "download_timeout_seconds" in problem
    assert_reexported_next_run_after_clearing(harness)


def test_a_stall_gives_up_the_attempt_and_the_next_one_resumes(harness: Harness,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    harness.sim.inject("download", action=TRICKLE, chunk_bytes=2048, seconds=1.5, times=1)
    with caplog.at_level(logging.WARNING):
        report = harness.run(**ONE, download_stall_timeout_seconds=0.3)
    assert not report.problems
    assert "no byte for 0.3 s after 2048 bytes (download_stall_timeout_seconds)" in caplog.text
    second = harness.sim.requests.where("download")[1]
    assert second.header("Range") == f"bytes={2048 - RESUME_OVERLAP}-"  # the last bytes again, to check them
    assert_loaded_exactly(harness)


@pytest.mark.parametrize("link", ["s3://uniware-exports{path}?X-Amz-Signature=SIGsecret0987654321",
                                  "ftp://exporter:PWsecret4321@files.example{path}"])
def test_a_link_no_attempt_can_fetch_fails_at_once_not_retried(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, link: str) -> None:
    """A filePath of a scheme requests cannot fetch (`s3://`, `ftp://`) failed the same way on each of
    download_max_attempts attempts, waiting between them; now the job is DOWNLOAD_FAILED at once, saying so,
    without the link's query or password."""
    monkeypatch.setattr(harness.sim, "file_url", lambda url_path: link.format(path=url_path))
    with caplog.at_level(logging.WARNING), pytest.raises(ExportsFailed) as raised:
        harness.run(**ONE, download_max_attempts=4)
    [problem] = raised.value.problems
    assert "cannot be fetched over HTTP(S)" in problem and "not retried" in problem, problem
    assert "attempt 1 of 4" not in caplog.text
    [job] = harness.sim.jobs.all()
    assert harness.history(job.code)[-1]["status"] == "DOWNLOAD_FAILED"
    for secret in ("SIGsecret0987654321", "PWsecret4321"):
        assert secret not in problem and secret not in caplog.text
        assert all(secret not in str(row) for row in harness.history())


@pytest.mark.parametrize("past_the_end", ["an empty 206", "one byte more each time"])
def test_a_body_without_a_length_whose_end_is_never_confirmed_fails_within_its_attempts(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, past_the_end: str) -> None:
    """A host sending the file without a length and answering every Range request past its end with a 206
    of no byte (or of one more byte) and no length was asked again 60-100 times a second until
    download_timeout_seconds, an hour, then said to be slow (red team helper 129): now each attempt asks at
    most twice, and the job is DOWNLOAD_FAILED after download_max_attempts, naming the answer."""
    def script(number: int, request: Request) -> Answer:
        [job] = harness.sim.jobs.all()
        assert job.file is not None
        start = request.range_start
        if start is None:
            return whole(job.file.path.read_bytes(), length=False)
        if past_the_end == "an empty 206":
            return Answer(206, {"ETag": '"v1"', "Content-Range": f"bytes {start}-{start - 1}/{start}"}, close=True)
        return Answer(206, {"ETag": '"v1"', "Content-Range": f"bytes {start}-{start}/*"}, b"\n", close=True)

    with HostileHost(script) as host:
        monkeypatch.setattr(harness.sim, "file_url", lambda url_path: host.url)
        with pytest.raises(ExportsFailed) as raised:
            harness.run(**ONE, download_max_attempts=3)
        asked = len(host.requests)
    [problem] = raised.value.problems
    assert "gave up after 3 attempts" in problem and "/acme/export.csv" in problem, problem
    assert ("empty HTTP 206" if past_the_end == "an empty 206" else "ended without one too") in problem, problem
    assert asked <= 3 * 3
    [job] = harness.sim.jobs.all()
    assert harness.history(job.code)[-1]["status"] == "DOWNLOAD_FAILED"
    assert not harness.has_table("return_invoices") or harness.count("return_invoices") == 0
    assert_no_leftovers(harness.workdir)
    monkeypatch.undo()
    assert_reexported_next_run(harness)


def test_stalls_on_every_attempt_end_the_job_naming_the_setting(harness: Harness) -> None:
    harness.sim.inject("download", action=DELAY, seconds=0.6, times=None)
    problem, _ = failed_download(harness, download_stall_timeout_seconds=0.2, download_max_attempts=2)
    assert "gave up after 2 attempts" in problem and "download_stall_timeout_seconds" in problem
    assert_reexported_next_run_after_clearing(harness)


def test_announced_size_above_free_space_is_no_space_left(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = types.SimpleNamespace(total=10_000, used=9_990, free=10)
    monkeypatch.setattr(download, "shutil", types.SimpleNamespace(disk_usage=lambda path: usage))
    problem, _ = failed_download(harness)
    [workdir_line] = [w for w in problem.split("no space left in ")[1:]]
    assert workdir_line.startswith(str(harness.workdir))  # the collector's directory under download_dir
    assert "10 are free" in problem and "download_dir" in problem
    assert harness.sim.requests.count("download") == 1  # a full disk is not a broken connection
    monkeypatch.undo()
    assert_reexported_next_run(harness)


def test_enospc_while_writing_is_no_space_left_not_a_retry(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Any, out: BinaryIO, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download._Progress, "add", full)
    problem, _ = failed_download(harness)
    assert f"no space left in {harness.workdir}" in problem and "No space left on device" in problem
    assert harness.sim.requests.count("download") == 1
    monkeypatch.undo()
    assert_reexported_next_run(harness)


def test_an_interrupt_while_writing_leaves_no_partial_file(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    original = download._Progress.add
    written: list[Path] = []

    def interrupted(self: Any, out: BinaryIO, chunk: bytes) -> None:
        original(self, out, chunk[:100])
        written.append(Path(out.name))
        raise KeyboardInterrupt

    monkeypatch.setattr(download._Progress, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):  # raised on a worker, re-raised on dlt's extract thread
        harness.run(**ONE)
    assert written and not written[0].exists()
    assert_no_leftovers(harness.workdir)


# -- item 6: Content-Encoding ----------------------------------------------------------------


def test_identity_is_asked_for_and_honoured(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    with UniwareSimulator(fast_config(file_gzip=True, files_dir=tmp_path_factory.mktemp("sim-files"))) as sim:
        harness = Harness(sim, tmp_path)
        harness.run(**ONE)
        [request] = sim.requests.where("download")
        assert request.header("Accept-Encoding") == "identity"
        assert_loaded_exactly(harness)


def test_a_forced_gzip_body_is_decoded_and_checked(harness: Harness) -> None:
    harness.sim.inject("download", action=GZIP, times=None)
    report = harness.run(**ONE)
    assert not report.problems
    assert harness.sim.requests.count("download") == 1
    assert_loaded_exactly(harness)  # bytes and checksum are those of the decoded file


def test_a_truncated_gzip_body_restarts_from_byte_zero(harness: Harness) -> None:
    harness.sim.inject("download", action=GZIP_TRUNCATE, fraction=0.5, times=1)
    harness.run(**ONE)
    _, second = harness.sim.requests.where("download")
    assert second.header("Range") is None  # an encoded stream cannot be resumed
    assert_loaded_exactly(harness)


def test_a_gzip_answer_to_a_range_request_restarts(harness: Harness) -> None:
    harness.sim.inject("download", action=TRUNCATE, fraction=0.4, times=1)
    harness.sim.inject("download", action=GZIP_TRUNCATE, fraction=0.7, times=1)
    harness.run(**ONE)
    requests = harness.sim.requests.where("download")
    assert len(requests) == 3
    assert (requests[1].header("Range") or "").startswith("bytes=") and requests[2].header("Range") is None
    assert_loaded_exactly(harness)


def test_a_gzip_body_is_bounded_by_its_decoded_bytes(harness: Harness) -> None:
    harness.sim.inject("download", action=GZIP, times=None)
    problem, _ = failed_download(harness, download_max_bytes=1_000)
    assert "download_max_bytes" in problem


# -- item 7: secrets in file URLs ------------------------------------------------------------


def leak_texts(harness: Harness, caplog: pytest.LogCaptureFixture, errors: list[str]) -> dict[str, str]:
    texts = {"log": caplog.text, "errors": "\n".join(errors),
             "history": json.dumps(harness.history(), default=str),
             "state": json.dumps(harness.pipeline.state, default=str)}
    trace = harness.pipeline.last_trace
    assert trace is not None
    texts["trace"] = str(trace) + json.dumps(trace.asdict(), default=str)
    tables = [r[0] for r in harness.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = ?",
                                        harness.dataset)]
    assert "export_job_status" in tables
    for table in tables:
        texts[table] = json.dumps(harness.sql(f"SELECT * FROM {{ds}}.{table}"), default=str)
    return texts


def assert_no_link_secret(texts: dict[str, str]) -> None:
    for secret in LINK_SECRETS:
        for where, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {where}"


def test_a_presigned_link_with_userinfo_loads_and_stores_host_and_path_only(
        link_sim: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(link_sim, tmp_path)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    harness.run(**ONE)
    loaded = assert_loaded_exactly(harness)
    host = link_sim.file_base_url.split("://")[1]
    assert loaded["file_host"] == host and "?" not in loaded["file_path"]
    [request] = link_sim.requests.where("download")
    assert request.query  # the link really carried its query to the file host
    assert "GET /" in caplog.text  # urllib3 logged the request line, without its query
    assert_no_link_secret(leak_texts(harness, caplog, []))


@pytest.mark.parametrize("fault", [
    pytest.param({"action": RESET, "times": None}, id="reset"),
    pytest.param({"action": DELAY, "seconds": 0.5, "times": None}, id="read-timeout"),
    pytest.param({"action": HTTP_ERROR, "status": 403, "times": None}, id="403"),
    pytest.param({"action": ENDLESS, "times": None}, id="too-large"),
])
def test_a_failing_presigned_link_leaks_nothing(link_sim: UniwareSimulator, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture, fault: dict[str, Any]) -> None:
    harness = Harness(link_sim, tmp_path)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    link_sim.inject("download", **fault)
    errors: list[str] = []
    try:
        harness.run(**ONE, read_timeout_seconds=0.2, download_max_attempts=2, download_max_bytes=200_000)
    except ExportsFailed as error:
        errors.append(str(error))
        errors.append(repr(error))
    assert errors, "the download should have failed"
    [job] = link_sim.jobs.all()
    assert harness.history(job.code)[-1]["status"] in ("DOWNLOAD_FAILED", "INVALID_FILE")
    assert_no_leftovers(tmp_path)
    assert_no_link_secret(leak_texts(harness, caplog, errors))


SHORT = {"tok": "Tk7x", "s": "ShortSess9", "hdnts": "exp=1799999999~acl=/*~hmac=feedface"}


@pytest.mark.parametrize("fault", [None, {"action": HTTP_ERROR, "status": 403, "times": None}], ids=["loads", "403"])
def test_a_link_quoted_in_the_status_message_and_its_short_values_leak_nothing(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        fault: dict[str, Any] | None) -> None:
    """The finished job's own message quotes its link URL-encoded: the link's values were registered as
    secrets only when its download began, after the history row had stored the message with the
    signature. Query values shorter than 16 characters were never secrets (`s=ShortSess9`)."""
    query = QUERY + "&" + "&".join(f"{name}={quote(value, safe='')}" for name, value in SHORT.items())
    config = fast_config(file_url_query=query, file_link_in_message=True, files_dir=tmp_path_factory.mktemp("sim"))
    with UniwareSimulator(config) as sim:
        harness = Harness(sim, tmp_path)
        caplog.set_level(logging.DEBUG)
        errors: list[str] = []
        if fault:
            sim.inject("download", **fault)
        try:
            harness.run(**ONE, download_max_attempts=2)
        except ExportsFailed as error:
            errors += [str(error), repr(error)]
        assert bool(errors) is bool(fault)
        [job] = sim.jobs.all()
        assert any("Export ready, download at" in (row["message"] or "") for row in harness.history(job.code))
        texts = leak_texts(harness, caplog, errors)
    for secret in [*LINK_SECRETS, *SHORT.values(), quote(SHORT["hdnts"], safe=""), "feedface"]:
        for where, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {where}"
