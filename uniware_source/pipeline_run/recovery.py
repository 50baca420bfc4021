"""Packages an interrupted run left behind are loaded again as merges, so no row lands twice.

A package that took the fast path (steps/collect.py) loads its files straight into their export
tables (`append`). When the process dies after a file's COPY committed but before dlt recorded the job
as done (dlt looks at finished jobs about once a second), the next run would COPY that file again and
its rows would land twice. Before such a package is loaded again, its export tables (they have the
lineage column `_uniware_job_code`) are declared `merge` once more: the files not recorded as done go
through the staging table and replace any of their rows that already landed, on the export's key (or
the job code for exports without one, whose jobs are one file each). Files recorded as done are not
loaded again either way.
"""

from __future__ import annotations

import json
import logging
import os

from dlt.common.schema import Schema
from dlt.common.storages.load_package import PackageStorage
from dlt.pipeline.pipeline import Pipeline

from ..conversion.csv_to_parquet import JOB_CODE

log = logging.getLogger(__name__)


def declare_merge(schema: Schema) -> list[str]:
    """Export tables of `schema` that say `append` say `merge` again; their names."""
    changed = []
    for name, table in schema.tables.items():
        if table.get("write_disposition") == "append" and JOB_CODE in table.get("columns", {}):
            table["write_disposition"] = "merge"
            changed.append(name)
    return changed


def merge_on_reload(pipeline: Pipeline) -> None:
    """Declare `merge` in every package of `pipeline` that waits to be normalized or loaded."""
    normalize_storage = pipeline._get_normalize_storage()
    if normalize_storage.is_storage_ready():
        for load_id in normalize_storage.extracted_packages.list_packages():
            _declare_merge_in(normalize_storage.extracted_packages, load_id)
    load_storage = pipeline._get_load_storage()
    if load_storage.is_storage_ready():
        for load_id in load_storage.normalized_packages.list_packages():
            if _declare_merge_in(load_storage.normalized_packages, load_id):
                _prepare_tables_again(load_storage.normalized_packages, load_id)


def _declare_merge_in(storage: PackageStorage, load_id: str) -> bool:
    schema = storage.load_schema(load_id)
    changed = declare_merge(schema)
    if changed:
        storage.save_schema(load_id, schema)
        log.info("package %s of an interrupted run loads %s as a merge (no row twice)", load_id, ", ".join(changed))
    return bool(changed)


def _prepare_tables_again(storage: PackageStorage, load_id: str) -> None:
    """dlt prepares a package's tables once (its schema update, then marked applied); the package's
    tables now need their staging tables, so the loader prepares them again (an empty update: nothing
    else changes in the destination)."""
    update = os.path.join(load_id, PackageStorage.SCHEMA_UPDATES_FILE_NAME)
    if not storage.storage.has_file(update):
        storage.storage.save(update, json.dumps({}))
