"""Uniware OAuth: password grant, refresh grant, renewal before expiry and after a 401.

Credentials travel in the token URL's query string, as Uniware wants; that URL is never logged
and errors are rebuilt from scratch so no exception text (or its chain) can carry it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

import requests
from dlt.sources.helpers.requests import Client

from ..clock import Clock
from ..errors import AuthError
from ..redact import SECRETS, excerpt, redact
from .api_call import json_of
from .connection_errors import unreachable

log = logging.getLogger(__name__)

CLIENT_ID = "my-trusted-client"
REFRESH_TOKEN_LIFETIME = timedelta(days=29)  # Uniware allows 30 days after the first token


@dataclass
class Token:
    access_token: str
    refresh_token: Optional[str]
    expires_at: datetime


class TokenProvider:
    """Hands out a valid bearer token; thread-safe."""

    def __init__(self, base_url: str, username: str, password: str, http: Client, clock: Clock,
                 timeout: tuple[float, float]) -> None:
        self._url = f"{base_url}/oauth/token"
        self._username = username
        self._password = password
        self._http = http
        self._clock = clock
        self._timeout = timeout
        self._token: Optional[Token] = None
        self._refresh_obtained: Optional[datetime] = None
        self._lock = threading.Lock()
        self.grants = 0
        SECRETS.add_login(username, password)  # and `username:password` in base64, as basic auth writes it

    def password_differs(self, password: str) -> bool:
        return password != self._password

    def bearer(self) -> str:
        """A token valid for at least a few more minutes, renewing it if needed."""
        with self._lock:
            token = self._token
            if token is None or self._clock.now() >= token.expires_at:
                token = self._renew()
            return token.access_token

    def invalidate(self, access_token: str) -> None:
        """Uniware answered 401 for this token: the next `bearer()` renews it."""
        with self._lock:
            if self._token is not None and self._token.access_token == access_token:
                self._token.expires_at = self._clock.now()

    def _renew(self) -> Token:
        current = self._token
        if current is not None and current.refresh_token and self._refresh_obtained is not None \
                and self._clock.now() - self._refresh_obtained < REFRESH_TOKEN_LIFETIME:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": current.refresh_token})
            except AuthError as error:
                log.info("Uniware refresh grant failed (%s); using the password grant", error)
        token = self._password_grant()
        self._refresh_obtained = self._clock.now()
        return token

    def _password_grant(self) -> Token:
        params = {"grant_type": "password", "username": self._username, "password": self._password}
        try:
            return self._grant(params)
        except _ServerError as error:
            if error.says_bad_credentials:
                raise AuthError(self._rejected(error.status, error.detail)) from None
        # One more try after an HTTP 500 that does not mention credentials, and never more:
        # repeating a password grant with wrong credentials can lock the account.
        try:
            return self._grant(params)
        except _ServerError as error:
            raise AuthError(self._rejected(error.status, error.detail, tried_twice=True)) from None

    def _rejected(self, status: int, detail: str, tried_twice: bool = False) -> str:
        again = ("tried once more after a first HTTP 500, and no more" if tried_twice else "not retried")
        said = detail if len(detail) <= 100 else detail[:97] + "..."  # the one-line error keeps what follows
        return (f"Uniware rejected the password grant for user '{self._username}' with HTTP {status} ({said}): "
                f"{again}, to avoid locking the account. Check username and password ({CREDENTIALS_FROM}).")

    def _grant(self, params: dict[str, str]) -> Token:
        query = {"client_id": CLIENT_ID, **params}
        grant = params["grant_type"]
        failure: Optional[str] = None
        response: Optional[requests.Response] = None
        try:
            response = self._http.get(self._url, params=query, timeout=self._timeout)
        except requests.RequestException as error:
            failure = (unreachable(error) if isinstance(error, requests.ConnectionError) else None) \
                or f"{type(error).__name__}: {redact(error)}"
        if failure is not None or response is None:
            # raised outside the except block so the original exception (which may quote the URL
            # with the password) is not chained to ours
            raise AuthError(f"Uniware token request ({grant} grant) to {self._url} failed: {failure}")
        self.grants += 1
        body = json_of(response)
        detail = redact(_describe(body, response))
        if response.status_code >= 500:
            raise _ServerError(response.status_code, detail)
        if response.status_code in (404, 405) or (response.status_code == 200 and not isinstance(body, dict)):
            raise AuthError(f"no Uniware token endpoint at {self._url} (HTTP {response.status_code}, {detail[:60]}): "
                            "check 'tenant' / 'base_url', the tenant's address without a path "
                            "(https://<tenant>.unicommerce.com)")
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            if grant == "password":
                raise AuthError(self._rejected(response.status_code, detail))
            raise AuthError(f"Uniware refused the {grant} grant with HTTP {response.status_code} ({detail})")
        access = str(body["access_token"])
        refresh = body.get("refresh_token")
        SECRETS.add(access)
        SECRETS.add(refresh)
        lifetime = _lifetime(body.get("expires_in"), grant)
        margin = min(300.0, lifetime / 10)
        token = Token(access, str(refresh) if refresh else None,
                      self._clock.now() + timedelta(seconds=max(0.0, lifetime - margin)))
        self._token = token
        log.debug("obtained a Uniware access token (%s grant), valid for %.0f s", grant, lifetime)
        return token


# where the pipeline script and the many-tenant runner read them (dlt's config: the environment first)
CREDENTIALS_FROM = ("SOURCES__UNIWARE__USERNAME / SOURCES__UNIWARE__PASSWORD, else [sources.uniware] in "
                    ".dlt/secrets.toml; a tenant of many: TENANTS__<NAME>__PASSWORD, else [tenants.<name>] in "
                    ".dlt/secrets.toml")


class _ServerError(AuthError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail

    @property
    def says_bad_credentials(self) -> bool:
        text = self.detail.lower()
        return "credential" in text or "invalid_grant" in text or "unauthorized" in text


def _describe(body: Any, response: requests.Response) -> str:
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "error_description", "message") if body.get(k)]
        if parts:
            return ": ".join(parts)
    text = response.text.strip().replace("\n", " ")
    return excerpt(text, 200) or "empty response"


DEFAULT_TOKEN_SECONDS = 3600.0  # when the answer does not say how long its token lasts
MAX_TOKEN_SECONDS = 366 * 86400.0  # a year: beyond it, a number that says nothing usable
MIN_TOKEN_SECONDS = 60.0  # below it a token would be renewed (a password grant) on nearly every call


def _lifetime(value: object, grant: str) -> float:
    """The token's lifetime from `expires_in`: a number of seconds (or text of one) from a minute to a
    year. Anything else (absent, text, negative, tiny, not finite, beyond a year) is an hour, with a warning
    when it was there: a token believed already expired would make every call ask for a new one (the
    password grant, which locks accounts), and a bad number must not stop the run. A token that ends
    sooner is renewed when Uniware answers 401."""
    if value is None or value == "":
        return DEFAULT_TOKEN_SECONDS
    try:
        seconds = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        seconds = None
    if seconds is not None and MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
        return seconds
    log.warning("the %s grant's token says expires_in=%s, not a number of seconds from 60 to a year: taken "
                "as %.0f s (renewed sooner if Uniware refuses it)", grant, redact(repr(value))[:40],
                DEFAULT_TOKEN_SECONDS)
    return DEFAULT_TOKEN_SECONDS

