"""Kusto's scalar semantics on Python values: null rules, string operators, conversions.

Values: ``str`` (string; Kusto strings are never null, "Null values": "The string data type
doesn't support null values", so a missing string is ``""``), ``bool``, ``int`` (int/long),
``float`` (real), ``datetime`` (UTC), JSON values for ``dynamic``, and ``None`` for null.

Null rules ("Null values" and "Logical (binary) operators", learn.microsoft.com/kusto/query):

- ``==`` with one null operand is false, with two it is null; ``!=`` with one is true, two null;
- ``<``, ``<=``, ``>``, ``>=`` with a null operand are null (the page's ``val > 3`` example);
- ``and``/``or`` read null as false (``bool(null) and true`` -> false, ``or true`` -> true);
- ``where`` keeps a row only when its predicate is true (null and false drop it);
- ``not(null)``: not stated by Microsoft; null here (so ``where not(x)`` drops the row).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..values import coerce, format_datetime, parse_datetime

NUMERIC = {"int", "long", "real"}


def family(kind: str) -> str:
    """Types that compare with each other share a family (int, long, real -> number)."""
    return "number" if kind in NUMERIC else kind


def kql_and(left: Any, right: Any) -> bool:
    """``and`` with null read as false."""
    return left is True and right is True


def kql_or(left: Any, right: Any) -> bool:
    """``or`` with null read as false."""
    return left is True or right is True


def kql_not(value: Any) -> bool | None:
    """``not()``; null stays null (see the module docstring)."""
    return None if value is None else not value


def equality(op: str, left: Any, right: Any) -> bool | None:
    """``==`` / ``!=`` (case-sensitive on strings)."""
    if left is None or right is None:
        if left is None and right is None:
            return None
        return op == "!="
    return (left == right) == (op == "==")


def ordering(op: str, left: Any, right: Any) -> bool | None:
    """``<``, ``<=``, ``>``, ``>=``; null when an operand is null."""
    if left is None or right is None:
        return None
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def has_term(text: str, term: str) -> bool:
    """``text has term``: ``term`` appears in ``text`` on term boundaries, ignoring case.

    "String operators", What is a term: a string is broken into maximal sequences of
    alphanumeric characters, and ``has`` matches whole terms. A term with punctuation inside
    (``ada@example.com``) is matched as that sequence of terms: each occurrence must start
    and end on a term boundary. An empty term is refused (what Kusto answers is not stated).
    """
    if term == "":
        from .errors import KQLError

        raise KQLError("'has' with an empty term is not evaluated by this emulator")
    haystack, needle = text.lower(), term.lower()
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        before_ok = start == 0 or not (_alnum(haystack[start - 1]) and _alnum(needle[0]))
        after_ok = end == len(haystack) or not (_alnum(haystack[end]) and _alnum(needle[-1]))
        if before_ok and after_ok:
            return True
        start = haystack.find(needle, start + 1)
    return False


def string_operator(op: str, left: str, right: str) -> bool:
    """Apply a string operator ("String operators" table); all of these ignore case.

    ``has``, ``contains``, ``startswith``, ``endswith``, ``=~`` and their negations.
    """
    negated = op.startswith("!")
    name = op.lstrip("!")
    if name == "~":  # !~
        result = left.lower() == right.lower()
    elif name == "=~":
        result = left.lower() == right.lower()
    elif name == "has":
        result = has_term(left, right)
    elif name == "contains":
        result = right.lower() in left.lower()
    elif name == "startswith":
        result = left.lower().startswith(right.lower())
    else:  # endswith
        result = left.lower().endswith(right.lower())
    return not result if negated else result


def flatten(items: Iterable[Any]) -> list[Any]:
    """List the elements of an ``in (...)`` / ``has_any (...)`` list (arrays expanded)."""
    flat: list[Any] = []
    for item in items:
        if isinstance(item, list):
            flat.extend(item)
        elif item is not None:
            flat.append(item)
    return flat


def in_list(op: str, value: Any, items: list[Any]) -> bool:
    """``in`` / ``!in`` (case-sensitive) and ``in~`` / ``!in~`` (case-insensitive).

    A null left operand is in no list ("in operator": true if the value equals an element).
    """
    if value is None:
        found = False
    elif op.endswith("~") and isinstance(value, str):
        lowered = value.lower()
        found = any(isinstance(i, str) and i.lower() == lowered for i in items)
    else:
        found = any(type(i) is type(value) and i == value for i in items) or (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and any(
                isinstance(i, int | float) and not isinstance(i, bool) and i == value for i in items
            )
        )
    return not found if op.startswith("!") else found


def has_any(value: str, items: list[Any]) -> bool:
    """``has_any``: ``has`` for any element; false for an empty list."""
    return any(has_term(value, tostring(item)) for item in items)


def tostring(value: Any) -> str:
    """``tostring()``: null -> ""; datetimes as ISO 8601 with ``Z``; dynamic as JSON text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value)
    return coerce(value, "string")


def todatetime(value: Any) -> datetime | None:
    """``todatetime()``: ISO 8601 text (or a datetime) -> datetime; null otherwise.

    Kusto reads more formats (RFC 822, ...); the emulator reads ISO 8601 only.
    """
    if isinstance(value, datetime):
        return value
    return parse_datetime(value) if isinstance(value, str) else None


def toint(value: Any) -> int | None:
    """``toint()``: the int32 value, or null when it cannot be read (``values.coerce``)."""
    if isinstance(value, datetime):
        return None
    return coerce(value, "int")


_IPV4 = re.compile(r"(?<![A-Za-z0-9.])(\d{1,3}(?:\.\d{1,3}){3})(?![A-Za-z0-9]|\.\d)")
_PREFIX = re.compile(r"^(?:\d{1,3}\.){1,3}$|^\d{1,3}(?:\.\d{1,3}){3}$")


def has_any_ipv4_prefix(text: str, prefixes: list[Any]) -> bool:
    """``has_any_ipv4_prefix(source, prefixes)`` ("has_any_ipv4_prefix()" page).

    A valid prefix is a complete IPv4 address or 1-3 octets ending with a dot; addresses in
    ``source`` must be delimited by non-alphanumeric characters and be valid addresses.
    """
    wanted = [p for p in prefixes if isinstance(p, str) and _PREFIX.match(p)]
    wanted = [p for p in wanted if all(int(o) <= 255 for o in p.rstrip(".").split("."))]
    if not wanted:
        return False
    for match in _IPV4.finditer(text):
        address = match.group(1)
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            continue
        for prefix in wanted:
            if address == prefix or (prefix.endswith(".") and address.startswith(prefix)):
                return True
    return False
