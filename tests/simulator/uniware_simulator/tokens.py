"""OAuth token bookkeeping of the simulated tenant (password and refresh grants)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 86400


@dataclass
class IssuedToken:
    access_token: str
    refresh_token: str
    expires_at: float


class TokenStore:
    """Issues, checks and expires tokens. Time is the wall clock scaled by `time_scale`."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0
        self.every_token: list[str] = []  # access and refresh tokens ever issued (tests scan for leaks)

    def issue(self, refresh_token: Optional[str] = None) -> IssuedToken:
        now = time.monotonic()
        with self._lock:
            access = str(uuid.uuid4())
            self._access[access] = now + self.ttl_seconds
            if refresh_token is None:
                refresh_token = str(uuid.uuid4())
                self._refresh[refresh_token] = now
            self.issued += 1
            self.every_token += [access, refresh_token]
            return IssuedToken(access, refresh_token, now + self.ttl_seconds)

    def refresh_valid(self, refresh_token: str) -> bool:
        with self._lock:
            issued = self._refresh.get(refresh_token)
        return issued is not None and time.monotonic() - issued < REFRESH_TOKEN_LIFETIME_SECONDS

    def access_valid(self, access_token: str) -> bool:
        with self._lock:
            expires = self._access.get(access_token)
        return expires is not None and time.monotonic() < expires

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (token expiry mid-run)."""
        with self._lock:
            self._access.clear()

    def revoke_refresh_tokens(self) -> None:
        """Refresh tokens stop working too, as after Uniware's 30-day limit."""
        with self._lock:
            self._refresh.clear()

    def expires_in(self) -> int:
        return int(self.ttl_seconds)
