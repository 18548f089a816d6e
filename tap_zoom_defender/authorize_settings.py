"""Settings of ``tap-zoom-defender authorize`` and the checks that run before any browser opens.

``authorize`` reads the same config as a sync (``client_id``, ``client_secret``,
``token_store_path``, ``oauth_url``) plus three settings of its own, declared here and in the
tap's schema so ``--config=ENV``, Meltano and ``--about`` know them. Every problem is found before
the admin is sent to Zoom: a consent wasted on a store that cannot be written would have to be
given again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from singer_sdk import typing as th

from tap_zoom_defender.errors import ConfigError
from tap_zoom_defender.settings import DEFAULT_OAUTH_URL

DEFAULT_REDIRECT_PORT = 8765
DEFAULT_TIMEOUT_S = 300
REDIRECT_HOST = "127.0.0.1"
REDIRECT_PATH = "/oauth/callback"

CONFIG_PROPERTIES = [
    th.Property(
        "authorize_url",
        th.StringType,
        description=(
            "OAuth app: Zoom's consent page, used by `tap-zoom-defender authorize`. Default: "
            "oauth_url with /oauth/token replaced by /oauth/authorize "
            "(https://zoom.us/oauth/authorize)."
        ),
    ),
    th.Property(
        "redirect_port",
        th.IntegerType,
        default=DEFAULT_REDIRECT_PORT,
        description=(
            "OAuth app: port of the loopback redirect URL `authorize` listens on, "
            f"http://{REDIRECT_HOST}:PORT{REDIRECT_PATH}. Register exactly that URL as the "
            "app's OAuth Redirect URL and in its OAuth allow list."
        ),
    ),
    th.Property(
        "authorize_timeout_seconds",
        th.IntegerType,
        default=DEFAULT_TIMEOUT_S,
        description=(
            "OAuth app: how long `authorize` waits for Zoom's redirect after printing the "
            "consent URL before it gives up."
        ),
    ),
]


def redirect_uri(port: int) -> str:
    """Return the loopback redirect URL for ``port`` (what the Zoom app must register)."""
    return f"http://{REDIRECT_HOST}:{port}{REDIRECT_PATH}"


def derive_authorize_url(oauth_url: str) -> str | None:
    """``…/oauth/token`` -> ``…/oauth/authorize`` (Zoom serves both under one host)."""
    parts = urlsplit(oauth_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/token"):
        return None
    return urlunsplit(parts._replace(path=path[: -len("token")] + "authorize", query=""))


@dataclass(frozen=True)
class AuthorizeSettings:
    """What ``authorize`` needs, checked; the secret fields never appear in a repr."""

    client_id: str
    client_secret: str = field(repr=False)
    oauth_url: str
    authorize_url: str
    token_store_path: Path
    redirect_port: int
    timeout_s: float
    refresh_token_setting: str | None = field(repr=False, default=None)

    @property
    def redirect_uri(self) -> str:
        """The URL Zoom sends the admin's browser back to."""
        return redirect_uri(self.redirect_port)


def _url_problem(name: str, value: object) -> str | None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{name}={value!r} is not an http(s) URL"
    return None


def _store_problems(value: object) -> list[str]:
    if not value:
        return [
            "token_store_path is not set: set it to the file where authorize saves the refresh "
            "token and every later run keeps the newest one (owner-only, outside git)"
        ]
    if not isinstance(value, str):
        return ["token_store_path must be a string"]
    path = Path(value).expanduser()
    if path.is_dir():
        return [f"token_store_path={value} is a directory; give a file path"]
    if not path.parent.is_dir():
        return [f"token_store_path={value}: directory {path.parent} does not exist; create it"]
    if not os.access(path.parent, os.W_OK):
        return [f"token_store_path={value}: directory {path.parent} is not writable"]
    return []


def _int_problem(name: str, value: object, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{name}={value!r} must be a whole number from {low} to {high}"
    return None


def read_settings(config: Mapping[str, Any]) -> AuthorizeSettings:
    """Return the checked settings, or raise ConfigError with one sentence per problem."""
    problems: list[str] = []
    if config.get("account_id"):
        problems.append(
            "account_id is set: authorize connects an OAuth app by an admin's consent, and a "
            "Server-to-Server OAuth app needs none; remove account_id to use the OAuth app"
        )
    for name in ("client_id", "client_secret"):
        if not config.get(name) or not isinstance(config.get(name), str):
            problems.append(f"{name} is not set: copy it from the Zoom app's App Credentials page")
    problems += _store_problems(config.get("token_store_path"))
    oauth_url = config.get("oauth_url") or DEFAULT_OAUTH_URL
    authorize_url = config.get("authorize_url")
    url_problem = _url_problem("oauth_url", oauth_url)
    if url_problem:
        problems.append(url_problem)
    elif authorize_url is None:
        authorize_url = derive_authorize_url(oauth_url)
        if authorize_url is None:
            problems.append(
                f"authorize_url is not set and oauth_url={oauth_url} does not end in "
                "/oauth/token to derive it from: set authorize_url to Zoom's consent page"
            )
    if authorize_url is not None:
        problems += filter(None, [_url_problem("authorize_url", authorize_url)])
    port = config.get("redirect_port", DEFAULT_REDIRECT_PORT)
    timeout = config.get("authorize_timeout_seconds", DEFAULT_TIMEOUT_S)
    problems += filter(
        None,
        [
            _int_problem("redirect_port", port, 1, 65535),
            _int_problem("authorize_timeout_seconds", timeout, 1, 24 * 3600),
        ],
    )
    if problems:
        raise ConfigError(problems)
    refresh_token = config.get("refresh_token")
    return AuthorizeSettings(
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        oauth_url=oauth_url,
        authorize_url=str(authorize_url),
        token_store_path=Path(config["token_store_path"]).expanduser(),
        redirect_port=port,
        timeout_s=float(timeout),
        refresh_token_setting=refresh_token if isinstance(refresh_token, str) else None,
    )
