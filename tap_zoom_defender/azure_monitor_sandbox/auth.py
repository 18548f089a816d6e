"""Entra ID for the emulator: app registrations, client-credentials tokens, role assignments.

- Token issue follows "Microsoft identity platform and the OAuth 2.0 client credentials flow":
  ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=client_credentials``, ``client_id``,
  ``client_secret`` and ``scope=<resource>/.default``; success is ``token_type``, ``expires_in``,
  ``access_token``; errors are ``error``, ``error_description`` (``AADSTS<code>: ...``),
  ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``. AADSTS codes and wording are
  those of "Microsoft Entra authentication and authorization error codes" / the Azure SDK
  troubleshooting pages (AADSTS7000215 invalid secret, AADSTS7000218 no secret, AADSTS700016
  unknown app, AADSTS90002 unknown tenant, AADSTS1002012 scope without /.default).
- The token's audience is the scope's resource; the Logs Ingestion API accepts only
  ``https://monitor.azure.com`` ("Logs Ingestion API in Azure Monitor", Request headers).
- "Monitoring Metrics Publisher" on the DCR is what lets an app ingest ("Logs Ingestion API in
  Azure Monitor", Configuration); apps can be registered without it (-> 403).

Tokens are JWT-shaped (HS256 with a per-run key; real Entra tokens are RS256): only this
emulator reads them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

MONITOR_AUDIENCE = "https://monitor.azure.com"
DEFAULT_SCOPE = "https://monitor.azure.com//.default"


@dataclass
class AppRegistration:
    """An app registration with one client secret."""

    client_id: str
    client_secret: str
    publisher: bool = True  # holds "Monitoring Metrics Publisher" on every DCR by default


@dataclass
class TokenCheck:
    """Outcome of checking a bearer token: the app, or a 401 code and message."""

    client_id: str | None = None
    code: str = ""
    message: str = ""


@dataclass
class Directory:
    """The tenant: apps, issued tokens, and per-DCR role assignments."""

    tenant_id: str
    token_ttl: float = 3599.0
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    # (client_id, dcr immutable id) pairs explicitly granted or revoked, over the app default
    grants: dict[tuple[str, str], bool] = field(default_factory=dict)
    issued: dict[str, float] = field(default_factory=dict)  # jti -> expiry (epoch seconds)
    tokens: list[str] = field(default_factory=list)  # every token handed out (tests: leaks)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    # --- roles -------------------------------------------------------------------------------
    def has_role(self, client_id: str, dcr_id: str) -> bool:
        """Say whether the app holds Monitoring Metrics Publisher on the DCR."""
        with self.lock:
            granted = self.grants.get((client_id, dcr_id))
            if granted is not None:
                return granted
            app = self.apps.get(client_id)
            return bool(app and app.publisher)

    def set_role(self, client_id: str, dcr_id: str, granted: bool) -> None:
        """Grant or remove Monitoring Metrics Publisher on one DCR."""
        with self.lock:
            self.grants[(client_id, dcr_id)] = granted

    # --- token endpoint ----------------------------------------------------------------------
    def issue(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (HTTP status, JSON body)."""
        client_id = form.get("client_id", "")
        with self.lock:
            self.token_requests.append(
                {k: v for k, v in form.items() if k not in ("client_secret", "client_assertion")}
                | {"tenant": tenant}
            )
        if tenant != self.tenant_id:
            return entra_error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        if form.get("grant_type") != "client_credentials":
            return entra_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type "
                f"'{form.get('grant_type', '')}'. This emulator issues client_credentials only.",
            )
        app = self.apps.get(client_id)
        if app is None:
            return entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'.",
            )
        secret = form.get("client_secret")
        if not secret:
            return entra_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            return entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.",
            )
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return entra_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        audience = scope[: -len("/.default")].rstrip("/")
        token = self._token(client_id, audience)
        ttl = int(self.token_ttl)
        return 200, {
            "token_type": "Bearer",
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": token,
        }

    def _token(self, client_id: str, audience: str) -> str:
        now = time.time()
        jti = uuid.uuid4().hex
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + self.token_ttl),
            "appid": client_id,
            "tid": self.tenant_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"app:{client_id}")),
            "ver": "1.0",
            "uti": jti,
        }
        token = _jwt(claims, self._key)
        with self.lock:
            self.issued[jti] = claims["exp"]
            self.tokens.append(token)
        return token

    # --- resource side -----------------------------------------------------------------------
    def check(self, authorization: str | None) -> TokenCheck:
        """Validate an ``Authorization: Bearer`` header for the Logs Ingestion API.

        Any refusal is a 401. Only InvalidAudience is a code seen from Azure (source below);
        MissingToken, InvalidToken and TokenExpired are this emulator's wording.
        """
        if not authorization or not authorization.startswith("Bearer "):
            return TokenCheck(None, "MissingToken", "An Authorization: Bearer token is required.")
        claims = _verify(authorization[len("Bearer ") :].strip(), self._key)
        if claims is None:
            return TokenCheck(None, "InvalidToken", "The provided token is not valid.")
        with self.lock:
            expiry = self.issued.get(claims.get("uti", ""))
        if expiry is None:
            return TokenCheck(None, "InvalidToken", "The provided token has been revoked.")
        if time.time() >= expiry:
            return TokenCheck(None, "TokenExpired", "The provided token has expired.")
        if claims.get("tid") != self.tenant_id:
            return TokenCheck(None, "InvalidToken", "The token was issued by another tenant.")
        # Wrong audience: 401 "InvalidAudience", as reported in MicrosoftDocs/azure-docs PR
        # 103840 (a token for management.azure.com instead of monitor.azure.com).
        if claims.get("aud", "").rstrip("/") != MONITOR_AUDIENCE:
            return TokenCheck(
                None,
                "InvalidAudience",
                f"The token audience '{claims.get('aud')}' is not valid; the Logs Ingestion "
                f"API expects '{MONITOR_AUDIENCE}'.",
            )
        return TokenCheck(str(claims.get("appid")))

    def revoke_all(self) -> None:
        """Make every token issued so far invalid (401 InvalidToken)."""
        with self.lock:
            self.issued.clear()

    def expire_all(self) -> None:
        """Make every token issued so far expired (401 TokenExpired)."""
        with self.lock:
            for jti in self.issued:
                self.issued[jti] = 0.0


def entra_error(status: int, error: str, code: int, description: str) -> tuple[int, dict]:
    """Build an Entra ID token endpoint error body (see the module docstring)."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
        f"Correlation ID: {correlation} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _verify(token: str, key: bytes) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = _b64(hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None
