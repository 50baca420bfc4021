"""Whether a table of the current pipeline's dataset holds no row, asked of the destination itself.

A merge into an empty table, of rows whose key does not repeat, is an append: the fast path that
loads a file straight into the table (no staging copy, no delete-insert) is chosen by this check and
the key check (key_check.py), never assumed from state (a `reset`, a user truncating or dropping the
table, another pipeline writing the same dataset).
"""

from __future__ import annotations

import logging

from dlt.destinations.exceptions import DatabaseUndefinedRelation

log = logging.getLogger(__name__)


def table_is_empty(table_name: str) -> bool:
    """True when the table is absent or has no row; False when it has rows or the destination cannot
    be asked (no SQL client: filesystem and the like; an error)."""
    import dlt

    try:
        pipeline = dlt.current.pipeline()
        with pipeline.sql_client() as client:
            qualified = client.make_qualified_table_name(table_name)
            try:
                with client.execute_query(f"SELECT 1 FROM {qualified} LIMIT 1") as cursor:
                    return cursor.fetchone() is None
            except DatabaseUndefinedRelation:
                return True  # not created yet (or dropped): the first load
    except Exception as error:  # any doubt means the merge path, which is always right
        log.debug("cannot tell whether %s is empty (%s): merging", table_name, type(error).__name__)
        return False
