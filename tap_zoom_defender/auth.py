"""Zoom OAuth: one access token per tap process, shared by every stream (and thread).

Two ways to get it, chosen by the settings:

* **Server-to-Server OAuth** (``account_id`` + ``client_id`` + ``client_secret``): the
  ``account_credentials`` grant with a Basic header. No refresh token; we simply ask again.
* **OAuth app** (``refresh_token`` + ``token_store_path`` + ``client_id`` + ``client_secret``):
  the ``refresh_token`` grant. Zoom returns a NEW refresh token on every refresh and kills the old
  one, so the new one is written to the token store (atomically, owner-only) *before* the access
  token is used. Losing it would lock the pipeline out until an admin consents again.

Tokens are refreshed a margin before they expire (the SDK's check has none), and a request that
Zoom answers with 401 code 124 makes the client call :meth:`ZoomAuthenticator.invalidate` and
retry once. Nothing here ever logs, raises or reprs a secret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from singer_sdk.authenticators import OAuthAuthenticator
from typing_extensions import override

from tap_zoom_defender.errors import (
    AuthError,
    ConfigError,
    MalformedResponseError,
    ZoomUnavailableError,
    register_secret,
)

logger = logging.getLogger(__name__)

MAX_REFRESH_MARGIN_S = 300.0
REFRESH_MARGIN_FRACTION = 0.25
"""Refresh 5 minutes before expiry, or a quarter of the lifetime for short-lived tokens."""

TOKEN_REQUEST_TIMEOUT_S = 30.0
TOKEN_REQUEST_ATTEMPTS = 3
"""Attempts for a token request that fails on the network or with a 5xx; 4xx never retries."""


def _fingerprint(secret: str) -> str:
    """Return a one-way fingerprint of a token, safe to store next to it and to compare."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class StoredToken:
    """What the token store holds: the newest refresh token and where its chain started."""

    refresh_token: str
    seed_sha256: str
    saved_at: str

    def __repr__(self) -> str:
        """Never show the token itself."""
        return f"StoredToken(saved_at={self.saved_at!r})"


class TokenStore:
    """The file that keeps the newest refresh token across runs.

    Written atomically (temp file in the same directory, mode 0600, fsync, ``os.replace``,
    fsync of the directory) so a crash leaves either the old or the new token, never half of one.
    ``seed_sha256`` fingerprints the ``refresh_token`` *setting* the chain started from: when the
    setting still matches it, the store is newer and wins; when an admin pastes a new token into
    the setting (after consenting again), the setting wins.
    """

    def __init__(self, path: Path) -> None:
        """Remember the path; nothing is read or written yet."""
        self.path = path

    def load(self) -> StoredToken | None:
        """Return the stored token, None if there is no store yet; ConfigError if unreadable."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(
                [f"token_store_path={self.path}: cannot read the token store ({exc.strerror})"]
            ) from None
        try:
            data = json.loads(raw)
            stored = StoredToken(
                refresh_token=str(data["refresh_token"]),
                seed_sha256=str(data.get("seed_sha256", "")),
                saved_at=str(data.get("saved_at", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                [
                    f"token_store_path={self.path} is not a token store written by this tap "
                    "(expected JSON with refresh_token): point token_store_path at another file "
                    "or delete it and set refresh_token"
                ]
            ) from None
        register_secret(stored.refresh_token)
        return stored

    def save(self, refresh_token: str, seed_sha256: str) -> None:
        """Atomically replace the store with ``refresh_token`` (owner read/write only)."""
        payload = json.dumps(
            {
                "refresh_token": refresh_token,
                "seed_sha256": seed_sha256,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        ).encode()
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        with contextlib.suppress(OSError):  # not every filesystem can fsync a directory
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def choose_refresh_token(setting: str | None, store: TokenStore) -> tuple[str, str]:
    """Return ``(refresh_token to use, seed fingerprint of its chain)``.

    The store wins when it descends from the current setting (or there is no setting); a setting
    that is neither the store's seed nor its token is a newly consented one and wins.
    """
    stored = store.load()
    if setting:
        register_secret(setting)
        seed = _fingerprint(setting)
        if stored and (stored.seed_sha256 == seed or stored.refresh_token == setting):
            return stored.refresh_token, stored.seed_sha256
        if stored:
            logger.info(
                "refresh_token setting is newer than the token store (%s): using the setting",
                store.path,
            )
        return setting, seed
    if stored:
        return stored.refresh_token, stored.seed_sha256
    raise ConfigError(
        [
            f"token_store_path={store.path} holds no token yet and refresh_token is not set: "
            "set refresh_token to the token from the app's consent flow"
        ]
    )


def api_base_from_token_response(api_url: str) -> str | None:
    """Turn the token response's ``api_url`` (e.g. ``https://api.zoom.us``) into a /v2 base."""
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    path = parts.path.rstrip("/")
    if not path:
        path = "/v2"
    return f"{parts.scheme}://{parts.netloc}{path}"


