"""``tap-zoom-defender authorize``: connect a Zoom OAuth app with one admin click.

Microsoft's guide connects Zoom with "Connect Zoom", a redirect to Zoom and "Allow". This command
is that click for the tap's OAuth-app mode, replacing a hand-built authorize URL, a ``?code=``
copied within 5 minutes and a ``curl`` exchange:

1. check the settings (the sync's too), bind ``http://127.0.0.1:PORT/oauth/callback``, print
   Zoom's consent URL (``state`` + PKCE S256) and open it where there is a desktop browser;
2. take Zoom's redirect, check ``state``, exchange the code once (Basic auth, ``redirect_uri``,
   ``code_verifier``) and store the refresh token atomically, owner-only, in the token store the
   sync reads;
3. send one request per stream's endpoint with the new token and print, per stream, the scopes
   it needs (classic or granular), whether the consent granted them and what Zoom answered;
   "Connected" only when every stream is readable.

Every expected failure is one line naming the fix and an exit code (see docs/oauth-app.md); the
client secret, code, verifier and tokens are never printed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from singer_sdk.plugin_base import _ConfigInput

from tap_zoom_defender.auth import (
    MAX_REFRESH_MARGIN_S,
    REFRESH_MARGIN_FRACTION,
    api_base_from_token_response,
)
from tap_zoom_defender.authorize_settings import REDIRECT_PATH, AuthorizeSettings, read_settings
from tap_zoom_defender.errors import EXIT_QUOTA, AuthError, ConfigError, ZoomTapError
from tap_zoom_defender.graceful_stop import STOP, StopRequested
from tap_zoom_defender.loopback import RedirectListener
from tap_zoom_defender.oauth_consent import (
    Grant,
    Pkce,
    code_from_redirect,
    consent_url,
    exchange_code,
    new_state,
)
from tap_zoom_defender.token_store import TokenStore, setting_fingerprint

if TYPE_CHECKING:
    from tap_zoom_defender.tap import TapZoom

COMMAND = "authorize"
PENDING_TOKEN = "consent-pending"  # noqa: S105 - not a secret: stands in for the token the consent is about to give


class ConsentTimeout(ZoomTapError):
    """No redirect came back in time: nothing was exchanged or stored; run again."""

    exit_code = EXIT_QUOTA  # 75, EX_TEMPFAIL (also a quota stop's): nothing done, try again


class ConsentStopped(ZoomTapError):
    """SIGINT/SIGTERM while authorize waited; exit ``128 + signal`` like a stopped sync."""

    def __init__(self, signum: int, *, stored: bool) -> None:
        """Say what the stop left behind."""
        self.exit_code = 128 + signum
        left = (
            "the new refresh token was stored first; run the tap, or authorize again to verify"
            if stored
            else "nothing was exchanged or stored; run authorize again"
        )
        super().__init__(f"Stopped by {signal.Signals(signum).name}: {left}")


@dataclass(frozen=True)
class StreamCheck:
    """One stream's verdict: the scopes it needs, whether the consent listed them, the probe."""

    name: str
    path: str
    classic: str
    granular: str
    listed: bool | None  # None: Zoom's token response listed no scopes
    error: ZoomTapError | None

    @property
    def scope_missing(self) -> bool:
        """Zoom refused the endpoint for a missing scope."""
        return isinstance(self.error, AuthError) and "lacks the scope" in str(self.error)


def command_spec(tap_class: type[TapZoom]) -> dict[str, Any]:
    """Return the click command's parts; ``tap.py`` wraps them in its one-line-error command."""

    def callback(config: _ConfigInput | None = None, no_browser: bool = False) -> None:
        run(tap_class, config or _ConfigInput(), open_browser=not no_browser)

    return {
        "name": COMMAND,
        "callback": callback,
        "help": (
            "Connect a Zoom OAuth app: print Zoom's consent URL (and open it in the browser), "
            "wait for the admin's Allow on http://127.0.0.1:PORT/oauth/callback, store the "
            "refresh token in token_store_path and check every stream's scope. Reads the same "
            "--config as a sync. See docs/oauth-app.md."
        ),
        "context_settings": {"help_option_names": ["--help"]},
        "params": [
            click.Option(
                ["--config"],
                multiple=True,
                type=click.STRING,
                default=(),
                is_eager=True,
                callback=tap_class.cb_config,
                help="Configuration file location or 'ENV' to use environment variables.",
            ),
            click.Option(
                ["--no-browser"],
                is_flag=True,
                help="Only print the consent URL; open it yourself in a browser that reaches "
                "this machine's 127.0.0.1:PORT (e.g. through ssh -L PORT:127.0.0.1:PORT).",
            ),
        ],
    }


