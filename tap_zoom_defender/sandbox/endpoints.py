"""The emulated endpoints: validate a query the way Zoom does, then page through the store."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from tap_zoom_defender import zoom_limits

from .datagen import Account
from .paging import PageTokenError, PageTokens
from .store import RecordStore, utc_date


@dataclass
class Reply:
    """One HTTP response: status, body bytes (JSON unless said otherwise) and extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"


def zoom_error(status: int, code: int, message: str) -> Reply:
    """Build a Zoom-style error: ``{"code": ..., "message": ...}``."""
    return Reply(status, json.dumps({"code": code, "message": message}).encode())


class BadRequest(Exception):
    """A validation failure that becomes HTTP 400 with Zoom's code 300."""


_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$")
_INCLUDABLE = ("custom_attributes", "host_key")
_USER_ID = re.compile(r"^/users/([^/]+)$")

# Report endpoints (path below /v2) -> (stream kind, records key, accepts HH:mm).
REPORTS = {
    "/report/activities": ("activities", "activity_logs", False),
    "/report/operationlogs": ("operation_logs", "operation_logs", True),
}


def endpoint_of(path: str) -> str | None:
    """Map a path below /v2 to its endpoint template (a key of ENDPOINT_CATEGORY)."""
    if path in REPORTS or path == "/users":
        return path
    if _USER_ID.match(path):
        return "/users/{userId}"
    return None


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _page_size(query: dict[str, list[str]]) -> int:
    raw = _one(query, "page_size")
    if raw is None or raw == "":
        return zoom_limits.DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise BadRequest(f"Invalid field: page_size '{raw}' is not a number.") from None
    if size > zoom_limits.MAX_PAGE_SIZE:
        raise BadRequest(
            f"Invalid field: page_size must be less than or equal to {zoom_limits.MAX_PAGE_SIZE}."
        )
    if size < 1:
        raise BadRequest("Invalid field: page_size must be at least 1.")
    return size


def _parse_bound(name: str, raw: str | None, allow_time: bool, is_end: bool) -> tuple[date, float]:
    """(calendar date, epoch bound) of a from/to value; `to` bounds are exclusive ends."""
    if not raw:
        raise BadRequest(f"The '{name}' parameter is required (format yyyy-mm-dd).")
    m = _DATE.match(raw)
    try:
        if m:
            d = date(int(m[1]), int(m[2]), int(m[3]))
            ts = datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()
            return d, ts + (86400 if is_end else 0)
        m = _DATE_TIME.match(raw) if allow_time else None
        if m:
            dt = datetime(
                int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), tzinfo=timezone.utc
            )
            return dt.date(), dt.timestamp() + (60 if is_end else 0)
    except ValueError:
        pass
    fmt = "yyyy-mm-dd or yyyy-MM-dd HH:mm" if allow_time else "yyyy-mm-dd"
    raise BadRequest(f"Invalid field: '{name}' must be a date in the format {fmt}, not '{raw}'.")


def report_range(query: dict[str, list[str]], allow_time: bool, now: float) -> tuple[float, float]:
    """Validate from/to like Zoom: ordered, at most one month, within the last six months."""
    d_from, start = _parse_bound("from", _one(query, "from"), allow_time, False)
    d_to, end = _parse_bound("to", _one(query, "to"), allow_time, True)
    if end <= start or d_to < d_from:
        raise BadRequest("The 'from' date must not be after the 'to' date.")
    if (d_to - d_from).days + 1 > zoom_limits.REPORT_MAX_RANGE_DAYS:
        raise BadRequest(
            "The date range is too long: 'from' and 'to' can be at most one month "
            f"({zoom_limits.REPORT_MAX_RANGE_DAYS} days, both ends included) apart."
        )
    oldest = utc_date(now) - timedelta(days=zoom_limits.REPORT_RETENTION_DAYS)
    if d_from < oldest:
        raise BadRequest(
            "Reports are only available for the last 6 months: "
            f"'from' must be on or after {oldest}."
        )
    return start, end


