"""The collect step: see an export's submitted jobs through and hand their rows to dlt.

Rows of a job, the ledger update that moves the cursor, and the job's history rows are produced
together in one extract, so dlt commits them in one load package: a cursor never moves past rows
that did not land. A job that fails, times out or yields a bad file leaves the cursor alone and
is reported; the other jobs and exports still load.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Optional

import dlt
import pyarrow.parquet as pq
from dlt.common.libs.pyarrow import get_column_type_from_py_arrow

from ..catalog import APPEND, CATALOG, REPLACE, ExportSpec
from ..conversion.column_names import ColumnNames, legacy_names, same_labels
from ..conversion.csv_to_parquet import (
    KEY_OCCURRENCE,
    RESERVED_COLUMNS,
    ConvertedFile,
    CsvConverter,
    Lineage,
)
from ..conversion.facility_guard import check as check_facility
from ..conversion.facility_guard import check_names, names_of
from ..conversion.file_layout import FileLayout, kind_of, loaded_kind, tells_newest
from ..conversion.key_check import FileKeys, KeyStore
from ..conversion.load_files import COPY_PARTS, CSV, PARQUET, file_import, forget_deduplicated
from ..conversion.target_table import add_missing_key_column, held_by_other_jobs, table_is_empty
from ..conversion.window_guard import check as check_window
from ..history import HISTORY_TABLE, job_event
from ..jobs.workers import Crashed, Doubted, FileReady, JobEnded, JobTicket, StatusChanged, job_collector
from ..ledger import Entry, ExportLedger, files_conflict
from ..runtime import SourceRuntime, active_facilities
from ..statuses import FAILED_STATUSES, OUTCOME_HISTORY, EntryKind, HistorySource, HistoryStatus, Outcome
from ..type_labels import fold_label, report_labels, requested_columns_absent
from ..windows import IST, shown_time
from .numbering import numbered_after_destination

log = logging.getLogger(__name__)

ARROW_BATCH_ROWS = 65536


def _shared_keys(spec: ExportSpec) -> str:
    if spec.repeating_keys:
        return (f"rows of the file repeat keys ({', '.join(spec.primary_key)}) of another job's file of this run "
                "(another facility's, or another window's): each file's rows of a key are kept, numbered, and "
                "stand for the key, so the two files' rows cannot both stand for it. This window is exported again "
                "in the next run, whose rows of those keys then replace the other file's; if the two are different "
                "records, widen primary_key for this export (two facilities' own codes: codes_per_facility = true "
                "keys the rows on the facility too)")
    return (f"rows of the file repeat keys ({', '.join(spec.primary_key)}) of another job's file of this run (another "
            "facility's, or another window's), and no dedup_sort tells which row to keep: dlt would keep any one "
            "of them. If they are different records, widen primary_key for this export (with a column that tells "
            "them apart; two facilities' own codes: codes_per_facility = true); if they are versions of one record, "
            "set dedup_sort to the "
            "column that tells the newest")


def _identities(ready: FileReady) -> list[tuple[str, str]]:
    """What makes two files of one run the same file: their bytes, or the same rows whatever the bytes
    around them (line ends, a BOM, the order of the rows): the same set of keys (an export with a key), the
    same lines (one without, row_fingerprint.py). Files without rows have none."""
    if not ready.converted.rows:
        return []
    identities = [("sha256", ready.download.sha256)] if ready.download.sha256 else []
    fingerprint = ready.converted.keys.fingerprint
    return identities + ([("keys", fingerprint)] if fingerprint else [])


# how a refusal says what comes of the job's window; a job given by code has none, and is not polled again
_EXPORTED_AGAIN = re.compile(r"(?i)\b(?:the|this) window is exported again(?: (?:in the )?next run)?|"
                             r"\bit is exported again next run|\bis exported again next run")
_GIVEN_BY_CODE_ENDS = ("this job given by code is not polled again (it has no window of its own): export its days "
                       "again with --start/--end")


def _given_by_code_ends(reason: str) -> str:
    """A refusal's reason as said of a job given by code (`job_codes`): no window of it is exported again."""
    said, found = _EXPORTED_AGAIN.subn(_GIVEN_BY_CODE_ENDS, reason)
    return said if found else f"{reason}; {_GIVEN_BY_CODE_ENDS}"


def _same_file(sha256: str, other: str, spec: ExportSpec) -> str:
    said = f"the file host served the same file (sha256 {sha256[:16]}..., or the same rows) as for {other}: "
    if spec.write_disposition == REPLACE and spec.facility_scoped:
        return (said + "a facility's snapshot holds that facility's rows, and one file cannot be told apart as two "
                "facilities', so it is not loaded; the snapshot is taken again next run. Two facilities whose rows "
                "are exactly the same (new ones with nothing in stock yet) are refused so until their rows differ; "
                "with the column id 'facility' among the export's columns (each row's facility name) their files "
                "differ wherever their names do. A report that ignores the facility (one file for all) wants "
                "facility_scoped = false")
    return (said + "a job's file holds its own window's rows, and one file cannot be told apart as two windows', so "
            "it is not loaded; the window is exported again next run (a report that ignores the facility, the same "
            "for every one, wants facility_scoped = false; one whose rows carry no date, the same for every window, "
            "wants no date_filter: a snapshot, write_disposition 'replace')")


