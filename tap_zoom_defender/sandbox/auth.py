"""OAuth state of the emulated account: S2S tokens, authorization codes, rotating refresh tokens.

Every credential carries the scopes it was granted (the app's scopes at the time of the consent,
as on Zoom: adding a scope later needs a new consent), and each API endpoint needs one of its
scopes, classic or granular (:data:`ENDPOINT_SCOPES`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from dataclasses import dataclass

from .config import SandboxConfig

ENDPOINT_SCOPES: dict[str, tuple[str, ...]] = {
    "/users": ("user:read:admin", "user:read:list_users:admin"),
    "/users/{userId}": ("user:read:admin", "user:read:user:admin"),
    "/report/activities": ("report:read:admin", "report:read:user_activities:admin"),
    "/report/operationlogs": ("report:read:admin", "report:read:operation_logs:admin"),
}
"""Endpoint -> scopes that open it (any one): the classic scope, then the granular one."""


@dataclass(frozen=True)
class AuthCode:
    """What an approved consent bound a code to; checked when the code is exchanged."""

    expires_at: float
    scopes: tuple[str, ...]
    redirect_uri: str | None = None  # None: issued by a test helper, no redirect to match
    code_challenge: str | None = None
    code_challenge_method: str = "plain"


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636: ``S256`` = base64url(sha256(verifier)) without padding; ``plain`` = equal."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(verifier, challenge)


class OAuthError(Exception):
    """A token-endpoint failure with the HTTP status and Zoom's ``{reason, error}`` body."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        """Keep the parts the response needs."""
        super().__init__(reason)
        self.status, self.error, self.reason = status, error, reason


class OAuthState:
    """Every credential the sandbox has handed out, what it grants and whether it still works.

    Access tokens expire ``token_ttl`` sandbox-seconds after issue and can be revoked in bulk.
    A refresh token works exactly once: using it returns a new one and kills the old one, as
    Zoom does ("Invalid Token!"). An authorization code works once, for ``auth_code_ttl``
    seconds, with the redirect URL and PKCE verifier of the consent that issued it.
    """

    def __init__(self, cfg: SandboxConfig) -> None:
        """Remember the credentials this account accepts."""
        self._cfg = cfg
        self._access: dict[str, tuple[float, tuple[str, ...]]] = {}  # token -> (expiry, scopes)
        self._codes: dict[str, AuthCode] = {}
        self._refresh: dict[str, tuple[str, ...]] = {}  # token -> scopes
        self._lock = threading.Lock()

    def client_ok(self, authorization: str | None) -> bool:
        """Tell whether the Basic header carries this account's client id and secret."""
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self._cfg.client_id) and secrets.compare_digest(
            secret, self._cfg.client_secret
        )

    def issue_access_token(self, now: float, scopes: tuple[str, ...] | None = None) -> str:
        """Issue a bearer token valid for ``token_ttl`` seconds (the app's scopes by default)."""
        token = "sbx." + secrets.token_urlsafe(32)
        granted = self._cfg.scopes if scopes is None else scopes
        with self._lock:
            self._access[token] = (now + self._cfg.token_ttl, granted)
            if len(self._access) > 10_000:  # forget long-expired tokens
                self._access = {t: v for t, v in self._access.items() if v[0] > now - 3600}
        return token

    def check_access_token(self, token: str | None, now: float) -> str | None:
        """None if the token is usable, else the 401 message Zoom would give."""
        with self._lock:
            entry = self._access.get(token or "")
        if entry is None:
            return "Invalid access token."
        if entry[0] <= now:
            return "Access token is expired."
        return None

    def missing_scope(self, token: str | None, endpoint: str) -> str | None:
        """None if the (valid) token may call ``endpoint``, else Zoom's code-4711 message."""
        needed = ENDPOINT_SCOPES.get(endpoint, ())
        with self._lock:
            _, granted = self._access.get(token or "", (0.0, ()))
        if not needed or any(scope in granted for scope in needed):
            return None
        return f"Invalid access token, does not contain scopes:[{', '.join(needed)}]."

    def revoke_access_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        with self._lock:
            self._access.clear()

    def issue_code(
        self,
        now: float,
        *,
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str = "plain",
    ) -> str:
        """Issue an authorization code, as if an admin had just approved the app."""
        code = secrets.token_urlsafe(24)
        grant = AuthCode(
            now + self._cfg.auth_code_ttl,
            self._cfg.scopes,
            redirect_uri,
            code_challenge,
            code_challenge_method,
        )
        with self._lock:
            self._codes[code] = grant
        return code

    def redeem_code(
        self, code: str, now: float, redirect_uri: str | None = None, verifier: str | None = None
    ) -> tuple[str, tuple[str, ...]]:
        """Exchange a code for ``(refresh token, scopes)``; raise OAuthError as Zoom answers.

        The first attempt uses the code up, whatever its outcome: a second one (a replay, or a
        retry after a wrong verifier) gets "Invalid authorization code" like an unknown code.
        """
        with self._lock:
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= now:
            # Zoom echoes the whole code in the reason: clients must not print it as it is.
            raise OAuthError(400, "invalid_request", f"Invalid authorization code {code}")
        if grant.redirect_uri is not None and redirect_uri != grant.redirect_uri:
            raise OAuthError(400, "invalid_request", "Redirect URI mismatch.")
        if grant.code_challenge is not None and not pkce_matches(
            verifier or "", grant.code_challenge, grant.code_challenge_method
        ):
            raise OAuthError(400, "invalid_grant", "Invalid code_verifier.")
        return self.issue_refresh_token(grant.scopes), grant.scopes

    def issue_refresh_token(self, scopes: tuple[str, ...] | None = None) -> str:
        """Issue a fresh refresh token (what a completed consent flow leaves behind)."""
        token = "sbx.r." + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[token] = self._cfg.scopes if scopes is None else scopes
        return token

    def rotate_refresh_token(self, token: str) -> tuple[str, tuple[str, ...]]:
        """Use a refresh token: it dies; its successor (same scopes) and the scopes are returned."""
        with self._lock:
            scopes = self._refresh.pop(token, None)
        if scopes is None:
            raise OAuthError(400, "invalid_request", "Invalid Token!")
        return self.issue_refresh_token(scopes), scopes
