"""The job ledger: one export's windows, their jobs and cursors, kept in the export resource's dlt state.

Lifecycle of an entry: planned (no job yet) -> submitted (job code recorded, committed to state
before any waiting) -> loaded (removed; the cursor moves past it once every earlier window loaded
too). A failed job puts its window back to planned for the next run; a job that outlived the
deadline keeps its code so the next run polls it again instead of creating a duplicate.

A facility's cursor is the end of the last window whose rows fully landed: everything before it
(after `start_date`) is loaded. It only moves in the same dlt state commit as the rows.

The ledger is the only reader and writer of the export's dlt state: besides entries and cursors it
keeps the run that planned last, the last file's header and column names, and LOADED history rows
waiting for the load of their data. `Ledgers` reads every export's ledger of a source at once;
`unconfigured_exports` and `waiting_windows` count across them for the runner.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional
from urllib.parse import urlsplit

from .conversion.row_fingerprint import PREFIX as LINES_FINGERPRINT
from .errors import ConfigError
from .history import DEFERRED_STATE, defer, take_deferred
from .redact import excerpt, redact
from .statuses import EntryKind
from .windows import Window, cut_windows, from_iso, to_iso, uncovered

INCREMENTAL = EntryKind.INCREMENTAL
BACKFILL = EntryKind.BACKFILL
SNAPSHOT = EntryKind.SNAPSHOT
ADOPTED = EntryKind.ADOPTED
ADOPTED_MEMORY = 500  # how many loaded job codes of `job_codes` are remembered
PLANNED_RUN = "planned_run"  # the run that planned last (windows are planned once per run)
# the date filters facilities refused in a run, and what their jobs are made with instead (see submit.py)
FALLBACKS = "date_filter_fallbacks"
LABELS_STATE = "loaded_labels"  # facility -> the labels its last loaded file's columns stood for
HEADER_STATE = "header"  # the labels of the last file loaded
COLUMNS_STATE = "columns"  # label -> column names, decided once (see conversion.column_names)


def is_active(entry: Entry, active: Optional[Collection[str]]) -> bool:
    """Whether an entry belongs to the configured facilities (`None`: every facility; entries of
    `job_codes` have no facility and always are)."""
    return active is None or entry.facility is None or entry.facility in active


@dataclass
class Entry:
    """A view on one ledger entry; its dict lives in dlt state."""

    data: MutableMapping[str, Any]

    @property
    def key(self) -> str:
        return str(self.data["key"])

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def facility(self) -> Optional[str]:
        return self.data.get("facility")

    @property
    def start(self) -> Optional[datetime]:
        value = self.data.get("start")
        return from_iso(value) if value else None

    @property
    def end(self) -> Optional[datetime]:
        value = self.data.get("end")
        return from_iso(value) if value else None

    @property
    def job_code(self) -> Optional[str]:
        return self.data.get("job_code")

    @property
    def created_at(self) -> Optional[datetime]:
        value = self.data.get("created_at")
        return from_iso(value) if value else None

    @property
    def status(self) -> Optional[str]:
        return self.data.get("status")

    @property
    def polls(self) -> int:
        return int(self.data.get("polls") or 0)

    @property
    def doubt(self) -> Optional[str]:
        """What a poll of its job saw that says the job has a file or rows (jobs/poll.py), redacted."""
        return self.data.get("doubt")

    @property
    def date_filter(self) -> Optional[str]:
        """The date filter its job was made with (the export's own, or `ExportSpec.date_filter_fallback`); None
        for a snapshot, an adopted job and a job made before the connector kept it."""
        return self.data.get("date_filter")

    @property
    def attempt(self) -> int:
        return int(self.data.get("attempt") or 1)

    @property
    def done(self) -> bool:
        return bool(self.data.get("done"))

    @property
    def submitted(self) -> bool:
        return self.job_code is not None and not self.done

    def describe(self, export_name: str) -> str:
        """Export, facility and window of the entry, for messages."""
        parts = [export_name]
        if self.facility:
            parts.append(f"facility {self.facility}")
        if self.start is not None and self.end is not None:
            parts.append(f"window {Window(self.start, self.end).label()}")
        elif self.kind == SNAPSHOT:
            parts.append("snapshot")
        return " / ".join(parts)

    def next_seq(self) -> int:
        self.data["seq"] = int(self.data.get("seq") or 0) + 1
        return int(self.data["seq"])

    def seq_at_least(self, seq: int) -> None:
        """The job's history rows go on after number `seq` (the destination's history reached it)."""
        if seq > int(self.data.get("seq") or 0):
            self.data["seq"] = seq


# [job code, facility, window start, window end, created at, last seq] of the last jobs taken as empty
EMPTY_JOBS = "empty_jobs"
EMPTY_JOBS_MEMORY = 200
NEWEST_LOADED = "newest_loaded"  # facility -> creation time of the newest job whose rows loaded
LOADED_FILES = "loaded_files"  # [sha256, facility, window start, window end, job code] of the last files loaded
# job code -> [keys fingerprint, run id] of those files (apart, so that an earlier version still reads the list above)
LOADED_KEYS = "loaded_keys"
LOADED_FILES_MEMORY = 200  # about 60 KB of state per export
DOUBT_CHARS = 500  # what a job's doubt keeps of the answer that raised it
STARTS = "starts"  # facility -> where its first incremental window began (start_date then)
BACKFILLED = "backfilled"  # facility -> [start, end] of the backfill windows loaded before that (merged)
BACKFILLED_KEPT = 50
FACILITY_NAMES = "facility_names"  # facility -> the display names its loaded files carried (facility_guard)
NAMES_KEPT = 5
# [facility (None: the whole table), created_at] of snapshots without a row, whose older rows are
# deleted as their package loads (pipeline_run/snapshot_replace.py); forgotten by the run's history
# step, the export's next collect or a reset
EMPTY_SNAPSHOTS = "empty_snapshots"


class ExportLedger:
    """Windows, jobs and cursors of one export (all facilities)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self._state = state
        state.setdefault("cursors", {})
        state.setdefault("entries", [])
        state.setdefault("adopted_done", [])

    # -- reading -----------------------------------------------------------------------------

    def entries(self) -> Iterator[Entry]:
        for data in self._state["entries"]:
            yield Entry(data)

    def held_job_codes(self) -> set[str]:
        """The job codes windows (not adopted entries) still wait for (not yet loaded)."""
        return {e.job_code for e in self.entries() if e.job_code and e.kind != ADOPTED and not e.data.get("done")}

    def find(self, key: str) -> Optional[Entry]:
        return next((e for e in self.entries() if e.key == key), None)

    def cursor(self, facility: str) -> Optional[datetime]:
        value = self._state["cursors"].get(facility)
        return from_iso(value) if value else None

    def started(self, facility: str) -> Optional[datetime]:
        """Where the facility's loads began: its first incremental window, or a loaded backfill reaching back
        from there (None: not known, state of an earlier version)."""
        value = (self._state.get(STARTS) or {}).get(facility)
        if not value:
            return None
        began = from_iso(value)
        spans = sorted(((from_iso(a), from_iso(b)) for a, b in (self._state.get(BACKFILLED) or {}).get(facility, [])),
                       key=lambda span: span[1], reverse=True)
        for start, end in spans:
            if start < began <= end:
                began = start
        return began

    def _backfilled(self, entry: Entry) -> None:
        """A loaded backfill window before where its facility's loads began (or before they began at all):
        kept, so `started` reaches back."""
        began = self.started(entry.facility) if entry.facility else None
        if entry.facility is None or entry.start is None or entry.end is None or (began and entry.start >= began):
            return  # (kept also before the facility's first incremental run, which may then begin after it)
        spans = sorted([*(self._state.setdefault(BACKFILLED, {}).get(entry.facility, [])),
                        [to_iso(entry.start), to_iso(entry.end)]], key=lambda span: from_iso(span[0]))
        merged: list[list[str]] = []
        for start, end in spans:  # joined where they touch, so the list stays short
            if merged and from_iso(start) <= from_iso(merged[-1][1]):
                merged[-1][1] = max(merged[-1][1], end, key=from_iso)
            else:
                merged.append([start, end])
        self._state[BACKFILLED][entry.facility] = merged[-BACKFILLED_KEPT:]

    def newest_loaded(self) -> dict[str, datetime]:
        """Per facility ("" for an export without one): when the newest job whose rows loaded was
        created. A job created before it holds an older picture of the same rows (see collect.py)."""
        return {facility: from_iso(value) for facility, value in (self._state.get(NEWEST_LOADED) or {}).items()}

    def unsubmitted(self, run_id: str, active: Optional[Collection[str]] = None) -> list[Entry]:
        """Planned windows without a job, except those that already failed in this run (and, with
        `active`, those of facilities no longer configured: see `set_aside`)."""
        return [e for e in self.entries()
                if e.job_code is None and not e.done and e.data.get("failed_run") != run_id
                and is_active(e, active)]

    def submitted(self, active: Optional[Collection[str]] = None) -> list[Entry]:
        return [e for e in self.entries() if e.submitted and is_active(e, active)]

    def to_collect(self, run_id: str, active: Optional[Collection[str]] = None) -> list[Entry]:
        """Submitted jobs, except those this run already waited for until the deadline (and, with
        `active`, those of facilities no longer configured)."""
        return [e for e in self.submitted(active) if e.data.get("timed_out_run") != run_id]

    def set_aside(self, active: Collection[str]) -> list[Entry]:
        """Unfinished entries of facilities that are not configured now: never created, polled or
        counted as problems, but kept, so configuring the facility again resumes them."""
        return [e for e in self.entries() if not e.done and not is_active(e, active)]

    def date_filter_fallbacks(self, run_id: str) -> dict[str, str]:
        """By facility ("" for none): the date filter this run makes its jobs with, its own refused."""
        held = self._state.get(FALLBACKS) or {}
        return dict(held.get("facilities") or {}) if held.get("run") == run_id else {}

    def record_date_filter_fallback(self, run_id: str, facility: Optional[str], date_filter: str) -> None:
        held = self._state.get(FALLBACKS)
        if not held or held.get("run") != run_id:
            held = self._state[FALLBACKS] = {"run": run_id, "facilities": {}}
        held["facilities"][facility or ""] = date_filter

    def planned_in(self, run_id: str) -> bool:
        return bool(self._state.get(PLANNED_RUN) == run_id)

    def mark_planned(self, run_id: str) -> None:
        self._state[PLANNED_RUN] = run_id

    @property
    def keyed_by_facility(self) -> bool:
        """Whether the table was seen to hold no row without a facility, since the facility joined the key
        (none can come after while it stays there: a job given by code for such an export says its facility)."""
        return bool(self._state.get("keyed_by_facility"))

    def mark_keyed_by_facility(self, keyed: bool = True) -> None:
        self._state["keyed_by_facility"] = keyed

    @property
    def last_header(self) -> Optional[list[str]]:
        """The labels of the last file loaded."""
        return self._state.get(HEADER_STATE) or None

    def remember_header(self, labels: list[str]) -> None:
        self._state[HEADER_STATE] = labels

    def loaded_labels(self, facility: Optional[str]) -> Optional[list[str]]:
        """The labels the columns of the facility's last loaded file stood for (a reading as its label), or
        None when none was kept (a file loaded by an earlier version)."""
        kept = self._state.get(LABELS_STATE) or {}
        labels = kept.get(facility or "")
        return [str(label) for label in labels] if isinstance(labels, list) else None

    def loaded_labels_by_facility(self) -> dict[str, list[str]]:
        """`loaded_labels` of every facility that has them (a copy)."""
        kept = self._state.get(LABELS_STATE) or {}
        return {str(f): [str(label) for label in labels] for f, labels in kept.items() if isinstance(labels, list)}

    def remember_labels(self, facility: Optional[str], labels: list[str]) -> None:
        self._state.setdefault(LABELS_STATE, {})[facility or ""] = labels

    @property
    def saved_column_names(self) -> Optional[dict[str, list[str]]]:
        return self._state.get(COLUMNS_STATE)

    def file_loaded_elsewhere(self, sha256: str, entry: Entry, facility_scoped: bool, fingerprint: Optional[str] = None,
                              run_id: Optional[str] = None) -> Optional[str]:
        """The earlier load of a file that cannot be this entry's file too (see `files_conflict`): of the same
        content, or of the same rows: the same lines in any order (an export without a key: `lines:`
        fingerprints, as the bytes are compared), or, loaded earlier in run `run_id` (an earlier round), the
        same keys (as the files of one package are compared: across runs a key may rightly be in two
        windows); what it was, else None."""
        fingerprints = self._state.get(LOADED_KEYS) or {}
        for known, facility, start, end, job_code, *_ in self._state.get(LOADED_FILES, []):
            keys, run = [*fingerprints.get(job_code, ()), None, None][:2]
            same_run = run is not None and run == run_id
            same_keys = fingerprint is not None and keys == fingerprint and (
                same_run or fingerprint.startswith(LINES_FINGERPRINT))
            if job_code == entry.job_code or not (known == sha256 or same_keys):
                continue
            if files_conflict((facility, start and from_iso(start), end and from_iso(end)),
                              (entry.facility, entry.start, entry.end), facility_scoped):
                return (f"job {job_code} of facility {facility}, window {start} to {end}, loaded "
                        f"{'earlier in this run' if same_run else 'by an earlier run'}")
        return None

    def record_empty_snapshot(self, entry: Entry, whole_table: bool, now: datetime) -> None:
        """A snapshot without any row: the rows it replaces (the facility's, or the table's) made before
        its job (before `now` for a job given by code, whose creation is not known) go when this
        package loads, not before."""
        self._state.setdefault(EMPTY_SNAPSHOTS, []).append(
            [None if whole_table else entry.facility, entry.data.get("created_at") or to_iso(now)])

    def forget_empty_snapshots(self) -> None:
        """The export's earlier packages have loaded (and deleted what they replace)."""
        self._state.pop(EMPTY_SNAPSHOTS, None)

    def remember_loaded_file(self, sha256: str, entry: Entry, fingerprint: Optional[str], run_id: str) -> None:
        """Saved with the rows of the file (see file_loaded_elsewhere)."""
        files = self._state.setdefault(LOADED_FILES, [])
        files.append([sha256, entry.facility, to_iso(entry.start) if entry.start else None,
                      to_iso(entry.end) if entry.end else None, entry.job_code])
        del files[:-LOADED_FILES_MEMORY]
        kept = {str(f[4]) for f in files}
        keys = {code: pair for code, pair in (self._state.get(LOADED_KEYS) or {}).items() if code in kept}
        if entry.job_code:
            keys[entry.job_code] = [fingerprint, run_id]
        self._state[LOADED_KEYS] = keys

    def facility_names(self, facility: Optional[str]) -> list[str]:
        """The display names (`Facility`) the facility's loaded files carried (facility_guard)."""
        return list(self._state.get(FACILITY_NAMES, {}).get(facility or "", [])) if facility else []

    def facility_names_by_facility(self) -> dict[str, list[str]]:
        """Every facility's kept display names."""
        return {code: list(names) for code, names in self._state.get(FACILITY_NAMES, {}).items()}

    def remember_facility_names(self, facility: Optional[str], names: list[str]) -> None:
        """Saved with the rows of the file that carried them."""
        if facility and names:
            kept = self._state.setdefault(FACILITY_NAMES, {}).setdefault(facility, [])
            kept.extend(n for n in names if n not in kept)
            del kept[:-NAMES_KEPT]

    def save_column_names(self, names: dict[str, list[str]]) -> None:
        """Saved with the rows that use them."""
        self._state[COLUMNS_STATE] = names

    def defer_history(self, row: dict[str, Any]) -> None:
        """A LOADED history row, loaded by the next extract (see history.defer)."""
        defer(self._state, row)

    def take_deferred_history(self) -> list[dict[str, Any]]:
        return take_deferred(self._state)

    # -- planning ----------------------------------------------------------------------------

    def _add(self, data: dict[str, Any]) -> Entry:
        data.setdefault("job_code", None)
        data.setdefault("seq", 0)
        data.setdefault("polls", 0)
        data.setdefault("attempt", 1)
        self._state["entries"].append(data)
        return Entry(data)

    def plan_incremental(self, facility: str, *, now: datetime, first_start: datetime, lookback: timedelta,
                         window: timedelta, min_window: timedelta = timedelta(0)) -> list[Entry]:
        """Windows from the cursor (minus the lookback) to now; resumes after unfinished windows. A
        last window shorter than `min_window` is not planned: that time waits for a later run (the
        cursor cannot pass it), so a run made minutes after another creates no tiny job."""
        cursor = self.cursor(facility)
        if cursor is None:  # the first run: nothing before first_start is wanted, so no lookback
            # never after now: a cursor says everything before it is loaded (settings refuse a
            # start_date in the future; this holds whatever first_start a caller gives)
            first_start = min(first_start, now)
            self._state["cursors"][facility] = to_iso(first_start)
            self._state.setdefault(STARTS, {})[facility] = to_iso(first_start)
            cursor, lookback = first_start, timedelta(0)
        mine = [e for e in self.entries() if e.kind == INCREMENTAL and e.facility == facility]
        ends = [e.end for e in mine if e.end is not None]
        began = self.started(facility)

        def back(end: datetime) -> datetime:  # the lookback never reaches before the facility's loads began
            return end - lookback if began is None else max(end - lookback, min(began, end))
        if not ends:
            return [self._window(facility, w) for w in cut_windows(back(cursor), now, window, min_window)]
        # windows of earlier runs still wait (or loaded beyond one that waits): the run goes on after the
        # last one, and looks back from there as it would had they all loaded, over the days no waiting
        # window covers (those are exported again anyway)
        last = max([*ends, cursor])  # a lookback window that waits may end before the cursor
        waiting = [Window(e.start, e.end) for e in mine if not e.done and e.start is not None and e.end is not None]
        looked_back = [self._reopened(facility, w) for gap in uncovered(Window(back(last), last), waiting)
                       for w in cut_windows(gap.start, gap.end, window, min_window, join_short=True)]
        return looked_back + [self._window(facility, w) for w in cut_windows(last, now, window, min_window)]

    def _window(self, facility: str, window: Window) -> Entry:
        return self._add({"key": f"{INCREMENTAL}|{facility}|{to_iso(window.start)}|{to_iso(window.end)}",
                          "kind": INCREMENTAL, "facility": facility,
                          "start": to_iso(window.start), "end": to_iso(window.end)})

    def _reopened(self, facility: str, window: Window) -> Entry:
        """A window to export again; one that loaded already (kept until the cursor passes it) is
        planned again under its key, as a new attempt (a new job name), not beside itself."""
        loaded = self.find(f"{INCREMENTAL}|{facility}|{to_iso(window.start)}|{to_iso(window.end)}")
        if loaded is None:
            return self._window(facility, window)
        key, attempt = loaded.key, loaded.attempt + 1
        loaded.data.clear()
        loaded.data.update(key=key, kind=INCREMENTAL, facility=facility, start=to_iso(window.start),
                           end=to_iso(window.end), job_code=None, seq=0, polls=0, attempt=attempt)
        return loaded

    def plan_backfill(self, facility: str, *, start: datetime, end: datetime, window: timedelta,
                      min_window: timedelta = timedelta(0)) -> list[Entry]:
        """The backfill's windows; a last piece shorter than `min_window` joins the window before it."""
        planned = []
        for w in cut_windows(start, end, window, min_window, join_short=True):
            key = f"{BACKFILL}|{facility}|{to_iso(w.start)}|{to_iso(w.end)}"
            if self.find(key) is None:
                planned.append(self._add({"key": key, "kind": BACKFILL, "facility": facility,
                                          "start": to_iso(w.start), "end": to_iso(w.end)}))
        return planned

    def split_unsubmitted(self, kind: str, window: timedelta, min_window: timedelta = timedelta(0)) -> int:
        """Windows of `kind` planned by an earlier run and never made into a job (their create was refused:
        a range longer than the tenant takes) that are longer than `window`: an incremental one is cut in place
        into windows of `window` (the windows after it start where it ends: no gap, no overlap); a backfill
        one is dropped, as the backfill plans its range again on its own grid of `window`. Lowering
        `window_days` is the way out of such a refusal. How many were cut or dropped."""
        entries: list[dict[str, Any]] = []
        pieces: list[dict[str, Any]] = []
        cut = 0
        for data in self._state["entries"]:
            entry = Entry(data)
            if entry.kind != kind or entry.job_code is not None or entry.done \
                    or entry.start is None or entry.end is None or entry.end - entry.start <= window:
                entries.append(data)
                continue
            cut += 1
            if entry.kind == BACKFILL:
                continue
            for w in cut_windows(entry.start, entry.end, window, min_window, join_short=True):
                pieces.append({**data, "key": f"{entry.kind}|{entry.facility}|{to_iso(w.start)}|{to_iso(w.end)}",
                               "start": to_iso(w.start), "end": to_iso(w.end)})
        self._state["entries"] = entries
        for piece in pieces:  # a piece another entry already holds: that one is exported again, not beside it
            held = self.find(piece["key"])
            if held is None:
                entries.append(piece)
            elif held.done:
                self._reopened(str(held.facility), Window(from_iso(piece["start"]), from_iso(piece["end"])))
        return cut

    def forget_cursor(self, facility: str) -> None:
        """Take back the cursor a first planning set (its windows were taken back)."""
        self._state["cursors"].pop(facility, None)
        (self._state.get(STARTS) or {}).pop(facility, None)
        (self._state.get(BACKFILLED) or {}).pop(facility, None)

    def unplan(self, planned: list[Entry]) -> None:
        """Take back entries just planned, before any job is made or collected for them."""
        keys = {e.key for e in planned}
        self._state["entries"] = [d for d in self._state["entries"] if d.get("key") not in keys]

    def plan_snapshot(self, facility: str, *, now: datetime) -> list[Entry]:
        if any(e.kind == SNAPSHOT and e.facility == facility and not e.done for e in self.entries()):
            return []
        return [self._add({"key": f"{SNAPSHOT}|{facility}|{to_iso(now)}", "kind": SNAPSHOT,
                           "facility": facility})]

    def plan_adopted(self, job_codes: tuple[str, ...], ran_under: Mapping[str, str]) -> list[Entry]:
        """Entries for listed jobs not yet loaded nor held: a job a window of this ledger already
        waits for is collected for that window, once (two entries would share its files). `ran_under`: the
        facility of a job, where the configuration says it (None otherwise)."""
        planned = []
        held = self.held_job_codes()
        for code in job_codes:
            key = f"{ADOPTED}|{code}"
            if code in self._state["adopted_done"] or self.find(key) is not None or code in held:
                continue
            planned.append(self._add({"key": key, "kind": ADOPTED, "facility": ran_under.get(code),
                                      "job_code": code}))
        return planned

    # -- recording ---------------------------------------------------------------------------

    def record_created(self, entry: Entry, job_code: str, created_at: datetime,
                       date_filter: Optional[str] = None, seq: int = 0) -> None:
        """`job_code` is the window's job; `seq` is its last history number (0: a new job's)."""
        entry.data.update(job_code=job_code, created_at=to_iso(created_at), status=None, seq=seq, polls=0,
                          failed_run=None, last_error=None, date_filter=date_filter, doubt=None)

    def remember_empty(self, entry: Entry) -> None:
        """A job taken as empty (COMPLETE without a file past the grace), which Uniware may still count as
        running, and name (100014), when its window is asked for again (the backfill the EMPTY row gives):
        kept with its creation and last history number, so it can be taken over as itself."""
        if entry.job_code is None or entry.start is None or entry.end is None:
            return
        taken = self._state.setdefault(EMPTY_JOBS, [])
        taken.append([entry.job_code, entry.facility, entry.data.get("start"), entry.data.get("end"),
                      entry.data.get("created_at"), int(entry.data.get("seq") or 0)])
        del taken[:-EMPTY_JOBS_MEMORY]

    def taken_as_empty(self, job_code: str, entry: Entry) -> Optional[tuple[datetime, int]]:
        """When `job_code` was made and its last history number, if it is a job of this export taken as
        empty for the facility and window of `entry`; else None."""
        for code, facility, start, end, created, seq in reversed(self._state.get(EMPTY_JOBS, [])):
            if [code, facility, start, end] == [job_code, entry.facility, entry.data.get("start"),
                                                entry.data.get("end")] and created:
                return from_iso(created), int(seq)
        return None

    def record_create_failed(self, entry: Entry, run_id: str, reason: str) -> None:
        entry.data.update(failed_run=run_id, last_error=redact(reason), attempt=entry.attempt + 1)

    def record_status(self, entry: Entry, status: str, polls: int) -> None:
        entry.data.update(status=status, polls=polls)

    def record_doubt(self, entry: Entry, reason: str) -> None:
        """The job said it has a file or rows: no later run takes it as an export with no rows."""
        entry.data["doubt"] = excerpt(reason, DOUBT_CHARS)

    def record_polls(self, entry: Entry, polls: int) -> None:
        entry.data["polls"] = polls

    def record_timed_out(self, entry: Entry, run_id: str) -> None:
        """Still pending at the deadline: kept (the next run polls it again), not waited for twice by one run."""
        entry.data["timed_out_run"] = run_id

    def record_made_after(self, entry: Entry, earliest: datetime) -> None:
        """A job given by code, of unknown creation, was made at `earliest` or later (its file's newest row)."""
        entry.data["made_after"] = to_iso(earliest)

    def record_loaded(self, entry: Entry) -> Optional[datetime]:
        """The entry's rows are in this load; returns the facility's new cursor if it moved."""
        entry.data["done"] = True
        made_after = entry.data.get("made_after")
        created = entry.created_at or (from_iso(made_after) if made_after else None)
        if created is not None:
            newest = self._state.setdefault(NEWEST_LOADED, {})
            known = newest.get(entry.facility or "")
            if known is None or from_iso(known) < created:
                newest[entry.facility or ""] = to_iso(created)
        if entry.kind == ADOPTED and entry.job_code:
            self._remember_adopted(entry.job_code)
        if entry.kind == BACKFILL:
            self._backfilled(entry)
        if entry.kind != INCREMENTAL:
            self._remove(entry)
            return None
        assert entry.facility is not None
        return self._advance(entry.facility)

    def record_superseded(self, entry: Entry, run_id: str, reason: str) -> None:
        """The job's file was not loaded (a job asked for later loaded first): its window gets a new
        job, and that one is loaded whatever else loads first, so a window always slower than the
        facility's newer ones is not put off for ever."""
        entry.data["superseded"] = True
        self.record_failed(entry, run_id, reason)

    def record_failed(self, entry: Entry, run_id: str, reason: str) -> None:
        """The job is dead: its window goes back to planned, for a new job in a later run."""
        if entry.kind == ADOPTED:
            if entry.job_code:
                self._remember_adopted(entry.job_code)
            self._remove(entry)
            return
        if entry.kind == SNAPSHOT:
            self._remove(entry)  # the next run plans a fresh snapshot
            return
        entry.data.update(job_code=None, created_at=None, status=None, seq=0, polls=0, failed_run=run_id,
                          last_error=redact(reason), attempt=entry.attempt + 1)

    def record_abandoned(self, entry: Entry, reason: str) -> None:
        """The job ran past job_expiry_hours: its window gets a new job in this very run."""
        entry.data.update(job_code=None, created_at=None, status=None, seq=0, polls=0, failed_run=None,
                          last_error=redact(reason), attempt=entry.attempt + 1)

    def _remember_adopted(self, job_code: str) -> None:
        done = self._state["adopted_done"]
        if job_code not in done:
            done.append(job_code)
            del done[:-ADOPTED_MEMORY]

    def _remove(self, entry: Entry) -> None:
        self._state["entries"] = [d for d in self._state["entries"] if d["key"] != entry.key]

    def _advance(self, facility: str) -> Optional[datetime]:
        cursor = self.cursor(facility)
        assert cursor is not None
        original = cursor
        mine = [e for e in self.entries() if e.kind == INCREMENTAL and e.facility == facility]
        moved = True
        while moved:
            moved = False
            for entry in mine:
                if entry.done and entry.start is not None and entry.end is not None \
                        and entry.start <= cursor < entry.end:
                    cursor = entry.end
                    moved = True
        for entry in mine:
            if entry.done and entry.end is not None and entry.end <= cursor:
                self._remove(entry)
        if cursor == original:
            return None
        self._state["cursors"][facility] = to_iso(cursor)
        return cursor


