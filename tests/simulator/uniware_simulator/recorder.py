"""The simulator's request log, with secrets masked before anything is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qsl

MASK = "***"
SECRET_PARAMS = frozenset({"password", "refresh_token", "access_token", "client_secret"})


def mask_query(query: str) -> dict[str, str]:
    """Query-string parameters with secret values replaced by ***."""
    return {k: (MASK if k in SECRET_PARAMS else v) for k, v in parse_qsl(query, keep_blank_values=True)}


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    masked = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0] if value else ""
            masked[name] = f"{scheme} {MASK}".strip()
        else:
            masked[name] = value
    return masked


@dataclass(frozen=True)
class RecordedRequest:
    server: str  # "api" or "files"
    endpoint: str  # token, create, status, facility, download, unknown
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)

    @property
    def has_authorization(self) -> bool:
        return any(name.lower() == "authorization" for name in self.headers)

    def header(self, name: str) -> Optional[str]:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class RequestLog:
    """Every request either server received, in arrival order. Thread-safe."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self._items.append(request)
            self._arrived.notify_all()

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float) -> bool:
        """Block until `predicate(all requests so far)` holds (True) or `timeout` passes (False)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: predicate(self._items), timeout)

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def where(
        self,
        endpoint: Optional[str] = None,
        server: Optional[str] = None,
        predicate: Optional[Callable[[RecordedRequest], bool]] = None,
    ) -> list[RecordedRequest]:
        return [
            r for r in self
            if (endpoint is None or r.endpoint == endpoint)
            and (server is None or r.server == server)
            and (predicate is None or predicate(r))
        ]

    def count(self, endpoint: Optional[str] = None, server: Optional[str] = None) -> int:
        return len(self.where(endpoint, server))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
