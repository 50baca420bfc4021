"""No password or token in logs, exceptions, the history, the DuckDB file or dlt's trace, across faults."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from uniware_simulator import EXPIRE_TOKENS, FAIL, RESET, TRUNCATE, UniwareSimulator
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
