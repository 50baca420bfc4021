"""Runs the pipeline script in a child process with the simulator's fixed 'now' (kill tests).

    python -m tests.pipeline_process <ISO now> -- <pipeline script arguments>

Settings come from SOURCES__UNIWARE__* environment variables, as for users.
"""

from __future__ import annotations

import sys
from datetime import datetime

from uniware_source.cli import main
from uniware_source.clock import SystemClock


class FixedNow(SystemClock):
    """Real waiting, a fixed 'now' (the simulator's clock stands still in tests)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


if __name__ == "__main__":
    separator = sys.argv.index("--")
    sys.exit(main(sys.argv[separator + 1:], clock=FixedNow(datetime.fromisoformat(sys.argv[1]))))
