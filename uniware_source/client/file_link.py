"""Where an export's `filePath` points, and whether the Uniware bearer token goes with it.

- An absolute URL on another host (the object store, the usual case): no token, ever; it would leak
  a credential to a third party, and object stores refuse unexpected Authorization headers.
- A relative `filePath` (seen in the field, e.g. `/export/<tenant>/<id>/<name>.csv`): resolved
  against the tenant's base URL. That is the Uniware host itself, which serves the file behind the
  same bearer token as the API, so the token is sent.
- An absolute URL on the Uniware host itself (same scheme, host and port as the base URL): treated
  like a relative one, token sent. It is the origin every API call already sends the token to, so
  nothing new learns it, and a Uniware host serving files wants it like any other request. A
  different scheme (http instead of https) or port is another origin: no token. A link carrying its
  own `user:pass@` credential keeps that one and gets no token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import urljoin, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FileLink:
    url: str  # absolute
    with_token: bool  # on the Uniware host itself: the download carries the bearer token


def _origin(url: str) -> Optional[tuple[str, str, int]]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in DEFAULT_PORTS:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def resolve_file_link(file_path: str, base_url: str) -> FileLink:
    """The absolute URL of `file_path` and whether the bearer token may go there."""
    link = file_path.strip()
    parts = urlsplit(link)
    if not parts.scheme and not parts.netloc:  # relative: the Uniware host itself
        return FileLink(urljoin(base_url.rstrip("/") + "/", link), with_token=True)
    if not parts.scheme:  # //host/path: the base URL's scheme
        link = f"{urlsplit(base_url).scheme}:{link}"
        parts = urlsplit(link)
    own = _origin(base_url)
    same_origin = own is not None and _origin(link) == own and parts.username is None
    return FileLink(link, with_token=same_origin)
