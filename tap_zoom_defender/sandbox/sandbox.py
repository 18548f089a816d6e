"""``Sandbox``: one emulated Zoom account served over real HTTP on a loopback port."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .auth import OAuthError, OAuthState
from .clock import SandboxClock
from .config import SandboxConfig
from .datagen import generate_account
from .endpoints import REPORTS, BadRequest, Endpoints, Reply, zoom_error
from .faults import Faults
from .limits import RateLimits
from .paging import PageTokens
from .server import LogEntry, SandboxHTTPServer, make_server, oauth_error_reply
from .store import RecordStore

STREAM_KINDS = ("users", "activities", "operation_logs")


class Sandbox:
    """A local Zoom API for tests, the demo and benchmarks.

    Use as ``with Sandbox(SandboxConfig(...)) as sb:`` or ``start()``/``stop()``. Everything a
    test needs to check a client is here: credentials, ground truth, the request log, fault
    injection and a clock that can jump forward.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        """Generate the account (users now, report records lazily per day)."""
        self.config = cfg = config or SandboxConfig()
        self.clock = SandboxClock(cfg.now, cfg.live, cfg.clock_speed)
        self.account = generate_account(cfg, self.clock.anchor)
        self.store = RecordStore(cfg, self.account, self.clock.anchor)
        self.oauth = OAuthState(cfg)
        self.limits = RateLimits(cfg)
        self.page_tokens = PageTokens(cfg.page_token_ttl)
        self.faults = Faults(cfg.seed)
        for endpoint, kwargs in cfg.faults.items():
            self.faults.set(endpoint, **kwargs)
        self._endpoints = Endpoints(self.account, self.store, self.page_tokens)
        self._log: deque[LogEntry] = deque(maxlen=cfg.request_log_limit)
        self._log_lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind the configured host/port (0 = a free port) and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopped.clear()
        self._server = make_server(self.config.host, self.config.port, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="zoom-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections (sleeping faults wake up)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()
        server.shutdown()
        server.server_close()
        with server.conn_lock:
            conns = list(server.connections)
        for conn in conns:
            try:
                conn.shutdown(2)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        """Start on entering the block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving the block."""
        self.stop()

    # --- addresses and credentials -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """Base of the REST API (what the tap's ``api_url`` setting takes)."""
        return self.base_url + "/v2"

    @property
    def oauth_url(self) -> str:
        """The token endpoint (what the tap's ``oauth_url`` setting takes)."""
        return self.base_url + "/oauth/token"

    @property
    def port(self) -> int:
        """The bound port."""
        return urlsplit(self.base_url).port or 0

    @property
    def account_id(self) -> str:
        """Account id the Server-to-Server grant accepts."""
        return self.config.account_id

    @property
    def client_id(self) -> str:
        """Client id the token endpoint accepts."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """Client secret the token endpoint accepts (a fake demo credential)."""
        return self.config.client_secret

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """Server-to-Server settings for the tap pointing at this sandbox (plus overrides)."""
        cfg: dict[str, Any] = {
            "account_id": self.account_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "api_url": self.api_url,
            "oauth_url": self.oauth_url,
            "plan": self.config.plan,
        }
        cfg.update(overrides)
        return cfg

    def issue_refresh_token(self) -> str:
        """Issue a valid refresh token, as if an admin had just completed the OAuth consent."""
        return self.oauth.issue_refresh_token()

    def issue_authorization_code(self) -> str:
        """Issue a one-time authorization code (valid ``auth_code_ttl`` seconds).

        Bound to no redirect URL or PKCE challenge: a shortcut for tests of the exchange. The
        consent page (``/oauth/authorize``) issues codes bound to both, as Zoom does.
        """
        return self.oauth.issue_code(self.clock.now())

    @property
    def authorize_url(self) -> str:
        """The consent page (what the tap's ``authorize_url`` setting takes)."""
        return self.base_url + "/oauth/authorize"

    # --- test controls -------------------------------------------------------------------------
    def ground_truth(
        self, stream: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> list[dict]:
        """Exactly the records visible now (start <= time < end), newest first.

        ``users`` returns every user of every status (start/end do not apply). No two records
        of a stream are identical in content, so tests may compare them as sets.
        """
        return list(self.iter_ground_truth(stream, start, end))

    def iter_ground_truth(
        self, stream: str, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> Iterator[dict]:
        """Yield what ``ground_truth`` returns, one record at a time (for huge accounts)."""
        if stream not in STREAM_KINDS:
            raise ValueError(f"stream must be one of {', '.join(STREAM_KINDS)}, not {stream!r}")
        if stream == "users":
            return iter([dict(u, group_ids=list(u["group_ids"])) for u in self.account.users])
        lo = _epoch(start) if start is not None else 0.0
        hi = _epoch(end) if end is not None else float("inf")
        snap = self.clock.data_now()
        return self.store.iter_ground_truth(stream, lo, min(hi, snap + 1), snap)

    @property
    def request_log(self) -> list[LogEntry]:
        """Every request so far (a copy), in the order they were answered.

        Concurrent requests may be answered out of admission order; sort by ``t`` if it matters.
        """
        with self._log_lock:
            return list(self._log)

    def clear_request_log(self) -> None:
        """Forget logged requests (e.g. between a warm-up and a measurement)."""
        with self._log_lock:
            self._log.clear()

    def set_faults(self, endpoint: str | None = None, **kwargs: Any) -> None:
        """Inject faults (see ``FaultSpec``) on ``endpoint`` or, if None, on every endpoint."""
        self.faults.set(endpoint, **kwargs)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far becomes invalid (401, code 124)."""
        self.oauth.revoke_access_tokens()

    def expire_page_tokens(self) -> None:
        """Every page token issued so far becomes invalid (400, code 300)."""
        self.page_tokens.expire_all()

    def advance_clock(self, seconds: float) -> None:
        """Move sandbox time forward: tokens age, late records appear, the quota day may roll."""
        self.clock.advance(seconds)

    def now(self) -> datetime:
        """Sandbox "now" as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock.now(), tz=_UTC)

    # --- used by the request handler -----------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the sandbox stops."""
        self._stopped.wait(seconds)

    def record(
        self,
        mono: float,
        method: str,
        path: str,
        endpoint: str | None,
        category: str | None,
        status: int,
        rate_type: str | None,
        accepted: bool,
        fault: str | None,
    ) -> None:
        """Append one request to the log."""
        entry = LogEntry(
            self.clock.wall(mono),
            method,
            path,
            endpoint,
            category,
            status,
            rate_type,
            accepted,
            fault,
        )
        with self._log_lock:
            self._log.append(entry)

    def serve(
        self, endpoint: str, path: str, query: dict[str, list[str]], now: float, short: float | None
    ) -> Reply:
        """Answer one authorised, admitted GET."""
        try:
            if endpoint == "/users":
                return self._endpoints.users(query, now, short)
            if endpoint == "/users/{userId}":
                return self._endpoints.user(path.rsplit("/", 1)[1])
            if (
                endpoint == "/report/activities"
                and self.config.paid_reports_only
                and (self.config.plan == "free")
            ):
                return zoom_error(400, 200, "Only available for Paid account: report/activities.")
            if endpoint in REPORTS:
                return self._endpoints.report(endpoint, query, now, self.clock.data_now(), short)
        except BadRequest as exc:
            return zoom_error(400, 300, str(exc))
        return zoom_error(404, 404, f"No such API endpoint: {path}")

    def token_endpoint(self, params: dict[str, str], authorization: str | None) -> Reply:
        """POST /oauth/token for the three grants Zoom supports."""
        try:
            return self._grant(params, authorization)
        except OAuthError as exc:
            return oauth_error_reply(exc)

    def _grant(self, params: dict[str, str], authorization: str | None) -> Reply:
        if not self.oauth.client_ok(authorization):
            raise OAuthError(401, "invalid_client", "Invalid client_id or client_secret")
        grant = params.get("grant_type", "")
        now = self.clock.now()
        body: dict[str, Any] = {}
        scopes = self.config.scopes
        if grant == "account_credentials":
            if params.get("account_id") != self.config.account_id:
                raise OAuthError(400, "invalid_request", "Invalid account_id")
        elif grant == "authorization_code":
            body["refresh_token"], scopes = self.oauth.redeem_code(
                params.get("code", ""),
                now,
                params.get("redirect_uri"),
                params.get("code_verifier"),
            )
        elif grant == "refresh_token":
            body["refresh_token"], scopes = self.oauth.rotate_refresh_token(
                params.get("refresh_token", "")
            )
        else:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        body = {
            "access_token": self.oauth.issue_access_token(now, scopes),
            "token_type": "bearer",
            "expires_in": int(self.config.token_ttl),
            "scope": " ".join(scopes),
            "api_url": self.base_url,
            **body,
        }
        return Reply(200, json.dumps(body).encode(), {"Cache-Control": "no-store"})


def _epoch(value: datetime | str) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.timestamp()


_UTC = timezone.utc