FileOwner = tuple[Optional[str], Optional[datetime], Optional[datetime]]  # facility, window start, end


def files_conflict(first: FileOwner, second: FileOwner, facility_scoped: bool) -> bool:
    """Whether one file (the same content, with rows) cannot be both jobs' file: it is for another
    facility (an export run per facility), or for a window of the same facility that does not overlap.
    The same rows again for an overlapping window are a re-export of rows that did not change; a job
    given in `job_codes` (no facility, no window) is not compared."""
    (facility, start, end), (other_facility, other_start, other_end) = first, second
    if facility is None or other_facility is None:
        return False
    if facility != other_facility:
        return facility_scoped  # one job for the tenant runs under whichever facility came first
    return bool(start and end and other_start and other_end and (end <= other_start or other_end <= start))


class Ledgers:
    """Every export's ledger in one source's state, read only: what the run loop and the job budget ask."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._resources = resources

    @classmethod
    def of_pipeline_state(cls, pipeline_state: Mapping[str, Any], source_name: str = "uniware") -> Ledgers:
        return cls(pipeline_state.get("sources", {}).get(source_name, {}).get("resources", {}))

    def _entries(self, tables: Optional[Iterable[str]] = None) -> Iterator[Entry]:
        names = self._resources.keys() if tables is None else tables
        for table in names:
            for data in self._resources.get(table, {}).get("entries", []):
                yield Entry(data)

    def empty_snapshots(self) -> list[tuple[str, Optional[str], str]]:
        """(table, facility or None for the whole table, created_at) of the empty snapshots whose older
        rows go as their package loads."""
        return [(table, facility, created) for table, state in self._resources.items()
                for facility, created in state.get(EMPTY_SNAPSHOTS, []) if created]

    def holder_of(self, job_code: str, asking: tuple[str, str], names: Mapping[str, str]) -> Optional[str]:
        """What holds `job_code` besides the entry `asking` ((table, entry key)): a window of any export
        waiting for it (another export of the same report and window too), or a window whose file from it
        loaded in an earlier run (remembered with the file hashes); `names`: export names by table, for
        the message."""
        for table in self._resources:
            name = names.get(table, table)
            for data in self._resources.get(table, {}).get("entries", []):
                if data.get("job_code") == job_code and (table, data.get("key")) != asking:
                    return Entry(data).describe(name)
            for _, facility, start, end, code, *_ in self._resources.get(table, {}).get(LOADED_FILES, []):
                if code == job_code:
                    return f"{name} / facility {facility} / window {start} to {end} (loaded)"
        return None

    def jobs_running(self, tables: Iterable[str], active: Optional[Collection[str]] = None) -> int:
        """Jobs submitted by earlier runs and not loaded yet, across the given exports (with `active`,
        not those of facilities set aside: not configured now)."""
        return sum(1 for entry in self._entries(tables) if entry.submitted and is_active(entry, active))

    def has_deferred_history(self) -> bool:
        """Whether any export's state holds LOADED history rows waiting for the next extract."""
        return any(state.get(DEFERRED_STATE) for state in self._resources.values())


