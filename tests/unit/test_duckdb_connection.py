"""The DuckDB connection a load holds (pipeline_run/duckdb_connection.py) and the memory limit raised on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from uniware_source.pipeline_run import duckdb_memory
from uniware_source.pipeline_run.duckdb_connection import connection_held, credentials_pinned


def _pipeline(tmp_path: Path) -> Any:
    return dlt.pipeline("held", pipelines_dir=str(tmp_path / "pipelines"),
                        destination=dlt.destinations.duckdb(str(tmp_path / "held.duckdb")), dataset_name="ds")


def test_the_held_connection_has_the_settings_dlt_gives_its_own(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The held connection opens the database, so it must apply what dlt's SQL client applies on the
    first open (checkpoint threshold, time zone), or every job of the load would run without them."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    query = "SELECT current_setting('TimeZone'), current_setting('checkpoint_threshold')"
    pipeline = _pipeline(tmp_path)
    with pipeline.sql_client() as client:
        expected = client.execute_sql(query)
    destination = pipeline.destination
    with credentials_pinned(pipeline):
        assert pipeline.destination is not destination
        with connection_held(pipeline) as connection:
            assert connection is not None
            assert connection.execute(query).fetchall() == expected
            with pipeline.sql_client() as client:  # what a job of the load gets: the same settings
                assert client.execute_sql(query) == expected
    assert pipeline.destination is destination
    with duckdb.connect(str(tmp_path / "held.duckdb")) as other:  # closed after the load: another process may open it
        assert other.execute("SELECT 1").fetchall() == [(1,)]


def test_nothing_is_held_for_credentials_resolved_per_step(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path)
    with connection_held(pipeline) as connection:
        assert connection is None


class _Refusing:
    """A connection that takes the raised limit but refuses to lower it again (a query still holds more)."""

    def __init__(self) -> None:
        self.limit = "128.0 MiB"

    def execute(self, sql: str, parameters: Any = None) -> Any:
        if sql.startswith("SELECT current_setting"):
            return duckdb.connect().execute("SELECT ?", [self.limit])
        if parameters is not None:  # the limit set back
            raise duckdb.OutOfMemoryException("Failed to change memory limit: could not free up enough memory")
        self.limit = sql.split("'")[1]
        return None


def test_setting_the_limit_back_never_hides_the_loads_own_outcome() -> None:
    connection = _Refusing()
    with pytest.raises(KeyboardInterrupt), duckdb_memory.raised_limit(1 << 30, connection):
        assert connection.limit == "1024MB"
        raise KeyboardInterrupt  # a Ctrl-C while a job of the load still runs its query
    with duckdb_memory.raised_limit(1 << 30, connection):  # a load that went well stays one
        pass


def test_a_retry_never_asks_for_more_than_half_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duckdb_memory, "max_limit", lambda: 8 << 30)
    assert duckdb_memory.retry_limit(10, 128 << 20) == 256 << 20
    assert duckdb_memory.retry_limit(10, 6 << 30) == 8 << 30  # twice would be 12 GB
    assert duckdb_memory.retry_limit(10, None) == duckdb_memory.MIN_LIMIT
    assert duckdb_memory.retry_limit(10, 19 << 30) is None  # DuckDB's default: 80 % of the machine
