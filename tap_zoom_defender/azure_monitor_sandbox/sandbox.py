"""``AzureMonitorSandbox``: Entra ID + the Logs Ingestion API + a workspace, over local HTTPS."""

from __future__ import annotations

import json
import secrets
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import DEFAULT_SCOPE, AppRegistration, Directory
from .dcr import DataCollectionRule, DcrError, load_dcr
from .endpoints import API_VERSION, Call, ServiceEndpoints
from .limits import (
    BYTES_PER_WINDOW,
    MAX_CALL_BYTES,
    REQUESTS_PER_WINDOW,
    WINDOW_SECONDS,
    RateLimiter,
)
from .server import SandboxServer, make_server
from .setup_output import generated_dcr, generated_tables
from .tables import (
    TableDefinitionError,
    TableSchema,
    load_native_tables,
    parse_table_definitions,
)
from .workspace import FIELD_LIMIT_BYTES, Workspace


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


class AzureMonitorSandbox(ServiceEndpoints):
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
