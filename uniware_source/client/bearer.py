"""What a call needs of sign-in: a bearer token, and a way to say it was refused (auth.py provides it)."""

from __future__ import annotations

from typing import Protocol


class BearerTokens(Protocol):
    def bearer(self) -> str:
        """A valid access token (signing in or renewing when needed)."""
        ...

    def invalidate(self, access_token: str) -> None:
        """`access_token` was refused: the next `bearer()` renews it."""
        ...
