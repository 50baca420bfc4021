"""Shared fixtures: the simulator fixture comes from the package's pytest plugin."""

pytest_plugins = ["uniware_source.simulator.pytest_plugin"]
