"""What a run did, per export: jobs, rows, time, final statuses, and the problems to report."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

progress_log = logging.getLogger("uniware_source.progress")


@dataclass
class ExportTally:
    export_name: str
    table_name: str
    jobs_created: int = 0
    jobs_loaded: int = 0
    rows: int = 0
    rows_skipped: int = 0
    bytes: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)


class RunReport:
    """Filled in by the source while it runs; read by the pipeline script for its summary."""

    def __init__(self) -> None:
        self.exports: dict[str, ExportTally] = {}
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def tally(self, export_name: str, table_name: str) -> ExportTally:
        with self._lock:
            return self.exports.setdefault(table_name, ExportTally(export_name, table_name))

    def problem(self, message: str) -> None:
        with self._lock:
            self.problems.append(message)
        progress_log.error("%s", message)

    def progress(self, message: str, *args: object) -> None:
        progress_log.info(message, *args)

    def summary_lines(self) -> list[str]:
        lines = [f"{'export':<22} {'table':<22} {'jobs':>5} {'loaded':>6} {'rows':>10} {'MB':>8} {'seconds':>8}  "
                 "final statuses"]
        for tally in self.exports.values():
            statuses = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(tally.statuses.items())) or "-"
            lines.append(f"{tally.export_name:<22} {tally.table_name:<22} {tally.jobs_created:>5} "
                         f"{tally.jobs_loaded:>6} {tally.rows:>10,} {tally.bytes / 1e6:>8.1f} "
                         f"{tally.seconds:>8.1f}  {statuses}")
        return lines
