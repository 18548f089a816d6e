"""Local HTTPS stand-ins for Entra ID (token endpoint) and the Azure Monitor Logs Ingestion API.

They behave as Microsoft documents, so the real ``azure-identity`` and ``azure-monitor-ingestion``
clients run unmodified against them: TLS with a throwaway CA (``trustme``; clients trust it
through ``REQUESTS_CA_BUNDLE``), OpenID discovery + client-credentials token issue, bearer-token
and URL-shape checks, 413 over 1 MB, scripted 429/5xx answers, 204 on success. Everything they
receive is recorded for the tests to assert on.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

API_VERSION = "2023-01-01"
MAX_CALL_BYTES = 1_000_000  # "1 MB per call"
SCOPE = "https://monitor.azure.com//.default"


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True


def _start(handler: type[BaseHTTPRequestHandler], ctx: ssl.SSLContext, owner: object):
    server = _TLSServer(("127.0.0.1", 0), handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.owner = owner  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _reply(self, status: int, body: object | None = None, headers: dict | None = None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


# --- Entra ID -----------------------------------------------------------------------------


class EntraHandler(_Handler):
    def do_GET(self):
        entra: EntraStandIn = self.server.owner  # type: ignore[attr-defined]
        m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", self.path)
        if not m or m.group(1) != entra.tenant_id:
            return self._reply(400, {"error": "invalid_tenant"})
        base = f"{entra.url}/{entra.tenant_id}"
        return self._reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            },
        )

    def do_POST(self):
        entra: EntraStandIn = self.server.owner  # type: ignore[attr-defined]
        form = dict(urllib.parse.parse_qsl(self._body().decode()))
        with entra.lock:
            entra.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        if self.path != f"/{entra.tenant_id}/oauth2/v2.0/token":
            return self._reply(404, {"error": "not_found"})
        if form.get("grant_type") != "client_credentials":
            return self._reply(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != entra.client_id or not secrets.compare_digest(
            form.get("client_secret", ""), entra.client_secret
        ):
            return self._reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
        token = secrets.token_urlsafe(24)
        with entra.lock:
            entra.issued.add(token)
            entra.scopes.append(form.get("scope", ""))
        return self._reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )


@dataclass
class EntraStandIn:
    ssl_context: ssl.SSLContext
    tenant_id: str = "00000000-0000-4000-8000-00000000beef"
    client_id: str = "11111111-2222-4333-8444-555555555555"
    client_secret: str = field(default_factory=lambda: "cs~" + secrets.token_urlsafe(16))
    issued: set[str] = field(default_factory=set)
    scopes: list[str] = field(default_factory=list)
    token_requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> EntraStandIn:
        self._server = _start(EntraHandler, self.ssl_context, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def revoke_all(self) -> None:
        with self.lock:
            self.issued.clear()


# --- Logs Ingestion -----------------------------------------------------------------------


@dataclass
class Call:
    stream: str
    status: int
    rows: list[dict] | None
    body_bytes: int
    gzip: bool
    # time.monotonic() when the request arrived (same clock as the test process's)
    at: float = 0.0


class IngestionHandler(_Handler):
    def do_POST(self):
        arrived = time.monotonic()
        api: IngestionStandIn = self.server.owner  # type: ignore[attr-defined]
        raw = self._body()
        status, body, headers, rows, stream = self._handle(api, raw)
        gzipped = self.headers.get("Content-Encoding") == "gzip"
        with api.lock:
            api.calls.append(Call(stream, status, rows, len(raw), gzipped, arrived))
        self._reply(status, body, headers)

    def _handle(self, api: IngestionStandIn, raw: bytes):
        url = urllib.parse.urlsplit(self.path)
        m = re.fullmatch(r"/dataCollectionRules/([^/]+)/streams/([^/]+)", url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        stream = urllib.parse.unquote(m.group(2)) if m else ""
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with api.entra.lock:
            token_ok = token in api.entra.issued
        if not token_ok:
            return 401, _err("InvalidToken", "The provided token is not valid."), {}, None, stream
        if not m or query.get("api-version") != API_VERSION:
            return 404, _err("NotFound", "Unknown path or api-version."), {}, None, stream
        if m.group(1) != api.rule_id:
            return 404, _err("NotFound", f"DCR {m.group(1)} not found."), {}, None, stream
        if api.forbidden:
            return (
                403,
                _err(
                    "OperationFailed",
                    "The authentication token provided does not "
                    "have access to ingest data for the data collection rule with immutable "
                    f"Id '{api.rule_id}'.",
                ),
                {},
                None,
                stream,
            )
        if stream not in api.streams:
            return 404, _err("InvalidStream", f"Stream {stream} is not declared."), {}, None, stream
        with api.lock:
            scripted = api.script.pop(0) if api.script else None
        if scripted:
            return scripted[0], _err("Scripted", "scripted failure"), scripted[1], None, stream
        if len(raw) > MAX_CALL_BYTES:
            return 413, _err("ContentLengthLimitExceeded", "Over 1 MB."), {}, None, stream
        data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        if len(data) > MAX_CALL_BYTES:
            return 413, _err("ContentLengthLimitExceeded", "Over 1 MB."), {}, None, stream
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return 415, _err("UnsupportedMediaType", "JSON only."), {}, None, stream
        try:
            rows = json.loads(data)
        except ValueError:
            return 400, _err("InvalidPayload", "Body is not JSON."), {}, None, stream
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return (
                400,
                _err("InvalidPayload", "Body must be a JSON array of objects."),
                {},
                None,
                stream,
            )
        return 204, None, {}, rows, stream


def _err(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@dataclass
class IngestionStandIn:
    ssl_context: ssl.SSLContext
    entra: EntraStandIn
    streams: set[str]
    rule_id: str = "dcr-00000000000000000000000000000000"
    forbidden: bool = False
    # (status, headers) answers to give before behaving normally again
    script: list[tuple[int, dict]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> IngestionStandIn:
        self._server = _start(IngestionHandler, self.ssl_context, self)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, times: int = 1, headers: dict | None = None) -> None:
        with self.lock:
            self.script.extend([(status, headers or {})] * times)

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.script.clear()
            self.forbidden = False

    def received(self, stream: str | None = None) -> list[dict]:
        with self.lock:
            return [
                r
                for c in self.calls
                if c.status == 204 and stream in (None, c.stream)
                for r in c.rows or []
            ]


class AzureStandIns:
    """Both stand-ins, one throwaway CA, and the target settings that point at them."""

    def __init__(self, tmp_dir: Path, streams: set[str]) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.ca_bundle = tmp_dir / "standin-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_bundle))
        self.entra = EntraStandIn(ctx).start()
        self.ingestion = IngestionStandIn(ctx, self.entra, streams).start()

    def env(self) -> dict[str, str]:
        """How the unmodified Azure clients are told to trust the throwaway CA."""
        return {"REQUESTS_CA_BUNDLE": str(self.ca_bundle)}

    def target_config(self, output_dir: Path, **extra: object) -> dict:
        return {
            "destination": "azure_monitor",
            "output_dir": str(output_dir),
            "azure_endpoint": self.ingestion.url,
            "azure_dcr_immutable_id": self.ingestion.rule_id,
            "azure_tenant_id": self.entra.tenant_id,
            "azure_client_id": self.entra.client_id,
            "azure_client_secret": self.entra.client_secret,
            "azure_authority": self.entra.url,
            "azure_disable_instance_discovery": True,
            "azure_retry_backoff_factor": 0.05,
            "azure_retry_backoff_max": 0.2,
            **extra,
        }

    def stop(self) -> None:
        self.ingestion.stop()
        self.entra.stop()