def run(tap_class: type[TapZoom], config: _ConfigInput, *, open_browser: bool) -> None:
    """Run the whole flow; raise a ZoomTapError (one line, exit code) on any expected failure."""
    raw = dict(config.config)
    if config.parse_env:  # --config=ENV (Meltano's command passes the settings this way)
        raw.update(tap_class._env_var_config)

    def make_tap(extra: dict[str, Any], *, validate: bool = True) -> TapZoom:
        # From the raw settings each time, as a sync reads them: a tap's .config has the
        # schema's defaults filled in, and a default api_url would pass as an explicit one.
        return tap_class(config={**raw, **extra}, validate_config=validate)

    merged = make_tap({}, validate=False).config
    settings = read_settings(merged)
    # The sync's own settings too, now rather than after the consent: only "the store does not
    # exist yet" must not count, so a placeholder stands in for the token about to be issued.
    make_tap({} if raw.get("refresh_token") else {"refresh_token": PENDING_TOKEN})
    pkce, state = Pkce.new(), new_state()
    with _listen(settings) as listener:
        url = consent_url(
            settings.authorize_url, settings.client_id, settings.redirect_uri, state, pkce
        )
        _say(
            "To connect Zoom, open this URL in a browser where an admin of the Zoom account is "
            f"signed in, and allow the app:\n\n    {url}\n"
        )
        if open_browser and _open_browser(url):
            _say("(Opening it in your browser.)")
        _say(
            f"Waiting up to {settings.timeout_s:g} s for Zoom to send the browser back to "
            f"{settings.redirect_uri} ..."
        )
        params = _wait(listener, settings)
        try:
            grant = _exchange_and_store(settings, params, state, pkce)
            checks = _verify(make_tap({}), grant)
            _report(checks, grant)
            _conclude(checks, settings)
        except ZoomTapError as exc:
            listener.answer(False, str(exc))
            raise
        listener.answer(True, "The tap can now read users, sign-in activity and operation logs.")
    _say(
        "Connected: every stream's scope is granted and its endpoint answered. Syncs now run "
        f"unattended on the token in {settings.token_store_path}."
    )


def _say(text: str) -> None:
    """Talk to the admin on stdout (errors go to the log, on stderr)."""
    print(text, flush=True)


def _listen(settings: AuthorizeSettings) -> RedirectListener:
    try:
        return RedirectListener(settings.redirect_port, REDIRECT_PATH)
    except OSError as exc:
        port = settings.redirect_port
        raise ConfigError(
            [
                f"redirect_port={port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
                "stop the program using it (an earlier authorize?), or set redirect_port to a "
                f"free port and register http://127.0.0.1:PORT{REDIRECT_PATH} with it as the "
                "app's OAuth Redirect URL"
            ]
        ) from None


def _open_browser(url: str) -> bool:
    """Open the consent page in a desktop browser; False where there is no desktop.

    Without a display, :mod:`webbrowser` would start a text browser (lynx, w3m) in this
    terminal, which cannot sign in to Zoom: the printed URL is the way there. The call runs on
    a thread because some browsers' launchers wait until the browser exits.
    """
    on_unix_desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform not in ("darwin", "win32") and not on_unix_desktop:
        return False
    threading.Thread(target=webbrowser.open, args=(url,), name="browser", daemon=True).start()
    return True


def _wait(listener: RedirectListener, settings: AuthorizeSettings) -> dict[str, str]:
    try:
        with STOP.interruptible():
            params = listener.wait(settings.timeout_s)
    except StopRequested as exc:
        raise ConsentStopped(exc.signum, stored=False) from None
    if params is None:
        raise ConsentTimeout(
            f"no redirect from Zoom within {settings.timeout_s:g} s (authorize_timeout_seconds): "
            "if the browser shows Zoom's 'Invalid redirect' error, register "
            f"{settings.redirect_uri} as the app's OAuth Redirect URL and in its allow list (or "
            "set redirect_port to the port registered there); otherwise run authorize again "
            "and allow the app in time"
        )
    return params


