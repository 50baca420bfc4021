"""HTTP plumbing of the simulator: two threaded servers (the API and the object-store file host),
request recording and the HTTP-level faults."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .faults import (
    DELAY,
    ENDLESS,
    EXPIRE_TOKENS,
    GZIP,
    GZIP_TRUNCATE,
    HTML,
    HTTP_ERROR,
    HUGE_LENGTH,
    RESET,
    TRICKLE,
    TRUNCATE,
    Fault,
)
from .recorder import RecordedRequest, mask_headers, mask_query

if TYPE_CHECKING:
    from .server import UniwareSimulator

API_ROUTES = {
    "/oauth/token": "token",
    "/services/rest/v1/export/job/create": "create",
    "/services/rest/v1/export/job/status": "status",
    "/services/rest/v1/facility/search": "facility",
}
EXPORT_PREFIX = "/export"  # relative_file_path: where the API host serves export files
BODY_FAULTS = (TRUNCATE, ENDLESS, HUGE_LENGTH, TRICKLE, GZIP, GZIP_TRUNCATE)  # shape the body of a normal answer
LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Uniware - Login</title></head><body>"
    b'<form action="/login" method="post"><input name="j_username"/>'
    b'<input type="password" name="j_password"/></form></body></html>\n'
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type, simulator: UniwareSimulator) -> None:
        super().__init__(address, handler)
        self.simulator = simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return  # clients drop connections, often because a fault told them to
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_label = "api"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, Nagle's algorithm holds the body
        # back until the client's delayed ACK (~40 ms per request)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces the stderr access log

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the connection was reset on purpose
            super().finish()

    @property
    def sim(self) -> UniwareSimulator:
        return self.server.simulator

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _record(self, endpoint: str, body: Any) -> None:
        parts = urlsplit(self.path)
        self.sim.requests.record(RecordedRequest(
            server=self.server_label,
            endpoint=endpoint,
            method=self.command,
            path=parts.path,
            query=mask_query(parts.query),
            headers=mask_headers(dict(self.headers.items())),
            body=body,
        ))

    def _reset(self) -> None:
        """Drop the connection with a TCP reset and no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send(self, status: int, body: bytes, content_type: str,
              headers: Optional[dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json;charset=UTF-8", headers)

    def _apply_fault(self, fault: Fault) -> bool:
        """Carry out an error-type fault; True when the exchange ends here."""
        if fault.action == DELAY:
            time.sleep(fault.seconds)
            return False
        if fault.action == RESET:
            self._reset()
            return True
        if fault.action == HTTP_ERROR:
            headers = {}
            if fault.retry_after is not None:
                seconds = float(fault.retry_after)
                headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
            message = self._echo(fault.message) if fault.message else f"simulated HTTP {fault.status}"
            self._send_json(fault.status, {
                "timestamp": int(time.time() * 1000), "status": fault.status, "error": "Simulated fault",
                "message": message, "errors": [{"code": fault.status, "description": message, "message": message}],
            }, headers)
            return True
        return False

    def _echo(self, text: str) -> str:
        """`text` with {token} and {token_hex} as the caller's bearer token (a careless build echoes it)."""
        token = (self.headers.get("Authorization") or "").partition(" ")[2].strip()
        return text.replace("{token}", token).replace("{token_hex}", "".join(c for c in token if c.isalnum()))


class _ApiRoutes(_Handler):
    server_label = "api"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        endpoint = API_ROUTES.get(parts.path.rstrip("/"), "unknown")
        raw = self._read_body()
        body: Any = None
        params: dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").lower()
        if endpoint == "token" and raw and "application/x-www-form-urlencoded" in content_type:
            params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            body = mask_query(raw.decode("utf-8", "replace"))
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        self._record(endpoint, body)

        fault = self.sim.faults.take(endpoint) if endpoint != "unknown" else None
        if fault is not None and not fault.after_processing and self._apply_fault(fault):
            return
        status, headers, payload = self._route(endpoint, params, body, raw, content_type)
        if fault is not None and fault.after_processing:
            if fault.action == EXPIRE_TOKENS:
                self.sim.expire_tokens(refresh_too=fault.refresh_too)
            elif self._apply_fault(fault):
                return
        self._send_json(status, payload, headers)

    def _route(self, endpoint: str, params: dict[str, str], body: Any, raw: bytes,
               content_type: str) -> tuple[int, dict[str, str], Any]:
        api = self.sim.api
        if endpoint == "unknown":
            return 404, {}, {"status": 404, "error": "Not Found", "message": "No handler"}
        if endpoint == "token":
            if self.command not in ("GET", "POST"):
                return 405, {}, {"error": "method_not_allowed"}
            return api.token(params)
        if self.command != "POST":
            return 405, {}, {"status": 405, "error": "Method Not Allowed"}
        denied = api.check_bearer(self.headers.get("Authorization"))
        if denied is not None:
            return denied
        if "application/json" not in content_type:
            return 415, {}, {"status": 415, "error": "Unsupported Media Type",
                             "message": f"Content type '{content_type}' not supported"}
        if raw and isinstance(body, str):
            return api.bad_request("JSON parse error: malformed JSON")
        if endpoint == "facility":
            return api.facility_search(body)
        if endpoint == "create":
            return api.create_job(self.headers.get("Facility"), body)
        status, headers, payload = api.job_status(body)
        if "{token" in json.dumps(payload):  # a fate's message that echoes the caller's token (a careless build)
            payload = json.loads(self._echo(json.dumps(payload)))
        if isinstance(payload, dict) and payload.get("filePath"):
            payload["filePath"] = self.sim.file_url(payload["filePath"])
            if self.sim.config.file_link_in_message:
                link = payload["filePath"]
                values = " ".join(value for _, value in parse_qsl(urlsplit(link).query))  # a build that lists them
                payload["message"] = f"Export ready, download at {quote(link, safe='')} (link values: {values})"
            field = self.sim.config.file_path_field
            if field != "filePath":  # a build of another shape: the link under another name
                *parents, last = field.split(".")
                place = payload
                for parent in parents:
                    place = place.setdefault(parent, {})
                place[last] = payload.pop("filePath")
        return status, headers, payload


class FileHandler(_Handler):
    """An object store: serves finished exports, refuses Authorization headers, honours Range."""

    server_label = "files"

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _xml_error(self, status: int, code: str, message: str) -> None:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>").encode()
        self._send(status, body, "application/xml")

    def _serve(self) -> None:
        self._read_body()
        self._record("download", None)
        if self._refused():
            return
        fault = self.sim.faults.take("download", subject=self.path.split("?", 1)[0])
        if fault is not None:
            if fault.action == HTML:
                self._send(200, LOGIN_PAGE, "text/html;charset=UTF-8")
                return
            if fault.action not in BODY_FAULTS and self._apply_fault(fault):
                return
        exported = self.sim.jobs.file_for(self._file_path())
        if exported is None:
            self._xml_error(404, "NoSuchKey", "The specified key does not exist.")
            return
        if exported.expires_at is not None and time.monotonic() > exported.expires_at:
            self._xml_error(403, "AccessDenied", "Request has expired")
            return
        action = fault.action if fault is not None else None
        if action == ENDLESS:
            self._send_endless(exported.path)
            return
        if action in (GZIP, GZIP_TRUNCATE) or (
                self.sim.config.file_gzip and _accepts_gzip(self.headers.get("Accept-Encoding", ""))):
            self._send_gzip(exported.path, fault.fraction if fault is not None and action == GZIP_TRUNCATE else 1.0)
            return
        size = exported.bytes
        start, end = 0, size - 1
        status = 200
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{exported.path.stem[:32]}"',
                   "Last-Modified": self.date_time_string(int(exported.path.stat().st_mtime))}
        requested = self.headers.get("Range")
        if requested:
            parsed = _parse_range(requested, size)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{size}"
                self._send(416, b"", "application/xml", headers)
                return
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", self.sim.config.file_content_type)
        self.send_header("Content-Length", str(fault.length if fault is not None and action == HUGE_LENGTH
                                               else length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        to_send = length
        if fault is not None and fault.action == TRUNCATE:
            to_send = int(length * fault.fraction)
        self.wfile.flush()
        if fault is not None and action == TRICKLE:
            self._trickle(exported.path, start, to_send, fault)
            return
        with open(exported.path, "rb") as handle:
            if to_send > 0:
                self.connection.sendfile(handle, start, to_send)
        if to_send < length or action == HUGE_LENGTH:
            # close normally (FIN) after the short body: a reset could discard what the client has
            # not read yet, which is a different fault
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)


    def _refused(self) -> bool:
        """An object store refuses signed requests (any Authorization but the link's own Basic one)."""
        authorization = self.headers.get("Authorization")
        if authorization is not None and authorization != self._link_credential():
            self._xml_error(400, "InvalidArgument",
                            "Unsupported Authorization Type: requests to this bucket must not be signed")
            return True
        return False

    def _file_path(self) -> str:
        return urlsplit(self.path).path

    def _link_credential(self) -> Optional[str]:
        """The Basic credential of the links' userinfo, the only Authorization the file host accepts."""
        userinfo = self.sim.config.file_url_userinfo
        return "Basic " + base64.b64encode(unquote(userinfo).encode()).decode() if userinfo else None

    def _close_after_body(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)

    def _send_endless(self, path: Path) -> None:
        """A chunked body that never ends: the file, then its data rows again and again."""
        data = path.read_bytes()
        rows = data.split(b"\n", 1)[1] or b"x\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        block = data
        with contextlib.suppress(OSError):
            while True:  # until the client hangs up
                self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                block = rows

    def _send_gzip(self, path: Path, fraction: float) -> None:
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:int(len(body) * fraction)])
        self.wfile.flush()
        if fraction < 1:
            self._close_after_body()

    def _trickle(self, path: Path, start: int, count: int, fault: Fault) -> None:
        """`fault.chunk_bytes` bytes every `fault.seconds`, until the body is sent or the client hangs up."""
        with open(path, "rb") as handle, contextlib.suppress(OSError):
            handle.seek(start)
            while count > 0:
                piece = handle.read(min(fault.chunk_bytes, count))
                self.wfile.write(piece)
                self.wfile.flush()
                count -= len(piece)
                time.sleep(fault.seconds)
        self._close_after_body()


