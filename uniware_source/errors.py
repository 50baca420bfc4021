"""Exceptions of the connector. Every message names what was wrong and never carries a secret."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .redact import redact


class UniwareError(Exception):
    """Base class of everything the connector raises on purpose."""


class ConfigError(UniwareError):
    """A setting is missing or invalid; the message names the setting and its env var."""

    def __init__(self, setting: str, problem: str, given_as: str = "") -> None:
        """`given_as`: where the setting is given, when not its env var (a TOML file's table)."""
        env = given_as or "SOURCES__UNIWARE__" + setting.upper()
        super().__init__(f"setting '{setting}' ({env}): {problem}")
        self.setting = setting


class DestinationNotReached(Exception):
    """The run's first connection to its destination (its dataset lock's) could not be opened. It stands
    for dlt's failed first state sync, so it is no UniwareError with words of its own: `problems.explain`
    says it as that sync's failure (`destination_not_connected`), from the cause chained."""

    def __init__(self, pipeline: Any, error: BaseException) -> None:
        super().__init__(redact(str(error)))
        self.pipeline = pipeline
        self.step = "sync"


class AuthError(UniwareError):
    """Uniware refused our credentials or tokens; never retried in a loop."""


@dataclass(frozen=True)
class ApiErrorDetail:
    """One entry of Uniware's ``errors[]``: builds put the text in description or message."""

    code: Optional[int]
    description: str
    message: str
    field_name: Optional[str] = None
    params: Optional[dict[str, Any]] = None

    @classmethod
    def from_json(cls, item: Any) -> ApiErrorDetail:
        if not isinstance(item, dict):
            return cls(None, str(item), "")
        code = item.get("code")
        params = item.get("errorParams")
        return cls(
            code=int(code) if isinstance(code, (int, str)) and str(code).isdigit() else None,
            description=str(item.get("description") or ""),
            message=str(item.get("message") or ""),
            field_name=item.get("fieldName"),
            params=params if isinstance(params, dict) else None,
        )

    def __str__(self) -> str:
        texts = [t for t in (self.description, self.message) if t]
        if len(texts) == 2 and texts[0] == texts[1]:
            texts = texts[:1]
        code = f"[{self.code}] " if self.code is not None else ""
        field = f" (field {self.field_name})" if self.field_name else ""
        return f"{code}{' / '.join(texts) or 'no description'}{field}"


class ApiError(UniwareError):
    """A Uniware call failed: HTTP status or ``successful: false`` with its coded errors."""

    def __init__(self, operation: str, problem: str, *, http_status: Optional[int] = None,
                 errors: Sequence[ApiErrorDetail] = (), refused: bool = False) -> None:
        detail = "; ".join(str(e) for e in errors)
        status = f"HTTP {http_status}: " if http_status is not None else ""
        # Uniware's own words may echo a token or the password: masked before anything keeps them
        super().__init__(redact(f"{operation} failed: {status}{problem}" + (f" - {detail}" if detail else "")))
        self.operation = operation
        self.http_status = http_status
        self.errors = tuple(errors)
        self.refused = refused  # Uniware answered, with `successful: false`: not a transient failure

    @property
    def codes(self) -> set[int]:
        return {e.code for e in self.errors if e.code is not None}


class ContradictoryStatus(ApiError):
    """A job status not taken as the job's: done and failed at once (COMPLETE with `successful: false`), done
    with a file that cannot be trusted, done without a file while saying there are rows, or an answer that
    names another job (AnotherJobsStatus)."""


class AnotherJobsStatus(ContradictoryStatus):
    """A status answer whose `jobCode` names another job: it says nothing of the job asked about."""


class FacilityAccessError(ApiError):
    """HTTP 403 from create: the Facility header is missing, wrong, or a display name."""


class DownloadError(UniwareError):
    """The export file could not be fetched completely."""


class InvalidFileError(DownloadError):
    """The file host answered with something that is not the CSV (an HTML login page...)."""


class CsvFormatError(UniwareError):
    """The CSV is malformed or does not match what the export should contain."""


class ExportsFailed(UniwareError):
    """Some jobs did not load; raised after everything else was loaded. Cursors did not move."""

    def __init__(self, problems: Sequence[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} export job(s) did not load; their cursors were left where they were:\n{lines}")
        self.problems = tuple(problems)
