"""OAuth state of the emulated account: S2S tokens, authorization codes, rotating refresh tokens."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading

from .config import SandboxConfig


class OAuthError(Exception):
    """A token-endpoint failure with the HTTP status and Zoom's ``{reason, error}`` body."""

    def __init__(self, status: int, error: str, reason: str) -> None:
        """Keep the parts the response needs."""
        super().__init__(reason)
        self.status, self.error, self.reason = status, error, reason


class OAuthState:
    """Every credential the sandbox has handed out and whether it still works.

    Access tokens expire ``token_ttl`` sandbox-seconds after issue and can be revoked in bulk.
    A refresh token works exactly once: using it returns a new one and kills the old one, as
    Zoom does ("Invalid Token!").
    """

    def __init__(self, cfg: SandboxConfig) -> None:
        """Remember the credentials this account accepts."""
        self._cfg = cfg
        self._access: dict[str, float] = {}  # token -> expires_at (sandbox epoch)
        self._codes: dict[str, float] = {}
        self._refresh: set[str] = set()
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

    def issue_access_token(self, now: float) -> str:
        """Issue a bearer token valid for ``token_ttl`` seconds of sandbox time."""
        token = "sbx." + secrets.token_urlsafe(32)
        with self._lock:
            self._access[token] = now + self._cfg.token_ttl
            if len(self._access) > 10_000:  # forget long-expired tokens
                self._access = {t: e for t, e in self._access.items() if e > now - 3600}
        return token

    def check_access_token(self, token: str | None, now: float) -> str | None:
        """None if the token is usable, else the 401 message Zoom would give."""
        with self._lock:
            expires = self._access.get(token or "")
        if expires is None:
            return "Invalid access token."
        if expires <= now:
            return "Access token is expired."
        return None

    def revoke_access_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        with self._lock:
            self._access.clear()

    def issue_code(self, now: float) -> str:
        """Issue an authorization code, as if an admin had just approved the app."""
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = now + self._cfg.auth_code_ttl
        return code

    def redeem_code(self, code: str, now: float) -> str:
        """Exchange a code (once) for a refresh token; raise OAuthError otherwise."""
        with self._lock:
            expires = self._codes.pop(code, None)
        if expires is None or expires <= now:
            raise OAuthError(400, "invalid_grant", "Invalid authorization code " + code[:4] + "…")
        return self.issue_refresh_token()

    def issue_refresh_token(self) -> str:
        """Issue a fresh refresh token (what a completed consent flow leaves behind)."""
        token = "sbx.r." + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh.add(token)
        return token

    def rotate_refresh_token(self, token: str) -> str:
        """Use a refresh token: it dies and its successor is returned."""
        with self._lock:
            if token not in self._refresh:
                raise OAuthError(400, "invalid_request", "Invalid Token!")
            self._refresh.discard(token)
        return self.issue_refresh_token()
