"""The subcommands of `uniware-pipeline` besides the run itself:

    uniware-pipeline facilities                      # codes, status, created (from facility/search)
    uniware-pipeline exports [--markdown]            # the built-in catalog (--markdown: the README reference)
    uniware-pipeline plan [--export N] [--facility C]  # what the next run would create; creates nothing
    uniware-pipeline status [--export N] [--facility C]  # cursors, jobs in flight, last failures
    uniware-pipeline reset --export "Sale Orders" [--facility BLR01]   # clear a cursor and ledger on purpose
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, cast

import dlt
from dlt.common.destination import Destination
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.pipeline import Pipeline

from .catalog import CATALOG
from .clock import Clock
from .discovery import FAILURE_STATUSES, export_lines, export_reference, facility_lines, plan_lines, status_lines
from .errors import ConfigError
from .facilities import same_code_other_case
from .history import HISTORY_TABLE
from .pipeline_run.lock import RunLocked, pipeline_lock
from .pipeline_run.resumable import pending_loads_finished
from .problems import EXIT_CONFIG, EXIT_LOCKED, explain
from .progress import configure_logging, say
from .run_log import delete_rows, reset
from .run_report import RunReport
from .runtime import SUBMIT, SourceRuntime
from .settings import configured_exports, facility_flags, listed, normalize_name, select_exports
from .source import uniware_source
from .usage import UsageParser, parse_with

COMMANDS = ("run", "facilities", "exports", "plan", "status", "reset")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = UsageParser(prog="uniware-pipeline", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("facilities", "list the tenant's facilities"), ("exports", "list the built-in exports"),
                       ("plan", "the windows and jobs the next run would create (creates nothing)"),
                       ("status", "cursors, jobs in flight and the last failures"),
                       ("reset", "clear one export's (or facility's) cursor and ledger")):
        command = sub.add_parser(name, help=text, description=text)
        # default: the pipeline's own (kept in its state), else duckdb and uniware as for a run
        command.add_argument("--destination")
        command.add_argument("--dataset")
        command.add_argument("--pipeline-name", default="uniware_pipeline")
        command.add_argument("--pipelines-dir")
        command.add_argument("--export", action="append", dest="exports", metavar="NAME")
        command.add_argument("--facility", action="append", dest="facilities", metavar="CODE")
        command.add_argument("--quiet", action="store_true")
        command.add_argument("--log-format", choices=("text", "json"), default="text")
        if name == "exports":
            command.add_argument("--markdown", action="store_true", help="the README's column reference")
        if name == "plan":
            command.add_argument("--start", help="plan a backfill from this date (India time), as a run with it would")
            command.add_argument("--end", help="the backfill's end (default: now)")
        if name == "reset":
            command.add_argument("--delete-rows", action="store_true",
                                 help="also delete the tables' rows (of --facility), which the next run exports "
                                      "again: what an export without a natural key needs, as it cannot merge them")
    return parse_with(parser, argv)


def loaded_pipeline(pipeline_name: str, pipelines_dir: Optional[str]) -> Optional[Pipeline]:
    """The pipeline as its state keeps it, if a run of it committed its jobs (its destination and dataset
    are then where its jobs, state and rows are); None for a new one, or one whose runs were all refused
    before (a refused first run's settings are not the pipeline's)."""
    if not (Path(str(pipelines_dir or get_dlt_pipelines_dir())) / pipeline_name).is_dir():
        return None
    where: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    pipeline: Pipeline = dlt.pipeline(pipeline_name=pipeline_name, **where)
    # a run got as far as its submit step's commit (a refused run commits only its uniware_runs row)
    submitted = bool(pipeline.state.get("sources", {}).get("uniware", {}).get("resources"))
    if not submitted or pipeline.destination is None or not pipeline.dataset_name:
        return None
    return pipeline


def chosen_pipeline(pipeline_name: str, pipelines_dir: Optional[str], destination: Any, dataset: Optional[str],
                    keep: bool = False) -> Pipeline:
    """The pipeline with `destination` and `dataset` where given, else those of its loads, else those of dlt's
    configuration (`DESTINATION_TYPE`, `DATASET_NAME`, `[pipelines.<name>]`), else duckdb and uniware.
    `keep`: a destination or dataset other than those of its loads is a setting error (a command that only
    reads or clears: dlt would switch the pipeline to them, for this and every later run). A
    pipeline whose interrupted run left packages waiting never switches, however the other place is named
    (see `_refuse_switch_while_waiting`)."""
    place = _saved_place(pipeline_name, pipelines_dir)  # read before dlt's pipeline takes its settings
    saved = loaded_pipeline(pipeline_name, pipelines_dir)
    where: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    if saved is None:  # the flags, else dlt's configuration (DESTINATION_TYPE, DATASET_NAME...), else the defaults
        # (not a refused earlier run's place, which dlt's pipeline would take from the state it saved)
        fresh: Pipeline = dlt.pipeline(pipeline_name=pipeline_name, **where,
                                       destination=destination or _configured(pipeline_name, "destination_type")
                                       or "duckdb",
                                       dataset_name=dataset or _configured(pipeline_name, "dataset_name") or "uniware")
        return fresh
    kept = saved.destination.destination_name if saved.destination is not None else ""
    for flag, given, own in (("--destination", destination, kept), ("--dataset", dataset, saved.dataset_name)):
        named = str(getattr(given, "destination_name", given) or "")
        other = named.lower().rsplit(".", 1)[-1] != str(own).lower() if flag == "--destination" else named != own
        if keep and named and other:
            raise ConfigError(flag.lstrip("-"), f"pipeline '{pipeline_name}' loads into {kept} dataset "
                              f"'{saved.dataset_name}'; {flag} {named} names another, to which dlt would switch "
                              f"the pipeline: leave {flag} out, or give --pipeline-name of the pipeline that loads "
                              "there", given_as=flag)
    chosen = saved
    if destination is not None or dataset is not None:
        overrides: dict[str, Any] = {"destination": destination, "dataset_name": dataset}
        chosen = dlt.pipeline(pipeline_name=pipeline_name, **where,
                              **{key: value for key, value in overrides.items() if value is not None})
    _refuse_switch_while_waiting(chosen, place, destination, dataset, where)
    return chosen  # moved, the run takes the state it left at the new place (pipeline_run/moved.py)


def _place(kind: str, name: Optional[str]) -> str:
    """A destination as type and name: a named one of the same type (`--destination other`, of type duckdb) is
    another place."""
    return f"{kind}:{name or kind.rsplit('.', 1)[-1]}"


def _configured(pipeline_name: str, key: str) -> Optional[str]:
    """dlt's configuration of a pipeline setting: `[pipelines.<name>]`, else the top level (`DATASET_NAME`)."""
    value: Any = dlt.config.get(f"pipelines.{pipeline_name}.{key}") or dlt.config.get(key)
    return str(value) if value else None


