"""A destination's settings that do not connect (a role, database or host that does not exist, a bad
option, a connection string that does not parse, a DuckDB path that is a directory) are setting errors,
exit 2, naming the destination's setting and never its password: they were dlt's sync step failing, exit 3
(red team). A destination that may be down for a while (a refused port, a server starting up) and the same
failure later in a run (the server went away) stay exit 3.
Through the console script's `main` against the simulator and the local PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline_process import FixedNow
from tests.postgres import drop_datasets, require_postgres
from tests.simulator_fixtures import simulator_settings_in_env
from uniware_simulator import UniwareSimulator
from uniware_simulator.presets import TEST_NOW
from uniware_source.cli import main

PASSWORD = "Pw-Secret-9371"  # trust auth takes any: a password only to check that no line quotes it
SETTING = "DESTINATION__POSTGRES__CREDENTIALS"


@pytest.fixture
def cli(sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    simulator_settings_in_env(sim, tmp_path, monkeypatch, cleared=("SOURCES__UNIWARE__", "DESTINATION__"))

    def run(*args: str) -> int:
        return main(["--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "dm", *args],
                    clock=FixedNow(TEST_NOW))
    return run


def creates(sim: UniwareSimulator) -> int:
    return len(sim.requests.where("create"))


@pytest.fixture
def dataset() -> Iterator[str]:
    name = f"dm_{os.getpid()}"
    yield name
    drop_datasets([name])


@pytest.mark.parametrize("url, said", [
    (f"postgresql://nosuchrole:{PASSWORD}@127.0.0.1:5432/test",
     ['role "nosuchrole" does not exist', f"its user name ({SETTING}__USERNAME"]),
    (f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/nodb_dm",
     ['database "nodb_dm" does not exist', f"its database ({SETTING}__DATABASE"]),
    (f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/test?sslmode=bogus",
     ['invalid sslmode value: "bogus"', "the options after its '?'"]),
    (f"postgresql:/postgres:{PASSWORD}@127.0.0.1/test", ["does not parse as a connection string"]),
    (f"postgresql://postgres:{PASSWORD}@nosuchhost.invalid:5432/test",
     ['"nosuchhost.invalid"', f"its host, whose name does not resolve ({SETTING}__HOST"]),
], ids=["role", "database", "option", "not-a-url", "unknown-host"])
def test_postgres_credentials_that_do_not_connect_are_a_setting_error_naming_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        url: str, said: list[str]) -> None:
    require_postgres()
    monkeypatch.setenv(SETTING, url)
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("configuration error: ") and f"{SETTING} (or credentials in [destination.postgres] of " \
        ".dlt/secrets.toml)" in line, line
    assert all(words in line for words in said), line
    assert PASSWORD not in out + err and "Pw-Secret" not in out + err
    assert creates(sim) == 0  # refused at the first contact, before any job


def test_a_duckdb_path_that_is_a_folder_is_a_setting_error_naming_it(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "folder.duckdb").mkdir()
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "folder.duckdb"))
    assert cli("--facility", "BLR01") == 2
    line = capsys.readouterr().err.strip()
    assert "DESTINATION__DUCKDB__CREDENTIALS" in line and "Is a directory" in line and "check the path" in line, line
    assert "\n" not in line and creates(sim) == 0


class CuttableProxy:
    """A TCP proxy to the local PostgreSQL; once cut, it closes its connections and every new one at
    once, as a server that went away."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", 5432))
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()

    def go_away(self) -> None:
        self.cut.set()
        for end in list(self.sockets):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.go_away()
        self.listener.close()


