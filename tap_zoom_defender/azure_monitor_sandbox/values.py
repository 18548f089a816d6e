"""Column types and how a JSON value becomes a stored value of a column type.

Types: the DCR stream declaration types ("Structure of a data collection rule (DCR) in Azure
Monitor", Stream declarations / Data types: string, int, long, real, boolean, dynamic, datetime)
and the Log Analytics column types of the table reference pages (bool, datetime, dynamic, guid,
int, long, real, string, timespan). ``az monitor log-analytics workspace table create`` spells
them ``boolean`` and ``dateTime``; all spellings are normalised to the Kusto names here.

Values of the wrong type: Microsoft's Logs Ingestion and DCR pages do not say what happens to a
value that cannot be read as its column's type. The emulator stores null (and counts it), the
way Kusto's conversion functions (toint, todatetime, tobool, ...) answer null for a value they
cannot convert. This is a choice, not a documented rule.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

# Kusto type names, and the other spellings accepted for them.
TYPES = ("string", "int", "long", "real", "bool", "datetime", "dynamic", "guid", "timespan")
_ALIASES = {"boolean": "bool", "double": "real", "decimal": "real", "uuid": "guid"}
# "Structure of a data collection rule (DCR) in Azure Monitor", Stream declarations: data types.
STREAM_TYPES = ("string", "int", "long", "real", "boolean", "dynamic", "datetime")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_FRACTION = re.compile(r"\.(\d+)")
_TIMESPAN = re.compile(r"^-?(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d{1,7})?$")
MISSING = object()


def normalize_type(name: str) -> str | None:
    """Kusto name of a column type (``dateTime`` -> ``datetime``), or None if unknown."""
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    return lowered if lowered in TYPES else None


def coerce(value: Any, kind: str) -> Any:
    """``value`` read as type ``kind``; None when it cannot be (see the module docstring)."""
    if value is None:
        return None
    return _COERCE[kind](value)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _to_integer(value: Any, bounds: tuple[int, int]) -> int | None:
    if isinstance(value, bool):
        number: float | int = int(value)
    elif isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
    else:
        return None
    if isinstance(number, float):
        if not math.isfinite(number):
            return None
        number = int(number)  # Kusto's toint() truncates
    return number if bounds[0] <= number <= bounds[1] else None


def _to_real(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_datetime(value: Any) -> datetime | None:
    """Read an ISO 8601 date-time (``Z``, offsets, space separator, 7 fraction digits) as UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # .NET writes 7 fraction digits; Python 3.10 reads exactly 3 or 6.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, fraction only when there is one (as Log Analytics shows it)."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _to_datetime(value: Any) -> str | None:
    parsed = parse_datetime(value)
    return None if parsed is None else format_datetime(parsed)


def _to_guid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def _to_timespan(value: Any) -> str | None:
    if isinstance(value, str) and _TIMESPAN.match(value.strip()):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(timedelta(seconds=value))
    return None


_COERCE = {
    "string": _to_string,
    "int": lambda v: _to_integer(v, _INT32),
    "long": lambda v: _to_integer(v, _INT64),
    "real": _to_real,
    "bool": _to_bool,
    "datetime": _to_datetime,
    "dynamic": lambda v: v,
    "guid": _to_guid,
    "timespan": _to_timespan,
}


def truncate(value: Any, limit: int) -> tuple[Any, bool]:
    """Cut a value longer than ``limit`` UTF-8 bytes; return it and whether it was cut.

    "Azure Monitor service limits", Logs Ingestion API: "Maximum size for field values: 64 KB.
    Fields longer than 64 KB are truncated." Strings are cut at a character boundary; a dynamic
    value is measured as its JSON text and, when over the limit, stored as that text cut short
    (what a cut JSON document would be: a string, no longer an object). Where exactly Azure cuts
    is not documented.
    """
    if value is None or isinstance(value, bool | int | float):
        return value, False
    if isinstance(value, str) and len(value) * 4 <= limit:  # at most 4 UTF-8 bytes a character
        return value, False
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    data = text.encode("utf-8")
    if len(data) <= limit:
        return value, False
    return data[:limit].decode("utf-8", errors="ignore"), True
