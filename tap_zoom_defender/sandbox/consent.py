"""``/oauth/authorize``: the consent page an admin sees, with Approve and Deny, as Zoom serves it.

GET shows the page for ``client_id``, ``redirect_uri``, ``state``, ``code_challenge`` and
``code_challenge_method``; the buttons POST the same fields back with the decision. Approve
redirects to ``redirect_uri?code=…&state=…`` (a code bound to that redirect URL and PKCE
challenge, valid ``auth_code_ttl`` seconds, usable once); Deny redirects with
``error=access_denied``. Like Zoom, a client id or redirect URL that is not the app's gets an
error page and no redirect at all: the app's listener never hears of it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from .endpoints import Reply

if TYPE_CHECKING:
    from .sandbox import Sandbox

HTML = "text/html;charset=UTF-8"
PKCE_METHODS = ("plain", "S256")


def _page(status: int, title: str, body: str) -> Reply:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Reply(status, text.encode(), content_type=HTML)


def _error_page(message: str) -> Reply:
    """Zoom's own error page: the browser stays at Zoom, nothing reaches the redirect URL."""
    return _page(400, "Zoom: something went wrong", f"<p id='error'>{html.escape(message)}</p>")


def _redirect(redirect_uri: str, params: dict[str, str]) -> Reply:
    joiner = "&" if "?" in redirect_uri else "?"
    location = redirect_uri + joiner + urlencode(params)
    return Reply(302, b"", {"Location": location}, content_type=HTML)


def _problem(sb: Sandbox, params: dict[str, str], method: str) -> str | None:
    """Return the error Zoom's page shows for these parameters (None: they are the app's)."""
    cfg = sb.config
    if method == "GET" and params.get("response_type") != "code":
        return f"Unsupported response_type: {params.get('response_type', '')} (4,700)"
    if params.get("client_id") != cfg.client_id:
        return f"Invalid client_id: {params.get('client_id', '')} (4,702)"
    if params.get("redirect_uri") != cfg.redirect_uri:
        return f"Invalid redirect: {params.get('redirect_uri', '')} (4,700)"
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") not in (
        PKCE_METHODS
    ):
        return f"Invalid code_challenge_method: {params.get('code_challenge_method')} (4,700)"
    return None


def _consent_form(sb: Sandbox, params: dict[str, str]) -> Reply:
    fields = ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(params[name], quote=True)}'>"
        for name in fields
        if name in params
    )
    scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in sb.config.scopes)
    body = (
        f"<p>The app <b id='client'>{html.escape(params['client_id'])}</b> asks to read:</p>"
        f"<ul id='scopes'>{scopes}</ul>"
        "<form method='post' action='/oauth/authorize'>"
        f"{hidden}"
        "<button type='submit' id='approve' name='decision' value='approve'>Approve</button> "
        "<button type='submit' id='deny' name='decision' value='deny'>Deny</button>"
        "</form>"
    )
    return _page(200, "Allow this app to use your Zoom account?", body)


def handle_authorize(sb: Sandbox, method: str, params: dict[str, str]) -> Reply:
    """Answer GET (the page) or POST (the admin's decision) on ``/oauth/authorize``."""
    if method not in ("GET", "POST"):
        return _error_page(f"Method {method} is not allowed (4,700)")
    problem = _problem(sb, params, method)
    if problem is not None:
        return _error_page(problem)
    if method == "GET":
        return _consent_form(sb, params)
    answer: dict[str, str] = {}
    if params.get("decision") == "approve":
        challenge = params.get("code_challenge") or None
        answer["code"] = sb.oauth.issue_code(
            sb.clock.now(),
            redirect_uri=params["redirect_uri"],
            code_challenge=challenge,
            code_challenge_method=params.get("code_challenge_method") or "plain",
        )
    else:
        answer["error"] = "access_denied"
    if params.get("state"):
        answer["state"] = params["state"]
    return _redirect(params["redirect_uri"], answer)
