"""ZoomStream: the REST base every stream builds on (paging, errors, retries, pacing).

Each request goes through three layers, innermost first:

1. the SDK's ``_request`` (auth header, send, :meth:`ZoomStream.validate_response`);
2. :meth:`ZoomStream._governed`: ``governor.acquire`` before every attempt; a 429 waits the
   delay ``governor.on_429`` returns (Retry-After honoured there) and retries, bounded; a 401 with
   code 124 drops the token and retries once with a fresh one;
3. the SDK's backoff decorator for 5xx, malformed bodies and network errors, after which the
   last failure is turned into one clear error (:mod:`tap_zoom_defender.errors`).

Paging (:meth:`ZoomStream.iter_pages`) follows ``next_page_token``; a token that comes back a
second time in one listing (A, A or A, B, A) would page forever, and ends the listing with
:class:`PageTokenLoopError` before it is sent again.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.errors import (
    AuthError,
    MalformedResponseError,
    ZoomAPIError,
    ZoomTapError,
    ZoomUnavailableError,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

    from tap_zoom_defender.auth import ZoomAuthenticator
    from tap_zoom_defender.governor import RateGovernor

MAX_429_RETRIES = 8
"""A request answered 429 more often than this in a row fails: something else owns the account."""

REQUEST_TIMEOUT_S = 60
TOKEN_INVALID_CODE = 124
SCOPE_ERROR_CODES = frozenset({4700, 4701, 4711, 4733})
PAGE_TOKEN_MESSAGE = "next page token"  # noqa: S105 - text of Zoom's error, not a secret


class RateLimitedError(Exception):
    """HTTP 429 (handled by the governed loop, never by the SDK's generic backoff)."""

    def __init__(self, response: requests.Response) -> None:
        """Keep the response: the governor reads its headers."""
        super().__init__("HTTP 429")
        self.response = response


class TokenRejectedError(Exception):
    """HTTP 401 code 124: the access token is invalid or expired; refresh once and retry."""

    def __init__(self, token: str | None, message: str) -> None:
        """Keep which token failed (never shown) and Zoom's message (shown)."""
        super().__init__(message)
        self.token = token


class PageTokenExpiredError(ZoomAPIError):
    """Zoom no longer accepts the ``next_page_token`` (15-minute lifetime): restart the listing."""


class PageTokenLoopError(ZoomAPIError):
    """Zoom's ``next_page_token`` repeated an earlier one of the same listing: it would never end.

    Raised before the repeated token is sent, so a loop (A, A or A, B, A) costs one request per
    distinct token and no more.
    """


class _RepeatedTokenError(Exception):
    """The paginator saw a token again; :meth:`ZoomStream.iter_pages` names the listing."""

    def __init__(self, page: int, first: int) -> None:
        super().__init__(f"page {page} returned the same next_page_token as page {first}")
        self.page = page
        self.first = first


class _MalformedBodyError(RetriableAPIError):
    """A 2xx body that is not JSON: retried like a 5xx (proxies and cut connections do this)."""


def response_body(response: requests.Response) -> Any:
    """Return the response's JSON, parsed once.

    Validation, the paginator and the record parser all need the body; ``Response.json()``
    parses it again on every call, which tripled the CPU spent on JSON for a 300-record page.
    """
    cached = response.__dict__.get("_zoom_body", _MISSING)
    if cached is _MISSING:
        cached = response.json()
        response.__dict__["_zoom_body"] = cached
    return cached


_MISSING = object()


class ZoomPaginator(BaseAPIPaginator[str | None]):
    """Zoom's cursor: ``next_page_token`` from the (already parsed) body; empty means done.

    Every token of the listing is remembered with the page that returned it: a token handed out
    a second time means the pages go round in a circle, and is refused before it is sent.
    """

    def __init__(self) -> None:
        """Start without a token (the first page)."""
        super().__init__(None)
        self._returned_by: dict[str, int] = {}

    @override
    def get_next(self, response: requests.Response) -> str | None:
        """Return the next page token, or None after the last page.

        A short or even empty page with a token is not the end: Zoom's Heavy reports send those.
        """
        body = response_body(response)
        token = body.get("next_page_token") if isinstance(body, dict) else None
        if not token:
            return None
        page = self.count  # the page whose response this is (1 = the first)
        first = self._returned_by.setdefault(str(token), page)
        if first != page:
            raise _RepeatedTokenError(page, first)
        return token


class _HideExpectedErrors(logging.Filter):
    """Drop generic error lines that only announce an error we report ourselves.

    The SDK's "An unhandled error occurred" (when the error is one of ours) and backoff's
    "Giving up ..." (always followed by our error naming the tries): the CLI prints the problem
    as one clear line, and a second generic line would only make the user read two for one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record except those two announcements."""
        message = str(record.msg)
        if message.startswith("Giving up "):
            return False
        if message.startswith("An unhandled error occurred while syncing"):
            return not isinstance(sys.exc_info()[1], ZoomTapError)
        return True


class ZoomStream(RESTStream):
    """Base class of the Zoom streams: shared token, shared governor, Zoom's paging and errors."""

    next_page_token_jsonpath = "$.next_page_token"  # noqa: S105 - a JSONPath, not a secret
    #: Scopes the endpoint needs: (classic, granular). Named in the missing-scope error.
    required_scopes: ClassVar[tuple[str, str]] = ("", "")
    #: The list field holding this endpoint's records (``users``, ``activity_logs``...).
    records_field: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set up the stream and hide the SDK's duplicate error line for our errors."""
        super().__init__(*args, **kwargs)
        self.logger.addFilter(_HideExpectedErrors())
        self._sessions = threading.local()

    @property
    @override
    def requests_session(self) -> requests.Session:
        """Return this thread's session (``requests.Session`` is not thread-safe).

        Concurrent listings (see :mod:`tap_zoom_defender.prefetch`) page on their own threads.
        Every answer's ``Date`` header updates Zoom's clock (:mod:`tap_zoom_defender.zoom_clock`).
        """
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = requests.Session()
            session.hooks["response"].append(self._tap.zoom_clock.observe)  # type: ignore[attr-defined]
            self._sessions.session = session
        return session

    def close_thread_session(self) -> None:
        """Close this thread's session (a worker calls it before it ends)."""
        session = getattr(self._sessions, "session", None)
        if session is not None:
            session.close()
            self._sessions.session = None

    # --------------------------------------------------------------------- shared objects

    @property
    @override
    def url_base(self) -> str:
        """API base URL (the setting, or the one Zoom's token response names)."""
        return self._tap.api_base_url  # type: ignore[attr-defined]

    @property
    @override
    def authenticator(self) -> ZoomAuthenticator:
        """The tap's single authenticator, so every stream shares one token."""
        return self._tap.authenticator  # type: ignore[attr-defined]

    @property
    def governor(self) -> RateGovernor:
        """The tap's single rate governor (one per process, shared by all streams)."""
        return self._tap.governor  # type: ignore[attr-defined]

    @property
    def rate_category(self) -> str:
        """Zoom's rate-limit category of this endpoint (Light/Medium/Heavy/...)."""
        return zoom_limits.ENDPOINT_CATEGORY[self.path]

    @property
    @override
    def timeout(self) -> int:
        """Seconds to wait for a response; long enough for Zoom's slow Heavy reports."""
        return REQUEST_TIMEOUT_S

    # -------------------------------------------------------------------------- requests

    @override
    def get_new_paginator(self) -> ZoomPaginator:
        """Zoom's ``next_page_token`` cursor, read from the body parsed once."""
        return ZoomPaginator()

    def iter_pages(self, params: dict[str, Any]) -> Iterator[list[dict]]:
        """Yield the records of one listing page by page (the unit the prefetcher hands on).

        The SDK's ``request_records`` loop, minus its per-record generator layering: the same
        governed, retrying request, the same paginator and request counter.
        """
        paginator = self.get_new_paginator()
        decorated_request = self.request_decorator(self._request)
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(params)
            while not paginator.finished:
                prepared = self._prepare_request(context=params, page=paginator)
                response = decorated_request(prepared, params)
                request_counter.increment()
                yield self.parse_page(response)
                try:
                    paginator.advance(response)
                except _RepeatedTokenError as exc:
                    raise PageTokenLoopError(
                        f"Zoom's paging of {self.describe_listing(params)} goes round in a "
                        f"circle: {exc}, so the listing would never end; stopped there, after "
                        f"{exc.page} pages. This is a fault of Zoom (or of a proxy at api_url): "
                        "run again later, and report it to Zoom if it persists"
                    ) from None

    def restarts_exhausted(
        self,
        params: dict[str, Any],
        last: PageTokenExpiredError,
        *,
        expiries: int,
        requests: int,
        furthest: int,
    ) -> PageTokenExpiredError:
        """Return the error ending a listing whose page tokens kept expiring (which, how far, why).

        Every restart replays the listing from page 1, so fewer pages per listing (larger pages,
        one-day windows) leave fewer tokens to expire; the advice names what is not yet so.
        """
        fewer = []
        page_size = int(self.config.get("page_size") or zoom_limits.MAX_PAGE_SIZE)
        if page_size < zoom_limits.MAX_PAGE_SIZE:
            fewer.append(f"page_size {zoom_limits.MAX_PAGE_SIZE} (now {page_size})")
        window_days = int(self.config.get("window_days") or 1)
        if "from" in params and window_days > 1:
            fewer.append(f"window_days 1 (now {window_days})")
        advice = (
            f"Fewer pages per listing leave fewer tokens to expire: set {' and '.join(fewer)}. "
            if fewer
            else ""
        )
        return PageTokenExpiredError(
            f"Zoom expired the next_page_token of {self.describe_listing(params)} {expiries} "
            f"times; restarting from page 1, {requests} requests got no further than page "
            f"{furthest} (Zoom said: {last}). Run again: the saved state keeps every record "
            f"emitted so far and a report stream resumes at this window. {advice}Zoom's page "
            "tokens live 15 minutes: if this recurs, look in the log for long HTTP 429 waits or "
            "slow responses",
            status=last.status,
            code=last.code,
        )

    def describe_listing(self, params: dict[str, Any]) -> str:
        """Name one listing in an error: ``GET /report/activities from=... to=...``."""
        query = " ".join(f"{k}={v}" for k, v in params.items() if k != "include_fields")
        return f"GET {self.path} {query}".rstrip()

    @override
    def request_records(self, context: Context | None) -> Iterable[dict]:
        """Every record of one listing (``context`` holds the query), one page at a time."""
        for page in self.iter_pages(dict(context or {})):
            yield from page

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        """Zoom paging: ``page_size`` always, ``next_page_token`` after the first page.

        The stream context carries the endpoint's filters (``from``/``to``, ``status``...).
        """
        request = super().get_http_request(page=page)
        request.params["page_size"] = self.config.get("page_size", zoom_limits.MAX_PAGE_SIZE)
        request.params.update(page.stream_context or {})
        if page.next_page_token:
            request.params["next_page_token"] = page.next_page_token
        return request

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Turn Zoom's answers into our error classes; tell the governor about every response."""
        status = response.status_code
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise RateLimitedError(response)
        self.governor.on_response(self.rate_category, response)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(f"HTTP {status}", response)
        if status >= HTTPStatus.BAD_REQUEST:
            self._raise_client_error(response)
        try:
            response_body(response)
        except ValueError:
            raise _MalformedBodyError("body is not JSON", response) from None

    @override
    def request_decorator(self, func: Callable) -> Callable:
        """Wrap the SDK's retrying request in our governed loop and clean error conversion."""
        retrying = super().request_decorator(self._governed(func))

        def request(prepared: requests.PreparedRequest, context: Context | None) -> Any:
            try:
                return retrying(prepared, context)
            except _MalformedBodyError as exc:
                response = exc.response
                kind = response.headers.get("Content-Type", "?") if response is not None else "?"
                raise MalformedResponseError(
                    f"Zoom answered GET {self.path} with a body that is not valid JSON "
                    f"(Content-Type {kind}) {self.backoff_max_tries()} times: check api_url"
                ) from None
            except RetriableAPIError as exc:
                status = exc.response.status_code if exc.response is not None else "?"
                raise ZoomUnavailableError(
                    f"Zoom kept failing GET {self.path} (HTTP {status} after "
                    f"{self.backoff_max_tries()} tries): try again later"
                ) from None
            except requests.RequestException as exc:
                host = urlsplit(self.url_base).netloc
                raise ZoomUnavailableError(
                    f"cannot reach the Zoom API at {host} ({type(exc).__name__} after "
                    f"{self.backoff_max_tries()} tries): check api_url and the network"
                ) from None

        return request

    def _governed(self, func: Callable) -> Callable:
        """Pace every attempt, wait out 429s as told, and survive one token expiry."""

        def send(prepared: requests.PreparedRequest, context: Context | None) -> Any:
            refreshed = False
            throttled = 0
            while True:
                self.governor.acquire(self.rate_category)
                try:
                    return func(prepared, context)
                except RateLimitedError as exc:
                    throttled += 1
                    if throttled > MAX_429_RETRIES:
                        raise ZoomUnavailableError(
                            f"Zoom answered GET {self.path} with HTTP 429 {throttled} times in a "
                            "row: other apps are using this account's rate limit; lower "
                            "rate_limit_share or run later"
                        ) from None
                    time.sleep(self.governor.on_429(self.rate_category, exc.response))
                except TokenRejectedError as exc:
                    if refreshed:
                        raise AuthError(
                            f"Zoom rejected a freshly issued access token on GET {self.path} "
                            f"(code {TOKEN_INVALID_CODE}: {exc}): check that the app is activated "
                            "and the credentials belong to this account"
                        ) from None
                    refreshed = True
                    self.logger.info("Access token rejected (%s); refreshing it once", exc)
                    self.authenticator.invalidate(exc.token)

        return send

    def _raise_client_error(self, response: requests.Response) -> None:
        code, message = zoom_error(response)
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED and code == TOKEN_INVALID_CODE:
            sent = response.request.headers.get("Authorization", "") if response.request else ""
            raise TokenRejectedError(sent.removeprefix("Bearer ") or None, message)
        if code in SCOPE_ERROR_CODES or "scope" in message.lower():
            classic, granular = self.required_scopes
            raise AuthError(
                f"the Zoom app lacks the scope for stream {self.name} (GET {self.path}): add "
                f"{classic} (classic) or {granular} (granular) on the app's Scopes page in the "
                f"Zoom Marketplace (Zoom said: code {code}, {message})"
            )
        if PAGE_TOKEN_MESSAGE in message.lower():
            raise PageTokenExpiredError(message, status=status, code=code)
        if status == HTTPStatus.UNAUTHORIZED:
            raise AuthError(
                f"Zoom refused GET {self.path} with HTTP 401 (code {code}: {message}): check the "
                "app's credentials and that it is activated"
            )
        raise ZoomAPIError(
            f"Zoom rejected GET {self.path} with HTTP {status} (code {code}: {message})",
            status=status,
            code=code,
        )

    # ------------------------------------------------------------------------- responses

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        """Yield the records of one page; a wrong shape is a clear error, not a KeyError."""
        yield from self.parse_page(response)

    def parse_page(self, response: requests.Response) -> list[dict]:
        """Return the records of one page; a wrong shape is a clear error, not a KeyError."""
        body = response_body(response)
        records = body.get(self.records_field) if isinstance(body, dict) else None
        if records is None and isinstance(body, dict):
            records = []  # Zoom omits the list on empty pages
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise MalformedResponseError(
                f"Zoom answered GET {self.path} without a list of records in "
                f"'{self.records_field}': check api_url"
            )
        return records

    # ---------------------------------------------------------------------------- retries

    @override
    def backoff_wait_generator(self) -> Any:
        """0.5, 1, 2, 4 s (+ jitter): enough for a blip, short enough to fail fast when down."""
        return backoff.expo(base=2, factor=0.5, max_value=30)

    @override
    def backoff_handler(self, details: Any) -> None:
        """Log each retry as a warning (it is not an error unless the retries run out)."""
        exc = details.get("exception")
        response = getattr(exc, "response", None)
        what = f"HTTP {response.status_code}" if response is not None else type(exc).__name__
        self.logger.warning(
            "GET %s failed (%s); retry %d in %.1f s",
            self.path,
            what,
            details.get("tries", 0),
            details.get("wait", 0.0),
        )


def zoom_error(response: requests.Response) -> tuple[int | None, str]:
    """Zoom's ``{"code", "message"}`` error body, tolerating anything else (never the token)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message") or body.get("reason") or body.get("error") or ""
        return (code if isinstance(code, int) else None), str(message)[:300]
    text = response.text.strip().replace("\n", " ")
    return None, (text[:200] or response.reason or "no message")


__all__ = [
    "PageTokenExpiredError",
    "PageTokenLoopError",
    "ZoomPaginator",
    "ZoomStream",
    "response_body",
    "zoom_error",
]
