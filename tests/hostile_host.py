"""A file host written for misbehaving: each request is answered by a test's script, byte for byte.

Independent of the simulator (raw sockets, no http.server), so a test controls every header, framing
and connection break. `script(number, request)` returns an `Answer`; requests are numbered from 1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Optional


@dataclass
class Request:
    line: str
    headers: dict[str, str]  # lower-case names

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())

    @property
    def range_start(self) -> Optional[int]:
        value = self.header("Range")
        return int(value.split("=", 1)[1].split("-", 1)[0]) if value else None


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    close: bool = False  # close the connection after the body (the end of a body without a length)
    drip: float = 0.0  # seconds between the bytes of the status line and headers (sent one at a time)
    hold: Optional[threading.Event] = None  # send nothing until this is set
    body_drip: float = 0.0  # seconds between the bytes of the body (sent one at a time)
    late: bytes = b""  # sent `late_after` seconds after the body (bytes past its Content-Length)
    late_after: float = 0.0

    def head(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} X"] + [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, connection: socket.socket) -> None:
        if self.hold is not None:
            self.hold.wait()
        if self.drip:
            for byte in self.head():
                connection.sendall(bytes([byte]))
                time.sleep(self.drip)  # the host's pace, not a wait of the test
        else:
            connection.sendall(self.head())
        if self.body_drip:
            for byte in self.body:
                connection.sendall(bytes([byte]))
                time.sleep(self.body_drip)  # the host's pace
        else:
            connection.sendall(self.body)
        if self.late:
            time.sleep(self.late_after)  # the host's pace
            connection.sendall(self.late)


Script = Callable[[int, Request], Answer]


def whole(body: bytes, *, length: bool = True, **headers: str) -> Answer:
    """The file as a 200, with its Content-Length (or none: then the connection closes after it)."""
    extra = {"Content-Type": "text/csv", "ETag": '"v1"', **headers}
    if length:
        extra["Content-Length"] = str(len(body))
    return Answer(200, extra, body, close=not length)


def cut(body: bytes, at: int, **headers: str) -> Answer:
    """The file's full Content-Length announced, `at` bytes sent, then the connection closes."""
    return Answer(200, {"Content-Type": "text/csv", "ETag": '"v1"', "Content-Length": str(len(body)), **headers},
                  body[:at], close=True)


def part(body: bytes, start: int, *, etag: str = '"v1"', claimed_start: Optional[int] = None) -> Answer:
    """A 206 with the file from `start` on; `claimed_start` is what its Content-Range says."""
    piece = body[start:]
    first = start if claimed_start is None else claimed_start
    return Answer(206, {"Content-Type": "text/csv", "ETag": etag, "Content-Length": str(len(piece)),
                        "Content-Range": f"bytes {first}-{first + len(piece) - 1}/{len(body)}"}, piece)


class HostileHost:
    """Serves `script` on 127.0.0.1 until closed; `requests` keeps what was asked."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self.answers: list[Answer] = []
        self.sent: list[Answer] = []  # answers sent whole (the client was still there)
        self._connections: list[threading.Thread] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/acme/export.csv"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def __enter__(self) -> HostileHost:
        return self

    def __exit__(self, kind: Optional[type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._answer_all, args=(connection,), daemon=True)
            self._connections.append(thread)
            thread.start()

    def join(self) -> None:
        """Wait until every connection so far is done (answered, or given up by the client)."""
        for thread in list(self._connections):
            thread.join()

    def _answer_all(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client hung up
            self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            while True:
                line = reader.readline().decode("latin-1").strip()
                if not line:
                    return
                headers = {}
                while (header := reader.readline().decode("latin-1").strip()):
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "")
                if length.isdigit():  # a request's body (a POST's JSON) read, so closing sends no reset
                    reader.read(int(length))
                request = Request(line, headers)
                self.requests.append(request)
                answer = self.script(len(self.requests), request)
                self.answers.append(answer)
                answer.send(connection)
                self.sent.append(answer)
                if answer.close:
                    connection.shutdown(socket.SHUT_RDWR)
                    return
