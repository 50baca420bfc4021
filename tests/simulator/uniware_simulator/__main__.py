"""Run the simulator from the command line: ``python -m uniware_simulator --port 8080``."""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Optional

from .api import FIELD_INVALID_SCHEDULE, INVALID_SCHEDULE
from .faults import NO_FILE
from .jobs import JobTiming
from .server import SimulatorConfig, UniwareSimulator


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m uniware_simulator",
                                     description="Serve a simulated Uniware tenant on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="API port (0: any free port)")
    parser.add_argument("--file-port", type=int, default=8081, help="file host port (0: any)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--username", default=SimulatorConfig.username)
    parser.add_argument("--password", default=SimulatorConfig.password)
    parser.add_argument("--orders-per-day", type=int, default=240)
    parser.add_argument("--history-days", type=int, default=120)
    parser.add_argument("--seconds-per-status", type=float, default=2.0,
                        help="how long each pending status lasts (see --pending-statuses)")
    parser.add_argument("--min-polls-per-status", type=int, default=1,
                        help="polls that must see each status (0: statuses follow time only)")
    parser.add_argument("--completion-status", default="COMPLETE", choices=["COMPLETE", "SUCCESSFUL"])
    parser.add_argument("--pending-statuses", default="SCHEDULED,IN_PROGRESS", metavar="S1,S2,...",
                        help="the statuses a job goes through before it completes, in order (the field has seen "
                             "SCHEDULED, QUEUED, IN_PROGRESS, PROCESSING, RUNNING)")
    parser.add_argument("--start", help="simulated 'now' (ISO datetime); default: the real now")
    parser.add_argument("--fixed-clock", action="store_true",
                        help="simulated time stands still (identical exports are served from a cache)")
    parser.add_argument("--files-dir", help="where export files are written (default: a temporary folder)")
    unhappy = parser.add_argument_group("the field's unhappy paths")
    unhappy.add_argument("--unknown-filter", choices=["ignore", "reject", "say"], default="ignore",
                         help="an unknown filter id is silently ignored, so the export is unwindowed "
                              "(default, as seen in the field), rejected with 100003, or ignored with an error "
                              "saying so in the create answer (say)")
    unhappy.add_argument("--refuse-date-filter", action="append", default=[], metavar="ID",
                         help="a date filter id this tenant's reports refuse with 100003 (repeatable; "
                              "--refuse-date-filter updatedOn: a tenant whose Sale Orders takes addedOn only; "
                              "FACILITY:ID: for that facility's jobs only)")
    unhappy.add_argument("--complete-without-file-polls", type=int, default=0, metavar="N",
                         help="every job answers COMPLETE without filePath for N polls first")
    unhappy.add_argument("--fail-jobs", choices=["FAILED", "CANCELLED", "ERROR"],
                         help="jobs end in this status instead of completing (see --fail-rate)")
    unhappy.add_argument("--fail-rate", type=float, default=1.0,
                         help="share of jobs that --fail-jobs applies to (seeded; default 1.0: all)")
    unhappy.add_argument("--bad-credentials-status", type=int, default=400, choices=[400, 401, 500],
                         help="HTTP status of a password grant with bad credentials (the field has seen 500)")
    unhappy.add_argument("--schedule-error", type=int, default=120005, choices=[120005, 200204],
                         help="the code of a bad `frequency` (docs: 120005; the field has seen 200204)")
    unhappy.add_argument("--unknown-facility", default="403", choices=["403", "200001"],
                         help="a Facility header naming no facility of the tenant: HTTP 403 as without one "
                              "(default), or error 200001 (the docs' invalid facility code)")
    unhappy.add_argument("--relative-file-path", action="store_true",
                         help="filePath is a path on the API host (/export/...), served there behind the bearer")
    args = parser.parse_args(argv)
    if not 0.0 <= args.fail_rate <= 1.0:
        parser.error("--fail-rate must be between 0 and 1")
    return args


def arm_unhappy_paths(sim: UniwareSimulator, args: argparse.Namespace) -> None:
    """Job fates asked for on the command line, armed for every job from now on."""
    if args.fail_jobs:
        chooser = random.Random(args.seed)
        rate = args.fail_rate
        sim.inject_job_fate(args.fail_jobs, times=None, message="Export job failed (simulated)",
                            match=lambda _report, _facility: chooser.random() < rate)
    if args.complete_without_file_polls > 0:
        sim.inject_job_fate(NO_FILE, times=None, polls=args.complete_without_file_polls)


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    pending = tuple(s.strip() for s in args.pending_statuses.split(",") if s.strip()) or JobTiming.pending_statuses
    timing = JobTiming(pending_statuses=pending, seconds_per_status=(args.seconds_per_status,) * len(pending),
                       min_polls_per_status=args.min_polls_per_status, completion_status=args.completion_status)
    return SimulatorConfig(seed=args.seed, tenant=args.tenant, username=args.username,
                           password=args.password, orders_per_day=args.orders_per_day,
                           history_days=args.history_days, timing=timing, host=args.host,
                           live_clock=not args.fixed_clock, api_port=args.port, file_port=args.file_port,
                           start=datetime.fromisoformat(args.start) if args.start else None,
                           files_dir=Path(args.files_dir) if args.files_dir else None,
                           unknown_filter=args.unknown_filter, refused_date_filters=tuple(args.refuse_date_filter),
                           bad_credentials_status=args.bad_credentials_status,
                           relative_file_path=args.relative_file_path,
                           schedule_error=FIELD_INVALID_SCHEDULE if args.schedule_error == 200204 else INVALID_SCHEDULE,
                           unknown_facility=args.unknown_facility)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    config = config_from(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with UniwareSimulator(config) as sim:
        arm_unhappy_paths(sim, args)
        print(f"Uniware simulator for tenant '{config.tenant}'")
        print(f"  API (base_url):  {sim.base_url}")
        print(f"  file host:       {sim.file_base_url}")
        print(f"  username:        {config.username}")
        print(f"  password:        {config.password}   (a simulator credential, not a real one)")
        print(f"  facilities:      {', '.join(sim.tenant.enabled_facility_codes)}")
        said = {"ignore": "ignored", "reject": "rejected", "say": "ignored, said in errors[]"}
        print(f"  unknown filters: {said[args.unknown_filter]}")
        print(f"  use it:          SOURCES__UNIWARE__BASE_URL={sim.base_url} "
              f"SOURCES__UNIWARE__USERNAME={config.username} SOURCES__UNIWARE__PASSWORD='{config.password}' "
              f".venv/bin/uniware-pipeline --facility {sim.tenant.enabled_facility_codes[0]}")
        print("Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