# State follows configuration: entries of facilities or exports not configured now are set aside
# (never created, polled or counted as problems; kept, so configuring them again resumes them).

def unconfigured_exports(resources: Mapping[str, Any], scope: Mapping[str, Any]) -> list[str]:
    """Tables with unfinished ledger entries in state whose export is not configured now."""
    return sorted(table for table, state in resources.items() if table not in scope
                  and any(not e.get("done") for e in (state or {}).get("entries", [])))


def awaits_job(entry: Mapping[str, Any]) -> bool:
    """Whether a planned window (an entry as saved in state) still has no job made for it."""
    return not entry.get("job_code") and not entry.get("done")


def waiting_windows(resources: Mapping[str, Any], scope: Mapping[str, Optional[frozenset[str]]],
                    run_id: str) -> int:
    """Planned windows of configured exports and facilities that still need a job in this run."""
    count = 0
    for table, state in resources.items():
        if table not in scope:
            continue
        active = scope[table]
        for entry in (state or {}).get("entries", []):
            if not awaits_job(entry) or entry.get("failed_run") == run_id:
                continue
            if active is not None and entry.get("facility") is not None and entry["facility"] not in active:
                continue
            count += 1
    return count


# Whose data a pipeline's state describes: its cursors and jobs are one tenant's. A run against
# another tenant would go on from those cursors (a couple of days of lookback instead of its whole
# history) and merge that tenant's rows into the same tables.
TENANT_STATE = "tenant"


