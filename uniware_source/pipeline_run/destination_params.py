"""A run's own settings for the pipeline's destination, given back when the run ends."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dlt.pipeline.pipeline import Pipeline


@contextmanager
def destination_params(pipeline: Pipeline, **params: Any) -> Iterator[None]:
    """While inside, `pipeline`'s destination is a copy of it with `params` added to its explicit
    configuration (which wins over .dlt/*.toml and the environment); the destination as it was after."""
    destination = pipeline.destination
    changed = copy.copy(destination)
    changed.config_params = {**destination.config_params, **params}
    pipeline.destination = changed
    try:
        yield
    finally:
        pipeline.destination = destination
