"""``AzureMonitorSandbox``: Entra ID + the Logs Ingestion API + a workspace, over local HTTPS."""

from __future__ import annotations

import json
import secrets
import ssl
import tempfile
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .auth import DEFAULT_SCOPE, AppRegistration, Directory, entra_error
from .dcr import DataCollectionRule, DcrError, load_dcr
from .limits import (
    BYTES_PER_WINDOW,
    MAX_CALL_BYTES,
    REQUESTS_PER_WINDOW,
    WINDOW_SECONDS,
    RateLimiter,
)
from .server import Reply, SandboxServer, azure_error, make_server
from .setup_output import generated_dcr, generated_tables
from .tables import (
    TableDefinitionError,
    TableSchema,
    load_native_tables,
    parse_table_definitions,
)
from .values import format_datetime
from .workspace import FIELD_LIMIT_BYTES, Workspace

API_VERSION = "2023-01-01"  # "Logs Ingestion API in Azure Monitor", URI


@dataclass
class DcrSource:
    """A DCR to load: a JSON document (dict), JSON text, or a path to a JSON file."""

    document: dict[str, Any] | str | Path
    immutable_id: str | None = None
    label: str | None = None


@dataclass
class SandboxConfig:
    """Everything configurable; every field has a usable default.

    With no ``dcrs`` and no ``azure_setup_profiles``, the ``asim`` profile's generated set-up is
    loaded (``setup_output.py``).
    """

    dcrs: list[DcrSource | dict[str, Any] | str | Path] = field(default_factory=list)
    # custom table definitions: file paths, or text (az commands / JSON)
    table_definitions: list[str | Path] = field(default_factory=list)
    # run the project's azure_setup generator for these profiles (DCR + custom tables)
    azure_setup_profiles: list[str] = field(default_factory=list)
    dcr_immutable_id: str | None = None  # for the first DCR loaded (if it has none)
    tenant_id: str = "00000000-0000-4000-8000-00000000cafe"
    client_id: str = "11111111-2222-4333-8444-555555555555"
    client_secret: str = field(default_factory=lambda: "sandbox~" + secrets.token_urlsafe(18))
    # app registrations that get tokens but lack "Monitoring Metrics Publisher": (id, secret)
    apps_without_role: list[tuple[str, str]] = field(default_factory=list)
    token_ttl: float = 3599.0
    max_call_bytes: int = MAX_CALL_BYTES
    field_limit_bytes: int = FIELD_LIMIT_BYTES
    rate_limit_requests: int = REQUESTS_PER_WINDOW
    rate_limit_bytes: int = BYTES_PER_WINDOW
    rate_window_seconds: float = WINDOW_SECONDS
    host: str = "127.0.0.1"
    port: int = 0
    ca_dir: Path | None = None  # where ca.pem is written; a temporary directory if None
    request_log_limit: int = 10_000
    verbose: bool = False


@dataclass(frozen=True)
class Call:
    """One Logs Ingestion request as the emulator saw it.

    ``at`` is ``time.monotonic()`` on arrival (the same clock as the test process's);
    ``rows`` are the records as received (decoded JSON) when the body could be read.
    """

    at: float
    received_at: str
    dcr: str
    stream: str
    status: int
    code: str | None
    gzip: bool
    body_bytes: int
    client_id: str | None
    rows: list[dict[str, Any]] | None


