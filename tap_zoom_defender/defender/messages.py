"""Check each Singer message's shape before the SDK acts on it.

The SDK checks that required keys exist but not what they hold: a STATE whose ``value`` is a
string was acknowledged (echoed to stdout) as if it were a bookmark, a RECORD whose ``record`` is
``null`` was silently dropped, one holding an array ended in a TypeError traceback, and an
ACTIVATE_VERSION or BATCH message without its keys in a KeyError. Each of those is now one
:class:`InputError` naming the input line, the key and what it should hold (exit 65), raised
before the message has any effect: rows and STATEs acknowledged before it stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tap_zoom_defender.defender.errors import InputError
from tap_zoom_defender.json_kind import json_kind


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


Check = tuple[str, Callable[[object], bool], str, bool]
"""(key, test, what it must be, required)."""

_SHAPES: dict[str, tuple[Check, ...]] = {
    "RECORD": (
        ("stream", _is_name, "a stream name", True),
        ("record", _is_object, "an object of fields", True),
    ),
    "SCHEMA": (
        ("stream", _is_name, "a stream name", True),
        ("schema", _is_object, "a JSON schema object", True),
        ("key_properties", lambda v: v is None or _is_names(v), "an array of field names", False),
    ),
    "STATE": (("value", _is_object, "an object (the tap's bookmarks)", True),),
    "ACTIVATE_VERSION": (
        ("stream", _is_name, "a stream name", True),
        ("version", _is_version, "a whole number", True),
    ),
    "BATCH": (
        ("stream", _is_name, "a stream name", True),
        ("encoding", _is_object, 'an object like {"format": "jsonl"}', True),
        ("manifest", _is_names, "an array of file URLs", True),
    ),
}


def check_message(message: Mapping[str, Any], line: int) -> None:
    """Raise InputError if a known Singer message type holds a key of the wrong shape."""
    checks = _SHAPES.get(message.get("type"))  # type: ignore[arg-type]
    if checks is None:
        return  # no or unknown type: the SDK (and the reader) report those
    kind = message["type"]
    for key, test, expected, required in checks:
        if key not in message:
            if required:
                raise InputError(
                    f"input line {line}: the {kind} message has no '{key}' ({expected}); check "
                    "what the tap writes to stdout"
                )
            continue
        value = message[key]
        if not test(value):
            raise InputError(
                f"input line {line}: the {kind} message's '{key}' is {json_kind(value)}, not "
                f"{expected}; check what the tap writes to stdout"
            )
    if kind == "SCHEMA" and not _is_object(message["schema"].get("properties")):
        raise InputError(
            f"input line {line}: the SCHEMA of stream '{message['stream']}' has no 'properties' "
            "object; check what the tap writes to stdout"
        )
    if kind == "BATCH" and not _is_name(message["encoding"].get("format")):
        raise InputError(
            f"input line {line}: the BATCH message's encoding has no 'format' (e.g. jsonl); "
            "check what the tap writes to stdout"
        )
