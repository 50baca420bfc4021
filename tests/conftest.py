"""Shared fixtures: the simulator fixture comes from tests/simulator_fixtures.py."""

pytest_plugins = ["tests.simulator_fixtures"]
