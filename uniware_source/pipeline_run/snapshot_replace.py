"""A tenant snapshot replaces its table in one transaction, through dlt's staging dataset.

dlt's default replace (`truncate-and-insert`) empties the table when the package starts to load and
COPYs the file after: readers see an empty Item Master meanwhile, and a COPY that fails leaves it
empty until a later run. A run asks its SQL destination for `insert-from-staging` instead: the file
goes to the staging table, and only once it is all there does one transaction empty the table and
insert the staged rows (readers see the old snapshot or the new one; a failure leaves the old one).
A strategy the destination was given as an argument wins when it is atomic too (`staging-optimized`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from dlt.pipeline.pipeline import Pipeline

THROUGH_STAGING = "insert-from-staging"
ATOMIC = (THROUGH_STAGING, "staging-optimized")


def replaces_through_staging(pipeline: Pipeline) -> bool:
    """Whether `pipeline`'s `replace` tables load into staging first (the run's destination, see below)."""
    destination = pipeline.destination
    return destination is not None and destination.config_params.get("replace_strategy") in ATOMIC


@contextmanager
def snapshots_through_staging(pipeline: Pipeline) -> Iterator[None]:
    """While inside, `pipeline`'s destination replaces through its staging dataset where it can (a SQL
    destination that supports it); the destination as it was is given back after."""
    destination = pipeline.destination
    if destination is None or replaces_through_staging(pipeline) \
            or destination.destination_type.endswith("filesystem") \
            or THROUGH_STAGING not in (destination.capabilities().supported_replace_strategies or ()):
        yield
        return
    staged = copy.copy(destination)
    staged.config_params = {**destination.config_params, "replace_strategy": THROUGH_STAGING}
    pipeline.destination = staged
    try:
        yield
    finally:
        pipeline.destination = destination
