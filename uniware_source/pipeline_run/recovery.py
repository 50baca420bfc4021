"""Packages an interrupted run left behind are loaded again as merges, so no row lands twice.

A package that took the fast path (steps/collect.py) loads its files straight into their export
tables (`append`). When the process dies after a file's COPY committed but before dlt recorded the job
as done (dlt looks at finished jobs about once a second), the next run would COPY that file again and
its rows would land twice. Before such a package is loaded again, its export tables (they have the
lineage column `_uniware_job_code`) are declared `merge` once more: the files not recorded as done go
through the staging table and replace any of their rows that already landed, on the export's key (or
the job code for exports without one, whose jobs are one file each). Files recorded as done (dlt writes a
completion marker the moment a job finishes) are not loaded again, and their rows are never touched.
Those tables get staging tables of their own, created or emptied; other tables' staging is left as it
is, since it may hold this package's finished files. A package that replaces a tenant snapshot keeps
`replace`: a run replaces through the staging table (pipeline_run/snapshot_replace.py), so the table
is untouched until the package's last step, and the rows a started COPY may have left in staging are
deleted before it runs again. Only on a destination that empties the table when the package starts
(dlt's `truncate-and-insert`) is a started one declared `merge` the same way (its one file, not
recorded as done, merges on the key into what is there).

A package that goes through the staging table has the same window: a staging COPY that committed but
was not recorded runs again on the next load. For an export with a key, dlt's deduplication of the
staging data (by key, newest `Updated`) is asked for again, so the repeat collapses; for an export
without one (merged on the job code, one file per job), the rows of the job files that had started are
deleted from the staging table before they load again. dlt's own tables (its state, the history) are
loaded by one job each per package: rows of the package that job may have committed are deleted first
(PostgreSQL would refuse the repeat: `_dlt_id` is unique there, and the package would never load).

Meanwhile another run into the same dataset (another machine, after this run lost the dataset's lock or
was killed) may have collected the package's jobs itself, loaded them, and loaded later jobs over them.
Loaded then, the package's files would merge its jobs' older rows over the newer ones (a snapshot's older
stock, an order's older status), exit 0. A job whose LOADED history row came from another load is loaded
already: its rows are taken out of the package first (a file still to load keeps its header or schema; rows a
started or finished file put in staging are deleted there). Its history rows still load: they say what this run
saw.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from contextlib import nullcontext, suppress
from typing import Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from dlt.common.destination.client import WithStagingDataset
from dlt.common.destination.configuration import CsvFormatConfiguration
from dlt.common.schema import Schema
from dlt.common.schema.utils import has_table_seen_data
from dlt.common.storages.file_storage import FileStorage
from dlt.common.storages.load_package import PackageStorage, ParsedLoadJobFileName, TPackageJobState
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from ..conversion.csv_to_parquet import JOB_CODE
from ..conversion.load_files import DEDUPLICATED_HINT, destination_csv_format
from ..conversion.target_table import loaded_by_other_loads
from .snapshot_replace import replaces_through_staging

log = logging.getLogger(__name__)

LOAD_ID = "_dlt_load_id"
JOB_STATES: tuple[TPackageJobState, ...] = ("new_jobs", "started_jobs", "completed_jobs", "failed_jobs")


def declare_merge(schema: Schema, keep_replace: bool = False) -> list[str]:
    """Export tables of `schema` that say `append` or `replace` (a package's own decision, see
    steps/collect.py) say `merge` again; their names. `keep_replace`: a package that has not started
    to load keeps `replace` (dlt empties the table when it starts: as a merge, the rows of the earlier
    snapshot that the new one lacks would stay)."""
    flipped = ("append",) if keep_replace else ("append", "replace")
    changed = []
    for name, table in schema.tables.items():
        if table.get("write_disposition") in flipped and JOB_CODE in table.get("columns", {}):
            table["write_disposition"] = "merge"
            changed.append(name)
    return changed


def drop_normalized_extracts(pipeline: Pipeline) -> list[str]:
    """Extracted packages that dlt's normalize already moved to the load storage (killed between that
    move and deleting the extracted copy) are deleted: normalizing the copy again would stop on the
    package that is there, on every run, and a package already loaded must not load twice. Their ids."""
    normalize_storage = pipeline._get_normalize_storage()
    load_storage = pipeline._get_load_storage()
    if not normalize_storage.is_storage_ready() or not load_storage.is_storage_ready():
        return []
    moved = set(load_storage.normalized_packages.list_packages()) | set(load_storage.loaded_packages.list_packages())
    dropped = [load_id for load_id in normalize_storage.extracted_packages.list_packages() if load_id in moved]
    for load_id in dropped:
        normalize_storage.extracted_packages.delete_package(load_id)
        log.info("package %s of an interrupted run was normalized before the kill: its extracted copy is removed",
                 load_id)
    return dropped


# dlt writes a file under a random name (16 hex characters) and then renames it (`FileStorage.save_atomic`)
HALF_WRITTEN = re.compile(r"[0-9a-f]{16}")


def remove_half_written_schemas(pipeline: Pipeline) -> None:
    """Files a kill left between dlt's write of a schema and its rename: dlt lists every file of the
    schemas folder as a schema, so every later sync failed (`InvalidSchemaName: '423721e012af18ae'`)
    and the pending package never loaded. The caller holds the pipeline's lock (no write is under way)."""
    folder = pipeline._schema_storage.config.schema_volume_path
    if not os.path.isdir(folder):
        return
    removed = set()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if HALF_WRITTEN.fullmatch(name) and os.path.isfile(path):
            os.remove(path)
            removed.add(name)
            log.info("%s: a schema file a stopped run left half written is removed", path)
    if removed:  # dlt listed the folder when the pipeline was made, and may have saved what it found
        pipeline.schema_names = [name for name in pipeline.schema_names if name not in removed]
        state = pipeline._get_state()
        if removed & set(state.get("schema_names") or []):
            state["schema_names"] = [name for name in state.get("schema_names") or [] if name not in removed]
            pipeline._save_state(state)


