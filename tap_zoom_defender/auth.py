"""Zoom OAuth: one access token per tap process, shared by every stream (and thread).

Two ways to get it, chosen by the settings:

* **Server-to-Server OAuth** (``account_id`` + ``client_id`` + ``client_secret``): the
  ``account_credentials`` grant with a Basic header. No refresh token; we simply ask again.
* **OAuth app** (``refresh_token`` + ``token_store_path`` + ``client_id`` + ``client_secret``):
  the ``refresh_token`` grant. Zoom returns a NEW refresh token on every refresh and kills the old
  one, so the new one is written to the token store (atomically, owner-only) *before* the access
  token is used. Losing it would lock the pipeline out until an admin consents again, so:

  - a refresh, once sent, always completes: a SIGTERM/SIGINT that arrives meanwhile takes effect
    only after the new token is stored (:meth:`GracefulStop.critical`), and the CLI waits for a
    refresh on a worker thread, and lets none start, before it exits
    (:meth:`ZoomAuthenticator.close`);
  - the access token (valid one hour) is kept in the store too, so runs within its lifetime do
    not refresh at all: only a SIGKILL (or power loss) during one of the few refreshes, between
    Zoom's answer and the store's fsync (milliseconds), can still cut the chain. README
    "Errors and exit codes" gives the recovery steps.

Tokens are refreshed a margin before they expire (the SDK's check has none), and a request that
Zoom answers with 401 code 124 makes the client call :meth:`ZoomAuthenticator.invalidate` and
retry once. Nothing here ever logs, raises or reprs a secret.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
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
from tap_zoom_defender.graceful_stop import STOP
from tap_zoom_defender.token_store import TokenStore, choose_refresh_token

logger = logging.getLogger(__name__)

MAX_REFRESH_MARGIN_S = 300.0
REFRESH_MARGIN_FRACTION = 0.25
"""Refresh 5 minutes before expiry, or a quarter of the lifetime for short-lived tokens."""

TOKEN_REQUEST_TIMEOUT_S = 30.0
TOKEN_REQUEST_ATTEMPTS = 3
"""Attempts for a token request that fails on the network or with a 5xx; 4xx never retries."""


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
        self._lock = threading.RLock()
        self._closed = False
        self._expires_at = 0.0  # monotonic
        self._http = requests.Session()
        self.token_api_url: str | None = None
        self.refresh_count = 0
        if account_id is None:
            if token_store is None:
                raise ConfigError(["token_store_path is required with refresh_token"])
            chain = choose_refresh_token(refresh_token, token_store)
            self._refresh_token, self._seed = chain.refresh_token, chain.seed_sha256
            live = chain.live_access_token()
            if live is not None:  # issued by an earlier run and still good: no refresh now
                self.access_token, left = live
                self._expires_at = time.monotonic() + left
                self.token_api_url = chain.api_url

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
            self._refresh()

    @override
    def handle_error(self, *, content: str, status_code: int | None) -> None:
        """Disabled: the SDK version logs the raw response; we raise a clean AuthError."""

    # ---------------------------------------------------------------------------- our API

    def ensure_token(self) -> str:
        """Return a token with more than the margin left, refreshing it once if needed."""
        with self._lock:
            if not self.is_token_valid():
                self._refresh()
            assert self.access_token is not None
            return self.access_token

    def add_response_hook(self, hook: Callable[..., Any]) -> None:
        """Call ``hook(response)`` for every token-endpoint response (e.g. to read its Date)."""
        self._http.hooks["response"].append(hook)

    def close(self) -> None:
        """Wait for a refresh in flight, then refuse new ones (the CLI calls it before exiting).

        A worker thread may be refreshing when the main thread stops (a signal, an error);
        ending the process then would drop Zoom's answer, and with it the only valid refresh
        token. A worker that needs a token after this gets an error instead of starting a
        refresh the exiting process could not finish.
        """
        with self._lock:
            self._closed = True

    def invalidate(self, token: str | None) -> None:
        """Zoom rejected ``token`` (401 code 124): drop it so the next request refreshes.

        Only the token that failed is dropped, so several threads that all saw the same 401
        cause one refresh, not one each.
        """
        with self._lock:
            if token is None or token == self.access_token:
                self._expires_at = 0.0

    # ---------------------------------------------------------------------------- internals

    def _refresh(self) -> None:
        """Refresh under the lock; a stop signal waits until the new tokens are stored."""
        if self._closed:
            raise ZoomUnavailableError("the tap is stopping: no new access token is requested")
        with STOP.critical():
            self._update_access_token()

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
        if isinstance(new_refresh, str):
            register_secret(new_refresh)
        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(MAX_REFRESH_MARGIN_S, lifetime * REFRESH_MARGIN_FRACTION)
        valid_for = lifetime - margin - (time.monotonic() - started)
        api_url = body.get("api_url")
        if isinstance(api_url, str) and api_url:
            self.token_api_url = api_base_from_token_response(api_url)
        if self._account_id is None:
            # First of all, before the token is used: Zoom already killed the previous one.
            self._persist(
                new_refresh if isinstance(new_refresh, str) and new_refresh else None,
                access_token,
                time.time() + valid_for,
            )
        self.access_token = access_token
        self.expires_in = int(lifetime)
        self.last_refreshed = datetime.now(timezone.utc)
        self._expires_at = time.monotonic() + valid_for
        self.refresh_count += 1

    def _persist(self, new_refresh: str | None, access_token: str, refresh_at: float) -> None:
        """Save the rotated refresh token and the new access token.

        The old refresh token is already dead, so failing to save the new one must be loud.
        """
        assert self._store is not None and self._refresh_token is not None
        rotated = new_refresh is not None and new_refresh != self._refresh_token
        refresh_token = new_refresh if rotated else self._refresh_token
        try:
            self._store.save(
                refresh_token,
                self._seed,
                access_token=access_token,
                access_refresh_at=refresh_at,
                api_url=self.token_api_url,
            )
        except OSError as exc:
            if not rotated:
                logger.warning(
                    "token_store_path=%s: cannot save the access token (%s); the refresh token "
                    "there still works",
                    self._store.path,
                    exc.strerror,
                )
                return
            raise ConfigError(
                [
                    f"token_store_path={self._store.path}: cannot save the rotated refresh token "
                    f"({exc.strerror}); the previous token is no longer valid, so make the file "
                    "writable and consent to the app again to get a new refresh_token"
                ]
            ) from None
        self._refresh_token = refresh_token
        if rotated:
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
