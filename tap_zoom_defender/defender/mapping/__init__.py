"""Mapping profiles: which table each Zoom stream becomes, column by column.

``PROFILES[name][stream]`` is the ``Table`` a stream maps to; streams missing from a profile are
"unknown" and go to ``PASSTHROUGH`` or are rejected, as the ``unknown_streams`` setting says.
"""

from __future__ import annotations

from tap_zoom_defender.defender.mapping import asim, cloudappevents
from tap_zoom_defender.defender.mapping.passthrough import PASSTHROUGH
from tap_zoom_defender.defender.mapping.table import (
    RESERVED_COLUMNS,
    Column,
    MappingContext,
    Table,
)

PROFILES: dict[str, dict[str, Table]] = {
    "asim": asim.TABLES,
    "cloudappevents": cloudappevents.TABLES,
}
DEFAULT_PROFILE = "asim"
ZOOM_STREAMS = ("users", "activities", "operation_logs")


def all_tables() -> dict[str, Table]:
    """Every table any profile (or passthrough) can write, by name (for docs and DCR set-up)."""
    tables: dict[str, Table] = {}
    for profile in PROFILES.values():
        for table in profile.values():
            tables.setdefault(table.name, table)
    tables[PASSTHROUGH.name] = PASSTHROUGH
    return tables


__all__ = [
    "DEFAULT_PROFILE",
    "PASSTHROUGH",
    "PROFILES",
    "RESERVED_COLUMNS",
    "ZOOM_STREAMS",
    "Column",
    "MappingContext",
    "Table",
    "all_tables",
]
