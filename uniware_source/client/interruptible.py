"""Connections that a stop or a deadline can cut.

A read timeout bounds each socket read, not an answer: a host that sends its headers or chunk-size
lines a byte at a time, or a status call that answers after minutes, keeps a worker thread blocked
for as long as it likes. The pools here remember which connection each thread is using, so `cut`
can shut that socket down: the blocked read returns at once and the request fails.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3 import ProxyManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_in_use: dict[int, Any] = {}  # thread ident -> the connection it has taken from a pool
_cut: set[int] = set()  # threads cut off: they may not start another request until released
_lock = threading.Lock()


class Interrupted(requests.RequestException):
    """A request of a thread that was cut off (stopped, or past its deadline); not retried."""


class _Tracked:
    """Pool mixin: note the connection a thread takes, forget it when it comes back."""

    def _get_conn(self, timeout: Optional[float] = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        with _lock:
            _in_use[threading.get_ident()] = connection
        return connection

    def _put_conn(self, conn: Any) -> None:
        with _lock:
            for ident in [i for i, c in _in_use.items() if c is conn]:
                del _in_use[ident]
        super()._put_conn(conn)  # type: ignore[misc]


class _KeepsSocket:
    """Connection mixin: keeps its socket where `cut` finds it. http.client drops `sock` once the
    headers of an answer that ends by closing the connection are read, while its body still flows."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.uniware_socket = getattr(self, "sock", None)


class _SocketHTTPConnection(_KeepsSocket, HTTPConnection):
    pass


class _SocketHTTPSConnection(_KeepsSocket, HTTPSConnection):
    pass


class _TrackedHTTPPool(_Tracked, HTTPConnectionPool):
    ConnectionCls = _SocketHTTPConnection


class _TrackedHTTPSPool(_Tracked, HTTPSConnectionPool):
    ConnectionCls = _SocketHTTPSConnection


def _shut_down(connection: Any) -> bool:
    """Shut down the socket `connection` reads or writes; whether there was one to shut down."""
    for sock in (getattr(connection, "sock", None), getattr(connection, "uniware_socket", None)):
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)
                return True
    return False


class InterruptibleAdapter(HTTPAdapter):
    """requests' adapter whose connections `cut` can shut down; a thread that was cut off gets
    Interrupted for any further request until it is released."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # an HTTP(S) proxy; SOCKS pools are left as they are (not cut)
            manager.pool_classes_by_scheme = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if is_cut():
            raise Interrupted("stopped: no further request")
        return super().send(request, *args, **kwargs)


def is_cut() -> bool:
    """Whether the calling thread was cut off (and not released since)."""
    with _lock:
        return threading.get_ident() in _cut


def cut(threads: Iterable[int]) -> int:
    """Shut down the sockets the given threads are reading or writing, and refuse them new requests
    until `release`; how many sockets were cut."""
    wanted = set(threads)
    with _lock:
        _cut.update(wanted)
        connections = [c for ident, c in _in_use.items() if ident in wanted]
    return sum(_shut_down(connection) for connection in connections)


def release(threads: Iterable[int]) -> None:
    """Let these threads make requests again."""
    with _lock:
        _cut.difference_update(threads)


@contextlib.contextmanager
def cut_after(seconds: float) -> Iterator[None]:
    """Within the block, the calling thread's connection is cut once `seconds` have passed."""
    ident = threading.get_ident()
    timer = threading.Timer(max(seconds, 0.0), cut, args=([ident],))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()  # a cut under way is over before the thread is let go again
        release([ident])


class AnswerTooSlow(requests.Timeout):
    """An answer that did not arrive whole within its bound (a host trickling it): retried like a timeout."""


class AnswerTooBig(requests.RequestException):
    """An API answer (small JSON) larger than any Uniware sends: read no further, so memory stays bounded."""


API_ANSWER_MAX_BYTES = 256 << 10  # a token, create or status answer is a few hundred bytes
LIST_ANSWER_MAX_BYTES = 8 << 20  # facility/search: ~200 bytes a facility
# (parsed, 256 KB of JSON is at most ~6 MB of Python objects: `[{},{},...]` makes a dict of every 3 bytes)


def answer_within(send: Any, seconds: float,
                  max_bytes: Callable[[requests.PreparedRequest], int] = lambda request: API_ANSWER_MAX_BYTES) -> Any:
    """`send` (a session's) whose every request must be answered whole (headers and, unless streamed,
    body) within `seconds`: past them the thread's connection is shut down and the attempt fails with
    AnswerTooSlow; a body (not streamed) of more than `max_bytes` fails it with AnswerTooBig, read no
    further (a status answer padded with hundreds of MB took that much memory per worker). Unlike
    `cut_after`, later requests of the thread are allowed (a retry)."""

    def bounded(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        ident = threading.get_ident()
        fired = threading.Event()

        def shut() -> None:
            fired.set()
            with _lock:
                connection = _in_use.get(ident)
            _shut_down(connection)

        timer = threading.Timer(seconds, shut)
        timer.daemon = True
        timer.start()
        too_slow = f"no whole answer within {seconds:g} s (read_timeout_seconds)"
        try:
            response = send(request, **{**kwargs, "stream": True})
            if not kwargs.get("stream"):
                _read_whole(response, max_bytes(request))
        except requests.RequestException as error:
            if fired.is_set():
                raise AnswerTooSlow(too_slow) from error
            raise
        finally:
            timer.cancel()
            timer.join()
        if fired.is_set():  # a body ended by the connection closing looks whole once cut: it is not
            response.close()
            raise AnswerTooSlow(too_slow)
        return response  # type: ignore[no-any-return]

    return bounded


def capped_redirect_body(max_bytes: int = API_ANSWER_MAX_BYTES) -> Any:
    """A session `response` hook that reads a redirect's body up to `max_bytes` (AnswerTooBig past them):
    requests reads each redirect's body whole before it follows the redirect, and keeps it."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.is_redirect:  # a redirect says where to go: its body is nothing an answer needs
            _read_whole(response, max_bytes)
        return response

    return hook


def _read_whole(response: requests.Response, max_bytes: int) -> None:
    """Read the body of a streamed `response` into it, as an unstreamed request would; AnswerTooBig past
    `max_bytes` (decoded)."""
    length = response.headers.get("Content-Length", "").strip()
    # announced larger (19 digits and more: int() of thousands would raise): not read at all
    too_big = length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > max_bytes)
    chunks: list[bytes] = []
    size = 0
    for chunk in ([] if too_big else response.iter_content(1 << 16)):
        size += len(chunk)
        if size > max_bytes:
            too_big = True
            break
        chunks.append(chunk)
    if too_big:
        response.close()
        raise AnswerTooBig(f"an answer of more than {_size(max_bytes)} (HTTP {response.status_code}, "
                           f"{response.headers.get('Content-Type', 'unknown content type')}): not read further")
    response._content = b"".join(chunks)  # what requests keeps of a body it read itself
    setattr(response, "_content_consumed", True)  # noqa: B010 (requests' own flag, not in its type hints)


def _size(count: int) -> str:
    return f"{count >> 20} MB" if count >= 1 << 20 else f"{count >> 10} KB"
