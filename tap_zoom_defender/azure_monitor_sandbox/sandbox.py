"""``AzureMonitorSandbox``: Entra ID + the Logs Ingestion API + a workspace, over local HTTPS."""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from .auth import DEFAULT_SCOPE, AppRegistration, Directory
from .config import DcrSource, SandboxConfig
from .endpoints import API_VERSION, Call, ServiceEndpoints
from .kql import QueryResult
from .limits import RateLimiter
from .query import WorkspaceCatalog
from .server import SandboxServer, make_server
from .setup_loader import load_setup
from .workspace import Workspace

__all__ = ["AzureMonitorSandbox", "Call", "DcrSource", "SandboxConfig"]


class AzureMonitorSandbox(ServiceEndpoints):
    """A local Azure Monitor Logs Ingestion API (with its Entra ID) for tests and the demo.

    ``with AzureMonitorSandbox(SandboxConfig(...)) as az:`` or ``start()``/``stop()``. Point
    ``ClientSecretCredential(authority=az.authority, disable_instance_discovery=True, ...)`` and
    ``LogsIngestionClient(az.endpoint, ...)`` at it, trusting ``az.ca_cert`` (``az.env()``).
    """

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        """Load the set-up (DcrError / TableDefinitionError / TemplateError if unusable)."""
        cfg = config or SandboxConfig()
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown SandboxConfig field {key!r}")
            setattr(cfg, key, value)
        self.config = cfg
        setup = load_setup(cfg)
        self.dcrs = setup.dcrs
        self.schemas = setup.tables  # every table that exists in the workspace
        self.saved_functions = setup.functions
        self.deployments = [deployment.summary() for deployment in setup.deployments]
        used = {flow.table for rule in self.dcrs.values() for flow in rule.flows}
        self.workspace = Workspace(
            {name: t for name, t in setup.tables.items() if name in used or t.custom},
            cfg.field_limit_bytes,
        )
        self.catalog = WorkspaceCatalog(self.workspace, setup.tables, setup.functions)
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
            "kql_url": f"{self.url}/_sandbox/query",
            "functions": [f["alias"] for f in self.functions()],
            "templates": self.deployments,
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

    # --- KQL over the workspace -------------------------------------------------------------
    def query(self, kql: str) -> list[dict[str, Any]]:
        """Return the rows of a KQL query (subset: ``kql/__init__.py``); KQLError if refused."""
        return self.query_result(kql).rows

    def query_result(self, kql: str) -> QueryResult:
        """Return columns, rows and warnings (legs ``union isfuzzy=true`` skipped) of a query."""
        return self.catalog.run(kql)

    def functions(self) -> list[dict[str, Any]]:
        """List the workspace functions (alias, parameters, origin) the templates saved."""
        return [function.describe() for function in self.saved_functions.values()]

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