def _saved_place(pipeline_name: str, pipelines_dir: Optional[str]) -> Optional[tuple[str, Optional[str], str]]:
    """The destination (type and name) and dataset the pipeline's saved state names, as the state file
    holds them: making dlt's pipeline object saves the configuration's (or a flag's) over them at once."""
    path = Path(str(pipelines_dir or get_dlt_pipelines_dir())) / pipeline_name / Pipeline.STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind, name, dataset = state.get("destination_type"), state.get("destination_name"), state.get("dataset_name")
    return (str(kind), str(name) if name else None, str(dataset)) if kind and dataset else None


def _refuse_switch_while_waiting(pipeline: Pipeline, place: Optional[tuple[str, Optional[str], str]],
                                 destination: Any, dataset: Optional[str], where: Mapping[str, Any]) -> None:
    """A ConfigError when packages of an interrupted run wait to load and the pipeline now names another
    destination or dataset than its state (a flag, or dlt's configuration: `DESTINATION_TYPE`,
    `DATASET_NAME`, `[pipelines.<name>]`...): dlt would load their rows, job codes and history there, while
    the pipeline's state says they loaded where it loads, and each run after switching back failed. The
    state is given its place back first (dlt saved the new one when the pipeline object was made)."""
    if place is None or not pipeline.has_pending_data:
        return
    kind, name, saved_dataset = place
    saved_at = _place(kind, name)
    now = _place(pipeline.destination.destination_type, pipeline.destination.destination_name) \
        if pipeline.destination is not None else ""
    for setting, was, is_now, flag, given, variable in (
            ("destination", saved_at, now, "--destination", destination, "DESTINATION_TYPE"),
            ("dataset", saved_dataset, pipeline.dataset_name, "--dataset", dataset, "DATASET_NAME")):
        if not is_now or is_now == was:
            continue
        how = f"{flag} names" if given else (f"the configuration ([pipelines.{pipeline.pipeline_name}], "
                                             ".dlt/config.toml or the environment) names")
        shown = is_now.rsplit(":", 1)[-1] if setting == "destination" else is_now
        dlt.pipeline(pipeline_name=pipeline.pipeline_name, dataset_name=saved_dataset, **where,
                     destination=Destination.from_reference(kind, destination_name=name))
        raise ConfigError(setting, f"pipeline '{pipeline.pipeline_name}' loads into {saved_at.rsplit(':', 1)[-1]} "
                          f"dataset '{saved_dataset}'; {how} {setting} '{shown}', another; its interrupted run left "
                          "load packages waiting to load there: run once without the switch to load them, then "
                          "switch", given_as=flag if given else variable)


