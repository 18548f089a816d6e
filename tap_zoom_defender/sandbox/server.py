"""The HTTP side: a keep-alive threaded server and the per-request pipeline.

Pipeline for /v2 calls: route -> latency fault -> bearer token -> its scopes -> rate limits
(per-second window, daily pool) -> other faults -> endpoint -> response. Every request lands in the
request log with the same timestamp the rate limiter used, so tests can check the limiter
exactly from the log.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from tap_zoom_defender import zoom_limits

from .auth import OAuthError
from .consent import handle_authorize
from .control import PREFIX, handle_control
from .endpoints import Reply, endpoint_of, zoom_error
from .faults import FaultPlan
from .limits import Verdict

if TYPE_CHECKING:
    from .sandbox import Sandbox

_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
_DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. Refer to the response header "
    "for details on when you can make another request."
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request as the sandbox saw it.

    ``t`` is wall-clock epoch seconds of the admission decision; ``accepted`` is True when the
    request passed the rate limiter (it then counts against the per-second window and daily
    pool, whatever fault followed); ``rate_type`` is the X-RateLimit-Type header sent, if any;
    ``status`` is 0 for a dropped connection; ``fault`` names an injected fault.
    """

    t: float
    method: str
    path: str
    endpoint: str | None
    category: str | None
    status: int
    rate_type: str | None
    accepted: bool
    fault: str | None


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server that knows its sandbox and its open connections."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ZoomSandbox/1.0"
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request stderr lines: the request log is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sb = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/oauth/token":
            self._oauth(sb, query, body)
        elif url.path == "/oauth/authorize":
            self._authorize(sb, query, body)
        elif url.path.startswith("/v2/"):
            self._api(sb, url.path, query)
        elif url.path.startswith(PREFIX):
            self._send(handle_control(sb, self.command, url.path, query, body))
        else:
            sb.record(time.monotonic(), self.command, url.path, None, None, 404, None, False, None)
            self._send(zoom_error(404, 404, f"No such endpoint: {url.path}"))

    # --- OAuth -----------------------------------------------------------------------------
    def _oauth(self, sb: Sandbox, query: dict[str, list[str]], body: bytes) -> None:
        latency = sb.faults.latency("/oauth/token")
        if latency:
            sb.sleep(latency)
        mono = time.monotonic()
        plan = sb.faults.plan("/oauth/token", False, False)
        if plan.kind in ("drop", "error", "bare_429", "slow") and self._fault_reply(
            sb, plan, "/oauth/token", mono, None
        ):
            return
        params = dict(query)
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        flat = {k: v[-1] for k, v in params.items()}
        if self.command != "POST":
            reply = _oauth_error(405, "invalid_request", "Use POST for /oauth/token.")
        else:
            reply = sb.token_endpoint(flat, self.headers.get("Authorization"))
        if reply.status == 200 and plan.kind == "truncate":
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        elif reply.status == 200 and plan.kind == "malformed":
            reply.body = b"<html><body>502 Bad Gateway</body></html>"
        sb.record(
            mono,
            self.command,
            "/oauth/token",
            "/oauth/token",
            None,
            reply.status,
            None,
            True,
            plan.kind,
        )
        self._send(reply)

    def _authorize(self, sb: Sandbox, query: dict[str, list[str]], body: bytes) -> None:
        """Serve the consent page and take the admin's decision (see ``consent.py``)."""
        params = dict(query)
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        reply = handle_authorize(sb, self.command, {k: v[-1] for k, v in params.items()})
        mono = time.monotonic()
        path = "/oauth/authorize"
        sb.record(mono, self.command, path, path, None, reply.status, None, True, None)
        self._send(reply)

    # --- /v2 API ---------------------------------------------------------------------------
    def _api(self, sb: Sandbox, path: str, query: dict[str, list[str]]) -> None:
        sub = path[3:]
        endpoint = endpoint_of(sub)
        if endpoint is None:
            reply = zoom_error(404, 404, f"No such API endpoint: {path}")
            sb.record(time.monotonic(), self.command, path, None, None, 404, None, False, None)
            self._send(reply)
            return
        category = zoom_limits.ENDPOINT_CATEGORY[endpoint]
        has_token = bool(query.get("next_page_token", [""])[-1])
        fault_key = sub if sub in zoom_limits.ENDPOINT_CATEGORY else endpoint
        latency = sb.faults.latency(fault_key)
        if latency:
            sb.sleep(latency)
        mono = time.monotonic()
        now = sb.clock.now()
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        problem = sb.oauth.check_access_token(token, now)
        if problem is not None:
            sb.record(mono, self.command, path, endpoint, category, 401, None, False, None)
            self._send(zoom_error(401, 124, problem))
            return
        problem = sb.oauth.missing_scope(token, endpoint)
        if problem is not None:
            sb.record(mono, self.command, path, endpoint, category, 400, None, False, None)
            self._send(zoom_error(400, 4711, problem))
            return
        verdict = sb.limits.admit(category, mono, now)
        if not verdict.ok:
            reply = zoom_error(
                429, 429, _DAILY_MESSAGE if verdict.rate_type == "Daily-limit" else _QPS_MESSAGE
            )
            reply.headers.update(_rate_headers(category, verdict))
            sb.record(
                mono, self.command, path, endpoint, category, 429, verdict.rate_type, False, None
            )
            self._send(reply)
            return
        plan = sb.faults.plan(fault_key, has_token, True)
        if plan.revoke_now:
            sb.oauth.revoke_access_tokens()
        if plan.kind in ("drop", "error", "bare_429", "slow", "page_token_expiry") and (
            self._fault_reply(sb, plan, path, mono, (endpoint, category, verdict))
        ):
            return
        short = sb.faults.short_page_fraction() if plan.kind == "short_page" else None
        if self.command != "GET":
            reply = zoom_error(405, 405, f"Method {self.command} is not allowed on {path}.")
        else:
            reply = sb.serve(endpoint, sub, query, now, short)
        reply.headers.update(_rate_headers(category, verdict))
        if reply.status == 200 and plan.kind == "truncate":
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        elif reply.status == 200 and plan.kind == "malformed":
            reply.body = b'{"code":200,"message":"ok",' + reply.body[1:40].replace(b'"', b"'")
        sb.record(
            mono,
            self.command,
            path,
            endpoint,
            category,
            reply.status,
            verdict.rate_type,
            True,
            plan.kind,
        )
        self._send(reply)

    def _fault_reply(
        self,
        sb: Sandbox,
        plan: FaultPlan,
        path: str,
        mono: float,
        ctx: tuple[str, str, Verdict] | None,
    ) -> bool:
        """Carry out an 'instead of the answer' fault; False means 'answer normally after all'."""
        kind = plan.kind
        endpoint, category, verdict = ctx if ctx else ("/oauth/token", None, None)
        rate_type = verdict.rate_type if verdict else None
        if kind == "drop":
            sb.record(mono, self.command, path, endpoint, category, 0, rate_type, True, kind)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if kind == "slow":
            sb.sleep(plan.slow_seconds)
            return False
        if kind == "error":
            status = plan.status
            reply = zoom_error(status, status, _REASONS.get(status, "Server error"))
        elif kind == "bare_429":
            reply = Reply(429, b'{"code":429,"message":"Too many requests."}')
        else:  # page_token_expiry
            reply = zoom_error(400, 300, "The next page token is invalid or expired.")
            if verdict:
                reply.headers.update(_rate_headers(category, verdict))
        sb.record(
            mono,
            self.command,
            path,
            endpoint,
            category,
            reply.status,
            None if kind == "bare_429" else rate_type,
            True,
            kind,
        )
        self._send(reply)
        return True

    def _send(self, reply: Reply) -> None:
        reason = _REASONS.get(reply.status, "Error")
        lines = [
            f"HTTP/1.1 {reply.status} {reason}",
            # Every HTTP server (Zoom's too) dates its answers: here by the sandbox's clock.
            f"Date: {formatdate(self.server.sandbox.clock.now(), usegmt=True)}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in reply.headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + reply.body)
        except OSError:
            self.close_connection = True


def _rate_headers(category: str | None, verdict: Verdict | None) -> dict[str, str]:
    if verdict is None or verdict.rate_type is None or category is None:
        return {}
    headers = {
        "X-RateLimit-Category": category,
        "X-RateLimit-Type": verdict.rate_type,
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(verdict.remaining),
    }
    if verdict.retry_after:
        headers["Retry-After"] = verdict.retry_after
    return headers


def _oauth_error(status: int, error: str, reason: str) -> Reply:
    return Reply(status, json.dumps({"reason": reason, "error": error}).encode())


def oauth_error_reply(exc: OAuthError) -> Reply:
    """Build the token endpoint's error body: ``{"reason": ..., "error": ...}``."""
    return _oauth_error(exc.status, exc.error, exc.reason)


def make_server(host: str, port: int, sandbox: Sandbox) -> SandboxHTTPServer:
    """Bind (port 0 = any free port) without serving yet."""
    return SandboxHTTPServer((host, port), sandbox)
