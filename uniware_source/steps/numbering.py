"""History rows of a job are numbered after the rows the destination already has of it.

A run's state can be behind the destination's `export_job_status`: another machine's run stopped (killed,
or its dataset lock lost) after its package's history rows committed and before its state did. Numbered
from state, this run's rows of those jobs took numbers already used, and the insert-only merge on
`<job code>:<seq>` dropped them (LOADED, ABANDONED included). Each step asks the destination first.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..conversion.target_table import history_seqs
from ..ledger import Entry


def numbered_after_destination(entries: Iterable[Entry]) -> None:
    """Each entry's next history row is numbered after the highest `seq` the destination has for its job."""
    with_jobs = [entry for entry in entries if entry.job_code]
    reached = history_seqs([str(entry.job_code) for entry in with_jobs])
    for entry in with_jobs:
        if entry.job_code in reached:
            entry.seq_at_least(reached[str(entry.job_code)])
