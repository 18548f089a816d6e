"""Facts of Zoom's API contract that both the tap and the sandbox need, kept in one place.

Only *facts* live here (what Zoom allows), never behaviour (what a correct client does), so that
the sandbox stays an independent check of the tap. Source: Zoom's rate-limit documentation,
summarised in ``shared/reference/zoom-api.md``.
"""

from __future__ import annotations

from typing import Final

LIGHT: Final = "Light"
MEDIUM: Final = "Medium"
HEAVY: Final = "Heavy"
RESOURCE_INTENSIVE: Final = "Resource-intensive"
CATEGORIES: Final = (LIGHT, MEDIUM, HEAVY, RESOURCE_INTENSIVE)

PLANS: Final = ("free", "pro", "business", "business_plus", "enterprise")

# Requests per second per category (Resource-intensive is per minute on Zoom; expressed per
# second here so every budget has one unit).
_PRO_AND_UP_BUSINESS: Final = {LIGHT: 80.0, MEDIUM: 60.0, HEAVY: 40.0, RESOURCE_INTENSIVE: 20 / 60}
RATE_LIMITS_PER_SECOND: Final[dict[str, dict[str, float]]] = {
    "free": {LIGHT: 4.0, MEDIUM: 2.0, HEAVY: 1.0, RESOURCE_INTENSIVE: 10 / 60},
    "pro": {LIGHT: 30.0, MEDIUM: 20.0, HEAVY: 10.0, RESOURCE_INTENSIVE: 10 / 60},
    "business": dict(_PRO_AND_UP_BUSINESS),
    "business_plus": dict(_PRO_AND_UP_BUSINESS),
    "enterprise": dict(_PRO_AND_UP_BUSINESS),
}

# Daily quotas. On Pro and above, Heavy and Resource-intensive share ONE daily quota; on Free
# each category has its own. Quotas reset at 00:00 UTC.
SHARED_DAILY_CATEGORIES: Final = (HEAVY, RESOURCE_INTENSIVE)
DAILY_QUOTA: Final[dict[str, dict[str, int]]] = {
    "free": {LIGHT: 6_000, MEDIUM: 2_000, HEAVY: 1_000, RESOURCE_INTENSIVE: 30_000},
    "pro": {HEAVY: 30_000},
    "business": {HEAVY: 60_000},
    "business_plus": {HEAVY: 60_000},
    "enterprise": {HEAVY: 60_000},
}

# Endpoint (path below /v2) -> rate-limit category.
ENDPOINT_CATEGORY: Final[dict[str, str]] = {
    "/users": MEDIUM,
    "/users/{userId}": LIGHT,
    "/report/activities": HEAVY,
    "/report/operationlogs": HEAVY,
    "/report/meeting_activities": HEAVY,
}

MAX_PAGE_SIZE: Final = 300
DEFAULT_PAGE_SIZE: Final = 30
REPORT_MAX_RANGE_DAYS: Final = 31  # "one month at most"
REPORT_RETENTION_DAYS: Final = 183  # "within the last six months"
PAGE_TOKEN_TTL_SECONDS: Final = 15 * 60
ACCESS_TOKEN_TTL_SECONDS: Final = 3600

USER_STATUSES: Final = ("active", "inactive", "pending")
OPERATION_LOG_CATEGORIES: Final = (
    "all",
    "user",
    "user_settings",
    "account",
    "billing",
    "im",
    "recording",
    "phone_contacts",
    "webinar",
    "sub_account",
    "role",
    "zoom_rooms",
)
