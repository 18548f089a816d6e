"""Streams no profile knows (``unknown_streams: passthrough``) -> ``ZoomPassthrough_CL``.

One custom table for all of them, so Azure needs one extra table and DCR stream rather than one
per stream: the row says which stream it came from, keeps the record whole in ``RawData``, and is
keyed by a hash of its content (a re-sent record gets the same ``SourceRecordId``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tap_zoom_defender.defender.mapping.table import (
    DATETIME,
    DYNAMIC,
    STRING,
    Column,
    MappingContext,
    Table,
    content_key,
    iso_utc,
    original,
)

TABLE_NAME = "ZoomPassthrough_CL"

# The first of these fields a record has is its event time; otherwise the run's start time.
TIME_FIELDS = ("time", "timestamp", "event_time", "created_at", "updated_at")


def _time(record: Mapping[str, Any], ctx: MappingContext) -> Any:
    for name in TIME_FIELDS:
        if record.get(name):  # parsed here, so an error names this field, not TimeGenerated
            return iso_utc(record[name], field=name, stream=ctx.stream)
    return ctx.snapshot_time


def _key(record: Mapping[str, Any], ctx: MappingContext) -> str:
    return content_key(ctx.stream, original(record, ctx))


PASSTHROUGH = Table(
    name=TABLE_NAME,
    default_stream=f"Custom-{TABLE_NAME}",
    key_column="SourceRecordId",
    columns=(
        Column("TimeGenerated", DATETIME, _time),
        Column("SourceStream", STRING, lambda _r, ctx: ctx.stream),
        Column("SourceRecordId", STRING, _key),
        Column("RawData", DYNAMIC, original),
    ),
)
