"""The table-driven core shared by every profile: typed columns, value coercion, stable keys.

A profile is data, not code paths: each output table is a list of ``Column(name, type, source)``
where ``source`` reads the Zoom record. Coercion to the column's Log Analytics type happens here,
once, so every row a profile emits has exactly the declared columns with values of the declared
types (that is what a Data Collection Rule stream declaration and the tests check).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_zoom_defender.defender.errors import InputError

# Log Analytics column types used by our tables (the subset of string/int/long/real/bool/
# datetime/dynamic/guid that the Microsoft shapes need).
STRING = "string"
INT = "int"
BOOL = "bool"
DATETIME = "datetime"
DYNAMIC = "dynamic"
COLUMN_TYPES = (STRING, INT, BOOL, DATETIME, DYNAMIC)

# Custom tables (``*_CL``) may not declare these; Log Analytics owns them.
RESERVED_COLUMNS = frozenset({"id", "TenantId", "Type", "_ResourceId", "_SubscriptionId"})


@dataclass(frozen=True)
class MappingContext:
    """What a column source may know besides the record itself."""

    stream: str
    # email -> display name learnt from the users stream (this run or an earlier one)
    display_name: Callable[[str | None], str | None] = lambda _email: None
    # When this run started (UTC, ISO-8601): the time of snapshot rows such as users, which
    # carry no event time of their own.
    snapshot_time: str = "1970-01-01T00:00:00Z"


Source = Callable[[Mapping[str, Any], MappingContext], Any]


@dataclass(frozen=True)
class Column:
    """One output column: Log Analytics name and type, and how to read it from a record."""

    name: str
    type: str
    source: Source


@dataclass(frozen=True)
class Table:
    """An output table (ASIM table, IdentityInfo- or CloudAppEvents-shaped custom table)."""

    name: str
    columns: tuple[Column, ...]
    # Logs Ingestion input stream a Data Collection Rule declares for this table (``Custom-``).
    default_stream: str
    # Column that carries the stable key downstream dedupe should use.
    key_column: str
    custom: bool = field(default=True)

    def __post_init__(self) -> None:
        """Refuse a malformed table definition at import time, not at ingestion time."""
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: duplicate column names")
        bad = [c.name for c in self.columns if c.type not in COLUMN_TYPES]
        if bad:
            raise ValueError(f"{self.name}: unknown column types for {bad}")
        if self.custom and RESERVED_COLUMNS.intersection(names):
            raise ValueError(f"{self.name}: reserved column names {RESERVED_COLUMNS & set(names)}")
        if self.key_column not in names:
            raise ValueError(f"{self.name}: key column {self.key_column} is not a column")

    @property
    def output_stream(self) -> str:
        """The DCR data flow's ``outputStream``: the table itself (Custom- or Microsoft-)."""
        return f"{'Custom' if self.custom else 'Microsoft'}-{self.name}"

    def column_types(self) -> dict[str, str]:
        """Column name -> Log Analytics type, e.g. for a DCR ``streamDeclarations`` entry."""
        return {c.name: c.type for c in self.columns}

    def map(self, record: Mapping[str, Any], ctx: MappingContext) -> dict[str, Any]:
        """Build one row: every declared column, each value coerced to its declared type."""
        template, plan = self._plan
        row = template.copy()  # constants already in place, every other column None
        for name, kind, source, origin in plan:
            value = source(record, ctx)
            if value is None:
                continue
            if kind == STRING and value.__class__ is str:  # most columns: nothing to do
                row[name] = value
            else:
                row[name] = coerce(kind, value, column=origin, ctx=ctx)
        return row

    @property
    def _plan(self) -> tuple[dict[str, Any], tuple[tuple[str, str, Source, str], ...]]:
        """``(template, plan)``, worked out once per table (the mapping's hot path).

        ``template`` is a row in column order holding the constant columns' values (a third of
        an ASIM row) and None elsewhere; ``plan`` has ``(name, type, source, origin)`` for the
        other columns, ``origin`` naming the Zoom field when the column copies one (what errors
        must name).
        """
        cached = self.__dict__.get("_plan_cache")
        if cached is None:
            template: dict[str, Any] = {}
            plan = []
            for c in self.columns:
                if hasattr(c.source, "constant"):
                    value = c.source.constant  # type: ignore[attr-defined]
                    ctx = MappingContext(stream=self.name)
                    template[c.name] = coerce(c.type, value, column=c.name, ctx=ctx)
                else:
                    template[c.name] = None
                    plan.append((c.name, c.type, c.source, getattr(c.source, "zoom_field", c.name)))
            cached = (template, tuple(plan))
            object.__setattr__(self, "_plan_cache", cached)
        return cached


def coerce(kind: str, value: Any, *, column: str, ctx: MappingContext) -> Any:
    """Turn a Python value into the JSON form Log Analytics accepts for ``kind`` (or None)."""
    if value is None or (value == "" and kind != STRING):
        return None
    if kind == STRING:
        return value if isinstance(value, str) else json_text(value)
    if kind == DATETIME:
        return iso_utc(value, field=column, stream=ctx.stream)
    if kind == BOOL:
        return bool(value)
    if kind == INT:
        return int(value)
    return json_safe(value)  # DYNAMIC


