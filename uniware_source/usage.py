"""The command line's parser: argparse's, whose usage errors follow `--log-format json` like every
other line the command ends with (one JSON object on stderr, exit 2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from itertools import pairwise
from typing import NoReturn, Optional

from . import progress


def asks_for_json(argv: Sequence[str]) -> bool:
    """Whether the command line says `--log-format json` (or `--log-format=json`)."""
    return "--log-format=json" in argv or ("--log-format", "json") in pairwise(argv)


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are said in the command line's log format (`usage_in`)."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        if not type(self).json_errors:
            super().error(message)
        progress.configure_logging(quiet=True, log_format=progress.JSON)
        progress.say(f"{self.prog}: error: {message} (see {self.prog} --help)")
        sys.exit(2)


def parse_with(parser: UsageParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, its usage errors in JSON when argv asks for it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    UsageParser.json_errors = asks_for_json(arguments)
    try:
        return parser.parse_args(arguments)
    finally:
        UsageParser.json_errors = False
