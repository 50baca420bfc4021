"""uniware-dlt: load Unicommerce Uniware export jobs into any dlt destination.

>>> import dlt
>>> from uniware_source import uniware_source, run_exports
>>> pipeline = dlt.pipeline("uniware", destination="duckdb", dataset_name="uniware")
>>> run_exports(pipeline)  # submit jobs, collect them, load; raises ExportsFailed if some did not load
"""

from .clock import Clock, ManualClock, SystemClock
from .errors import ApiError, AuthError, ConfigError, CsvFormatError, DownloadError, ExportsFailed, UniwareError
from .pipeline_run.resumable import run_exports
from .run_report import RunReport
from .source import uniware_source

__all__ = [
    "ApiError", "AuthError", "Clock", "ConfigError", "CsvFormatError", "DownloadError", "ExportsFailed",
    "ManualClock", "RunReport", "SystemClock", "UniwareError", "run_exports", "uniware_source",
]