def test_a_destination_lost_after_the_first_contact_is_no_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        dataset: str) -> None:
    """The server goes away once the run has synced with it and made a job: exit 3, not 'configuration
    error' (the same driver error, at connecting, as for a wrong port at the first contact)."""
    require_postgres()
    proxy = CuttableProxy()
    try:
        monkeypatch.setenv(SETTING, f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/test")
        sim.inject("create", "delay", seconds=1.0, times=1)  # the job is made while the proxy is cut

        def cut_at_the_first_create() -> None:
            if sim.requests.wait_for(lambda requests: any(r.endpoint == "create" for r in requests), timeout=60):
                proxy.go_away()
        watcher = threading.Thread(target=cut_at_the_first_create, daemon=True)
        watcher.start()
        code = cli("--destination", "postgres", "--dataset", dataset, "--facility", "BLR01")
        watcher.join(timeout=5)
    finally:
        proxy.close()
    out, err = capsys.readouterr()
    assert creates(sim) >= 1 and code == 3, (code, err)
    assert "configuration error" not in err and "error: " in err, err
    assert PASSWORD not in out + err


def _refusing_postgres(code: str, message: str) -> int:
    """A port whose server answers every connection's start-up with PostgreSQL's FATAL `code`."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                length = struct.unpack("!I", connection.recv(4))[0]
                body = connection.recv(length - 4)
                if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):  # SSL or GSS asked first: no
                    connection.sendall(b"N")
                    connection.recv(struct.unpack("!I", connection.recv(4))[0] - 4)
                fields = b"SFATAL\x00VFATAL\x00C" + code.encode() + b"\x00M" + message.encode() + b"\x00\x00"
                connection.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)

    threading.Thread(target=serve, daemon=True).start()
    return int(server.getsockname()[1])


@pytest.mark.parametrize("refusal", [
    ("57P03", "the database system is starting up"), ("53300", "sorry, too many clients already"),
    ("57P01", "terminating connection due to administrator command"),
    ("53300", 'too many connections for role "postgres"'), ("53300", 'too many connections for database "test"'),
    None,
], ids=["starting-up", "too-many-clients", "admin-shutdown", "role-limit", "database-limit", "closed-port"])
def test_a_destination_not_ready_at_the_first_contact_is_said_but_no_setting_error(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        refusal: Any) -> None:
    """A server starting up, out of connections, shutting down, or a refused port (the server down for a while):
    a scheduled run of a pipeline that loaded for months was told its setting was wrong (exit 2). It may pass:
    exit 3, naming the setting to check all the same."""
    port = _refusing_postgres(*refusal) if refusal else 1
    monkeypatch.setenv(SETTING, f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/test")
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 3
    out, err = capsys.readouterr()
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("error: could not connect to the postgres destination with ") and SETTING in line, line
    assert (refusal[1] if refusal else "its host and port, and that the server is up there") in line, line
    assert PASSWORD not in out + err and creates(sim) == 0


def test_a_duckdb_file_another_program_holds_is_no_setting_error(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(database)!r}); "
                               "print('held', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
        assert cli("--facility", "BLR01") == 3
        assert "configuration error" not in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()


def test_a_password_with_an_unescaped_at_sign_is_masked_where_the_driver_splits_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`user:Zq9@Zq9Secret@host`: the driver takes `Zq9Secret@host` for the host and quotes it."""
    monkeypatch.setenv(SETTING, "postgresql://postgres:Zq9@Zq9Secret@nosuchhost.invalid:5432/test")
    cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01")
    out, err = capsys.readouterr()
    assert "Zq9Secret" not in out + err and "nosuchhost.invalid" in err, err


def test_the_user_name_stays_readable_when_the_password_holds_it(
        cli: Any, sim: UniwareSimulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`admin:admin%402024`: the password's pieces are masked, but not the piece that is the user name."""
    monkeypatch.setenv(SETTING, "postgresql://nosuchadmin:nosuchadmin%402024@127.0.0.1:5432/test")
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 2
    out, err = capsys.readouterr()
    assert 'role "nosuchadmin" does not exist' in err and "2024" not in out + err, err


# passwords holding what ends a URL's user information for one reader or another (urlsplit: "#", "?", "/";
# dlt's parser: the first "@"; a driver's own: the last "@" or the first ":"), in various places: (password,
# whether dlt's parser takes part of it for the host, port or database)
UNESCAPED = [
    ("Tr0ub@dor#2024x", True),  # the red team's: the host was `dor#2024x@localhost`, quoted
    ("Kx7#Qm2?Zp9/Wv4@Bh6", True),
    ("Hq5:Lr8@Ns3#Tb6", True),
    ("@Vy2Fj8Rk/Dw5?", True),  # at the start: the password's start is the host, its rest the database
    ("Mz4/Gc7:Pb1@Xn9", True),
    ("Jd3?Wq6#Sk8:Ly2@", True),  # at the end: the host is `@127.0.0.1`, a socket path
    ("Rw2:Ct5/Hm8:Qe1", False),  # read whole by dlt: the role is what is wrong
    ("Gf6#Tz3q", False),
]


def pieces(password: str) -> set[str]:
    """Every run of 4 characters of `password`."""
    return {password[at:at + 4] for at in range(len(password) - 3)}


def leaks(password: str, texts: dict[str, str], folder: Path) -> list[str]:
    """Where a run of 4 characters of `password` (in any case) appears: in `texts` or a file under `folder`
    (dlt's state and schemas; not its trace.pickle: see test_dlts_trace_keeps_the_drivers_words_unmasked)."""
    texts = dict(texts)
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "trace.pickle":
            texts[str(path)] = path.read_bytes().decode("latin-1")
    return [f"{where}: {piece!r}" for where, text in texts.items() for piece in sorted(pieces(password))
            if piece.lower() in text.lower()]


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def assert_encoding_advice(line: str, misread: bool) -> None:
    assert "URL-encode (percent-encode) its user name and password (write @ as %40" in line, line
    if misread:  # the host, port or database were cut from the password: their checks would be wrong
        assert "part of the password was read as the host" in line and "; check" not in line, line
    else:
        assert "check its user name" in line, line


@pytest.mark.parametrize("password, misread", UNESCAPED, ids=[f"password{n}" for n in range(len(UNESCAPED))])
def test_a_password_holding_what_ends_a_urls_user_information_is_never_quoted_and_is_to_be_url_encoded(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, password: str, misread: bool) -> None:
    """`postgresql://loader:Tr0ub@dor#2024x@localhost`: the driver took `dor#2024x@localhost` for the host
    and quoted it, and the line said to check the host (red team): urlsplit, cutting the URL at the `#`, had
    the password `Tr0ub`'s `p`, too short to mask. No run of 4 characters of the password reaches the
    output, the log or the pipeline's files, however the driver split it, and the advice is to URL-encode."""
    require_postgres()
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(SETTING, f"postgresql://loader:{password}@127.0.0.1:5432/test")
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 2
    out, err = capsys.readouterr()
    line = one_error_line(err)
    assert line.startswith("configuration error: could not connect to the postgres destination with "), line
    assert_encoding_advice(line, misread)
    assert not leaks(password, {"stdout": out, "stderr": err, "log": caplog.text}, tmp_path / "pl")
    assert creates(sim) == 0


def test_a_password_with_colons_only_is_masked_and_needs_no_encoding(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Every reader takes a password up to the "@" after the user name's ":", colons and all: the host is
    the one to check, and nothing is to be URL-encoded."""
    password = "Bn4:Kp7:Wd2x:Qs5"
    monkeypatch.setenv(SETTING, f"postgresql://loader:{password}@nosuchhost.invalid:5432/test")
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 2
    out, err = capsys.readouterr()
    line = one_error_line(err)
    assert '"nosuchhost.invalid"' in line and "check its host" in line and "URL-encode" not in line, line
    assert not leaks(password, {"stdout": out, "stderr": err, "log": caplog.text}, tmp_path / "pl")


@pytest.mark.parametrize("password, misread", [UNESCAPED[0], UNESCAPED[3], UNESCAPED[7]],
                         ids=["at-and-hash", "at-first", "hash-only"])
def test_the_sqlalchemy_destination_masks_such_a_password_too(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, password: str, misread: bool) -> None:
    require_postgres()
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS",
                       f"postgresql+psycopg2://loader:{password}@127.0.0.1:5432/test")
    assert cli("--destination", "sqlalchemy", "--dataset", "dm_never", "--facility", "BLR01") == 2
    out, err = capsys.readouterr()
    line = one_error_line(err)
    assert "DESTINATION__SQLALCHEMY__CREDENTIALS" in line, line
    assert_encoding_advice(line, misread)
    assert not leaks(password, {"stdout": out, "stderr": err, "log": caplog.text}, tmp_path / "pl")


@pytest.mark.parametrize("secrets_toml, host_is_wrong", [
    ('[destination.postgres]\ncredentials = "postgresql://loader:{password}@127.0.0.1:5432/test"\n', False),
    # where dlt looks first: a table named after the pipeline
    ('[dm.destination.postgres]\ncredentials = "postgresql://loader:{password}@127.0.0.1:5432/test"\n', False),
    ('[destination.postgres.credentials]\ndatabase = "test"\nusername = "loader"\npassword = "{password}"\n'
     'host = "nosuchhost.invalid"\n', True),
], ids=["connection-string", "pipeline-table", "table"])
@pytest.mark.parametrize("password", ["Tr0ub@dor#2024x", "Jd3?Wq6#Sk8:Ly2@"], ids=["at-inside", "at-last"])
def test_such_a_password_in_secrets_toml_is_never_quoted(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, secrets_toml: str, host_is_wrong: bool,
        password: str) -> None:
    """The console script in a fresh process reading .dlt/secrets.toml. Given as a table, dlt encodes the
    password itself: the host is the one to check, and nothing is to be URL-encoded."""
    require_postgres()
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(secrets_toml.format(password=password))
    done = subprocess.run(
        [sys.executable, "-m", "uniware_source.cli", "--pipelines-dir", str(tmp_path / "pl"), "--pipeline-name", "dm",
         "--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01"],
        env=dict(os.environ), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    if host_is_wrong:
        assert '"nosuchhost.invalid"' in line and "check its host" in line and "URL-encode" not in line, line
    else:
        assert_encoding_advice(line, misread=True)
    assert not leaks(password, {"stdout": done.stdout, "stderr": done.stderr}, tmp_path / "pl")
    assert creates(sim) == 0


@pytest.mark.parametrize("password", [UNESCAPED[0][0], "Zq9#wXy/42@vv"])
def test_dlts_trace_quoting_the_drivers_words_is_not_kept(
        cli: Any, sim: UniwareSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    """The destination's error reaches dlt's trace.pickle (`dlt pipeline <name> trace`) before the connector
    sees it, with the part of the password the driver took for the host: that trace is not kept."""
    monkeypatch.setenv(SETTING, f"postgresql://loader:{password}@127.0.0.1:5432/test")
    assert cli("--destination", "postgres", "--dataset", "dm_never", "--facility", "BLR01") == 2
    for trace in (tmp_path / "pl").rglob("trace.pickle"):
        text = trace.read_bytes().decode("latin-1")
        assert not [piece for piece in pieces(password) if piece in text]
