"""An offline, faithful Uniware tenant for demos, tests and benchmarks (see README, "Simulator")."""

from .csv_render import CsvStyle
from .faults import (
    CANCEL,
    DELAY,
    ERROR,
    FAIL,
    HTML,
    HTTP_ERROR,
    NO_FILE,
    RESET,
    STUCK,
    TRUNCATE,
    Fault,
    JobFault,
)
from .jobs import JobTiming
from .reports import REPORTS
from .server import SimulatorConfig, UniwareSimulator
from .tenant import Facility, SimClock, Tenant

__all__ = [
    "CANCEL",
    "DELAY",
    "ERROR",
    "FAIL",
    "HTML",
    "HTTP_ERROR",
    "NO_FILE",
    "REPORTS",
    "RESET",
    "STUCK",
    "TRUNCATE",
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