def _history(row: dict[str, Any]) -> Any:
    return dlt.mark.with_table_name(row, HISTORY_TABLE)


class ExportCollection:
    """Collects the submitted jobs of one export, inside its resource generator."""

    def __init__(self, spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime,
                 normalize: Callable[[str], str]) -> None:
        self.spec = spec
        self.ledger = ledger
        self.rt = rt
        self.normalize = normalize
        self.tally = rt.report.tally(spec.name, spec.table_name)
        self.names = column_names(spec, ledger, normalize)
        self.target_empty: Optional[bool] = None  # asked of the destination at the package's first file
        self.files_in_package = 0  # the jobs' files this package loads into the table so far
        self.loaded_before = ledger.newest_loaded()  # by earlier packages: this one's files merge together
        # the labels of this run's last file that passed _on_file's checks: the next files are compared with
        # them (the ledger keeps a loaded file's, for later runs)
        self.run_header: Optional[list[str]] = None
        # the labels each facility's last file loaded by an earlier run stood for (this run's own files do not
        # count: the first run of two facilities has nothing to lose); a ledger an earlier version kept has only
        # the raw labels of the export's last file
        self.loaded_labels = {facility: {fold_label(label) for label in labels}
                              for facility, labels in ledger.loaded_labels_by_facility().items()}
        self.loaded_header = {fold_label(label) for label in ledger.last_header or ()}

    def run(self) -> Iterator[Any]:
        entries = self.ledger.to_collect(self.rt.run_id, active_facilities(self.spec, self.ledger, self.rt))
        if not entries:
            return
        numbered_after_destination(entries)
        tickets = [self._ticket(e) for e in entries]
        forget_deduplicated(self.spec.table_name)  # decided again for this package, from its data
        self.ledger.forget_empty_snapshots()  # the earlier packages loaded, with what they deleted
        started = self.rt.clock.monotonic()
        key_store = KeyStore(directory=self.rt.settings.download_dir)  # the key over this package's files
        try:
            yield from self._collect(tickets, key_store)
        finally:
            key_store.close()  # never raises: an error on the way out stays the error
            self.tally.seconds += self.rt.clock.monotonic() - started

    def _collect(self, tickets: list[JobTicket], key_store: KeyStore) -> Iterator[Any]:
        collector = self.rt.collector(job_collector)
        try:
            load_format = self.rt.load_format or PARQUET
            converter = CsvConverter(
                self._types_kept(), self.names, on_bad_rows=self.rt.settings.on_bad_rows, load_format=load_format,
                parts=self._parts(load_format), key_store=key_store)
            collector.start(tickets, converter)
            pending = {t.entry_key for t in tickets}
            accepted: list[tuple[Entry, FileReady]] = []  # files that passed every check, loaded at the end
            try:
                yield from self._events(collector, pending, converter, accepted)
                yield from self._load_accepted(accepted, converter)
            finally:
                for _, ready in accepted:  # not handed to dlt (an interrupt, an error): their files go
                    converter.discard(ready.converted)
        finally:
            self.rt.release_collector()

    def _events(self, collector: Any, pending: set[str], converter: CsvConverter,
                accepted: list[tuple[Entry, FileReady]]) -> Iterator[Any]:
        """Handles the jobs' events until every job ended or delivered a file."""
        while pending:
            event = collector.next_event(self.spec.table_name, timeout=0.05)
            if event is None:
                yield None  # let dlt turn to the other exports meanwhile
                continue
            if isinstance(event, Crashed):
                raise event.error
            entry = self.ledger.find(event.ticket.entry_key)
            assert entry is not None, event.ticket.entry_key
            if isinstance(event, StatusChanged):
                yield self._on_status(entry, event)
                continue
            if isinstance(event, Doubted):  # kept with the job: a later run never takes it as empty either
                self.ledger.record_doubt(entry, event.reason)
                continue
            pending.discard(event.ticket.entry_key)
            if isinstance(event, FileReady):
                yield from self._on_file(entry, event, converter, accepted)
            else:
                yield from self._on_ended(entry, event)

    # -- set-up ------------------------------------------------------------------------------

    def _asked_as(self, entry: Entry) -> ExportSpec:
        """The export as the entry's job was asked for: by the date filter it was made with (a refused
        filter's fallback, or the one configured then), so its file is checked on that filter's column."""
        return self.spec.with_date_filter(entry.date_filter)

    def _ticket(self, entry: Entry) -> JobTicket:
        assert entry.job_code is not None
        return JobTicket(
            table_name=self.spec.table_name,
            entry_key=entry.key,
            job_code=entry.job_code,
            label=f"{entry.describe(self.spec.name)} / job {entry.job_code}",
            lineage=Lineage(entry.job_code, entry.facility, entry.start, entry.end, entry.created_at,
                            self._asked_as(entry).window_column),
            polls_before=entry.polls,
            last_status=entry.status,
            doubt=entry.doubt,
        )

    # -- events ------------------------------------------------------------------------------

    def _on_status(self, entry: Entry, event: StatusChanged) -> Any:
        observation = event.observation
        self.ledger.record_status(entry, observation.status, observation.polls)
        self.rt.report.job_event(event.ticket.job_code, entry.describe(self.spec.name), observation.status,
                                 polls=observation.polls)
        return _history(job_event(
            self.spec, entry, self.rt.run_id, observation.status, source=HistorySource.UNIWARE,
            observed_at=observation.observed_at, message=observation.message, errors=observation.errors,
            polls=observation.polls))

    def _on_file(self, entry: Entry, event: FileReady, converter: CsvConverter,
                 accepted: list[tuple[Entry, FileReady]]) -> Iterator[Any]:
        """A job's converted file: refused (history row) when a check fails, else accepted, to load once
        every job of the export is done (see _load_accepted)."""
        converted, download = event.converted, event.download
        newer = self._newer_loaded(entry)
        if newer is not None:
            yield from self._refuse(entry, event, converter, Outcome.SUPERSEDED, (
                f"not loaded: a job created later ({newer:%Y-%m-%d %H:%M:%S} UTC) already loaded this "
                "facility's rows, and this file, asked for before it, could put older versions of them back; "
                "the window is exported again next run"))
            return
        overlapped = self._other_jobs_rows(entry)
        if overlapped is not None:
            yield from self._refuse(entry, event, converter, Outcome.OVERLAPS, overlapped)
            return
        older = self._adopted_may_be_older(entry, converted)
        if older is not None:  # said with its rows, not refused: refusing would never load a job of past days
            log.warning("%s: %s", event.ticket.label, older)
            converted.problems.append(older)
        header_problem = self._check_header(converted) or self._requested_absent(converted, entry.facility) or \
            self._check_types(converted)
        if header_problem is not None:
            yield from self._refuse(entry, event, converter, Outcome.PARSE_FAILED, header_problem)
            return
        if converted.rows and download.sha256:
            other = self.ledger.file_loaded_elsewhere(download.sha256, entry, self.spec.facility_scoped,
                                                      converted.keys.fingerprint, self.rt.run_id)
            if other is not None:
                yield from self._refuse(entry, event, converter, Outcome.INVALID_FILE, _same_file(
                    download.sha256, other, self.spec) + "; if that earlier load was the wrong one, `uniware-pipeline "
                    f"reset --export \"{self.spec.name}\" --facility <its facility>` forgets it and exports it again")
                return
        guards = (  # a file that fails one is refused whole; a finding that does not fail is said with its rows
            (Outcome.OUT_OF_WINDOW, check_window(self._asked_as(entry), entry.start, entry.end, converted.window_span,
                                                 self.rt.settings.on_window_violation, converted.window_no_dates,
                                                 converted.window_latest, entry.created_at)),
            (Outcome.INVALID_FILE, check_facility(converted.facility_codes, lambda: () if self.rt.settings.job_codes
                                                  else self.rt.tenant_facilities())),  # job_codes: asks none
            (Outcome.INVALID_FILE, check_names(
                converted.facility_names, self.ledger.facility_names(entry.facility),
                self.ledger.facility_names_by_facility(),
                lambda facility: f"`uniware-pipeline reset --export \"{self.spec.name}\" --facility {facility}`",
                self.rt.settings.shared_facility_names)),
        )
        for outcome, finding in guards:
            if finding is not None and finding.fail:
                yield from self._refuse(entry, event, converter, outcome, finding.message)
                return
            if finding is not None:
                log.warning("%s: %s", event.ticket.label, finding.message)
                converted.problems.append(finding.message)
        # the labels this run's next files are compared with: a file refused above sets none; a file
        # refused later (_load_accepted) none for later runs (saved with a file's rows, in _load)
        self.run_header = _labels(converted)
        accepted.append((entry, event))

    def _refuse(self, entry: Entry, event: FileReady, converter: CsvConverter, outcome: Outcome,
                reason: str) -> Iterator[Any]:
        converter.discard(event.converted)
        yield from self._on_ended(entry, JobEnded(event.ticket, outcome, event.status, reason, event.polls,
                                                  (event.download.host, event.download.url_path)))

    def _load_accepted(self, accepted: list[tuple[Entry, FileReady]], converter: CsvConverter) -> Iterator[Any]:
        """Hands the accepted files to dlt, once every job of the export is done: files of two jobs with
        the same content (and rows) are refused, all of them, when one file cannot be both jobs' file
        (ledger.files_conflict) and which one it is for cannot be told (a file host that served one link
        twice). A file an earlier package loaded is in the ledger, checked as each file arrives."""
        owners = {ready.ticket.label: (entry.facility, entry.start, entry.end) for entry, ready in accepted}
        jobs_of: dict[tuple[str, str], list[str]] = {}
        for _, ready in accepted:
            for identity in _identities(ready):
                jobs_of.setdefault(identity, []).append(ready.ticket.label)
        while accepted:
            entry, ready = accepted.pop(0)
            mine = owners[ready.ticket.label]
            alike = sorted({label for identity in _identities(ready) for label in jobs_of[identity]
                            if label != ready.ticket.label
                            and files_conflict(owners[label], mine, self.spec.facility_scoped)})
            if alike:  # a file of an earlier package of this run is in the ledger (see _on_file)
                yield from self._refuse(entry, ready, converter, Outcome.INVALID_FILE,
                                        _same_file(ready.download.sha256, "; ".join(alike), self.spec))
                continue
            if self._keys_shared_without_newest(converter, ready):
                yield from self._refuse(entry, ready, converter, Outcome.PARSE_FAILED, _shared_keys(self.spec))
                continue
            yield from self._load(entry, ready, converter)

    def _keys_shared_without_newest(self, converter: CsvConverter, ready: FileReady) -> bool:
        """Whether the file's rows repeat keys of a file before it in this package while nothing tells
        which rows to keep: no dedup_sort (or its column not in the file), so dlt's merge would keep any
        one of them; or repeating_keys, whose numbered rows of a key in one file replace all the key's
        rows, so two files' rows of one key would mix (the stale numbers of one beside the other's)."""
        converted = ready.converted
        if not self._keyed or not converted.rows:
            return False
        if not self.spec.repeating_keys and tells_newest(self.spec, converted.layout.labels):
            return False
        return bool(converter.key_store.shares_keys(converted.keys))

    def _load(self, entry: Entry, event: FileReady, converter: CsvConverter) -> Iterator[Any]:
        """The file's rows into this package, with the job's LOADED history row and its cursor."""
        converted, download = event.converted, event.download
        if converted.parquet is not None and converted.schema is not None:
            tied = converter.key_store.ties_between_files(converted.keys) if self._keyed else 0
            if tied:
                converted.problems.append(
                    f"{tied:,} row(s) repeat keys of another job's file of this run with the same "
                    f"'{self.spec.dedup_sort}' as the row there, or one of the two rows without one: which of them "
                    "loads is not told by the files (it may differ between destinations); if they are different "
                    "records, widen primary_key for this export")
                log.warning("%s: %s", event.ticket.label, converted.problems[-1])
            if self.rt.load_format:
                hints = self._load_hints(converter.key_store, converted.keys)
                for path, rows in converted.parts:
                    yield file_import(path, converted.file_format, rows, converted.schema, hints)
            else:
                if self._keyed:  # kept for the shared-key check of the package's next files
                    converter.key_store.add(converted.keys)
                yield from pq.ParquetFile(converted.parquet).iter_batches(batch_size=ARROW_BATCH_ROWS)
            converter.discard(converted)
        if converted.rows and download.sha256:
            self.ledger.remember_loaded_file(download.sha256, entry, converted.keys.fingerprint, self.rt.run_id)
        self.ledger.remember_facility_names(entry.facility, names_of(converted.facility_names))
        self.ledger.save_column_names(self.names.to_state())  # saved with the rows that use it
        self.ledger.remember_header(_labels(converted))
        self.ledger.remember_labels(entry.facility, list(converted.layout.labels))
        self.ledger.record_polls(entry, event.polls)
        if entry.kind == EntryKind.ADOPTED and converted.window_span:  # what later jobs given by code compare with
            self.ledger.record_made_after(entry, converted.window_span[1])
        cursor = self.ledger.record_loaded(entry)
        self.tally.jobs_loaded += 1
        self.tally.rows += converted.rows
        self.tally.rows_skipped += converted.skipped
        self.tally.bytes += download.bytes
        self.tally.statuses[HistoryStatus.LOADED] += 1
        self.rt.report.job_event(
            event.ticket.job_code, entry.describe(self.spec.name), HistoryStatus.LOADED, polls=event.polls,
            rows=converted.rows, size=download.bytes, note=f"waited {event.seconds_waiting:.1f} s, transfer and parse "
            f"{event.seconds_transferring:.1f} s" + (f", cursor now {cursor.isoformat()}" if cursor else ""))
        emptied = self._empty_snapshot(entry) if converted.rows == 0 and converted.skipped == 0 else ""
        message = "; ".join([*converted.problems, emptied] if emptied else converted.problems)
        self.ledger.defer_history(job_event(
            self.spec, entry, self.rt.run_id, HistoryStatus.LOADED, observed_at=self.rt.clock.now(), message=message,
            polls=event.polls, file_host=download.host, file_path=download.url_path, file_bytes=download.bytes,
            file_sha256=download.sha256, rows_in_file=converted.rows + converted.skipped,
            rows_skipped=converted.skipped))

    def _on_ended(self, entry: Entry, event: JobEnded) -> Iterator[Any]:
        self.ledger.record_polls(entry, event.polls)
        if event.outcome == Outcome.STOPPED:
            return
        if event.outcome == Outcome.EMPTY:
            self.ledger.record_loaded(entry)
            self.tally.jobs_loaded += 1
            self.tally.statuses[HistoryStatus.EMPTY] += 1
            reason = "; ".join(p for p in (event.reason, self._empty_snapshot(entry), self._not_exported_again(entry))
                               if p)
            log.warning("%s: %s", event.ticket.label, reason)
            row = self._connector_row(entry, HistoryStatus.EMPTY, reason, polls=event.polls)
            self.ledger.remember_empty(entry)  # with the EMPTY row's number: a takeover goes on after it
            yield row
            return
        if event.outcome == Outcome.SUPERSEDED:  # mended by the next run's export: said, not a failure
            log.warning("%s: %s", event.ticket.label, event.reason)
            self.tally.statuses[HistoryStatus.SUPERSEDED] += 1
            yield self._connector_row(entry, HistoryStatus.SUPERSEDED, event.reason, polls=event.polls,
                                      file=event.file)
            self.ledger.record_superseded(entry, self.rt.run_id, event.reason)
            return
        if entry.kind == EntryKind.ADOPTED and event.outcome != Outcome.TIMED_OUT:
            event = replace(event, reason=_given_by_code_ends(event.reason))
        problem = f"{event.ticket.label}: {event.reason}"
        self.rt.report.problem(problem)
        if event.outcome == Outcome.TIMED_OUT:
            # keep the job: the next run polls it again rather than creating a duplicate
            self.ledger.record_timed_out(entry, self.rt.run_id)
            self.tally.statuses[HistoryStatus.TIMED_OUT] += 1
            yield self._connector_row(entry, HistoryStatus.TIMED_OUT, event.reason, polls=event.polls)
            return
        if event.outcome == Outcome.FAILED and event.status in FAILED_STATUSES:
            self.tally.statuses[event.status] += 1  # Uniware's own status is in the history already
        else:  # forgotten by Uniware (LOST) or a bad file
            status = OUTCOME_HISTORY[event.outcome]
            self.tally.statuses[status] += 1
            yield self._connector_row(entry, status, event.reason, polls=event.polls, file=event.file)
        self._fail(entry, event.reason)

    # -- helpers -----------------------------------------------------------------------------

    @property
    def _keyed(self) -> bool:
        """Merged on a natural key (not on the job code)."""
        return bool(self.spec.primary_key) and self.spec.write_disposition != APPEND

    @property
    def _snapshot_of_tenant(self) -> bool:
        """A snapshot export run once for the tenant (not per facility): its file is the whole table."""
        return self.spec.write_disposition == REPLACE and not self.spec.facility_scoped

    def _parts(self, load_format: str) -> int:
        """Load files per job: PostgreSQL COPYs two at once for an export with a key; an export without
        one keeps a job in one file, since its rows are told apart only by the job code (reloading a part
        after a crash must replace that part alone: pipeline_run/recovery.py), and so does a snapshot:
        reloaded after a crash as a merge, its merge key (the facility) would delete the rows of a part
        that had finished and is not loaded again; and so does an export with repeating_keys, whose
        merge key (the natural key) would likewise delete a finished part's rows of a key whose numbered
        rows the chunks dealt out to both parts."""
        split = self._keyed and self.spec.write_disposition != REPLACE and not self.spec.repeating_keys
        return COPY_PARTS if load_format == CSV and split else 1

    def _load_hints(self, key_store: KeyStore, keys: FileKeys) -> dict[str, Any]:
        """How this package's files land in the table, decided from the data (the last file's hints
        hold for the package's table, and each file's decision includes the files before it):
        - straight into the table (`append`: no staging copy, no delete-insert) when the destination
          says the table is empty or absent and, for an export with a natural key, the key repeats in
          none of the package's files nor between them;
        - otherwise merged (delete-insert on the key, or on the job code without one), the staging data
          declared `deduplicated` (dlt skips its newest-`Updated` pass) only when the key is unique
          over the package's files;
        - for a snapshot of the whole tenant (a `replace` export run once, not per facility: Item
          Master), the table replaced (`replace`: emptied, then the file inserted, in this package)
          when the package holds one job's file whose key does not repeat, so rows the latest snapshot
          no longer has go, whichever facility an earlier job ran under; two of its jobs in one package
          merge, as before."""
        keyed = self._keyed
        unique = key_store.add(keys) if keyed else True
        self.files_in_package += 1
        if self._snapshot_of_tenant and unique and self.files_in_package == 1:
            return {"write_disposition": "replace"}
        if self.target_empty is None:
            if self.spec.repeating_keys:
                add_missing_key_column(self.spec.table_name, KEY_OCCURRENCE)
            self.target_empty = table_is_empty(self.spec.table_name)
        if unique and self.target_empty:
            return {"write_disposition": "append"}
        merge: dict[str, Any] = {"disposition": "merge", "strategy": "delete-insert"}
        if keyed and unique:
            merge["deduplicated"] = True
        elif keyed:
            # dlt takes a later False for "no change": an earlier file of the package that declared
            # its keys unique must lose the hint here, or dlt skips the newest-`Updated` pass
            forget_deduplicated(self.spec.table_name)
        return {"write_disposition": merge}

    def _empty_snapshot(self, entry: Entry) -> str:
        """A snapshot without any row (a header-only file, or no file) replaces the rows it stands for,
        as a snapshot with rows does: the facility's, or every row for a snapshot of the tenant, made
        before its job; they are deleted as this package loads, as a file's rows would load (see
        pipeline_run/snapshot_replace.py). Not when a job created after it already loaded the
        facility's rows (that newer snapshot stands). The note for the history ("" for other exports)."""
        if self.spec.write_disposition != REPLACE or self._newer_loaded(entry) is not None:
            return ""
        facility = None if self._snapshot_of_tenant else entry.facility
        if facility is None and not self._snapshot_of_tenant:
            return ""  # a job given by code, of no known facility: nothing to tell whose rows it replaces
        whose = "every row of the table" if facility is None else f"facility {facility}'s rows"
        if self.rt.appends_only:  # a bucket: files are only added, the history tells which snapshot stands
            return (f"the snapshot is empty: {whose} cannot be deleted on this destination (it only adds files); "
                    "this EMPTY row, newer than the last LOADED one, says the snapshot now has none")
        self.ledger.record_empty_snapshot(entry, whole_table=facility is None, now=self.rt.clock.now())
        return f"the snapshot is empty: {whose} deleted"

    def _not_exported_again(self, entry: Entry) -> str:
        """Done without a file is taken as no rows after a grace period, but Uniware may link a file
        later (uniware-api.md): the note for the history and the log gives the backfill of that one
        export (by its table name: two exports may share a report), facility and window that loads its
        rows, and says whether a later run exports the window again: an export merged on the job code
        never looks back; a keyed export's next incremental run looks back `lookback_days` from the end
        of the facility's last window or its cursor (over the days no waiting window covers: those are
        exported again anyway)."""
        if entry.start is None or entry.end is None or entry.kind == EntryKind.ADOPTED:
            return ""
        lookback = self.spec.lookback if self.spec.lookback is not None else self.rt.settings.lookback
        ends = [e.end for e in self.ledger.entries() if e.kind == EntryKind.INCREMENTAL
                and e.facility == entry.facility and e.end is not None]
        cursor = self.ledger.cursor(entry.facility) if entry.facility else None
        reached = max([*ends, *([cursor] if cursor else [])], default=None)  # where the next run looks back from
        if self._keyed and reached is not None and entry.start >= reached - lookback:
            when = (f"the next run looks back {lookback.total_seconds() / 86400:g} day(s) (lookback_days) over it; "
                    "if it had rows and that run does not bring them")
        else:
            why = ("an export merged on its job code never looks back" if not self._keyed else
                   "no incremental run of this facility looks back at a backfill window" if reached is None else
                   f"the next run looks back {lookback.total_seconds() / 86400:g} day(s) (lookback_days) from "
                   f"{shown_time(reached)}")
            when = f"later runs do not export this window again ({why}): if it had rows"
        start, end = (moment.astimezone(IST).isoformat() for moment in (entry.start, entry.end))
        facility = f" --facility {entry.facility}" if entry.facility else ""
        return (f"{when}, `uniware-pipeline --export {self.spec.table_name}{facility} --start '{start}' "
                f"--end '{end}'` loads them")

    def _newer_loaded(self, entry: Entry) -> Optional[datetime]:
        """When a job created after this entry's loaded this facility's rows in an earlier package (a
        job kept past job_timeout_seconds and finished later, an older picture of rows already
        replaced): merges on the key replace rows whatever their `dedup_sort`, and a snapshot replaces
        the facility's rows, so loading it would put older versions back. Exports merged on the job
        code are not concerned (their rows replace nothing)."""
        if not (self._keyed or self.spec.write_disposition == REPLACE):
            return None
        return newer_loaded(entry, self.loaded_before, whole_tenant=self._snapshot_of_tenant)

    def _other_jobs_rows(self, entry: Entry) -> Optional[str]:
        """Why the job's rows may not load, for an export merged on the job code whose table holds rows of
        other jobs exported for days of its window: a run of another pipeline name into this dataset (its
        jobs are not in this pipeline's state), or a backfill, loaded them after this job's window was
        planned, where the planning's check could not see them. Its rows would be those days' rows twice."""
        if not self.spec.merges_on_job_code or entry.facility is None or entry.start is None or entry.end is None:
            return None
        held = held_by_other_jobs(self.spec.table_name, entry.facility, entry.start, entry.end,
                                  other_than=entry.job_code)  # a failure to ask fails the run (a lost lock too)
        if held is None:
            return None
        return (f"not loaded: {held}, loaded after this job's window was planned (a run of another pipeline name "
                "into this dataset, or a backfill beside it), and an export without a natural key cannot merge rows "
                "exported twice; keep one pipeline per dataset, or delete the rows to export them again "
                f"(`uniware-pipeline reset --export '{self.spec.name}' --facility {entry.facility} --delete-rows`), "
                "or configure a primary_key")

    def _adopted_may_be_older(self, entry: Entry, converted: ConvertedFile) -> Optional[str]:
        """What to say of a job given by code (`job_codes`) that may be older than rows loaded before.
        Uniware does not say when a job was made; its file holds no row changed after that, so its newest
        value of the window column is the earliest it can have been made (a snapshot's file has none). A job
        of this export made after that whose rows loaded may hold newer versions of some of its rows, which
        this file replaces (merges on the key replace rows whatever their `dedup_sort`; see _newer_loaded,
        the check that refuses such a file for a job whose creation is known). Whether the table held any of
        its rows in a newer version is not asked of the destination, so it is said, not refused: a job of
        past days, what most jobs given by code are, holds rows the table never had."""
        if entry.kind != EntryKind.ADOPTED or not (self._keyed or self.spec.write_disposition == REPLACE):
            return None
        newest = max(self.loaded_before.values(), default=None)
        earliest = converted.window_span[1] if converted.window_span else None
        if newest is None or earliest is None or earliest >= newest:
            return None
        return (f"Uniware does not say when a job given by code was made; its newest row is of {shown_time(earliest)}, "
                f"and a job made {shown_time(newest)} had loaded rows of table {self.spec.table_name}: a row of this "
                "file that the table held in a newer version now holds this file's (a merge replaces rows whatever "
                "their Updated); exporting its days again (--start/--end) brings the newest back")

    def _fail(self, entry: Entry, reason: str) -> None:
        self.ledger.record_failed(entry, self.rt.run_id, reason)

    def _connector_row(self, entry: Entry, status: str, message: str, polls: Optional[int] = None,
                       file: Optional[tuple[str, str]] = None) -> Any:
        host, path = file or (None, None)
        return _history(job_event(self.spec, entry, self.rt.run_id, status, observed_at=self.rt.clock.now(),
                                  message=message, polls=polls, file_host=host, file_path=path))

    def _types_kept(self) -> ExportSpec:
        """The export with the types its table's columns already have, where the catalog's default type
        for their label changed since they loaded (a newer version types GRN's `Values of Goods ...` or
        Sale Orders' `EWayBill Date`): those keep loading as they did. A type the configuration gives is
        not kept over (_check_types then fails the job naming the column)."""
        table = dlt.current.source_schema().tables.get(self.spec.table_name)
        if table is None:
            return self.spec
        columns = table.get("columns", {})
        kept: dict[str, str] = {}
        configured = {fold_label(label) for label in self.spec.configured_types}
        for label, names in self.names.to_state().items():
            before = loaded_kind(columns.get(names[0], {})) if names else None
            if before is not None and before != kind_of(label, self.spec) and fold_label(label) not in configured:
                kept[label] = before
        if not kept:
            return self.spec
        why = ("the catalog types them otherwise now: load into a new table_name to get its types"
               if self.spec.name in CATALOG else "column_types no longer gives them that type (a label changed or "
               "left out?): give it again, or load into a new table_name to get the new types")
        self.rt.report.once(f"kept|{self.spec.table_name}", "%s: %s keep the type(s) they loaded with (%s); %s",
                            self.spec.table_name, ", ".join(sorted(kept)), ", ".join(sorted(set(kept.values()))), why)
        return replace(self.spec, column_types={**self.spec.column_types, **kept},
                       types_kept=frozenset(fold_label(label) for label in kept))

    def _check_types(self, converted: ConvertedFile) -> Optional[str]:
        """A problem text when a column the table already has would get values of another type (a
        `column_types` entry added or changed after loads): dlt would store them in the column's old
        type, in another format beside the old values."""
        table = dlt.current.source_schema().tables.get(self.spec.table_name)
        if table is None or converted.schema is None:
            return None
        changed = []
        for name in converted.schema.names:
            before, now = _compared_types(table.get("columns", {}).get(name, {}),
                                          get_column_type_from_py_arrow(converted.schema.field(name).type))
            if before and now and before != now:
                label = next((lab for lab, col in zip(converted.layout.labels, converted.layout.names, strict=False)
                              if col == name), name)
                changed.append(f"'{label}' ({name}) is {before} in the table, the file's values are {now}")
        if not changed:
            return None
        return (f"column types changed since the last load: {'; '.join(changed)}. Give column_types for this "
                "export the type the column has, or load it into a new table (table_name)")

    def _respelled(self, old: str, new: str, layout: FileLayout) -> str:
        """'Old' as 'New', and the column its values go to: the one `old` has (any label respelled by case or
        spacing lands there), or another where the file has both spellings (the other keeps its own)."""
        before = self.names.name_of(old)
        now = layout.names[layout.header.index(new)] if new in layout.header else None
        if now is None or now == before:
            return f"{old!r} as {new!r} (case or spacing only; same column {before})"
        return f"{old!r} as {new!r} (case or spacing only): its values go to column {now}, not to {before}"

    def _requested_absent(self, converted: ConvertedFile, facility: Optional[str]) -> Optional[str]:
        """A requested column of a catalog report whose label (any reading) the file lacks: Uniware sends every
        requested column, so a tenant labels it otherwise (its values then land under that label, as text) or
        its build left it out. Where the facility's last file an earlier run loaded (any earlier file, for a job
        without a facility or a facility new to the table) had it (any spelling, or a reading `label_readings`
        mapped to it then) and the file's rows replace rows (a merge on a key, a snapshot), loading would empty
        that column in each of them: refused, naming the ways out. Else said with the rows."""
        absent = requested_columns_absent(self.spec.name, self.spec.columns, _labels(converted),
                                          self.spec.label_readings)
        if not absent:
            return None
        known = {fold_label(label) for label in report_labels(self.spec.name)}
        unknown = [label for label in _labels(converted) if fold_label(label) not in known]
        others = (f"; the file has label(s) no requested column carries: {', '.join(repr(u) for u in unknown[:5])}"
                  f"{', ...' if len(unknown) > 5 else ''}") if unknown else ""
        listed = ", ".join(f"'{a.label}' (column id {a.column})" for a in absent)
        own = self.loaded_labels.get(facility or "")  # else (a job without a facility, a facility new to the
        # table, a report run once for all, a ledger an earlier version kept) what any earlier file had
        loaded = own if own is not None else set().union(self.loaded_header, *self.loaded_labels.values())
        held = [a for a in absent if loaded & a.spellings]
        column, reading = (held or absent)[0][:2]
        theirs = unknown[0] if len(unknown) == 1 else "<the file's label>"
        ways = (f"if the tenant labels it otherwise, give that label as a reading: label_readings = "
                f"{{\"{reading}\" = [\"{theirs}\"]}} in this export's table of 'exports' "
                f"(SOURCES__UNIWARE__EXPORTS); if Uniware no longer exports it, leave its id out "
                f"(exclude_columns = [\"{column}\"]: the column then stays empty in the rows loaded from then on, "
                "and the v_* views that read it count them so)")
        if held and (self._keyed or self.spec.write_disposition == REPLACE):
            again = "the snapshot is taken again" if self.spec.write_disposition == REPLACE else \
                "the window is exported again"
            had = ", ".join(repr(a.label) for a in held)
            return (f"the file lacks {listed}, which the job requested{others}; the last file an earlier run "
                    f"loaded into table {self.spec.table_name}{' for this facility' if own is not None else ''} had "
                    f"{had}, and each row this file replaces would lose its value there: nothing loaded, {again} next "
                    f"run; {ways}")
        note = (f"the file lacks {listed}, which the job requested{others}: its rows have no value there; {ways}")
        log.warning("%s: %s", self.spec.name, note)
        converted.problems.append(note)
        return None

    def _check_header(self, converted: ConvertedFile) -> Optional[str]:
        """Compare the labels with those of this run's last file that passed the checks, else of the last
        loaded file, exactly (in any order); a problem text when on_header_change is 'fail'. A file refused
        for another reason is no file to compare with. A label the file now has more often than before
        is also said with the file's rows (its LOADED row)."""
        known = self.run_header or self.ledger.last_header
        current = _labels(converted)
        if known and not same_labels(known, current):
            added = sorted((Counter(current) - Counter(known)).elements())
            removed = sorted((Counter(known) - Counter(current)).elements())
            repeated = _repeated_more(Counter(known), current, converted.layout)
            if repeated:
                converted.problems.append(repeated)
            respelled = []  # another case or spacing of a label: said with the columns each lands in
            for new in list(added):
                old = next((label for label in removed if fold_label(label) == fold_label(new)), None)
                if old is not None:
                    removed.remove(old)
                    added.remove(new)
                    respelled.append(self._respelled(old, new, converted.layout))
            change = "the file's columns changed since the last load: " + "; ".join(
                [*([", ".join([*([f"added {added}"] if added else []), *([f"removed {removed}"] if removed else [])])]
                   if added or removed else []),
                 *([f"respelled {'; '.join(respelled)}"] if respelled else []), *([repeated] if repeated else [])])
            if self.rt.settings.on_header_change == "fail":
                return f"{change}; on_header_change='fail' refuses it (set 'evolve' to accept)"
            log.warning("%s: %s", self.spec.name, change)
        return None


