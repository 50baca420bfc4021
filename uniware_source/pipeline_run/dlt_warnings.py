"""dlt warnings the connector causes on purpose, kept out of the user's log during a run.

The load path is chosen per load package (collect.py): a package that goes straight into an empty
table is an `append`, and one whose keys were checked unique declares its staging data
`deduplicated`. dlt then warns, for every such package, that the table's `dedup_sort` hint "will be
ignored": true, and intended (there is nothing to deduplicate). On the filesystem destination (a
bucket), dlt warns for every table of every load that it is "Falling back to `append`": a bucket is an
append log of every export by design (README, "A bucket"), several lines per table and run. Every other
dlt warning passes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

EXPECTED = (('The "dedup_sort" column hint', "will be ignored"), ("Falling back to `append` on `",))


class _DropExpected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(all(part in message for part in parts) for parts in EXPECTED)


@contextmanager
def expected_warnings_dropped() -> Iterator[None]:
    """While inside, dlt's `dedup_sort ... will be ignored` and filesystem `Falling back to append` warnings
    are not logged."""
    dlt_logger = logging.getLogger("dlt")
    dropped = _DropExpected()
    dlt_logger.addFilter(dropped)
    try:
        yield
    finally:
        dlt_logger.removeFilter(dropped)