def parse_time(value: Any, *, field: str, stream: str) -> dt.datetime:
    """Parse a Zoom/Singer date-time (datetime or ISO-8601 text); naive values are UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"stream '{stream}': field '{field}' is {value!r}, not an ISO-8601 date-time; "
                "fix the upstream tap or its stream maps"
            ) from None
    else:
        raise InputError(
            f"stream '{stream}': field '{field}' is {type(value).__name__} "
            f"{json_text(value)[:60]}, not an ISO-8601 date-time; fix the upstream tap or its "
            "stream maps"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def iso_utc(value: Any, *, field: str, stream: str) -> str:
    """Render a date-time the way Zoom does (``2019-09-15T19:13:41Z``), keeping microseconds.

    A row asks for the same value several times (TimeGenerated, EventStartTime, ...): the last
    answer is kept (the mapping runs on the reader thread only).
    """
    last = _LAST_ISO
    if value is last[0]:
        return last[1]
    if value.__class__ is str and len(value) == 20 and value[19] == "Z" and value[10] == "T":
        try:  # already Zoom's own form (the sink leaves valid date-time text as text)
            dt.datetime.fromisoformat(value[:19])
            last[:] = [value, value]
            return value
        except ValueError:
            pass  # parse_time names the field
    p = parse_time(value, field=field, stream=stream)
    # The same text as strftime("%Y-%m-%dT%H:%M:%S[.%f]Z"), at a third of its cost (hot path).
    text = f"{p.year:04d}-{p.month:02d}-{p.day:02d}T{p.hour:02d}:{p.minute:02d}:{p.second:02d}"
    text = f"{text}.{p.microsecond:06d}Z" if p.microsecond else f"{text}Z"
    last[:] = [value, text]
    return text


_LAST_ISO: list[Any] = [object(), ""]


_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Types JSON takes as they are (checked by exact type: the hot path of :func:`json_safe`)."""


def json_safe(value: Any) -> Any:
    """Make a record JSON-serialisable again after the SDK parsed its date-times.

    The Singer SDK turns ``date-time`` strings into ``datetime`` objects before a sink sees them;
    they go back to Zoom's own ``...Z`` form so the kept original record reads as Zoom sent it.
    """
    if value.__class__ in _PLAIN:
        return value
    if value.__class__ is dict:
        if _PLAIN.issuperset(map(type, value.values())):
            return value  # flat JSON values: already serialisable, nothing to copy
        return {
            (k if k.__class__ is str else str(k)): (v if v.__class__ in _PLAIN else json_safe(v))
            for k, v in value.items()
        }
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dt.datetime):
        return iso_utc(value, field="", stream="")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def json_text(value: Any) -> str:
    """Compact JSON text (for non-string values that land in string columns)."""
    return json.dumps(json_safe(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def content_key(stream: str, record: Mapping[str, Any]) -> str:
    """Derive a stable hex key from a record's content, for records that arrive without one.

    The tap sends ``event_id``; this fallback keeps re-sent rows keyed identically when another
    tap (or a stream map) feeds us records without it.
    """
    # Singer metadata (``_sdc_extracted_at``... with add_record_metadata) changes every run.
    content = {k: v for k, v in record.items() if not str(k).startswith("_sdc_")}
    payload = json_text({"stream": stream, "record": content})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- small column-source helpers shared by the profiles -----------------------------------


def const(value: Any) -> Source:
    """Put the same value in every row (written once into the table's row template)."""

    def read(_record: Mapping[str, Any], _ctx: MappingContext) -> Any:
        return value

    read.constant = value  # type: ignore[attr-defined]
    return read


def fld(name: str) -> Source:
    """Copy one Zoom field (None when Zoom left it out)."""

    def read(record: Mapping[str, Any], _ctx: MappingContext) -> Any:
        return record.get(name)

    read.zoom_field = name  # type: ignore[attr-defined]
    return read


def required(name: str) -> Source:
    """Copy a Zoom field the mapping cannot do without (clear error when missing)."""

    def read(record: Mapping[str, Any], ctx: MappingContext) -> Any:
        value = record.get(name)
        if value is None or value == "":
            raise InputError(
                f"stream '{ctx.stream}': a record has no '{name}', which the "
                f"{ctx.stream} mapping needs; fix the upstream tap or its stream maps"
            )
        return value

    read.zoom_field = name  # type: ignore[attr-defined]
    return read


def event_key(record: Mapping[str, Any], ctx: MappingContext) -> str:
    """Return the tap's stable key ``event_id``, or a content hash when there is none."""
    key = record.get("event_id")
    if isinstance(key, str) and key:
        return key
    original = {k: v for k, v in record.items() if k != "event_id"}
    return content_key(ctx.stream, original)


def original(record: Mapping[str, Any], _ctx: MappingContext) -> dict[str, Any]:
    """Keep the whole Zoom record as received (nothing of Zoom's is dropped)."""
    return json_safe(dict(record))


def lookup(table: Mapping[str, str], name: str, default: str | None) -> Source:
    """Translate a field through a small table (case-insensitive), e.g. action -> EventType."""
    folded = {k.casefold(): v for k, v in table.items()}

    def read(record: Mapping[str, Any], _ctx: MappingContext) -> str | None:
        value = record.get(name)
        if not isinstance(value, str):
            return default
        return folded.get(value.strip().casefold(), default)

    return read
