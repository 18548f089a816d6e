"""What the emulator answers: Entra ID's token endpoints and the Logs Ingestion API.

:class:`ServiceEndpoints` is the request side of :class:`~.sandbox.AzureMonitorSandbox` (which
holds the directory, rules, workspace and limits it reads); the server dispatches requests to
these methods. Each rule cites the Microsoft page it comes from.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from .auth import entra_error
from .server import Reply, azure_error
from .values import format_datetime

if TYPE_CHECKING:
    from .sandbox import AzureMonitorSandbox

API_VERSION = "2023-01-01"  # "Logs Ingestion API in Azure Monitor", URI


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


class ServiceEndpoints:
    """Entra ID and Logs Ingestion handlers (a mixin of AzureMonitorSandbox)."""

    # --- Entra ID ----------------------------------------------------------------------------
    def openid_configuration(self: AzureMonitorSandbox, tenant: str) -> Reply:
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

    def token(self: AzureMonitorSandbox, tenant: str, headers: Any, body: bytes) -> Reply:
        """Client-credentials token issue (``auth.Directory.issue``)."""
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic ") and "client_secret" not in form:  # client_secret_basic
            pair = base64.b64decode(basic[6:]).decode("utf-8", errors="replace")
            client_id, _, secret = pair.partition(":")
            form.setdefault("client_id", unquote(client_id))
            form["client_secret"] = unquote(secret)
        status, answer = self.directory.issue(tenant, form)
        return Reply(status, answer, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # --- Logs Ingestion API ------------------------------------------------------------------
    def ingest(
        self: AzureMonitorSandbox,
        dcr_id: str,
        stream: str,
        query: dict[str, str],
        headers: Any,
        raw: bytes,
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
        self: AzureMonitorSandbox,
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
