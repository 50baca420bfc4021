"""What a person (or an orchestrator) sees while a run goes: logs on stderr, results on stdout.

- On a terminal: a live compact view (rich, which dlt depends on), one line per job - export /
  facility, status, polls, elapsed, MB, rows - replaced by the summary at the end; warnings and
  errors print above it.
- Off a terminal: one line per job state change, without repeating the job's context.
- `--log-format json`: one JSON object per line, for orchestrators.
- `--quiet`: only warnings and errors of the connector, and dlt's own warnings are silenced too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from .redact import install_log_redaction
from .run_report import RunReport

CONNECTOR_LOGGER = "uniware_source"
TEXT = "text"
JSON = "json"
LOG_FORMATS = (TEXT, JSON)
_MARK = "_uniware_cli_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the job fields if any."""

    FIELDS = ("job_code", "status", "polls", "rows")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        for name in self.FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        return json.dumps(data, default=str)


_said_as = {"format": TEXT}  # how `say` writes: the format the last configure_logging set


def say(text: str, level: int = logging.ERROR) -> None:
    """A line the command line ends with (an error, the failed jobs, an interrupt) on stderr: as it is,
    or with `--log-format json` one JSON object like every log line (the text whole in `message`)."""
    if _said_as["format"] == JSON:
        if not text.strip():
            return  # a blank line sets a summary apart on a terminal; no log line
        # through the record factory, as every log line: the redaction (redact.py) applies here too
        record = logging.getLogRecordFactory()("uniware_source.cli", level, __file__, 0, text.strip("\n"), None, None)
        print(JsonFormatter().format(record), file=sys.stderr)
    else:
        print(text, file=sys.stderr)


def configure_logging(quiet: bool = False, log_format: str = TEXT,
                      handler: Optional[logging.Handler] = None) -> logging.Handler:
    """One handler on stderr for the connector's logs (replacing one an earlier call installed);
    dlt's warnings only when not quiet (in dlt's own format: `RUNTIME__LOG_FORMAT=JSON` makes them JSON)."""
    install_log_redaction()
    _said_as["format"] = log_format
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
    if log_format == JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    setattr(handler, _MARK, True)
    connector = logging.getLogger(CONNECTOR_LOGGER)
    for old in [h for h in connector.handlers if getattr(h, _MARK, False)]:
        connector.removeHandler(old)
    connector.addHandler(handler)
    connector.setLevel(logging.WARNING if quiet else logging.INFO)
    connector.propagate = False
    dlt_logger = logging.getLogger("dlt")
    dlt_logger.setLevel(logging.WARNING)
    for old_filter in [f for f in dlt_logger.filters if isinstance(f, _ErrorsOnly)]:
        dlt_logger.removeFilter(old_filter)
    if quiet:  # a filter, not a level: dlt sets its logger's level again when a pipeline starts
        dlt_logger.addFilter(_ErrorsOnly())
    return handler


class _ErrorsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def job_table(report: RunReport) -> Any:
    """The live view: one row per job of the run."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for name, justify in (("job", "left"), ("export / facility", "left"), ("status", "left"), ("polls", "right"),
                          ("elapsed", "right"), ("MB", "right"), ("rows", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    now = time.monotonic()
    for code, line in list(report.jobs.items()):
        table.add_row(code, line.label, line.status, str(line.polls), f"{now - line.started:.0f} s",
                      f"{line.bytes / 1e6:.1f}", f"{line.rows:,}")
    return table


@contextmanager
def live_view(report: RunReport, enabled: bool) -> Iterator[None]:
    """On a terminal, the jobs table refreshed in place; log lines print above it; it vanishes at the end."""
    if not enabled:
        yield
        return
    from rich.console import Console
    from rich.live import Live

    console = Console(stderr=True)

    class Renderable:
        def __rich__(self) -> Any:
            return job_table(report)

    connector = logging.getLogger(CONNECTOR_LOGGER)
    previous = connector.level
    connector.setLevel(logging.WARNING)  # job lines are in the table; warnings still print above it
    handlers = [h for h in connector.handlers if getattr(h, _MARK, False) and isinstance(h, logging.StreamHandler)]
    with Live(Renderable(), console=console, refresh_per_second=4, transient=True, redirect_stderr=True):
        streams = [h.setStream(sys.stderr) for h in handlers]  # log lines print above the table
        try:
            yield
        finally:
            connector.setLevel(previous)
            for handler, stream in zip(handlers, streams, strict=True):
                if stream is not None:
                    handler.setStream(stream)
