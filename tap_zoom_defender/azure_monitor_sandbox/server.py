"""HTTPS: a threaded HTTP/1.1 server with TLS per connection, and the routes it answers.

Routes (one host serves both Entra ID and the ingestion endpoint):

- ``GET  /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token``: Entra ID (``auth.py``);
- ``POST /dataCollectionRules/{immutable id}/streams/{stream}?api-version=2023-01-01``: the Logs
  Ingestion API ("Logs Ingestion API in Azure Monitor", REST API call);
- ``/_sandbox/...``: the emulator's own query and control routes (not part of Azure's API, like
  zoom-sandbox's); see ``control.py``.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from .sandbox import AzureMonitorSandbox

CONTROL_PREFIX = "/_sandbox/"
_INGEST = re.compile(r"^/dataCollectionRules/([^/]+)/streams/([^/]+)$")
_OPENID = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
_TOKEN = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_READ_AT_MOST = 64  # x max call size: larger bodies are refused unread, the connection closed


@dataclass
class Reply:
    """An HTTP answer."""

    status: int
    body: Any = None  # JSON-serialisable, bytes, or None for no body
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


def azure_error(status: int, code: str, message: str, **headers: str) -> Reply:
    """Azure's JSON error shape ``{"error": {"code", "message"}}``, code also in x-ms-error-code.

    The shape and the header are what the Logs Ingestion API answers (e.g. the 403 and 413
    bodies quoted in the Azure SDK troubleshooting guides and in public issues).
    """
    return Reply(
        status,
        {"error": {"code": code, "message": message}},
        {"x-ms-error-code": code, **{k.replace("_", "-"): v for k, v in headers.items()}},
    )


class SandboxServer(ThreadingHTTPServer):
    """Threaded server; each accepted socket is wrapped in TLS in its own handler thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], sandbox: AzureMonitorSandbox, context: ssl.SSLContext
    ) -> None:
        """Bind ``address``; ``context`` is the server-side TLS context."""
        self.sandbox = sandbox
        self.context = context
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept, and wrap without handshaking (the handler thread does it)."""
        sock, address = self.socket.accept()
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up or fail the TLS handshake."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Cut open keep-alive connections (used on stop)."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AzureMonitorSandbox/1.0"
    timeout = 60
    server: SandboxServer

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        with self.server.conn_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request on stderr only with ``verbose``; the request log is the record."""
        if self.server.sandbox.config.verbose:
            sys.stderr.write(f"azure-monitor-sandbox: {format % args}\n")

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sb = self.server.sandbox
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        body, refused = self._read_body(sb.config.max_call_bytes)
        if refused is not None:
            self._send(refused)
            return
        try:
            reply = self._route(sb, url.path, query, body)
        except Exception as exc:  # a bug must not look like an Azure answer
            reply = azure_error(500, "SandboxError", f"{type(exc).__name__}: {exc}")
            if sb.config.verbose:
                import traceback

                traceback.print_exc()
        self._send(reply)

    def _route(
        self, sb: AzureMonitorSandbox, path: str, query: dict[str, str], body: bytes
    ) -> Reply:
        if path.startswith(CONTROL_PREFIX):
            from .control import handle_control

            return handle_control(sb, self.command, path[len(CONTROL_PREFIX) :], query, body)
        match = _INGEST.match(path)
        if match:
            if self.command != "POST":
                return azure_error(
                    405,
                    "MethodNotAllowed",
                    f"{self.command} is not supported; the Logs Ingestion API takes POST",
                )
            return sb.ingest(
                unquote(match.group(1)), unquote(match.group(2)), query, self.headers, body
            )
        match = _OPENID.match(path)
        if match and self.command == "GET":
            return sb.openid_configuration(unquote(match.group(1)))
        match = _TOKEN.match(path)
        if match and self.command == "POST":
            return sb.token(unquote(match.group(1)), self.headers, body)
        return azure_error(404, "NotFound", f"No such endpoint: {self.command} {path}")

    def _read_body(self, max_call_bytes: int) -> tuple[bytes, Reply | None]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked(max_call_bytes)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return b"", Reply(
                400, {"error": {"code": "BadRequest", "message": "Bad Content-Length"}}, close=True
            )
        if length > _READ_AT_MOST * max_call_bytes:
            return b"", self._too_large(length, max_call_bytes)
        return (self.rfile.read(length) if length > 0 else b""), None

    def _read_chunked(self, max_call_bytes: int) -> tuple[bytes, Reply | None]:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks), None
            total += size
            if total > _READ_AT_MOST * max_call_bytes:
                return b"", self._too_large(total, max_call_bytes)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    @staticmethod
    def _too_large(length: int, limit: int) -> Reply:
        reply = azure_error(
            413,
            "ContentLengthLimitExceeded",
            f"Maximum allowed content length: {limit} bytes (1 MB). Provided "
            f"content length: {length} bytes.",
        )
        reply.close = True
        return reply

    def _send(self, reply: Reply) -> None:
        if reply.body is None:
            data = b""
        elif isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        headers = {"x-ms-request-id": str(uuid.uuid4()), **reply.headers}
        client_request_id = self.headers.get("x-ms-client-request-id")
        if client_request_id:
            headers.setdefault("x-ms-client-request-id", client_request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        if data and not any(k.lower() == "content-type" for k in headers):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)


def make_server(
    host: str, port: int, sandbox: AzureMonitorSandbox, context: ssl.SSLContext
) -> SandboxServer:
    """Bind a server (port 0 = any free port; an IPv6 host binds IPv6)."""
    if ":" in host:
        server_class = type("SandboxServer6", (SandboxServer,), {"address_family": socket.AF_INET6})
        return server_class((host, port), sandbox, context)
    return SandboxServer((host, port), sandbox, context)
