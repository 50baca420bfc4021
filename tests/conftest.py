"""Shared fixtures: the simulator (tests/simulator_fixtures.py) and a PostgreSQL schema (tests/postgres.py)."""

pytest_plugins = ["tests.simulator_fixtures", "tests.postgres"]