def adopt_package_schemas(pipeline: Pipeline) -> list[str]:
    """The pipeline's stored schema takes the schema of an extracted package that is newer (a run stopped
    after dlt committed the package and before it saved the pipeline's schema): dlt normalizes with the
    stored schema, which would lack the package's new tables, and stop on them on every run. The ids of
    the packages whose schema was taken."""
    normalize_storage = pipeline._get_normalize_storage()
    if not normalize_storage.is_storage_ready():
        return []
    adopted = []
    for load_id in normalize_storage.extracted_packages.list_packages():
        package = normalize_storage.extracted_packages.load_schema(load_id)
        stored = pipeline.schemas[package.name] if package.name in pipeline.schema_names else None
        if stored is None or stored.stored_version_hash in package.previous_hashes:
            pipeline._schema_storage.save_schema(package)
            if pipeline.default_schema_name is None:
                _make_default(pipeline, package.name)
            adopted.append(load_id)
            log.info("package %s of an interrupted run: the pipeline's schema %s taken from it (the run stopped "
                     "before saving it)", load_id, package.name)
    return adopted


def _make_default(pipeline: Pipeline, schema_name: str) -> None:
    """The package's schema as the pipeline's default, in its saved state too (dlt's steps read the state
    file again): a first run stopped before saving any schema left none, and dlt would normalize and load
    nothing, and its sync would take the dataset missing at the destination for one dropped there and
    wipe the pipeline's folder, packages and job codes with it. The state the package carries wins once
    it loaded (moved.yield_to_loaded_state)."""
    state = pipeline._get_state()
    state["default_schema_name"] = schema_name
    state["schema_names"] = sorted({*(state.get("schema_names") or []), schema_name})
    pipeline._save_state(state)
    pipeline._state_to_props(state)