def _pipeline(args: argparse.Namespace) -> Pipeline:
    """The pipeline a command reads or clears: where it loads (see chosen_pipeline)."""
    return chosen_pipeline(args.pipeline_name, args.pipelines_dir, args.destination, args.dataset, keep=True)


def _pipelines_dir(args: argparse.Namespace) -> Path:
    return Path(str(args.pipelines_dir or get_dlt_pipelines_dir()))


def _exists(args: argparse.Namespace) -> bool:
    """Whether the pipeline has a working directory (state) to read: status and reset make none."""
    return (_pipelines_dir(args) / str(args.pipeline_name)).is_dir()


def _runtime(args: argparse.Namespace, clock: Optional[Clock]) -> SourceRuntime:
    """The settings and clients a run would have (configuration resolved the dlt way)."""
    overrides: dict[str, Any] = {}
    if args.exports:
        overrides["exports"] = select_exports(configured_exports(), args.exports)
    if args.facilities:
        overrides["facilities"] = args.facilities
    if getattr(args, "start", None) or getattr(args, "end", None):  # plan's backfill
        overrides.update(backfill_start=args.start, backfill_end=args.end)
    if clock is not None:
        overrides["clock"] = clock
    report = RunReport()
    uniware_source(phase=SUBMIT, report=report, **overrides)
    assert isinstance(report.runtime, SourceRuntime)
    return report.runtime


def _tables(pipeline: Pipeline, names: Sequence[str]) -> list[str]:
    """Export names (or table names) to the tables whose state holds their ledger: a table in state by
    that name, else the configured export's `table_name`, else the catalog's."""
    known = set(pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {}))
    by_folded = {table.casefold(): table for table in known}
    in_state = [name for name in listed(names) if name.casefold() in by_folded]  # a table state holds: the one meant
    tables = [by_folded[name.casefold()] for name in in_state]
    for entry in select_exports(configured_exports(), [n for n in listed(names) if n not in in_state]):
        name = entry if isinstance(entry, str) else str(entry.get("name", ""))
        spec = CATALOG.get(name)
        configured = entry.get("table_name") if isinstance(entry, Mapping) else None
        if name in known:
            tables.append(name)
        elif isinstance(configured, str) and configured:
            tables.append(configured)
        else:
            tables.append(spec.table_name if spec else normalize_name(name))
    return tables


def _closest_tables(tables: Sequence[str], known: Sequence[str]) -> str:
    """"; did you mean 'sale_orders'?" for each asked table that state does not hold and whose name is
    close to one it holds (the table names `status` lists)."""
    hints = []
    for table in tables:
        close = difflib.get_close_matches(table, [k for k in known if k not in tables], n=1, cutoff=0.6)
        if table not in known and close:
            hints.append(f"; '{table}' is not in state: did you mean '{close[0]}'?")
    return "".join(hints)


def _facility_in_other_case(facility: Optional[str], pipeline: Pipeline) -> str:
    """"; did you mean BLR01?" for a facility state holds only in another case (codes are case-sensitive)."""
    if facility is None:
        return ""
    held = {str(code) for state in _in_state(pipeline).values() if isinstance(state, Mapping)
            for code in (state.get("cursors") or {})}
    same = same_code_other_case(facility, held)
    return f"; facility codes are case-sensitive: did you mean {same}?" if same else ""


def _in_state(pipeline: Pipeline) -> Mapping[str, Any]:
    resources: Mapping[str, Any] = pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {})
    return resources


