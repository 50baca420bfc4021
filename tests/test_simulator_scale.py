"""The simulator generates and serves a 1M-row export at flat memory (its own process's peak RSS)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
import requests

PEAK_RSS_LIMIT_MB = 200


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) / 1024


@pytest.fixture
def simulator_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "uniware_simulator", "--port", "0", "--file-port", "0",
         "--orders-per-day", "205000", "--history-days", "11", "--seconds-per-status", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = ""
        assert process.stdout is not None
        for line in process.stdout:
            if "API (base_url):" in line:
                base_url = line.split()[-1]
            if line.startswith("Ctrl-C"):
                break
        assert base_url, "the simulator did not print its URL"
        yield process, base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def count_csv_rows(path: Path) -> int:
    reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                            convert_options=pacsv.ConvertOptions(column_types={}, include_columns=[]))
    return sum(batch.num_rows for batch in reader)


def test_one_million_row_export_keeps_simulator_memory_flat(
    simulator_process: tuple[subprocess.Popen[str], str], tmp_path: Path,
) -> None:
    process, base_url = simulator_process
    token = requests.get(f"{base_url}/oauth/token", params={
        "grant_type": "password", "client_id": "my-trusted-client",
        "username": "api.user@acme.example", "password": "s3cret-Pa55!"}, timeout=10).json()["access_token"]
    headers = {"Authorization": f"bearer {token}", "Content-Type": "application/json"}
    now = datetime.now(UTC)
    body = {
        "exportJobTypeName": "Sale Orders",
        "exportColums": ["soicode", "saleOrderCode", "displayorderCode", "channel", "status", "skuCode",
                         "itemTypeName", "sellingPrice", "shippingAddressLine1", "created", "updated", "facility"],
        "exportFilters": [{"id": "addedOn", "dateRange": {
            "start": int((now - timedelta(days=10)).timestamp() * 1000),
            "end": int(now.timestamp() * 1000)}}],
        "frequency": "ONETIME",
    }
    job = requests.post(f"{base_url}/services/rest/v1/export/job/create", json=body,
                        headers={**headers, "Facility": "BLR01"}, timeout=10).json()["jobCode"]
    deadline = time.monotonic() + 600
    status: dict[str, str] = {}
    while time.monotonic() < deadline and not status.get("filePath"):
        status = requests.post(f"{base_url}/services/rest/v1/export/job/status", json={"jobCode": job},
                               headers=headers, timeout=10).json()
        if not status.get("filePath"):
            time.sleep(0.5)  # waiting on a separate process generating 1M rows, not on test logic
    assert status.get("filePath"), status
    received = 0
    target = tmp_path / "export.csv"
    with requests.get(status["filePath"], stream=True, timeout=60) as answer, open(target, "wb") as out:
        expected = int(answer.headers["Content-Length"])
        for chunk in answer.iter_content(1 << 20):
            received += len(chunk)
            out.write(chunk)
    assert received == expected
    rows = count_csv_rows(target)
    assert rows >= 1_000_000
    peak = peak_rss_mb(process.pid)
    print(f"simulator peak RSS {peak:.0f} MB serving a {received / 1e6:.0f} MB export of {rows:,} rows")
    assert peak < PEAK_RSS_LIMIT_MB