def merge_on_reload(pipeline: Pipeline) -> dict[str, list[str]]:
    """Declare `merge` in every package of `pipeline` that waits to be normalized or loaded; by package
    that had started to load, the tables switched to `merge` here (their finished files went straight
    into the table, not to staging)."""
    switched: dict[str, list[str]] = {}
    normalize_storage = pipeline._get_normalize_storage()
    if normalize_storage.is_storage_ready():
        for load_id in normalize_storage.extracted_packages.list_packages():  # none of them started to load
            _declare_merge_in(normalize_storage.extracted_packages, load_id,
                              normalize_storage.extracted_packages.load_schema(load_id), keep_replace=True)
    load_storage = pipeline._get_load_storage()
    staged_replace = replaces_through_staging(pipeline)
    if load_storage.is_storage_ready():
        packages = load_storage.normalized_packages
        for load_id in packages.list_packages():
            # dlt applies a package's schema update (and empties its `replace` tables) once, when it starts;
            # replaced through staging, the table is untouched until the package's last step
            not_started = packages.get_schema_update_file(load_id) is not None
            flipped = _declare_merge_in(packages, load_id, packages.load_schema(load_id),
                                        keep_replace=not_started or staged_replace)
            schema = packages.load_schema(load_id)  # as saved: dlt refuses a schema changed since it was read
            if flipped:
                _fresh_staging(pipeline, schema, flipped)
                if not not_started:
                    switched[load_id] = flipped
            _started_rows_out_of_staging(pipeline, packages, load_id, schema, staged_replace)
    return switched


def _declare_merge_in(storage: PackageStorage, load_id: str, schema: Schema, keep_replace: bool = False) -> list[str]:
    """Declares `merge` (and asks for dlt's deduplication of staging data again) in the package's
    `schema`, saved with it; the tables that went straight into their table and now merge."""
    changed = declare_merge(schema, keep_replace)
    deduplicated = [name for name, table in schema.tables.items()
                    if table.pop(DEDUPLICATED_HINT, None) is not None]  # type: ignore[misc]
    if changed or deduplicated:
        storage.save_schema(load_id, schema)
    if changed:
        log.info("package %s of an interrupted run loads %s as a merge (no row twice)", load_id, ", ".join(changed))
    return changed


def _fresh_staging(pipeline: Pipeline, schema: Schema, tables: list[str]) -> None:
    """Staging tables for `tables`, created or emptied: dlt prepared the package's tables once, when
    these were `append` (no staging), and an older package may have left rows in theirs. Only these are
    emptied: nothing of this package went to their staging, while other tables' staging may hold its
    rows. Every staging table the package needs is created with them (and dlt's version table): the
    package's schema is recorded in the staging dataset, and dlt, finding it there, creates no staging
    table itself (a package stopped before its load began would fail on a missing one on every run)."""
    client, _ = pipeline._get_destination_clients(schema)
    with client:
        if not isinstance(client, WithStagingDataset):
            return
        staged = {name for name in schema.data_table_names() if has_table_seen_data(schema.tables[name])
                  and client.should_load_data_to_staging_dataset(name)}
        with client.with_staging_dataset():
            client.initialize_storage()
            client.update_stored_schema(only_tables=sorted(staged | set(tables) | {schema.version_table_name}),
                                        force=True)
            client.initialize_storage(truncate_tables=set(tables))


def _started_rows_out_of_staging(pipeline: Pipeline, storage: PackageStorage, load_id: str, schema: Schema,
                                 staged_replace: bool) -> None:
    """Deletes the rows a started job may have committed before the kill, where they can be told apart:
    rows of this package in a table the package loads with that one job (`_dlt_load_id`: the history,
    dlt's state, uniware_runs; PostgreSQL would otherwise refuse the repeat for its unique `_dlt_id`),
    and the rows of the job codes of an export without a key (one file per job) or of a snapshot
    replaced through staging (one file)."""
    files_per_table = {table: len(jobs) for table, jobs in _job_files(storage, load_id, JOB_STATES).items()}
    csv = destination_csv_format(pipeline.destination)
    deletes: list[tuple[str, bool, str, list[str]]] = []  # table, in staging, column, values
    for relative in storage.list_started_jobs(load_id):
        parsed = ParsedLoadJobFileName.parse(os.path.basename(relative))
        if storage.load_pending_transition(load_id, parsed.file_name()) is not None:
            continue  # finished before the kill: dlt records it as done and does not run it again
        table = schema.tables.get(parsed.table_name, {})
        columns = table.get("columns", {})
        replaced = staged_replace and table.get("write_disposition") == "replace"  # its job's file alone
        staged = replaced or table.get("write_disposition") == "merge"
        if LOAD_ID in columns and files_per_table.get(parsed.table_name) == 1:
            deletes.append((parsed.table_name, staged, LOAD_ID, [load_id]))
        elif parsed.file_format in ("parquet", "csv") and JOB_CODE in columns \
                and (replaced or not any(c.get("primary_key") for c in columns.values())):
            path = storage.storage.make_full_path(relative)
            codes = _job_codes_in(path, parsed.file_format, csv, list(schema.get_table_columns(parsed.table_name)))
            deletes.append((parsed.table_name, staged, JOB_CODE, sorted(codes)))
    for table_name, staged, column, values in deletes:
        _delete(pipeline, table_name, staged, column, values)
        log.info("package %s of an interrupted run: rows of a started job of %s deleted before it loads again",
                 load_id, table_name)