class AzureMonitorSandbox:
    """A local Azure Monitor Logs Ingestion API (with its Entra ID) for tests and the demo.

    ``with AzureMonitorSandbox(SandboxConfig(...)) as az:`` or ``start()``/``stop()``. Point
    ``ClientSecretCredential(authority=az.authority, disable_instance_discovery=True, ...)`` and
    ``LogsIngestionClient(az.endpoint, ...)`` at it, trusting ``az.ca_cert`` (``az.env()``).
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        """Load tables and DCRs (DcrError / TableDefinitionError if they are unusable)."""
        cfg = config or SandboxConfig()
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown SandboxConfig field {key!r}")
            setattr(cfg, key, value)
        self.config = cfg
        tables = load_native_tables()
        sources = list(cfg.dcrs)
        definitions: list[tuple[str, str]] = []
        profiles = list(cfg.azure_setup_profiles) or ([] if sources else ["asim"])
        for profile in profiles:
            where = f"azure_setup tables --profile {profile}"
            definitions.append((generated_tables(profile), where))
            sources.append(DcrSource(generated_dcr(profile), label=f"azure_setup-{profile}"))
        for item in cfg.table_definitions:
            if isinstance(item, Path) or not str(item).lstrip().startswith(("az ", "{", "[")):
                try:
                    definitions.append((Path(item).read_text("utf-8"), str(item)))
                except OSError as exc:
                    raise TableDefinitionError(f"table definitions {item}: {exc}") from None
            else:
                definitions.append((str(item), "table definitions"))
        for text, where in definitions:
            for table in parse_table_definitions(text, where):
                tables[table.name] = table
        self.dcrs: dict[str, DataCollectionRule] = {}
        for index, source in enumerate(sources):
            first_id = cfg.dcr_immutable_id if index == 0 else None
            rule = self._load(source, tables, first_id)
            if rule.immutable_id in self.dcrs:
                raise DcrError(f"two DCRs have the immutable id {rule.immutable_id}")
            self.dcrs[rule.immutable_id] = rule
        used = {flow.table for rule in self.dcrs.values() for flow in rule.flows}
        self.workspace = Workspace(
            {name: t for name, t in tables.items() if name in used or t.custom},
            cfg.field_limit_bytes,
        )
        self.directory = Directory(cfg.tenant_id, cfg.token_ttl)
        self._set_apps()
        self.limiter = RateLimiter(
            cfg.rate_limit_requests, cfg.rate_limit_bytes, cfg.rate_window_seconds
        )
        self._calls: deque[Call] = deque(maxlen=cfg.request_log_limit)
        self._faults: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.ca_cert: str = ""
        self.url: str = ""

    @staticmethod
    def _load(
        source: Any, tables: dict[str, TableSchema], default_id: str | None
    ) -> DataCollectionRule:
        src = source if isinstance(source, DcrSource) else DcrSource(source)
        document, label = src.document, src.label
        if isinstance(document, Path) or (
            isinstance(document, str) and not document.lstrip().startswith("{")
        ):
            path = Path(document)
            label = label or str(path)
            try:
                document = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise DcrError(f"DCR {path}: cannot read it ({exc})") from None
        elif isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError as exc:
                raise DcrError(f"DCR {label or 'text'}: not JSON ({exc})") from None
        rule = load_dcr(document, tables, label=label or "dcr", immutable_id=src.immutable_id)
        if default_id and not src.immutable_id:
            rule.immutable_id = default_id
        return rule

    def _set_apps(self) -> None:
        cfg = self.config
        self.directory.apps = {cfg.client_id: AppRegistration(cfg.client_id, cfg.client_secret)}
        for client_id, secret in cfg.apps_without_role:
            self.directory.apps[client_id] = AppRegistration(client_id, secret, publisher=False)
        self.directory.grants.clear()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> AzureMonitorSandbox:
        """Make the throwaway CA and certificate, bind the port, serve in a background thread."""
        if self._server is not None:
            return self
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # Azure requires TLS 1.2+
        cert.configure_cert(context)
        directory = self.config.ca_dir
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="azure-monitor-sandbox-")
            directory = Path(self._tmp.name)
        directory.mkdir(parents=True, exist_ok=True)
        ca_path = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_cert = str(ca_path)
        self._server = make_server(self.config.host, self.config.port, self, context)
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"https://{shown}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="azure-monitor-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut keep-alive connections, remove the temporary CA directory."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> AzureMonitorSandbox:
        """Start."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop."""
        self.stop()

    # --- where things are --------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The logs ingestion endpoint (``azure_endpoint``)."""
        return self.url

    @property
    def authority(self) -> str:
        """Authority host for azure-identity (``azure_authority``; disable instance discovery)."""
        return self.url

    @property
    def tenant_id(self) -> str:
        """The tenant the default app registration lives in."""
        return self.config.tenant_id

    @property
    def client_id(self) -> str:
        """The default app registration (holds Monitoring Metrics Publisher on every DCR)."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """Its client secret."""
        return self.config.client_secret

    @property
    def token_url(self) -> str:
        """The tenant's token endpoint."""
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def dcr_immutable_id(self) -> str:
        """The first loaded DCR's immutable id."""
        return next(iter(self.dcrs))

    def env(self) -> dict[str, str]:
        """Environment that makes requests-based clients (azure-core, MSAL) trust the CA."""
        return {"REQUESTS_CA_BUNDLE": self.ca_cert}

    def target_settings(self) -> dict[str, Any]:
        """target-defender ``azure_*`` settings pointing at this emulator (plain data)."""
        return {
            "azure_endpoint": self.endpoint,
            "azure_dcr_immutable_id": self.dcr_immutable_id,
            "azure_tenant_id": self.tenant_id,
            "azure_client_id": self.client_id,
            "azure_client_secret": self.client_secret,
            "azure_authority": self.authority,
            "azure_disable_instance_discovery": True,
        }

    def info(self) -> dict[str, Any]:
        """Return what ``--url-file`` holds."""
        return {
            "endpoint": self.endpoint,
            "authority": self.authority,
            "token_url": self.token_url,
            "openid_configuration_url": f"{self.url}/{self.tenant_id}/v2.0/.well-known/"
            "openid-configuration",
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": DEFAULT_SCOPE,
            "disable_instance_discovery": True,
            "ca_cert": self.ca_cert,
            "dcr_immutable_id": self.dcr_immutable_id,
            "dcrs": [rule.summary() for rule in self.dcrs.values()],
            "query_url": f"{self.url}/_sandbox/tables",
            "control_url": f"{self.url}/_sandbox/",
            "api_version": API_VERSION,
            "env": self.env(),
            "target_settings": self.target_settings(),
        }

    def credential(self, **kwargs: Any) -> Any:
        """Make a ``ClientSecretCredential`` for the default app, pointed at this emulator."""
        from azure.identity import ClientSecretCredential

        options = {
            "authority": self.authority,
            "disable_instance_discovery": True,
            "connection_verify": self.ca_cert,
            **kwargs,
        }
        return ClientSecretCredential(
            self.tenant_id,
            options.pop("client_id", self.client_id),
            options.pop("client_secret", self.client_secret),
            **options,
        )

    def logs_ingestion_client(self, credential: Any = None, **kwargs: Any) -> Any:
        """Make a ``LogsIngestionClient`` for this emulator (trusting its CA)."""
        from azure.monitor.ingestion import LogsIngestionClient

        return LogsIngestionClient(
            self.endpoint, credential or self.credential(), connection_verify=self.ca_cert, **kwargs
        )

    # --- what was stored ---------------------------------------------------------------------
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Rows stored in ``table``, as Azure would store them."""
        return self.workspace.table_rows(table)

    def stats(self, table: str) -> dict[str, Any]:
        """Return the counts of ``table``: received, stored, time_generated_replaced, ..."""
        return self.workspace.table_stats(table)

    def tables_summary(self) -> dict[str, dict[str, Any]]:
        """Return the counts of every table."""
        return {name: self.stats(name) for name in self.workspace.tables}

    @property
    def calls(self) -> list[Call]:
        """The ingestion request log (oldest first)."""
        with self._lock:
            return list(self._calls)

    def received(self, stream: str | None = None) -> list[dict[str, Any]]:
        """Return the records of accepted (204) calls, as sent, optionally for one stream."""
        return [
            row
            for call in self.calls
            if call.status == 204 and stream in (None, call.stream)
            for row in call.rows or []
        ]

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token handed out (to check that none leaks into logs)."""
        with self.directory.lock:
            return list(self.directory.tokens)

    @property
    def token_requests(self) -> list[dict[str, Any]]:
        """Token requests (without secrets): grant_type, client_id, scope, tenant."""
        with self.directory.lock:
            return [dict(r) for r in self.directory.token_requests]

    # --- controls ----------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` authorised, routed calls with ``status`` (429, 5xx, ...)."""
        with self._lock:
            self._faults.extend([(status, dict(headers or {}))] * times)

    def clear_faults(self) -> None:
        """Forget scripted failures."""
        with self._lock:
            self._faults.clear()

    def add_app(self, client_id: str, client_secret: str, *, publisher: bool = False) -> None:
        """Register another app (by default without Monitoring Metrics Publisher)."""
        with self.directory.lock:
            self.directory.apps[client_id] = AppRegistration(client_id, client_secret, publisher)

    def grant_role(self, client_id: str, dcr: str | None = None) -> None:
        """Give the app Monitoring Metrics Publisher on one DCR (all when ``dcr`` is None)."""
        for rule_id in [dcr] if dcr else list(self.dcrs):
            self.directory.set_role(client_id, rule_id, True)

    def revoke_role(self, client_id: str, dcr: str | None = None) -> None:
        """Remove the app's Monitoring Metrics Publisher on one DCR (all when None) -> 403."""
        for rule_id in [dcr] if dcr else list(self.dcrs):
            self.directory.set_role(client_id, rule_id, False)

    def revoke_tokens(self) -> None:
        """Every token issued so far is answered 401 InvalidToken."""
        self.directory.revoke_all()

    def expire_tokens(self) -> None:
        """Every token issued so far is answered 401 TokenExpired."""
        self.directory.expire_all()

    def reset(self) -> None:
        """Forget stored rows, counts, calls, faults and rate windows; restore roles and apps."""
        self.workspace.reset()
        self.limiter.reset()
        with self._lock:
            self._calls.clear()
            self._faults.clear()
        with self.directory.lock:
            self._set_apps()

    # --- Entra ID ----------------------------------------------------------------------------
    def openid_configuration(self, tenant: str) -> Reply:
        """OpenID discovery document of the tenant (what MSAL reads before asking a token)."""
        if tenant != self.tenant_id:
            status, body = entra_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
            return Reply(status, body)
        base = f"{self.url}/{tenant}"
        return Reply(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "tenant_region_scope": None,
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    def token(self, tenant: str, headers: Any, body: bytes) -> Reply:
        """Client-credentials token issue (``auth.Directory.issue``)."""
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic ") and "client_secret" not in form:  # client_secret_basic
            import base64
            from urllib.parse import unquote

            pair = base64.b64decode(basic[6:]).decode("utf-8", errors="replace")
            client_id, _, secret = pair.partition(":")
            form.setdefault("client_id", unquote(client_id))
            form["client_secret"] = unquote(secret)
        status, answer = self.directory.issue(tenant, form)
        return Reply(status, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- Logs Ingestion API ------------------------------------------------------------------
    def ingest(
        self, dcr_id: str, stream: str, query: dict[str, str], headers: Any, raw: bytes
    ) -> Reply:
        """``POST /dataCollectionRules/{dcr}/streams/{stream}``: check, store, answer 204.

        Checks in order: bearer token (401), api-version (400), DCR (404), Monitoring Metrics
        Publisher on it (403), stream (404), scripted faults, per-DCR rate (429 + Retry-After),
        size (413), Content-Type / Content-Encoding (415), JSON array body (400). Which check
        Azure makes first when several fail is not documented. Error codes: OperationFailed (403)
        and ContentLengthLimitExceeded (413) are Azure's, as quoted in the sources cited below;
        the other codes are this emulator's wording, in Azure's error shape.
        """
        arrived = time.monotonic()
        received = datetime.now(timezone.utc)
        gzipped = headers.get("Content-Encoding", "").lower() == "gzip"
        outcome: dict[str, Any] = {"client_id": None, "rows": None}
        reply = self._ingest(dcr_id, stream, query, headers, raw, received, outcome)
        code = reply.headers.get("x-ms-error-code")
        call = Call(
            arrived,
            format_datetime(received),
            dcr_id,
            stream,
            reply.status,
            code,
            gzipped,
            len(raw),
            outcome["client_id"],
            outcome["rows"],
        )
        with self._lock:
            self._calls.append(call)
        return reply

    def _ingest(
        self,
        dcr_id: str,
        stream: str,
        query: dict[str, str],
        headers: Any,
        raw: bytes,
        received: datetime,
        outcome: dict[str, Any],
    ) -> Reply:
        check = self.directory.check(headers.get("Authorization"))
        if check.client_id is None:
            return azure_error(401, check.code, check.message)
        outcome["client_id"] = check.client_id
        if query.get("api-version") != API_VERSION:
            return azure_error(
                400,
                "InvalidApiVersion",
                f"api-version {query.get('api-version')!r} is not supported; use {API_VERSION}",
            )
        rule = self.dcrs.get(dcr_id)
        if rule is None:
            return azure_error(
                404,
                "NotFound",
                f"Data collection rule with immutable Id '{dcr_id}' not found.",
            )
        # "Logs Ingestion API in Azure Monitor", Configuration: the app needs Monitoring Metrics
        # Publisher on the DCR. Body as quoted in the Azure SDK's TROUBLESHOOTING.md
        # (azure-monitor-ingestion, "Troubleshooting authorization errors").
        if not self.directory.has_role(check.client_id, dcr_id):
            return azure_error(
                403,
                "OperationFailed",
                "The authentication token provided does not have access to ingest data for the "
                f"data collection rule with immutable Id '{dcr_id}'.",
            )
        if stream not in rule.streams:
            return azure_error(
                404,
                "InvalidStream",
                f"Stream '{stream}' is not declared in the data collection rule with immutable "
                f"Id '{dcr_id}' (declared: {', '.join(rule.streams)}).",
            )
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            return _scripted(*fault)
        # "Azure Monitor service limits", Logs Ingestion API: requests and data per minute per
        # DCR; "Retry after the duration listed in the Retry-After header in the response".
        retry_after = self.limiter.admit(dcr_id, len(raw))
        if retry_after is not None:
            return azure_error(
                429,
                "TooManyRequests",
                f"Rate limit of the data collection rule '{dcr_id}' exceeded "
                f"({self.limiter.requests} requests / {self.limiter.data_bytes} bytes per "
                f"{self.limiter.window:g} s); retry after {retry_after} seconds.",
                Retry_After=str(retry_after),
            )
        limit = self.config.max_call_bytes
        # "Azure Monitor service limits": 1 MB per call, "both compressed and uncompressed".
        if len(raw) > limit:
            return _too_large(len(raw), limit)
        content_type = headers.get("Content-Type", "")
        if not content_type.lower().startswith("application/json"):
            return azure_error(
                415,
                "UnsupportedMediaType",
                f"Content-Type must be application/json, not {content_type!r}",
            )
        encoding = headers.get("Content-Encoding", "").lower()
        if encoding not in ("", "gzip", "identity"):
            return azure_error(
                415,
                "UnsupportedContentEncoding",
                f"Content-Encoding {encoding!r}: only gzip is supported",
            )
        data = raw
        if encoding == "gzip":
            try:
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = inflater.decompress(raw, limit + 1)
            except zlib.error as exc:
                return azure_error(400, "InvalidPayload", f"The gzip body is corrupt: {exc}")
            if len(data) > limit:
                return _too_large(len(data), limit, uncompressed=True)
        # "Logs Ingestion API in Azure Monitor", Request body: a JSON array, UTF-8.
        try:
            records = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return azure_error(400, "InvalidPayload", f"malformed JSON: {exc}")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return azure_error(400, "InvalidPayload", "The body must be a JSON array of objects.")
        outcome["rows"] = records
        self.workspace.ingest(rule.streams[stream], rule.flows_for(stream), records, received)
        return Reply(204)


def _too_large(length: int, limit: int, uncompressed: bool = False) -> Reply:
    # The service's own wording (413 quoted in JulianHayward/AzADServicePrincipalInsights
    # issue 30): "Maximum allowed content length: 1048576 bytes (1 MB). Provided content
    # length: ... bytes."
    what = "uncompressed content length" if uncompressed else "content length"
    return azure_error(
        413,
        "ContentLengthLimitExceeded",
        f"Maximum allowed content length: {limit} bytes (1 MB). Provided {what}: "
        f"{length}{'+' if uncompressed else ''} bytes.",
    )


_FAULT_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def _scripted(status: int, headers: dict[str, str]) -> Reply:
    code = _FAULT_CODES.get(status, "ScriptedFailure")
    reply = azure_error(status, code, f"Scripted failure {status} (azure-monitor-sandbox fault).")
    reply.headers.update(headers)
    return reply
