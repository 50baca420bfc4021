"""No password or token in logs, exceptions, the history, the DuckDB file or dlt's trace, across faults."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from uniware_simulator import EXPIRE_TOKENS, FAIL, RESET, TRUNCATE, UNSUCCESSFUL, UniwareSimulator
from uniware_source import AuthError, ExportsFailed

from .harness import Harness


def test_no_secret_leaks_through_a_run_with_faults(uniware_simulator: UniwareSimulator, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    sim.inject("token", status=500)
    sim.inject("create", action=RESET, after_processing=True)
    sim.inject("status", action=EXPIRE_TOKENS, refresh_too=False)
    sim.inject("status", status=429, retry_after=1)
    sim.inject("download", action=TRUNCATE, fraction=0.3)
    sim.inject_job_fate(FAIL, match=lambda report, facility: facility == "MUM03")
    errors: list[str] = []
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    try:
        harness.run(exports=["Sale Orders", "Return Invoices"])
    except ExportsFailed as error:
        errors.append(str(error))
    sim.expire_tokens()  # a stale token echoed back by a 401 must not leak either
    try:
        harness.run(exports=["Return Invoices"], password="not-the-password-either")
    except AuthError as error:
        errors.append(str(error))
    assert len(errors) == 2
    assert sum(f for f in sim.faults.fired().values()) >= 6

    secrets = [sim.config.password, "not-the-password-either", *sim.tokens.every_token]
    assert len(sim.tokens.every_token) >= 4  # password grant, refresh grant, and their refresh tokens
    # urllib3 logged the token request, without its query (which carries the password)
    assert '"GET /oauth/token HTTP/1.1"' in caplog.text and "password=" not in caplog.text
    texts = {"log": caplog.text, "errors": "\n".join(errors),
             "history": json.dumps(harness.history(), default=str),
             "state": json.dumps(harness.pipeline.state, default=str)}
    trace = harness.pipeline.last_trace
    assert trace is not None
    texts["trace"] = str(trace) + json.dumps(trace.asdict(), default=str)
    for table in ("sale_orders", "return_invoices", "export_job_status", "_dlt_loads", "_dlt_version"):
        texts[table] = json.dumps(harness.sql(f"SELECT * FROM {{ds}}.{table}"), default=str)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "sim-files" not in p.parts]
    assert any(p.name.endswith(".duckdb") for p in files) and any("trace" in p.name for p in files)
    for secret in secrets:
        for where, text in texts.items():
            assert secret not in text, f"a secret leaked into {where}"
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"a secret leaked into {path}"
    assert not any(r.has_authorization for r in sim.requests.where(server="files"))
    assert all(r.has_authorization for r in sim.requests.where(server="api")
               if r.endpoint in ("create", "status", "facility"))


def _leaks(harness: Harness, tmp_path: Path, secrets: list[str], texts: dict[str, str]) -> list[str]:
    """Where any of `secrets` appears: in `texts`, the tables of the run, or any file under `tmp_path`."""
    for table in ("export_job_status", "uniware_runs", "_dlt_loads"):
        if harness.has_table(table):
            texts[table] = json.dumps(harness.sql(f"SELECT * FROM {{ds}}.{table}"), default=str)
    texts["state"] = json.dumps(harness.pipeline.state, default=str)
    found = [f"{where}: {secret}" for secret in secrets for where, text in texts.items() if secret in text]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "sim-files" not in p.parts]
    return found + [f"{path}: {secret}" for secret in secrets for path in files if secret.encode() in path.read_bytes()]


@pytest.mark.parametrize("fate", [FAIL, UNSUCCESSFUL])
def test_a_token_uniware_echoes_in_a_job_message_is_masked_everywhere(
        uniware_simulator: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, fate: str) -> None:
    """A careless build quotes the caller's access token in a failed job's message, whole and as its
    letters and digits alone ("session <hex>"): neither reaches the log, the run's error, the history,
    the uniware_runs row, dlt's state or any file of the pipeline."""
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    message = "export failed for session {token_hex} (access_token={token})"
    sim.inject_job_fate(fate, message=message, **({"polls": None} if fate == UNSUCCESSFUL else {}))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExportsFailed, match="export failed for session") as failed:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    tokens = sim.tokens.every_token
    secrets = tokens + ["".join(c for c in token if c.isalnum()) for token in tokens]
    assert "***" in str(failed.value)
    assert not _leaks(harness, tmp_path, secrets, {"log": caplog.text, "error": str(failed.value)})


