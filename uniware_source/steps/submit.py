"""The submit step: plan an export's windows and create their Uniware jobs.

Runs once per run (the plan is marked with the run id in state) and commits every created job code
to dlt state at the end of its extract, before anything waits for a job: a run interrupted later
resumes these jobs instead of creating new ones.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

import dlt

from ..catalog import CATALOG, ExportSpec, did_you_mean_report
from ..client.create_job import CreatedJob, create_export_job
from ..conversion.target_table import (
    held_by_other_jobs,
    job_in_history,
    rows_in_windows,
    rows_without_facility,
    table_is_empty,
)
from ..errors import ApiError, FacilityAccessError
from ..history import job_event
from ..ledger import BACKFILL, INCREMENTAL, Entry, ExportLedger
from ..redact import redact
from ..runtime import SourceRuntime, active_facilities
from ..statuses import EntryKind, HistoryStatus
from ..type_labels import column_spellings, fold_label
from ..vocabulary import ASSUMED_IDS, GUESSED, LESS_SURE_IDS, UNSEEN
from ..windows import IST, Window, shown_time
from .numbering import numbered_after_destination

log = logging.getLogger(__name__)


def report_name(spec: ExportSpec, entry: Entry) -> str:
    """A name for the job in Uniware's UI, the same for retries of one attempt and new for the next
    attempt: a lost create answer is reconciled by Uniware's duplicate rule (100014), while a window
    whose job failed or was abandoned gets a genuinely new job. A date filter other than the catalog's
    for the report is named (`by addedOn`): a job asked by one filter is never taken for one asked by
    another (a refused filter's fallback, or a `date_filter` changed between a killed run and the next)."""
    parts = ["uniware-dlt", spec.table_name, entry.facility or "-"]
    if entry.start is not None and entry.end is not None:
        parts.append(f"{entry.start:%Y%m%d%H%M}-{entry.end:%Y%m%d%H%M}")
    catalog = CATALOG.get(spec.name)
    if spec.date_filter and (catalog is None or spec.date_filter != catalog.date_filter):
        parts.append(f"by {spec.date_filter}")
    return " ".join(parts) + f" #{entry.attempt}"


def export_body(spec: ExportSpec, entry: Entry) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [dict(f) for f in spec.filters]
    if spec.date_filter and entry.start is not None and entry.end is not None:
        filters.append(Window(entry.start, entry.end).as_filter(spec.date_filter))
    return {"exportJobTypeName": spec.name, "exportColums": list(spec.columns), "exportFilters": filters,
            "frequency": "ONETIME", "reportName": report_name(spec, entry)}


def submit_export(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> list[dict[str, Any]]:
    """The submit step of one export: plan this run's windows, abandon expired jobs, adopt the listed
    ones and create jobs; the history rows of all of it."""
    plan(spec, ledger, rt)
    return [*abandon_expired(spec, ledger, rt), *adopt_jobs(spec, ledger, rt), *create_jobs(spec, ledger, rt)]


def plan(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> None:
    """Add this run's windows to the ledger (once per run)."""
    if ledger.planned_in(rt.run_id):
        return
    settings = rt.settings
    now = rt.clock.now()
    _rows_without_facility(spec, ledger)
    if settings.job_codes:
        # loading existing jobs: nothing is created, only the listed jobs are collected
        rt.check_job_facilities()
        listed = settings.job_codes.get(spec.name, ())
        for code in sorted(set(listed) & ledger.held_job_codes()):
            log.info("%s: job %s is one a window already waits for; collected for that window, once",
                     spec.name, code)
        adopted = ledger.plan_adopted(listed, settings.job_facilities.get(spec.name, {}))
        if adopted and spec.merges_on_job_code and not table_is_empty(spec.table_name):
            # its window is not known: rows of its days another job loaded would land twice, and its own
            # rows loaded again would lose the facility and window the overlap check reads
            ledger.unplan(adopted)
            message = (f"{spec.name}: a job given by code ({', '.join(e.job_code or '' for e in adopted)}) loads "
                       f"only into an empty table for an export without a natural key: its window is not known, "
                       f"so rows of {spec.table_name} (which has rows, or could not be asked) could land twice. "
                       "Let scheduled runs or a backfill export those days, or delete the rows first "
                       f"(uniware-pipeline reset --export '{spec.name}' --delete-rows)")
            rt.report.problem(message)  # logged by the report
    elif settings.backfill is not None:
        if spec.incremental:
            ledger.split_unsubmitted(BACKFILL, settings.window, settings.min_window)
            start, end = settings.backfill
            for facility in rt.facilities_for(spec, ledger):
                _unless_loaded(spec, ledger, rt, ledger.plan_backfill(
                    facility, start=start, end=end, window=settings.window, min_window=settings.min_window))
        else:
            log.info("%s has no date filter; a backfill does not export it", spec.name)
    elif spec.incremental:
        ledger.split_unsubmitted(INCREMENTAL, settings.window, settings.min_window)  # window_days lowered
        lookback = spec.lookback if spec.lookback is not None else settings.lookback
        first_start = settings.start_date or now - settings.window
        for facility in rt.facilities_for(spec, ledger):
            _warn_future_cursor(spec, ledger, facility, now)
            cursor_was_set = ledger.cursor(facility) is not None
            if cursor_was_set and settings.start_date is not None:
                _warn_start_date_earlier(spec, ledger, rt, facility, settings.start_date)
            _unless_loaded(spec, ledger, rt, ledger.plan_incremental(
                facility, now=now, first_start=first_start, lookback=lookback, window=settings.window,
                min_window=settings.min_window), cursor_was_set)
    else:
        for facility in rt.facilities_for(spec, ledger):
            ledger.plan_snapshot(facility, now=now)
    ledger.mark_planned(rt.run_id)


def _rows_without_facility(spec: ExportSpec, ledger: ExportLedger) -> None:
    """Say, each run, rows a key with the facility cannot replace: loaded without one (a job given by code,
    by a version that keyed this export without the facility), they stay beside the same documents loaded
    again under their facility. Asked until the table holds none (a count over the whole table)."""
    if not spec.facility_in_key:
        if ledger.keyed_by_facility:  # codes_per_facility turned off: rows without a facility may come again
            ledger.mark_keyed_by_facility(False)
        return
    if ledger.keyed_by_facility:
        return
    rows = rows_without_facility(spec.table_name)
    if rows is not None and not rows:
        ledger.mark_keyed_by_facility()
    elif rows:
        log.warning("%s: table %s holds %s row(s) without a facility (`_uniware_facility` NULL: a job given by code, "
                    "loaded before the facility joined this export's key); a load of the same documents under their "
                    "facility lands beside them. Delete them once (DELETE FROM %s.%s WHERE _uniware_facility IS NULL) "
                    "and export those days again (--start/--end)", spec.name, spec.table_name, f"{rows:,}",
                    dlt.current.pipeline().dataset_name, spec.table_name)


def _unless_loaded(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime, planned: list[Entry],
                   cursor_was_set: bool = True) -> None:
    """Take back a facility's windows just planned, for an export without a natural key, when rows of
    any of them are in its table already or will be (windows of other jobs not loaded yet): those rows
    cannot merge with a second export (a `reset`, or a backfill over loaded days, would load them
    twice). Also when the destination cannot say. A problem of the run names the rows and the ways
    out; a cursor this planning set goes too. The other facilities and exports go on."""
    if not spec.merges_on_job_code or not planned:
        return
    starts = [e.start for e in planned if e.start is not None]
    ends = [e.end for e in planned if e.end is not None]
    facility = planned[0].facility
    if not starts or not ends or facility is None:
        return
    begin, finish = min(starts), max(ends)
    mine = {e.key for e in planned}
    waiting = [e for e in ledger.entries() if e.key not in mine and e.facility == facility and not e.done
               and e.start is not None and e.end is not None and e.start < finish and e.end > begin]
    span = f"{begin:%Y-%m-%d %H:%M:%S} to {finish:%Y-%m-%d %H:%M:%S} UTC"
    try:
        found = None if waiting else rows_in_windows(spec.table_name, facility, begin, finish)
        if found:
            planned, found = _backfill_windows_loaded(ledger, planned, found)
            if not planned:
                return
            span = f"{min(e.start for e in planned if e.start):%Y-%m-%d %H:%M:%S} to " \
                   f"{max(e.end for e in planned if e.end):%Y-%m-%d %H:%M:%S} UTC"
    except Exception as error:  # not knowing is no licence to load twice
        problem = (f"cannot ask the destination which windows table {spec.table_name} holds "
                   f"({type(error).__name__}: {redact(error)}); nothing is exported for it in this run")
    else:
        if waiting:
            listed = ", ".join(f"{e.start:%Y-%m-%d %H:%M:%S} to {e.end:%Y-%m-%d %H:%M:%S} UTC "
                               f"(job {e.job_code or 'to create'})"
                               for e in waiting[:3] if e.start is not None and e.end is not None)
            problem = (f"windows {listed}"
                       f"{' and more' if len(waiting) > 3 else ''} are not loaded yet, and the windows to export now "
                       f"({span}) overlap them; nothing more is exported for it until they are")
        elif found:
            rows, first, last = sum(n for _, _, n in found), found[0][0], max(end for _, end, _ in found)
            backfill = all(e.kind == BACKFILL for e in planned)
            problem = (f"table {spec.table_name} already holds {rows:,} rows exported for windows from "
                       f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC, which the windows to export now "
                       f"({span}) overlap; nothing is exported for it: "
                       + (_backfill_ways_out(spec, facility) if backfill else
                          _ways_out(spec, facility, last, first_planning=not cursor_was_set)))
        else:
            return
    ledger.unplan(planned)
    if not cursor_was_set:
        ledger.forget_cursor(facility)
    message = (f"{spec.name} / facility {facility}: an export without a natural key cannot merge rows exported "
               f"twice: {problem}")
    rt.report.problem(message)  # logged by the report


def _days_held_already(spec: ExportSpec, entry: Entry) -> Optional[str]:
    """Why no job is made for a window of an export merged on the job code whose table holds rows of its days
    already: a window whose earlier job failed (refused as OVERLAPS, say) over which another pipeline name or
    a backfill loaded since. Its job would be refused again. Windows planned in this run were asked already
    (_unless_loaded); one that cannot be asked now gets no job this run either."""
    if not spec.merges_on_job_code or entry.data.get("failed_run") is None or entry.facility is None \
            or entry.start is None or entry.end is None:
        return None
    try:
        held = held_by_other_jobs(spec.table_name, entry.facility, entry.start, entry.end)
    except Exception as error:  # not knowing is no licence to load twice
        return (f"no job made: cannot ask the destination which windows table {spec.table_name} holds "
                f"({type(error).__name__}: {redact(error)})")
    if held is None:
        return None
    return (f"no job made: {held}, which this window overlaps, and an export without a natural key cannot merge "
            "rows exported twice; delete the rows to export them again (`uniware-pipeline reset --export "
            f"'{spec.name}' --facility {entry.facility} --delete-rows`), or configure a primary_key")


def _backfill_windows_loaded(ledger: ExportLedger, planned: list[Entry], loaded: list[tuple[datetime, datetime, int]]
                             ) -> tuple[list[Entry], list[tuple[datetime, datetime, int]]]:
    """A backfill's windows that the table holds exactly (the same backfill run before, stopped half way, or
    run again): taken back as done, not refused; and the loaded windows the other planned ones overlap."""
    exact = {(first, last) for first, last, _ in loaded}
    done = [e for e in planned if e.kind == BACKFILL and (e.start, e.end) in exact]
    if done:
        ledger.unplan(done)
        log.info("facility %s: %d window(s) of the backfill are loaded already (the table holds their rows): "
                 "not exported again", done[0].facility, len(done))
    rest = [e for e in planned if e not in done]
    overlapped = [w for w in loaded if any(e.start is not None and e.end is not None and w[0] < e.end
                                          and w[1] > e.start for e in rest)]
    return rest, overlapped


def _backfill_ways_out(spec: ExportSpec, facility: str) -> str:
    """How to go on when a backfill of an export without a key overlaps windows the table holds."""
    return ("backfill only days the table holds no window of, or the same --start with the window_days of the "
            "windows loaded (windows the table holds exactly are skipped as done); or delete the rows to export "
            f"them again (`uniware-pipeline reset --export '{spec.name}' --facility {facility} --delete-rows`, with "
            "this pipeline's --pipeline-name and --dataset); or configure a primary_key")


def _ways_out(spec: ExportSpec, facility: str, loaded_until: datetime, first_planning: bool) -> str:
    """How to go on when an export without a key holds rows of the windows a run would export."""
    after = (loaded_until + timedelta(seconds=1)).replace(microsecond=0) if loaded_until.microsecond \
        else loaded_until
    start = f"start_date = {after.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} (the end of the loaded windows)"
    go_on = (f"set {start} to go on from there" if first_planning else
             f"clear the cursor with `uniware-pipeline reset --export '{spec.name}' --facility {facility}` (the rows "
             f"stay) and set {start}, with a backfill (--start/--end) for days before it that the table lacks")
    return (f"{go_on}; or delete the rows to export them again (`uniware-pipeline reset --export '{spec.name}' "
            f"--facility {facility} --delete-rows`, with this pipeline's --pipeline-name and --dataset); or "
            "configure a primary_key")


def _warn_future_cursor(spec: ExportSpec, ledger: ExportLedger, facility: str, now: datetime) -> None:
    """Planning never puts a cursor after now; one found there (kept by an earlier version from a
    start_date in the future, or this host's clock went back) plans nothing until then: said, with the way out."""
    cursor = ledger.cursor(facility)
    if cursor is not None and cursor > now:
        log.warning("%s / facility %s: the cursor is %s, after now (%s): no window is planned before that "
                    "time; if nothing was loaded up to it, `uniware-pipeline reset --export \"%s\" --facility %s` "
                    "starts the facility again from start_date", spec.name, facility, shown_time(cursor),
                    shown_time(now), spec.name, facility)


def _warn_start_date_earlier(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime, facility: str,
                             start_date: datetime) -> None:
    """A start_date moved before where the facility's loads began changes nothing once it has a cursor (a
    run goes on from the cursor): said, with the backfill that loads the days between."""
    began = ledger.started(facility)
    if began is None or start_date >= began - timedelta(seconds=1):
        return
    start, end = (moment.astimezone(IST).isoformat() for moment in (start_date, began))
    rt.report.once(f"start_date|{spec.table_name}|{facility}",
                   "%s / facility %s: start_date %s is before %s, where this facility's loads began; a run goes on "
                   "from its cursor and never exports days before that: `uniware-pipeline --export %s --facility %s "
                   "--start '%s' --end '%s'` (with this pipeline's --pipeline-name and --pipelines-dir) loads the "
                   "days between once (a backfill: it moves no cursor)",
                   spec.name, facility, shown_time(start_date), shown_time(began), spec.table_name, facility,
                   start, end)


def abandon_expired(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> Iterator[dict[str, Any]]:
    """Give up on jobs still unfinished `job_expiry_hours` after creation; their windows are planned
    again, so `create_jobs` exports them anew in this run. Yields history rows."""
    now = rt.clock.now()
    expired = [entry for entry in ledger.submitted(active_facilities(spec, ledger, rt))
               if entry.kind != EntryKind.ADOPTED and entry.created_at is not None
               and now - entry.created_at > rt.settings.job_expiry]
    if expired:
        numbered_after_destination(expired)
    for entry in expired:
        created = entry.created_at
        assert created is not None
        reason = (f"job {entry.job_code} was created {(now - created).total_seconds() / 3600:.1f} h ago and never "
                  f"finished (job_expiry_hours); abandoned, its window is exported by a new job")
        log.warning("%s: %s", entry.describe(spec.name), reason)
        rt.report.tally(spec.name, spec.table_name).statuses[HistoryStatus.ABANDONED] += 1
        rt.budget.give_back()
        yield job_event(spec, entry, rt.run_id, HistoryStatus.ABANDONED, observed_at=now, message=reason,
                        polls=entry.polls)
        ledger.record_abandoned(entry, reason)


def _facility_refused(code: Optional[str], rt: SourceRuntime) -> str:
    """What to do about a create refused for the facility `code` (HTTP 403, "facility is required")."""
    if code is None or not rt.facility_listed(code):
        return ("Uniware wants the facility code (as listed by facility/search), not its display name; check the "
                "'facilities' setting")
    chosen = ("it is one of the codes 'facilities' names" if rt.settings.facilities else
              "'facilities' is not set, so every facility facility/search lists as enabled is exported")
    return (f"facility/search lists {code} as an enabled facility of the tenant ({chosen}), so the code is right: "
            f"the API user may not use that facility. Give the user access to {code} in Uniware, or set "
            "'facilities' (SOURCES__UNIWARE__FACILITIES) to the codes it may use")


def create_jobs(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> Iterator[dict[str, Any]]:
    """Create jobs for planned windows while the concurrency budget allows; yields history rows."""
    tally = rt.report.tally(spec.name, spec.table_name)
    fallback = ledger.date_filter_fallbacks(rt.run_id)  # by facility: the filter its jobs are made with, once refused
    for entry in ledger.unsubmitted(rt.run_id, active_facilities(spec, ledger, rt)):
        if rt.report.stop_requested:  # SIGINT or SIGTERM: the jobs made so far are committed, no more made
            log.info("%s: the run was interrupted; no more jobs are created", spec.name)
            return
        if not rt.budget.take():
            log.info("%s: max_concurrent_jobs=%d reached; the rest waits for the next round", spec.name,
                     rt.budget.limit)
            return
        where = entry.describe(_export_names(rt.settings.exports)[spec.table_name])  # with its table, if need be
        now = rt.clock.now()
        problem: Optional[str] = _days_held_already(spec, entry)
        errors: tuple[Any, ...] = ()
        created, used, empty = None, None, None
        if problem is None:
            try:
                created, used = _create(spec, entry, where, rt, fallback)
            except FacilityAccessError as error:
                problem, errors = f"{error}. {_facility_refused(entry.facility, rt)}", error.errors
            except ApiError as error:
                problem, errors = str(error) + _report_hint(spec, error) + _filter_hint(spec, error, entry, fallback) \
                    + _column_hint(spec, error) + _parameter_hint(spec, error), error.errors
        if created is not None:
            empty = ledger.taken_as_empty(created.job_code, entry) if created.adopted else None
            problem = _not_this_windows(created, empty) or \
                _taken_elsewhere(created.job_code, created.adopted, spec, entry, rt)
        if problem is not None:
            rt.budget.give_back()
            ledger.record_create_failed(entry, rt.run_id, problem)
            rt.report.problem(f"{where}: {problem}")
            tally.statuses[HistoryStatus.CREATE_FAILED] += 1
            yield job_event(spec, entry, rt.run_id, HistoryStatus.CREATE_FAILED, observed_at=now, message=problem,
                            errors=errors)
            continue
        assert created is not None  # no problem: a job was made
        # a job taken as empty before, taken over: as itself (when it was made, which the check against
        # newer loads needs; its history numbered on after its EMPTY row)
        created_at, seq = empty or (now, 0)
        ledger.record_created(entry, created.job_code, created_at, used or None, seq)
        if empty or created.adopted:  # a job of an earlier run, maybe another machine's: rows of it may be in
            numbered_after_destination([entry])
        if used and used != spec.date_filter:  # this run's next rounds go to it at once too
            ledger.record_date_filter_fallback(rt.run_id, entry.facility, used)
        tally.jobs_created += 1
        note = "" if not created.adopted else "Uniware reported an identical job already running; took it over"
        if used and used != spec.date_filter:
            note = "; ".join(filter(None, [note, _fallback_note(spec)]))
        rt.report.job_event(created.job_code, where, HistoryStatus.CREATED, note=note)
        yield job_event(spec, entry, rt.run_id, HistoryStatus.CREATED, observed_at=now, message=note)


def _create(spec: ExportSpec, entry: Entry, where: str, rt: SourceRuntime,
            fallback: dict[str, str]) -> tuple[CreatedJob, str]:
    """The job of `entry` and the date filter it was made with. When Uniware refuses the export's date
    filter (the catalog's: Sale Orders' updatedOn, which some tenants do not take) and the catalog knows
    the report's other one, the job is made with that one, and so are this run's next jobs of the export
    for that facility (`fallback`: by facility, as the refusal was)."""
    operation = f"create export job ({where})"
    used = fallback.get(entry.facility or "") or spec.date_filter or ""
    try:
        return create_export_job(rt.client, export_body(spec.with_date_filter(used), entry), entry.facility or "",
                                 operation=operation), used
    except ApiError as error:
        other = spec.date_filter_fallback
        if other is None or used == other or not _date_filter_refused(spec, error, strictly=True):
            raise
        refused = str(error).split(" failed: ", 1)[-1]
    fallback[entry.facility or ""] = other
    created = create_export_job(rt.client, export_body(spec.with_date_filter(other), entry), entry.facility or "",
                                operation=operation)
    log.warning("%s: Uniware refused the date filter '%s' (%s): %s", where, spec.date_filter, refused,
                _fallback_note(spec))
    return created, other


def _fallback_note(spec: ExportSpec) -> str:
    other = spec.with_date_filter(spec.date_filter_fallback)
    return (f"made with the date filter '{other.date_filter}' ({other.window_column}): this tenant refused "
            f"'{spec.date_filter}' for this facility. It exports a row once, by when it was made: later changes "
            f"to rows older than lookback_days are not loaded again; set date_filter = '{other.date_filter}' for "
            f"this export to say so, or raise lookback_days")


def _not_this_windows(created: CreatedJob, empty: Optional[tuple[datetime, int]]) -> Optional[str]:
    """A problem text when Uniware answered a create with 100014 naming a job that is not known to be this
    window's: no attempt of the create went unanswered (so it did not make it) and it is not this
    export's job of this facility and window taken as empty (`empty`: that one is taken over as itself).
    Its file could cover other days or columns (a job of another pipeline or export, a killed run's, an
    abandoned one whose file is older than rows loaded since, or a host that names any job: one that
    covered a day of a four-day window once loaded 12 of 74 rows with exit 0), so it is not taken over."""
    if not created.adopted or created.unanswered or empty is not None:
        return None
    return (f"Uniware says an identical job {created.job_code} is already running (100014), but no attempt of this "
            "create went unanswered and it is not this window's job taken as empty: it may be this window's own job "
            "of an earlier run (whose create answer was lost, or which was given up as unknown to Uniware), or "
            "another pipeline's, another export's or a killed run's, and its file is not known to hold this "
            "window's rows. "
            "Not taken over; the window stays planned for the next run (once that job is done, Uniware makes a "
            "new one)")


def _taken_elsewhere(job_code: str, adopted: bool, spec: ExportSpec, entry: Entry,
                     rt: SourceRuntime) -> Optional[str]:
    """A problem text when Uniware answered a create with a job another window already has (a job code
    reused, or a 100014 "already running" naming another window's job), of this export or another one
    (two exports of one report, say with other filters, have windows alike): one job's file cannot be
    two windows' rows, so this window does not take it and is exported again by a later run."""
    names = _export_names(rt.settings.exports)
    asking = (spec.table_name, entry.key)
    other = rt.ledgers.holder_of(job_code, asking, names) if rt.ledgers is not None else None
    other = other or rt.report.claim_job(job_code, asking, entry.describe(names[spec.table_name]))
    if other is None and not adopted:  # beyond the state's memory (its last files; a reset forgets them)
        other = job_in_history(job_code)
    if other is None:
        return None
    how = "named it as an identical job already running (100014)" if adopted else "returned it as a new job"
    return (f"Uniware {how}, but job {job_code} is the job of {other}: not taken for a second window (its "
            "file would load there twice, or in place of this window's rows); this window is exported again by "
            "a later run")


def _export_names(exports: Sequence[ExportSpec]) -> dict[str, str]:
    """Each export's name by table, with its table where another export has the same report name."""
    counts = Counter(spec.name for spec in exports)
    return {spec.table_name: spec.name if counts[spec.name] == 1 else f"{spec.name} (table {spec.table_name})"
            for spec in exports}


def adopt_jobs(spec: ExportSpec, ledger: ExportLedger, rt: SourceRuntime) -> Iterator[dict[str, Any]]:
    """History rows for jobs of `job_codes` taken on for the first time."""
    now = rt.clock.now()
    adopted = [entry for entry in ledger.submitted() if entry.kind == EntryKind.ADOPTED and not entry.data.get("seq")]
    if adopted:
        numbered_after_destination(adopted)  # another run may have adopted it too
    for entry in adopted:
        rt.report.tally(spec.name, spec.table_name).jobs_created += 1
        yield job_event(spec, entry, rt.run_id, HistoryStatus.ADOPTED, observed_at=now,
                        message="existing job given in job_codes")



INVALID_REPORT = 100001  # Uniware's code for a report name (exportJobTypeName) the tenant does not know
INVALID_COLUMN = 100002  # Uniware's code for a column id the report does not know
INVALID_FILTER = 100003  # Uniware's code for a filter id the report does not take
INVALID_FILTER_VALUE = 100004  # a filter's value it refuses (a date range longer than the report takes)
MISSING_PARAMETERS = 1001  # a required parameter left out (a report that needs a date filter, given none)


def _report_hint(spec: ExportSpec, error: ApiError) -> str:
    """What to change when Uniware does not know the report's name."""
    if INVALID_REPORT not in error.codes:
        return ""
    return (f". The name is the report's exportJobTypeName on this tenant, which is not always the label its "
            f"Exports page shows, and tenants have their own copies under other names (\"B2B Sale Orders\"): "
            f"give the tenant's name in exports = [{{name = \"...\"}}] (`uniware-pipeline exports` lists the "
            f"catalog's){did_you_mean_report(spec.name, another=True)}")


def _filter_hint(spec: ExportSpec, error: ApiError, entry: Entry, fallback: dict[str, str]) -> str:
    """What to change when Uniware refuses the export's date filter id (and its fallback, if tried)."""
    if not _date_filter_refused(spec, error):
        return ""
    tried = fallback.get(entry.facility or "")
    if tried is not None:
        return (f". The report takes neither date filter the catalog knows for it on this tenant "
                f"('{spec.date_filter}', then '{tried}'): set date_filter for this export to the filter id its "
                "Exports page uses "
                f"(exports = [{{name = \"{spec.name}\", date_filter = \"...\"}}])")
    if not _names_id(error, spec.date_filter or "") and spec.filters:
        named = ", ".join(repr(str(f.get("id"))) for f in spec.filters)
        return (f". Uniware does not say which filter it refuses: the date filter '{spec.date_filter}' or {named}; "
                f"check each id against the report's Exports page (exports = [{{name = \"{spec.name}\", "
                "date_filter = \"...\", filters = [...]}}])")
    others = sorted(set(spec.window_columns_by_filter) - {spec.date_filter})
    caveat = ""
    if spec.dedup_sort and any(f.startswith("added") for f in others):
        caveat = (f" (a creation-date filter exports a row once: later changes to rows older than lookback_days, "
                  f"their '{spec.dedup_sort}', are not loaded again; raise lookback_days to the days such changes "
                  "take)")
    return (f". The report does not take the date filter '{spec.date_filter}': set date_filter for this export "
            f"(exports = [{{name = \"{spec.name}\", date_filter = \"...\"}}])"
            + (f"; the catalog also knows {others}{caveat}" if others else ""))


def _date_filter_refused(spec: ExportSpec, error: ApiError, strictly: bool = False) -> bool:
    """Whether Uniware's 100003 refuses the export's date filter: it names it, or names no filter at all
    ("Invalid filter", some builds) while the export's static filters are not named either; `strictly`
    (to make the job with another filter): a refusal that names none counts only without static filters."""
    if INVALID_FILTER not in error.codes or not spec.date_filter:
        return False
    if _names_id(error, spec.date_filter):
        return True
    return not spec.filters if strictly else not any(_names_id(error, str(f.get("id"))) for f in spec.filters)


def _parameter_hint(spec: ExportSpec, error: ApiError) -> str:
    """What to change when Uniware refuses the window's range, or misses a parameter of a report
    exported without a date filter."""
    if INVALID_FILTER_VALUE in error.codes and spec.date_filter and _names_id(error, spec.date_filter):
        return (". If it is the window's date range that Uniware refuses (a report takes a few months at most, "
                "some tenants less), lower window_days (SOURCES__UNIWARE__WINDOW_DAYS)")
    if not spec.date_filter and error.codes & {MISSING_PARAMETERS, INVALID_FILTER} \
            and not any(_names_id(error, str(f.get("id"))) for f in spec.filters):  # not a static filter's
        known = sorted(spec.window_columns_by_filter)
        return (". The export has no date_filter; a report that needs one is refused so: set date_filter for "
                f"this export (exports = [{{name = \"{spec.name}\", date_filter = \"...\"}}])"
                + (f"; the catalog knows {known}" if known else ""))
    return ""


def _column_hint(spec: ExportSpec, error: ApiError) -> str:
    """What to change when Uniware refuses column ids of the export (`Invalid column : facilityCode`)."""
    if INVALID_COLUMN not in error.codes:
        return ""
    refused = [c for c in spec.columns if _names_id(error, c)]
    if not refused:
        return _unnamed_column_hint(spec)
    needs = spec.column_needs()
    kept = [(c, need) for c in refused for need in needs if column_spellings(spec.name, c) & {
        fold_label(spelling) for spelling in [need.label, *spec.label_readings.get(need.label, ())]}]
    if kept:  # left out, the export could not merge or check its rows: the tenant's own id is wanted
        column, need = kept[0]
        assumed = (f" (the catalog assumed {spec.name}'s column ids: no request of this report was seen in the "
                   "field)") if spec.name in ASSUMED_IDS else ""
        way_out = f"; or set {need.way_out}" if need.way_out else ""
        return (f". The report does not know the column id {column}{assumed}, which the export needs "
                f"({need.role.format(repr(need.label))}): find the id this tenant uses for that column (the request "
                f"Uniware's own Exports page makes for {spec.name}) and give the export's columns with it in place "
                f"of {column} (exports = [{{name = \"{spec.name}\", columns = [...]}}]){way_out}")
    listed = ", ".join(f'"{c}"' for c in refused)
    return (f". The report does not know the column id(s) {', '.join(refused)}: leave them out with "
            f"exclude_columns (exports = [{{name = \"{spec.name}\", exclude_columns = [{listed}]}}]), or give "
            "this export's columns")


def _unnamed_column_hint(spec: ExportSpec) -> str:
    """The way out when Uniware refuses a column id without naming it: the ids least sure for this report."""
    unsure = [c for c in spec.columns if spec.name in ASSUMED_IDS or c in UNSEEN.get(spec.name, ())
              or c in GUESSED.get(spec.name, ()) or c in LESS_SURE_IDS.get(spec.name, ())]
    suspects = (f"; the ids of it seen least in the field: {', '.join(unsure)}" if unsure else "")
    return (f". Uniware did not say which column id it refuses{suspects}. Compare the export's ids with the "
            f"request Uniware's own Exports page makes for {spec.name}, then leave the refused one out with "
            f"exclude_columns (exports = [{{name = \"{spec.name}\", exclude_columns = [...]}}]) or give this "
            "export's columns")


def _names_id(error: ApiError, identifier: str) -> bool:
    """Whether Uniware's own words (its errors, not the connector's name of the job, which says
    `facility BLR01`) name `identifier` as a whole word (`facility` is not in `facilityCode`)."""
    said = " ".join(f"{e} {e.params or ''}" for e in error.errors) or str(error).split(" failed: ", 1)[-1]
    return re.search(rf"(?<![\w-]){re.escape(identifier)}(?![\w-])", said) is not None