def _exchange_and_store(
    settings: AuthorizeSettings, params: dict[str, str], state: str, pkce: Pkce
) -> Grant:
    """Check the redirect, trade the code once and store the refresh token before anything else.

    Once the exchange is sent Zoom has used the code up, so a stop signal waits until the
    token is stored (like a refresh in the sync).
    """
    code = code_from_redirect(params, state)
    _say("Zoom sent the browser back with a code; exchanging it for tokens (once).")
    with STOP.critical():
        grant = exchange_code(
            oauth_url=settings.oauth_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            code=code,
            redirect_uri=settings.redirect_uri,
            verifier=pkce.verifier,
        )
        _store(settings, grant)
    if STOP.signum is not None:
        raise ConsentStopped(STOP.signum, stored=True)
    return grant


def _store(settings: AuthorizeSettings, grant: Grant) -> None:
    margin = min(MAX_REFRESH_MARGIN_S, grant.expires_in * REFRESH_MARGIN_FRACTION)
    path = settings.token_store_path
    try:
        TokenStore(path).save(
            grant.refresh_token,
            setting_fingerprint(settings.refresh_token_setting),
            access_token=grant.access_token,
            access_refresh_at=time.time() + grant.expires_in - margin,
            api_url=api_base_from_token_response(grant.api_url) if grant.api_url else None,
        )
    except OSError as exc:
        raise ConfigError(
            [
                f"token_store_path={path}: cannot write the token store ({exc.strerror}); the "
                "consent's refresh token is lost, so make the directory writable and run "
                "authorize again"
            ]
        ) from None
    _say(f"Saved the refresh token to {path} (owner-only).")
    if settings.refresh_token_setting:
        _say("The token store now wins over the refresh_token setting; you may remove that.")


def _verify(tap: TapZoom, grant: Grant) -> list[StreamCheck]:
    """One request per stream's endpoint, as the sync will send it, with the stored token.

    ``tap`` is made after the store was written, so its authenticator starts from the stored
    access token: the check refreshes (and so rotates) nothing.
    """
    checks = []
    try:
        for stream in tap.streams.values():
            classic, granular = stream.required_scopes  # type: ignore[attr-defined]
            listed = None
            if grant.scopes is not None:
                listed = classic in grant.scopes or granular in grant.scopes
            error = None
            try:
                stream.probe()  # type: ignore[attr-defined]
            except StopRequested as exc:  # a signal during a paced wait
                raise ConsentStopped(exc.signum, stored=True) from None
            except ZoomTapError as exc:
                error = exc
            path = stream.path  # type: ignore[attr-defined]
            checks.append(StreamCheck(stream.name, path, classic, granular, listed, error))
    finally:
        tap.wait_for_token_refresh()
    return checks


def _report(checks: list[StreamCheck], grant: Grant) -> None:
    scopes = " ".join(sorted(grant.scopes)) if grant.scopes is not None else "(not listed)"
    _say(f"Scopes granted by the consent: {scopes}")
    _say(f"  {'stream':<15} {'needs (classic or granular)':<58} {'scope':<8} request")
    for check in checks:
        needs = f"{check.classic} or {check.granular}"
        scope = "-" if check.listed is None else "granted" if check.listed else "MISSING"
        if check.error is None:
            answer = "OK"
        elif check.scope_missing:
            answer = "refused, scope missing"
        else:
            answer = f"failed ({type(check.error).__name__})"
        _say(f"  {check.name:<15} {needs:<58} {scope:<8} GET {check.path}: {answer}")


def _conclude(checks: list[StreamCheck], settings: AuthorizeSettings) -> None:
    """Raise the one error that says what is still missing, if anything is."""
    missing = [check for check in checks if check.scope_missing]
    if missing:
        needs = "; ".join(
            f"{c.name} needs {c.classic} (classic) or {c.granular} (granular)" for c in missing
        )
        raise AuthError(
            f"the consent lacks scopes: {needs}. Add them on the app's Scopes page in the Zoom "
            "Marketplace, then run authorize again (Zoom grants added scopes only with a new "
            f"consent); the token saved in {settings.token_store_path} reads the other streams"
        )
    for check in checks:
        if check.error is not None:
            raise check.error