def tenant_of(base_url: str) -> str:
    """The tenant a base URL reaches: its host (and port), lower case."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"https": 443, "http": 80}.get(parts.scheme.lower()):
        port = None  # https://acme.unicommerce.com and https://acme.unicommerce.com:443 are one tenant
    return f"{host}:{port}" if port else host


def claim_tenant(source_state: MutableMapping[str, Any], base_url: str, pipeline_name: str = "") -> None:
    """Record the tenant in a state that has none; ConfigError (before any job is made) when the
    state holds another tenant's cursors or jobs. A state without any (a new pipeline, or every
    export reset) is claimed by the tenant now configured."""
    current = tenant_of(base_url)
    recorded = source_state.get(TENANT_STATE)
    if recorded == current:
        return
    resources = source_state.get("resources") or {}
    holds = any((state or {}).get("cursors") or (state or {}).get("entries") for state in resources.values())
    if recorded and holds:
        name = f" '{pipeline_name}'" if pipeline_name else ""
        raise ConfigError("base_url", (  # one line: the README says why (Incremental loads)
            f"pipeline{name} holds the cursors of tenant {recorded}, not {current}: give {current} its own "
            "--pipeline-name and --dataset, or clear this pipeline first (reset --export NAME, each export)"))
    source_state[TENANT_STATE] = current
