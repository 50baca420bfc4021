"""The local PostgreSQL the warehouse tests load into, and a fresh schema per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import psycopg2
import pytest

POSTGRES = "postgresql://postgres:trust@127.0.0.1:5432/test"  # trust auth: dlt wants some password


def require_postgres() -> None:
    """PostgreSQL must be up (.ci/run starts it): these tests fail, never skip, without it."""
    try:
        psycopg2.connect(POSTGRES).close()
    except psycopg2.OperationalError as error:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({error}); .ci/run starts it")


def drop_datasets(datasets: Sequence[str]) -> None:
    """Drop each dataset's schema and its dlt staging schema."""
    with psycopg2.connect(POSTGRES) as connection, connection.cursor() as cursor:
        for dataset in datasets:
            cursor.execute(f"DROP SCHEMA IF EXISTS {dataset} CASCADE")
            cursor.execute(f"DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")


@pytest.fixture
def postgres_dataset() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    require_postgres()
    dataset = f"uniware_{uuid.uuid4().hex[:10]}"
    yield dataset
    drop_datasets([dataset])
