"""The authorization-code grant with ``state`` and PKCE (S256), as Zoom's OAuth apps use it.

Each step either returns what the next one needs or raises an expected error whose one line
names the fix. The code, the PKCE verifier and the tokens are registered as secrets as soon as
they exist, so even Zoom's own error text (it echoes the code: "Invalid authorization code
<code>") is masked in every message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import requests

from tap_zoom_defender.errors import (
    AuthError,
    ConfigError,
    MalformedResponseError,
    ZoomUnavailableError,
    register_secret,
)

EXCHANGE_TIMEOUT_S = 30.0
CODE_LIFETIME_NOTE = "a code lives 5 minutes and works once"


@dataclass(frozen=True)
class Pkce:
    """RFC 7636 proof key: the verifier stays here, only the S256 challenge goes to Zoom."""

    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        """Make a fresh 86-character verifier (RFC 7636 allows 43 to 128) and its challenge."""
        verifier = secrets.token_urlsafe(64)
        register_secret(verifier)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def new_state() -> str:
    """Return an unguessable ``state``: a redirect that does not carry it back is not ours."""
    return secrets.token_urlsafe(24)


def consent_url(
    authorize_url: str, client_id: str, redirect_uri: str, state: str, pkce: Pkce
) -> str:
    """Build the URL the admin opens: Zoom's consent page with app, redirect, state, PKCE."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": pkce.method,
        }
    )
    return f"{authorize_url}{'&' if '?' in authorize_url else '?'}{query}"


def code_from_redirect(params: dict[str, str], state: str) -> str:
    """Return the code in Zoom's redirect, after checking it answers *this* run's request."""
    if not secrets.compare_digest(params.get("state", "").encode(), state.encode()):
        raise AuthError(
            "the redirect's state does not match this run's: it answers another (older) "
            "authorize attempt or was not started here, so nothing was exchanged; run authorize "
            "again and open only the URL it prints"
        )
    error = params.get("error")
    if error == "access_denied":
        raise AuthError(
            "the Zoom admin denied access on Zoom's consent page: run authorize again and "
            "choose Allow, signed in as an admin of the Zoom account to connect"
        )
    if error:
        said = params.get("error_description") or params.get("reason") or ""
        raise AuthError(
            f"Zoom redirected back with error={error}{f' ({said})' if said else ''} instead of "
            "a code: check the app's settings on the Zoom Marketplace, then run authorize again"
        )
    code = params.get("code", "")
    register_secret(code)
    if not code:
        raise AuthError("Zoom redirected back without a code: run authorize again")
    return code


@dataclass(frozen=True, repr=False)
class Grant:
    """What the exchange returned; ``scopes`` is None when Zoom did not list them."""

    access_token: str
    refresh_token: str
    expires_in: float
    scopes: tuple[str, ...] | None
    api_url: str | None


def exchange_code(
    *,
    oauth_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> Grant:
    """Trade the code for tokens, once (a code cannot be retried: Zoom uses it up)."""
    register_secret(client_secret)
    host = urlsplit(oauth_url).netloc or oauth_url
    try:
        response = requests.post(
            oauth_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
            timeout=EXCHANGE_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        raise ZoomUnavailableError(
            f"cannot reach Zoom's token endpoint at {host} ({type(exc).__name__}) to exchange "
            "the code: check oauth_url and the network, then run authorize again"
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500:
        raise ZoomUnavailableError(
            f"Zoom's token endpoint at {host} failed with HTTP {response.status_code}: run "
            "authorize again later"
        )
    if response.status_code >= 400:
        raise _rejection(response.status_code, body if isinstance(body, dict) else {}, redirect_uri)
    return _grant(body, oauth_url)


def _rejection(status: int, body: dict, redirect_uri: str) -> Exception:
    """Build the one-line error for a refused exchange, from what Zoom said."""
    error = str(body.get("error") or "")
    reason = str(body.get("reason") or body.get("message") or error)
    said = f"HTTP {status}, Zoom said: {reason}" if reason else f"HTTP {status}"
    lowered = reason.lower()
    if status == 401 or error == "invalid_client" or "client" in lowered:
        return AuthError(
            f"Zoom rejected client_id/client_secret at the code exchange ({said}): copy both "
            "from the OAuth app's App Credentials page, then run authorize again"
        )
    if "redirect" in lowered:
        return ConfigError(
            [
                f"Zoom refused the redirect URL {redirect_uri} at the code exchange ({said}): "
                "make it the app's OAuth Redirect URL and add it to its OAuth allow list, "
                "exactly, then run authorize again"
            ]
        )
    if "verifier" in lowered or "challenge" in lowered:
        return AuthError(
            f"Zoom refused the PKCE code_verifier ({said}): the consent URL was changed on the "
            "way; run authorize again and open the URL exactly as printed"
        )
    return AuthError(
        f"Zoom refused the authorization code ({said}): it expired or was already used "
        f"({CODE_LIFETIME_NOTE}); run authorize again and approve within 5 minutes"
    )


def _grant(body: object, oauth_url: str) -> Grant:
    if not isinstance(body, dict):
        raise MalformedResponseError(
            f"the token endpoint (oauth_url={oauth_url}) did not answer with JSON: check oauth_url"
        )
    access, refresh = body.get("access_token"), body.get("refresh_token")
    register_secret(access if isinstance(access, str) else None)
    register_secret(refresh if isinstance(refresh, str) else None)
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise MalformedResponseError(
            f"the token endpoint (oauth_url={oauth_url}) answered without an access_token and "
            "refresh_token: check that oauth_url is Zoom's and the app is an OAuth (General) app"
        )
    try:
        expires_in = float(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    scope = body.get("scope")
    scopes = tuple(scope.replace(",", " ").split()) if isinstance(scope, str) else None
    api_url = body.get("api_url")
    return Grant(access, refresh, expires_in, scopes, api_url if isinstance(api_url, str) else None)
