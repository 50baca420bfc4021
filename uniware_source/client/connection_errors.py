"""What a failed connection means: the host's name does not resolve, it refused, it timed out.

The auth and session code use it to stop retrying what cannot succeed and to say why; the command
line's one-line errors (problems.py) use it to name the host and the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional
from urllib.parse import urlsplit

import requests

NAME_RESOLUTION = ("Name or service not known", "nodename nor servname", "Temporary failure in name resolution",
                   "getaddrinfo failed", "No address associated with hostname", "NameResolutionError")


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: __cause__, __context__ and dlt's `.exception` (PipelineStepFailed)."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for name in ("exception", "__cause__", "__context__"):
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def unreachable(error: requests.ConnectionError) -> Optional[str]:
    """'cannot reach <host>: <reason>' for a DNS failure or a refused connection."""
    request = getattr(error, "request", None)
    url = getattr(request, "url", None) or ""
    host = urlsplit(url).netloc.rsplit("@", 1)[-1] or "the server"
    text = str(error)
    if any(marker in text for marker in NAME_RESOLUTION):
        return f"cannot reach {host}: its name does not resolve (DNS); check 'tenant' / 'base_url'"
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return f"cannot reach {host}: connection refused; check 'tenant' / 'base_url' and that it is up"
    if "timed out" in text.lower():
        return f"cannot reach {host}: the connection timed out (connect_timeout_seconds)"
    if is_tls_mismatch(error):
        reason = "it does not speak TLS there (http, not https?)" if "WRONG_VERSION_NUMBER" in text \
            else "its certificate is not valid for it"
        return f"cannot reach {host} over https: {reason}; check the scheme and host of 'tenant' / 'base_url'"
    return None


# TLS failures no retry mends: a plain-HTTP server answering a TLS handshake, a certificate that
# does not verify (other TLS errors, such as a connection cut mid-handshake, are retried)
TLS_MISMATCH = ("WRONG_VERSION_NUMBER", "CERTIFICATE_VERIFY_FAILED", "certificate verify failed",
                "doesn't match", "Hostname mismatch")


def is_tls_mismatch(error: BaseException) -> bool:
    return isinstance(error, requests.exceptions.SSLError) and any(m in str(error) for m in TLS_MISMATCH)


def is_name_resolution_error(error: BaseException) -> bool:
    return any(isinstance(e, OSError) and any(m in str(e) for m in NAME_RESOLUTION) for e in causes(error)) \
        or any(m in str(error) for m in NAME_RESOLUTION)