def drop_jobs_loaded_elsewhere(pipeline: Pipeline, switched: Optional[Mapping[str, Sequence[str]]] = None) -> list[str]:
    """Files of waiting packages whose jobs another load has loaded since (their LOADED history row is
    another package's) are taken out of their packages; the job codes taken out. `switched`: by package,
    the tables `merge_on_reload` switched to `merge` (their finished files did not go to staging)."""
    dropped: list[str] = []
    normalize_storage = pipeline._get_normalize_storage()
    if normalize_storage.is_storage_ready():
        for load_id in normalize_storage.extracted_packages.list_packages():
            dropped += _drop_loaded_elsewhere(pipeline, normalize_storage.extracted_packages, load_id, False)
    load_storage = pipeline._get_load_storage()
    if load_storage.is_storage_ready():
        staged_replace = replaces_through_staging(pipeline)
        for load_id in load_storage.normalized_packages.list_packages():
            dropped += _drop_loaded_elsewhere(pipeline, load_storage.normalized_packages, load_id, staged_replace,
                                              (switched or {}).get(load_id, ()))
    return dropped


def _drop_loaded_elsewhere(pipeline: Pipeline, storage: PackageStorage, load_id: str,
                           staged_replace: bool, switched: Sequence[str] = ()) -> list[str]:
    """The package's rows of jobs another load has loaded taken out: a file still to load keeps its header or
    schema and loses those rows (a table's merge step is made once its files have loaded, so none goes);
    rows a started or finished file put in the staging table are deleted there."""
    schema = storage.load_schema(load_id)
    package = storage.storage.make_full_path(storage.get_package_path(load_id))
    for name in os.listdir(package):  # a rewrite a kill cut short (_rows_taken_out): the file it was of is whole
        if name.startswith(".") and name.endswith(".part"):
            os.remove(os.path.join(package, name))
    csv = destination_csv_format(pipeline.destination)
    files: list[tuple[str, ParsedLoadJobFileName, TPackageJobState, set[str]]] = []  # path, name, job state, codes
    for jobs in _job_files(storage, load_id, ("new_jobs", "started_jobs", "completed_jobs")).values():
        for state, relative in jobs:
            parsed = ParsedLoadJobFileName.parse(os.path.basename(relative))
            if parsed.file_format in ("parquet", "csv") \
                    and JOB_CODE in schema.tables.get(parsed.table_name, {}).get("columns", {}):
                try:
                    codes = _job_codes_in(storage.storage.make_full_path(relative), parsed.file_format, csv,
                                          list(schema.get_table_columns(parsed.table_name)))
                except (pa.ArrowException, OSError, UnicodeError) as error:  # not written as dlt's COPY reads
                    log.warning("package %s: the job codes of %s cannot be read (%s): loaded as it is", load_id,
                                parsed.file_name(), error)
                    continue
                files.append((relative, parsed, state, codes))
    loaded = loaded_by_other_loads(pipeline, sorted(set().union(*(codes for *_, codes in files))), load_id)
    kept = _keep_replaced_tables(storage, load_id, schema, {relative: codes for relative, *_, codes in files}, loaded)
    dropped: set[str] = set().union(*(codes for _, parsed, _, codes in files if parsed.table_name in kept))
    for relative, parsed, state, codes in files:
        gone = codes & loaded
        if not gone or parsed.table_name in kept:
            continue
        disposition = schema.tables[parsed.table_name].get("write_disposition")
        staged = disposition == "merge" or (staged_replace and disposition == "replace")
        finished = state == "completed_jobs" or storage.load_pending_transition(load_id, parsed.file_name()) is not None
        if finished and (not staged or parsed.table_name in switched):
            continue  # its rows went straight into the table before the other run's loads: theirs came after
        if not finished and not _rows_taken_out(storage.storage.make_full_path(relative), parsed.file_format,
                                                gone, whole=codes <= gone, csv=csv,
                                                columns=list(schema.get_table_columns(parsed.table_name))):
            log.warning("package %s: %s holds rows of jobs %s that another run loaded since, beside others', in a "
                        "form they cannot be taken out of: loaded as it is", load_id, parsed.file_name(),
                        ", ".join(sorted(gone)))
            continue
        if state != "new_jobs" and staged:
            _delete(pipeline, parsed.table_name, True, JOB_CODE, sorted(gone))
        dropped |= gone
    if dropped:
        log.warning("package %s of an interrupted run: job(s) %s were loaded since by another run into this "
                    "dataset; their rows in the package are not loaded (they would replace newer rows)",
                    load_id, ", ".join(sorted(dropped)))
    return sorted(dropped)


