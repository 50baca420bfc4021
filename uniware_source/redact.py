"""Keep secrets (password, access and refresh tokens) out of every log line and message.

Secrets are registered as soon as they are known. `redact` replaces them, and anything shaped like
a credential (``password=...``, ``bearer ...``, token fields of a JSON body), with ``***``. A log
record factory applies it to every record of the process once the connector runs, including those
of urllib3, which logs full request URLs (with the password grant's query) at DEBUG level.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any, Optional

MASK = "***"
_PATTERNS = (
    (re.compile(r"(?i)\b(password|refresh_token|access_token|client_secret)=[^&\s\"'<>]+"), r"\1=" + MASK),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"), "bearer " + MASK),
    (re.compile(r"(?i)\"(password|refresh_token|access_token)\"\s*:\s*\"[^\"]*\""), r'"\1": "' + MASK + '"'),
    (re.compile(r"(?i)(invalid (?:access|refresh) token:?)\s*\S+"), r"\1 " + MASK),
)


class SecretRegistry:
    """The secret values seen so far in this process."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: Optional[str]) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


SECRETS = SecretRegistry()


def redact(text: Any) -> str:
    """`text` as a string with every known secret and credential-shaped value masked."""
    return SECRETS.redact(str(text))


_installed = False
_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Make every log record of the process pass through `redact` (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's business, not ours
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