class ApiHandler(FileHandler, _ApiRoutes):
    """The Uniware host: the REST API, and with `relative_file_path` the export files too, at
    /export/<path>, behind a valid bearer token like any API call (401 without)."""

    server_label = "api"

    def do_GET(self) -> None:
        if self._is_export_file():
            self._serve()
        else:
            self._dispatch()

    def do_HEAD(self) -> None:
        if self._is_export_file():
            self._serve()
        else:
            self.send_error(501, f"Unsupported method ({self.command!r})")

    def _is_export_file(self) -> bool:
        return self.sim.config.relative_file_path and urlsplit(self.path).path.startswith(EXPORT_PREFIX + "/")

    def _refused(self) -> bool:
        denied = self.sim.api.check_bearer(self.headers.get("Authorization"))
        if denied is None:
            return False
        status, headers, payload = denied
        self._send_json(status, payload, headers)
        return True

    def _file_path(self) -> str:
        return urlsplit(self.path).path[len(EXPORT_PREFIX):]


def _accepts_gzip(header: str) -> bool:
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return True
    return False


def _parse_range(header: str, size: int) -> Optional[tuple[int, int]]:
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            count = int(last)
            return (max(0, size - count), size - 1) if count > 0 else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def start_server(handler: type[_Handler], simulator: UniwareSimulator, host: str, port: int) -> _Server:
    """Bind and serve on a daemon thread; port 0 picks a free one."""
    server = _Server((host, port), handler, simulator)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"sim-{handler.server_label}", daemon=True)
    thread.start()
    return server