def _facilities_in(state: Mapping[str, Any]) -> set[str]:
    """The facilities an export's state has a cursor or a window of."""
    return {str(code) for code in state.get("cursors") or {}} | \
        {str(e["facility"]) for e in state.get("entries") or [] if isinstance(e, Mapping) and e.get("facility")}


class _Narrowed:
    """The pipeline as `status` reads it, its connector state narrowed to some tables and facilities."""

    def __init__(self, pipeline: Pipeline, tables: Sequence[str], facilities: Optional[Sequence[str]]) -> None:
        self._pipeline = pipeline
        self._tables = tables
        self._facilities = facilities

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)

    @property
    def state(self) -> Mapping[str, Any]:
        state: dict[str, Any] = copy.deepcopy(dict(self._pipeline.state))
        uniware = state.setdefault("sources", {}).setdefault("uniware", {})
        resources = uniware.get("resources") or {}
        narrowed = {}
        for table in self._tables:
            kept = dict(resources.get(table) or {})
            if self._facilities is not None:
                kept["cursors"] = {code: cursor for code, cursor in (kept.get("cursors") or {}).items()
                                   if code in self._facilities}
                kept["entries"] = [e for e in kept.get("entries") or []
                                   if isinstance(e, Mapping) and e.get("facility") in self._facilities]
            narrowed[table] = kept
        uniware["resources"] = narrowed
        return state