def test_the_login_uniware_echoes_as_basic_auth_writes_it_is_masked_everywhere(
        uniware_simulator: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """`username:password` in base64 (as HTTP basic auth writes it) quoted in a failed job's message reached
    the error, the history, the state and uniware_runs unmasked (red team helper 118): the password alone was
    registered, and its base64 shares no characters with the pair's."""
    import base64

    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    pair = f"{sim.config.username}:{sim.config.password}".encode()
    forms = {base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()}
    forms |= {form.rstrip("=") for form in forms}
    sim.inject_job_fate(FAIL, message=f"export failed (auth={sorted(forms)[0]}, basic {sorted(forms)[-1]})")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExportsFailed, match="export failed") as failed:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert "***" in str(failed.value)
    assert not _leaks(harness, tmp_path, sorted(forms), {"log": caplog.text, "error": str(failed.value)})


@pytest.mark.parametrize("status", [400, 500])
def test_a_token_uniware_echoes_in_a_refused_create_is_masked_in_state_too(
        uniware_simulator: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, status: int) -> None:
    """A create refused with the caller's token quoted in its errors (a 400 at once, a 500 after its
    retries): the window's last error, kept in dlt's state for the next run and `status`, is masked like
    the log, the error and the history."""
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    sim.inject("create", status=status, times=None, message="no export for session {token_hex} ({token})")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExportsFailed) as failed:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"], request_max_attempts=2)
    [entry] = harness.ledger_entries("return_invoices")
    assert entry["last_error"] and "***" in entry["last_error"]
    tokens = sim.tokens.every_token
    secrets = tokens + ["".join(c for c in token if c.isalnum()) for token in tokens]
    assert not _leaks(harness, tmp_path, secrets, {"log": caplog.text, "error": str(failed.value)})


@pytest.mark.parametrize("times", [1, None])
def test_a_password_grant_is_tried_at_most_twice_and_the_message_says_how_often(
        uniware_simulator: UniwareSimulator, tmp_path: Path, times: int | None) -> None:
    """An HTTP 500 from the token endpoint: one more grant, never a third (a locked account); when that
    fails too, the message says it was tried once more, not "not retried"."""
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    sim.inject("token", status=500, times=times)
    if times == 1:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])
        assert len(sim.requests.where("token")) == 2
        return
    with pytest.raises(AuthError, match="tried once more after a first HTTP 500, and no more"):
        harness.run(exports=["Return Invoices"], facilities=["BLR01"])
    assert len(sim.requests.where("token")) == 2


# a password with what percent-encoders disagree on: `/` (kept in a path), `@:` (RFC 3986's safe set),
# `!'()*` (kept by JavaScript's encodeURIComponent), a space (`%20` or `+`), and a letter outside ASCII
_ODD_PASSWORD = "Pa$s/K9#z Q@x:(1)!é"


@pytest.mark.parametrize("safe", ["/", "/:@", "!'()*-._~", "/:@!$&'()*+,;=", ":"])
def test_a_password_echoed_percent_encoded_by_any_encoder_is_masked(
        uniware_simulator: UniwareSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, safe: str) -> None:
    """The token endpoint answers an HTTP 500 quoting the password percent-encoded the way one encoder
    or another writes it (which characters it leaves as they are differs; hex in either case; `+` for
    a space): none of those spellings reaches the log, the error, a table, dlt's state or a file."""
    sim = uniware_simulator
    harness = Harness(sim, tmp_path)
    spellings = [quote(_ODD_PASSWORD, safe=safe), quote_plus(_ODD_PASSWORD, safe=safe),
                 quote(_ODD_PASSWORD, safe=safe).lower()]
    sim.inject("token", status=500, times=None, message=" / ".join(f"bad credentials {s}" for s in spellings))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as refused:
        harness.run(exports=["Return Invoices"], facilities=["BLR01"], password=_ODD_PASSWORD)
    assert "bad credentials ***" in str(refused.value) or "bad credentials ***" in caplog.text
    assert not _leaks(harness, tmp_path, spellings, {"log": caplog.text, "error": str(refused.value)})
