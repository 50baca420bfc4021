"""Scratch directories under `download_dir` that a killed run cannot leave behind for good.

A run removes its own directories on every way out it gets to run code for; SIGKILL (or a power cut)
gives it none. Each directory names its owner (host, process id and pid namespace), and the next run
on the same host and namespace removes the ones whose owner is gone. Runs in containers that each get
a new pid namespace do not sweep each other's leftovers (a pid there says nothing outside).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

PREFIX = "uniware-"  # every scratch directory's name starts with it
OWNER_FILE = ".owner"


def scratch_dir(kind: str, parent: Optional[Path]) -> Path:
    """A new directory `uniware-<kind>...` under `parent` (None: the system's temp dir) naming its owner."""
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}", dir=parent))
    (path / OWNER_FILE).write_text(f"{socket.gethostname()}\n{os.getpid()}\n{_pid_namespace()}\n", encoding="utf-8")
    return path


def _pid_namespace() -> str:
    """Which process ids a pid is one of ("-" where the system has no namespaces to tell)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


def sweep_abandoned(parent: Optional[Path]) -> int:
    """Remove the scratch directories under `parent` whose owner process on this host has ended; how many."""
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    removed = 0
    try:
        candidates = [p for p in base.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except OSError:
        return 0
    for path in candidates:
        if _owner_gone(path):
            shutil.rmtree(path, ignore_errors=True)
            removed += not path.exists()
    if removed:
        log.info("removed %d scratch director%s left in %s by runs that were killed", removed,
                 "y" if removed == 1 else "ies", base)
    return removed


def _owner_gone(path: Path) -> bool:
    try:
        host, pid, namespace = (path / OWNER_FILE).read_text(encoding="utf-8").split()[:3]
    except (OSError, ValueError):
        return False  # not ours, or being created: left alone
    # another host, or another pid namespace on this one (a container with the host's name): its pid
    # says nothing here, so the directory is left alone
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, another user's
    return False