def _status_unknown(pipeline: Pipeline, args: argparse.Namespace, tables: Sequence[str]) -> Optional[str]:
    """Why `status --export/--facility` has nothing to show: an export that is none (not in state, not
    configured, not a catalog report) or has no state, a facility no state of those exports has."""
    known = sorted(_in_state(pipeline))
    holds = f"state has {', '.join(known)}" if known else "state has no export yet (no run committed a job)"
    if args.exports:
        for name in listed(args.exports):
            table = _tables(pipeline, [name])[0]
            if table in known:
                continue
            picked = select_exports(configured_exports(), [name])[0]
            if isinstance(picked, str) and picked not in CATALOG:
                return (f"--export {name!r} is no export of this pipeline: not in its state, not configured, not a "
                        f"built-in report (`uniware-pipeline exports` lists them); {holds}"
                        + _closest_tables([table], known))
            return (f"--export {name!r} (table {table}) has no cursor or job in the state of pipeline "
                    f"'{pipeline.pipeline_name}': no run of it exported that report yet; {holds}")
    if args.facilities:
        present = sorted(set().union(*(_facilities_in(_in_state(pipeline).get(t) or {}) for t in tables)))
        for code in args.facilities:
            if code not in present:
                close = difflib.get_close_matches(code.upper(), present, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                return (f"--facility {code!r} has no cursor or job in the state of "
                        f"{', '.join(tables) if args.exports else 'any export'}: facilities there: "
                        f"{', '.join(present) or 'none'}{hint}")
    return None


def _status(pipeline: Pipeline, args: argparse.Namespace) -> int:
    """`status`, all of it, or only the lines of the exports and facilities asked for."""
    if not args.exports and not args.facilities:
        print("\n".join(status_lines(pipeline)))
        return 0
    tables = _tables(pipeline, args.exports) if args.exports else sorted(_in_state(pipeline))
    unknown = _status_unknown(pipeline, args, tables)
    if unknown:
        say(f"configuration error: {unknown}")
        return EXIT_CONFIG
    lines = status_lines(cast(Pipeline, _Narrowed(pipeline, tables, args.facilities)))
    only = [f"export(s) {', '.join(tables)}" if args.exports else "",
            f"facility {', '.join(args.facilities)}" if args.facilities else ""]
    print("\n".join([f"(only {' and '.join(o for o in only if o)})",
                     *_history_narrowed(lines, pipeline, tables, args.facilities)]))
    return 0


def _history_narrowed(lines: list[str], pipeline: Pipeline, tables: Sequence[str],
                      facilities: Optional[Sequence[str]], limit: int = 10) -> list[str]:
    """`lines` with their last failures of export_job_status (the newest of every export) replaced by those
    of `tables` (and `facilities`)."""
    start = next((i for i, line in enumerate(lines) if line == f"last failures in {HISTORY_TABLE}:"
                  or line.startswith(f"({HISTORY_TABLE} not read")), None)
    if start is None:
        return lines
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    statuses = ", ".join(f"'{s}'" for s in FAILURE_STATUSES)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(HISTORY_TABLE)
            column = client.escape_column_name
            where = f"{column('table_name')} IN ({', '.join(['%s'] * len(tables))})"
            if facilities:
                where += f" AND {column('facility')} IN ({', '.join(['%s'] * len(facilities))})"
            rows = client.execute_sql(
                f"SELECT observed_at, export_name, facility, job_code, status, message FROM {table} "
                f"WHERE status IN ({statuses}) AND {where} ORDER BY observed_at DESC LIMIT {limit}",
                *tables, *(facilities or [])) or []
    except Exception as error:  # the destination may be down: status still shows the state
        return [*lines[:start], f"({HISTORY_TABLE} not read: {type(error).__name__})", *lines[end:]]
    found = [f"  {observed} {export} {facility or '-'} {job or '-'} {status}: {(message or '')[:160]}"
             for observed, export, facility, job, status, message in rows]
    return [*lines[:start], f"last failures in {HISTORY_TABLE}:", *(found or ["  none"]), *lines[end:]]


def run_command(argv: Sequence[str], clock: Optional[Clock] = None) -> int:
    args = parse(argv)
    configure_logging(args.quiet, args.log_format)
    try:
        if getattr(args, "facilities", None) is not None:
            args.facilities = facility_flags(args.facilities)
        if args.command == "exports":
            print(export_reference() if args.markdown else "\n".join(export_lines()))
            return 0
        if args.command == "facilities":
            print("\n".join(facility_lines(_runtime(args, clock))))
            return 0
        if args.command in ("status", "reset") and not _exists(args):
            say(f"configuration error: no pipeline '{args.pipeline_name}' under {_pipelines_dir(args)}: nothing to "
                f"{args.command} (check --pipeline-name and --pipelines-dir)")
            return EXIT_CONFIG
        pipeline = _pipeline(args)
        if args.command == "status":
            return _status(pipeline, args)
        if args.command == "plan":
            print("\n".join(plan_lines(pipeline, _runtime(args, clock))))
            return 0
        # reset
        if not args.exports and not args.facilities:
            say("configuration error: reset needs --export NAME and/or --facility CODE (what to clear)")
            return EXIT_CONFIG
        if args.facilities and len(args.facilities) > 1:
            say("configuration error: reset takes one --facility at a time")
            return EXIT_CONFIG
        bucket = pipeline.destination is not None and pipeline.destination.destination_type.endswith("filesystem")
        if args.delete_rows and bucket:  # before anything is cleared: the rows would stay and the cursors go
            say("configuration error: --delete-rows cannot delete from a bucket: dlt's filesystem destination only "
                "adds files (reset without --delete-rows clears the cursors; the files stay)")
            return EXIT_CONFIG
        known = list(pipeline.state.get("sources", {}).get("uniware", {}).get("resources", {}))
        tables = _tables(pipeline, args.exports) if args.exports else known
        # the lock: a run going on would commit its own copy of the state after this; an interrupted
        # run's packages load first, as a run loads them (dlt would extract nothing while they wait)
        with pipeline_lock(pipeline), pending_loads_finished(pipeline):
            facility = args.facilities[0] if args.facilities else None
            lines, cleared = reset(pipeline, tables, facility)
            if args.delete_rows:
                deleted, rows = delete_rows(pipeline, tables, facility)
                lines, cleared = lines + deleted, cleared or rows > 0
        for line in lines:
            print(line)
        if not cleared:
            say("configuration error: nothing was cleared: no cursor or job of that export/facility in state "
                "(`uniware-pipeline status` shows what there is)" + _closest_tables(tables, known)
                + _facility_in_other_case(facility, pipeline))
            return EXIT_CONFIG
        print("jobs already created on Uniware for what was cleared are not cancelled; the next run plans anew")
        if bucket:  # a bucket keeps every file: no delete-insert, and `--delete-rows` cannot reach its files
            print(f"warning: the bucket keeps the files loaded for {', '.join(tables)}: the windows the next run "
                  "exports again land beside them. A table with a key is read by its newest row per key (README, "
                  "A bucket); one without (merged on its job code) then holds those windows' rows once per job: "
                  "read the newest job of each facility and window (_uniware_facility, _uniware_window_start, "
                  "_uniware_window_end, newest _uniware_exported_at)")
        return 0
    except RunLocked as error:
        say(f"error: {error}")
        return EXIT_LOCKED
    except Exception as error:
        code, line = explain(error)
        say(line)
        return code