class Endpoints:
    """Request handlers for the /v2 endpoints of one account."""

    def __init__(self, account: Account, store: RecordStore, tokens: PageTokens) -> None:
        """Serve ``account``'s users and ``store``'s reports with ``tokens`` for paging."""
        self._account = account
        self._store = store
        self._tokens = tokens
        self._by_id = {u["id"]: i for i, u in enumerate(account.users)}
        self._by_email = {u["email"]: i for i, u in enumerate(account.users)}

    def users(self, query: dict[str, list[str]], now: float, short: float | None) -> Reply:
        """GET /users: status filter, page_size, next_page_token (offset-based)."""
        status = _one(query, "status") or "active"
        if status not in zoom_limits.USER_STATUSES:
            raise BadRequest(
                f"Invalid field: status must be one of {', '.join(zoom_limits.USER_STATUSES)}."
            )
        page_size = _page_size(query)
        role_id = _one(query, "role_id") or ""
        include = [f for f in (_one(query, "include_fields") or "").split(",") if f in _INCLUDABLE]
        key = ("/users", status, role_id, tuple(include))
        offset = self._resolve(query, key, now)[0][0] if _one(query, "next_page_token") else 0
        rows = [
            i
            for i, u in enumerate(self._account.users)
            if u["status"] == status and (not role_id or u["role_id"] == role_id)
        ]
        take = max(1, int(page_size * short)) if short else page_size
        page = [self._user_json(i, include) for i in rows[offset : offset + take]]
        nxt = offset + len(page)
        token = self._tokens.issue(key, (nxt,), now, now) if nxt < len(rows) else ""
        head = json.dumps(
            {
                "page_count": math.ceil(len(rows) / page_size),
                "page_number": offset // page_size + 1,
                "page_size": page_size,
                "total_records": len(rows),
                "next_page_token": token,
            }
        ).encode()
        return Reply(200, head[:-1] + b',"users":[' + b",".join(page) + b"]}")

    def _user_json(self, i: int, include: list[str]) -> bytes:
        if not include:
            return self._account.user_json[i]
        extras = self._account.extras[i]
        user = {**self._account.users[i], **{f: extras[f] for f in include}}
        return json.dumps(user, separators=(",", ":")).encode()

    def user(self, user_id: str) -> Reply:
        """GET /users/{userId}: by id or email ("me" is not meaningful for an S2S app)."""
        i = self._by_id.get(user_id, self._by_email.get(user_id))
        if i is None:
            return zoom_error(404, 1001, f"User does not exist: {user_id}.")
        return Reply(200, self._account.user_json[i])

    def report(
        self,
        path: str,
        query: dict[str, list[str]],
        now: float,
        data_now: float,
        short: float | None,
    ) -> Reply:
        """GET /report/activities and /report/operationlogs."""
        kind, records_key, allow_time = REPORTS[path]
        start, end = report_range(query, allow_time, now)
        page_size = _page_size(query)
        category = ""
        if kind == "operation_logs":
            category = _one(query, "category_type") or "all"
            if category not in zoom_limits.OPERATION_LOG_CATEGORIES:
                raise BadRequest(
                    "Invalid field: category_type must be one of "
                    + ", ".join(zoom_limits.OPERATION_LOG_CATEGORIES)
                    + "."
                )
            category = "" if category == "all" else category
        key = (path, start, end, category)
        cursor, snap = None, data_now
        if _one(query, "next_page_token"):
            cursor, snap = self._resolve(query, key, now)
        take = max(1, int(page_size * short)) if short else page_size
        page, nxt = self._store.scan(kind, start, end, snap, category, cursor, take)
        token = self._tokens.issue(key, nxt, snap, now) if nxt is not None else ""
        head = {
            "from": _one(query, "from"),
            "to": _one(query, "to"),
            "page_size": page_size,
            "next_page_token": token,
        }
        if kind == "operation_logs":
            del head["from"], head["to"]
        encoded = json.dumps(head).encode()
        body = encoded[:-1] + b',"' + records_key.encode() + b'":[' + b",".join(page) + b"]}"
        return Reply(200, body)

    def _resolve(self, query: dict[str, list[str]], key: tuple, now: float) -> tuple:
        token = _one(query, "next_page_token") or ""
        try:
            state = self._tokens.resolve(token, key, now)
        except PageTokenError as exc:
            raise BadRequest(str(exc)) from None
        return state.cursor, state.snap