class ZoomAuthenticator(OAuthAuthenticator):
    """Bearer-token authenticator for both Zoom OAuth modes; thread-safe, never leaks secrets."""

    def __init__(
        self,
        *,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        account_id: str | None = None,
        refresh_token: str | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        """Configure one mode: ``account_id`` for Server-to-Server, else refresh token + store."""
        super().__init__(auth_endpoint=oauth_url, client_id=client_id, client_secret=client_secret)
        register_secret(client_secret)
        self._account_id = account_id
        self._store = token_store
        self._refresh_token: str | None = None
        self._seed = ""
        if account_id is None:
            if token_store is None:
                raise ConfigError(["token_store_path is required with refresh_token"])
            self._refresh_token, self._seed = choose_refresh_token(refresh_token, token_store)
        self._lock = threading.RLock()
        self._expires_at = 0.0  # monotonic
        self._http = requests.Session()
        self.token_api_url: str | None = None
        self.refresh_count = 0

    def __repr__(self) -> str:
        """Say which mode, never which token."""
        return f"ZoomAuthenticator(mode={self.mode!r}, oauth_url={self.auth_endpoint!r})"

    @property
    def mode(self) -> str:
        """``server_to_server`` or ``refresh_token``."""
        return "server_to_server" if self._account_id is not None else "refresh_token"

    # -------------------------------------------------------------------------- SDK hooks

    @override
    def is_token_valid(self) -> bool:
        """Return True while the token has more than the safety margin left."""
        return self.access_token is not None and time.monotonic() < self._expires_at

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Put a fresh bearer token on the request (refreshing first if it is due)."""
        request.headers["Authorization"] = f"Bearer {self.ensure_token()}"
        return request

    @override
    def update_access_token(self) -> None:
        """Fetch a new access token (and, for OAuth apps, persist the rotated refresh token)."""
        with self._lock:
            self._update_access_token()

    @override
    def handle_error(self, *, content: str, status_code: int | None) -> None:
        """Disabled: the SDK version logs the raw response; we raise a clean AuthError."""

    # ---------------------------------------------------------------------------- our API

    def ensure_token(self) -> str:
        """Return a token with more than the margin left, refreshing it once if needed."""
        with self._lock:
            if not self.is_token_valid():
                self._update_access_token()
            assert self.access_token is not None
            return self.access_token

    def invalidate(self, token: str | None) -> None:
        """Zoom rejected ``token`` (401 code 124): drop it so the next request refreshes.

        Only the token that failed is dropped, so several threads that all saw the same 401
        cause one refresh, not one each.
        """
        with self._lock:
            if token is None or token == self.access_token:
                self._expires_at = 0.0

    # ---------------------------------------------------------------------------- internals

    def _update_access_token(self) -> None:
        if self._account_id is not None:
            params: dict[str, str] = {
                "grant_type": "account_credentials",
                "account_id": self._account_id,
            }
            data: dict[str, str] | None = None
        else:
            assert self._refresh_token is not None
            params = {}
            data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        logger.info("Requesting a Zoom access token (%s)", self.mode.replace("_", "-"))
        started = time.monotonic()
        response = self._post(params, data, {"Authorization": f"Basic {basic}"})
        body = self._token_body(response)
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise MalformedResponseError(
                f"the token endpoint (oauth_url={self.auth_endpoint}) answered without an "
                "access_token: check oauth_url"
            )
        register_secret(access_token)
        new_refresh = body.get("refresh_token")
        if self._account_id is None and isinstance(new_refresh, str) and new_refresh:
            register_secret(new_refresh)
            if new_refresh != self._refresh_token:
                self._persist_refresh_token(new_refresh)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(MAX_REFRESH_MARGIN_S, lifetime * REFRESH_MARGIN_FRACTION)
        self.access_token = access_token
        self.expires_in = int(lifetime)
        self.last_refreshed = datetime.now(timezone.utc)
        self._expires_at = started + lifetime - margin
        self.refresh_count += 1
        api_url = body.get("api_url")
        if isinstance(api_url, str) and api_url:
            self.token_api_url = api_base_from_token_response(api_url)

    def _persist_refresh_token(self, new_refresh: str) -> None:
        """Save the rotated token; the old one is already dead, so failure must be loud."""
        assert self._store is not None
        try:
            self._store.save(new_refresh, self._seed)
        except OSError as exc:
            raise ConfigError(
                [
                    f"token_store_path={self._store.path}: cannot save the rotated refresh token "
                    f"({exc.strerror}); the previous token is no longer valid, so make the file "
                    "writable and consent to the app again to get a new refresh_token"
                ]
            ) from None
        self._refresh_token = new_refresh
        logger.info("Saved the rotated refresh token to %s", self._store.path)

    def _post(
        self, params: dict[str, str], data: dict[str, str] | None, headers: dict[str, str]
    ) -> requests.Response:
        """POST to the token endpoint, retrying network errors and 5xx a few times."""
        last_problem = ""
        for attempt in range(TOKEN_REQUEST_ATTEMPTS):
            if attempt:
                time.sleep(0.5 * 2 ** (attempt - 1))
            try:
                response = self._http.post(
                    self.auth_endpoint,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=TOKEN_REQUEST_TIMEOUT_S,
                )
            except requests.RequestException as exc:
                last_problem = type(exc).__name__
                continue
            if response.status_code >= 500:
                last_problem = f"HTTP {response.status_code}"
                continue
            return response
        host = urlsplit(self.auth_endpoint).netloc or self.auth_endpoint
        raise ZoomUnavailableError(
            f"cannot get a Zoom access token from {host} ({last_problem} after "
            f"{TOKEN_REQUEST_ATTEMPTS} attempts): check oauth_url and the network"
        )

    def _token_body(self, response: requests.Response) -> dict[str, Any]:
        """Parse the token response; 4xx becomes an AuthError that says what to fix."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("reason") or body.get("message") or body.get("error") or "")
            raise AuthError(self._rejection_message(response.status_code, reason))
        if not isinstance(body, dict):
            raise MalformedResponseError(
                f"the token endpoint (oauth_url={self.auth_endpoint}) did not answer with JSON "
                f"(HTTP {response.status_code}): check oauth_url"
            )
        return body

    def _rejection_message(self, status: int, reason: str) -> str:
        said = f" (Zoom said: {reason})" if reason else ""
        if self._account_id is not None:
            return (
                f"Zoom rejected the Server-to-Server OAuth credentials with HTTP {status}{said}: "
                "check account_id, client_id and client_secret against the app's App Credentials "
                "page in the Zoom Marketplace, and that the app is activated"
            )
        if "token" in reason.lower():
            return (
                f"Zoom rejected the refresh token with HTTP {status}{said}: it was used before or "
                "revoked; consent to the OAuth app again and put the new token in refresh_token"
            )
        return (
            f"Zoom rejected the OAuth app credentials with HTTP {status}{said}: check client_id "
            "and client_secret against the app's App Credentials page"
        )
