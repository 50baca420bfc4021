"""An offline, faithful Uniware tenant for demos, tests and benchmarks (see README, "The simulator")."""

from .csv_render import CsvStyle
from .faults import (
    BAD_VALUE,
    CANCEL,
    CORRUPT,
    DELAY,
    EMPTY_FILE,
    ERROR,
    EXPIRE_TOKENS,
    FAIL,
    HTML,
    HTTP_ERROR,
    INVALID_UTF8,
    NO_FILE,
    RAGGED,
    RENAMED_HEADER,
    RESET,
    RESHAPED,
    SCRIPTED,
    STUCK,
    TRUNCATE,
    Chaos,
    Fault,
    JobFault,
)
from .jobs import JobTiming
from .reports import REPORTS
from .server import SimulatorConfig, UniwareSimulator
from .tenant import Facility, SimClock, Tenant

__all__ = [
    "BAD_VALUE",
    "CANCEL",
    "CORRUPT",
    "DELAY",
    "EMPTY_FILE",
    "ERROR",
    "EXPIRE_TOKENS",
    "FAIL",
    "HTML",
    "HTTP_ERROR",
    "INVALID_UTF8",
    "NO_FILE",
    "RAGGED",
    "RENAMED_HEADER",
    "REPORTS",
    "RESET",
    "RESHAPED",
    "SCRIPTED",
    "STUCK",
    "TRUNCATE",
    "Chaos",
    "CsvStyle",
    "Facility",
    "Fault",
    "JobFault",
    "JobTiming",
    "SimClock",
    "SimulatorConfig",
    "Tenant",
    "UniwareSimulator",
]
