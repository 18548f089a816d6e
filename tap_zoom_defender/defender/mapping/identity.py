"""Zoom ``users`` -> ``ZoomIdentityInfo_CL``: an IdentityInfo-shaped snapshot of accounts.

Used by every profile. Zoom has no "updated since" filter, so each run is a full snapshot: all
rows of one run share the run's start time as ``TimeGenerated``/``Timestamp`` (as IdentityInfo
snapshots do), and ``ReportId`` is a hash of the user's content, so an unchanged user re-sent by a
re-run carries the same key. IdentityInfo's ``Type`` and ``TenantId`` are left out: both names
are reserved in custom tables. ``AccountObjectId`` is left out too: in IdentityInfo it is the
Entra ID object id, which Zoom does not know; the Zoom user id is ``AdditionalFields.ZoomUserId``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_zoom_defender.defender.mapping.table import (
    BOOL,
    DATETIME,
    DYNAMIC,
    STRING,
    Column,
    MappingContext,
    Table,
    const,
    content_key,
    fld,
    original,
    required,
)
from tap_zoom_defender.defender.mapping.zoom import email_domain, email_local

TABLE_NAME = "ZoomIdentityInfo_CL"

# Zoom's numeric user `type` (list-users API) -> its documented meaning.
USER_TYPE_NAMES = {1: "Basic", 2: "Licensed", 4: "Unassigned without Meetings Basic", 99: "None"}


def _snapshot(_record: Mapping[str, Any], ctx: MappingContext) -> str:
    return ctx.snapshot_time


def _report_id(record: Mapping[str, Any], ctx: MappingContext) -> str:
    return content_key(ctx.stream, original(record, ctx))


def display_name(record: Mapping[str, Any]) -> str | None:
    """Zoom's ``display_name``, else "first last"; None when Zoom gave neither."""
    name = record.get("display_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [record.get("first_name"), record.get("last_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _display_name(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
    return display_name(record)


def _enabled(record: Mapping[str, Any], _ctx: MappingContext) -> bool | None:
    """Only ``active`` users can sign in; ``inactive`` and ``pending`` (invited) cannot."""
    status = record.get("status")
    return None if not isinstance(status, str) else status.casefold() == "active"


def _created(record: Mapping[str, Any], _ctx: MappingContext) -> Any:
    return record.get("user_created_at") or record.get("created_at")


def _additional(record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
    user_type = record.get("type")
    return {
        "ZoomUserId": record.get("id"),
        "ZoomRoleId": record.get("role_id"),
        "ZoomRoleName": record.get("role_name"),
        "ZoomUserType": user_type,
        "ZoomUserTypeName": USER_TYPE_NAMES.get(user_type) if isinstance(user_type, int) else None,
        "ZoomStatus": record.get("status"),
        "LastLoginTime": record.get("last_login_time"),
        "LastClientVersion": record.get("last_client_version"),
        "ZoomRecord": original(record, ctx),
    }


USERS = Table(
    name=TABLE_NAME,
    default_stream=f"Custom-{TABLE_NAME}",
    key_column="ReportId",
    columns=(
        Column("TimeGenerated", DATETIME, _snapshot),
        Column("Timestamp", DATETIME, _snapshot),
        Column("ReportId", STRING, _report_id),
        Column("AccountUpn", STRING, required("email")),
        Column("EmailAddress", STRING, fld("email")),
        Column("AccountName", STRING, lambda r, _c: email_local(r.get("email"))),
        Column("AccountDomain", STRING, lambda r, _c: email_domain(r.get("email"))),
        Column("AccountDisplayName", STRING, _display_name),
        Column("GivenName", STRING, fld("first_name")),
        Column("Surname", STRING, fld("last_name")),
        Column("Department", STRING, fld("dept")),
        Column("JobTitle", STRING, fld("job_title")),
        Column("Manager", STRING, fld("manager")),
        Column("IsAccountEnabled", BOOL, _enabled),
        Column("CreatedDateTime", DATETIME, _created),
        Column("SourceProviders", DYNAMIC, const(["Zoom"])),
        Column("AdditionalFields", DYNAMIC, _additional),
    ),
)