def _job_files(storage: PackageStorage, load_id: str,
               states: Sequence[TPackageJobState]) -> dict[str, list[tuple[TPackageJobState, str]]]:
    """By table: the package's job files in `states` (job state, path relative to the storage)."""
    listed: dict[str, list[tuple[TPackageJobState, str]]] = {}
    for state in states:
        folder = storage.get_job_state_folder_path(load_id, state)
        for relative in storage.storage.list_folder_files(folder) if storage.storage.has_folder(folder) else []:
            listed.setdefault(ParsedLoadJobFileName.parse(os.path.basename(relative)).table_name, []).append(
                (state, relative))
    return listed


def _keep_replaced_tables(storage: PackageStorage, load_id: str, schema: Schema, codes: dict[str, set[str]],
                          loaded: set[str]) -> set[str]:
    """The `replace` tables (a tenant snapshot) all of whose files in the package hold only rows of jobs another
    run loaded since (`codes`: the job codes of each file read): they keep what they hold. Emptied, the files
    would have dlt empty the table, or replace it with the empty staging table, and the other run's newer
    snapshot would be gone. Their files still to load, and dlt's replace step if it made one, are taken out of
    the package: dlt empties (or replaces) only a table with a job of its own in the package, and makes the
    replace step only when one of them completes. Decided before any file of the package is rewritten, and
    nothing else of the package changed, so a kill at any point leaves the next run to decide the same."""
    listed = _job_files(storage, load_id, JOB_STATES)
    kept = {name for name, jobs in listed.items()
            if schema.tables.get(name, {}).get("write_disposition") == "replace"
            and any(not relative.endswith(".sql") for _, relative in jobs)
            and all(relative.endswith(".sql") or (bool(codes.get(relative)) and codes[relative] <= loaded)
                    for _, relative in jobs)}
    for name in sorted(kept):
        for state, relative in listed[name]:
            if state in ("new_jobs", "started_jobs"):
                storage.clear_pending_transition(load_id, os.path.basename(relative))  # dlt's mark of it as done
                storage.storage.delete(relative)
    if kept:
        log.warning("package %s of an interrupted run: %s keep(s) the snapshot another run loaded since (the "
                    "package's is older)", load_id, ", ".join(sorted(kept)))
    return kept