def _labels(converted: ConvertedFile) -> list[str]:
    """The file's header labels as compared between files and kept in the ledger (blanks trimmed)."""
    return [h.strip() for h in converted.header]


def _repeated_more(known: Counter[str], header: list[str], layout: FileLayout) -> str:
    """Labels the file (`header`, stripped) has more often than the files before it (a requested column
    whose label is one Uniware appends unrequested, e.g. Sale Orders' `itemCode` read as `Item Details`):
    each occurrence takes a column by its place among the label's occurrences, so the column the label
    filled before gets the first, which may not be the one that filled it (the file does not tell)."""
    current = Counter(header)
    said = []
    for label in sorted(label for label in current if 0 < known[label] < current[label]):
        columns = [name for text, name in zip(header, layout.names, strict=True) if text == label]
        said.append(f"'{label}' {current[label]} times, {known[label]} before: by their order in the file they go "
                    f"to {', '.join(columns)}, so {', '.join(columns[:known[label]])} may now hold another field "
                    "than in the rows loaded before (the file does not tell which of its columns is the one loaded "
                    "before; load into a new table_name to keep them apart)")
    return "; ".join(said)


def _compared_types(before: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """Two columns' dlt data types as compared, a decimal's scale included where both have one
    (decimal(18, 4) amounts and decimal(38, 12) rates: the table keeps its scale, rounding the other's)."""
    types = [str(c.get("data_type")) if c.get("data_type") else None for c in (before, now)]
    if types == ["decimal", "decimal"] and before.get("scale") is not None and now.get("scale") is not None:
        types = [f"decimal({c.get('precision')}, {c.get('scale')})" for c in (before, now)]
    return types[0], types[1]


def column_names(spec: ExportSpec, ledger: ExportLedger, normalize: Callable[[str], str]) -> ColumnNames:
    """The export's label -> column mapping from its ledger (rebuilt from the last header for state
    written before the mapping was saved, so existing columns keep their names)."""
    saved = ledger.saved_column_names
    header = ledger.last_header
    if saved is None and header:
        saved = legacy_names(header, normalize, RESERVED_COLUMNS[:-2])
    fixed = [*spec.primary_key, *([spec.dedup_sort] if spec.dedup_sort else [])]
    return ColumnNames(saved, normalize=normalize, reserved=RESERVED_COLUMNS, fixed=fixed)


def newer_loaded(entry: Entry, loaded_before: dict[str, datetime], whole_tenant: bool = False) -> Optional[datetime]:
    """When the newest job of the entry's facility that loaded in an earlier package was created, if
    after the entry's job; `whole_tenant`: of any facility (a snapshot of the tenant replaces the whole
    table, whichever facility its job ran under). Once per window: the job made after a SUPERSEDED one
    loads whatever loaded first, so a window always slower than its facility's newer ones is not put off
    for ever."""
    if entry.created_at is None or entry.data.get("superseded"):
        return None
    newer = max(loaded_before.values(), default=None) if whole_tenant else loaded_before.get(entry.facility or "")
    return newer if newer is not None and newer > entry.created_at else None