def _rows_taken_out(path: str, file_format: str, job_codes: set[str], whole: bool,
                    csv: Optional[CsvFormatConfiguration] = None, columns: Sequence[str] = ()) -> bool:
    """The file rewritten without the rows of `job_codes`, `whole` when they are all its rows; False when it
    cannot be. A Parquet file keeps its other rows and its schema; a CSV file is rewritten as dlt's COPY job
    reads it (the destination's `csv` format, its header or the table's `columns`, gzipped if it was): down to
    its header when the rows are all theirs, else its other rows as the texts they were (every value quoted,
    NULL an empty field); not in another encoding than UTF-8. Read and written a batch at a time, beside the
    file, and renamed over it, so a kill leaves the file as it was or as it is meant to be."""
    csv = csv or CsvFormatConfiguration()
    if file_format != "parquet" and not whole and csv.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return False  # Arrow writes UTF-8 only
    # in the package's folder, outside its job folders (dlt takes every file there for a job)
    part = os.path.join(os.path.dirname(os.path.dirname(path)), f".{os.path.basename(path)}.part")
    leave = pa.array(sorted(job_codes))

    def kept(batch: pa.RecordBatch) -> pa.RecordBatch:
        return batch.filter(pc.invert(pc.is_in(batch.column(JOB_CODE), value_set=leave)))

    if file_format == "parquet":
        source = pq.ParquetFile(path)
        with pq.ParquetWriter(part, source.schema_arrow) as writer:
            for batch in source.iter_batches():
                writer.write_batch(kept(batch))
        os.replace(part, path)
        return True
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    with FileStorage.open_zipsafe_ro(path, "rb") as text, \
            (pa.CompressedOutputStream(part, "gzip") if gzipped else pa.OSFile(part, "wb")) as sink:
        first = text.readline()
        if whole or not first:
            sink.write(first if csv.include_header else b"")
        else:
            text.seek(0)
            parse = pacsv.ParseOptions(delimiter=csv.delimiter, newlines_in_values=True)
            names = pacsv.read_csv(pa.py_buffer(first), parse_options=parse).column_names if csv.include_header \
                else _header_less_names(first, csv, columns)
            reader = pacsv.open_csv(
                text, read_options=pacsv.ReadOptions(column_names=None if csv.include_header else names,
                                                     encoding=csv.encoding),
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), null_values=[""],
                                                     strings_can_be_null=True, quoted_strings_can_be_null=False))
            options = pacsv.WriteOptions(include_header=csv.include_header, delimiter=csv.delimiter,
                                         quoting_style="all_valid")
            with pacsv.CSVWriter(sink, reader.schema, write_options=options) as writer:
                for batch in reader:
                    writer.write_batch(kept(batch))
    os.replace(part, path)
    return True


def _delete(pipeline: Pipeline, table_name: str, staged: bool, column: str, values: list[str]) -> None:
    with pipeline.sql_client() as client, (client.with_staging_dataset() if staged else nullcontext()):
        qualified = client.make_qualified_table_name(table_name)
        placeholders = ", ".join(["%s"] * len(values))
        with suppress(DatabaseUndefinedRelation):  # not created yet: nothing of the job reached it
            client.execute_sql(f"DELETE FROM {qualified} WHERE {column} IN ({placeholders})", *values)


def _job_codes_in(path: str, file_format: str, csv: Optional[CsvFormatConfiguration] = None,
                  columns: Sequence[str] = ()) -> set[str]:
    """The job codes of a load file's rows. A CSV file is read as dlt's COPY job reads it: with the destination's
    `csv` format (None: dlt's default, the converter's files), gzipped or not, and, written without a header,
    with the table's `columns` in their order, as many as its first row has fields."""
    if file_format == "parquet":
        column = pq.read_table(path, columns=[JOB_CODE]).column(JOB_CODE)
        return {str(code) for code in pc.unique(column).to_pylist() if code is not None}
    csv = csv or CsvFormatConfiguration()
    with FileStorage.open_zipsafe_ro(path, "rb") as opened:
        first = opened.readline()
        if not first:
            return set()
        opened.seek(0)
        names = None if csv.include_header else _header_less_names(first, csv, columns)
        column = pacsv.read_csv(opened, read_options=pacsv.ReadOptions(column_names=names, encoding=csv.encoding),
                                parse_options=pacsv.ParseOptions(delimiter=csv.delimiter, newlines_in_values=True),
                                convert_options=pacsv.ConvertOptions(include_columns=[JOB_CODE],
                                                                     column_types={JOB_CODE: pa.string()})
                                ).column(JOB_CODE)
    return {str(code) for code in pc.unique(column).to_pylist() if code is not None}


def _header_less_names(first: bytes, csv: CsvFormatConfiguration, columns: Sequence[str]) -> list[str]:
    """The columns of a CSV file without a header, as dlt's COPY job takes them: the table's, in order, as
    many as the `first` line has fields."""
    return list(columns)[:len(first.decode(csv.encoding).rstrip("\r\n").split(csv.delimiter))]
