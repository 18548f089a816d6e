"""Read Zoom's free-text ``operation_detail``: what was acted on, and which values changed.

Zoom's operation log has no structured object or old/new value, only a sentence. Public samples
of real responses show its grammar (see shared/reference/zoom-api.md)::

    Update a Channel TestGroupChannel1  - Cloud Storage Retention: set to  - Name: from
        TestGroup1 to TestGroupChannel1          (one line in Zoom's answer)
    Assign admin for channel TestChannel3  - test@test.com
    Activate User someone@example.com

an operation and its object first, then `` - ``-separated segments: changes written
``Field: from OLD to NEW`` or ``Field: set to NEW`` (values may be empty), or plain details.
The sandbox also writes ``Field: from 'OLD' to 'NEW'`` (quoted values) and ``Field: VALUE``.

Parsing never fails: a sentence that fits none of this yields no object name and no changes,
and the mapping falls back (the sentence itself is always kept in ``AdditionalFields``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

# Verbs Zoom starts a sentence with (its `action` values and the verbs seen in details).
VERBS = frozenset(
    "add update edit change modify delete remove activate deactivate enable disable assign "
    "unassign create recover restore invite transfer reset lock unlock upload download link "
    "unlink set".split()
)
ARTICLES = frozenset({"a", "an", "the"})
# Words naming the kind of object; the name follows the last of them ("a Channel NAME").
KINDS = frozenset(
    "user users channel group role room account contact webinar meeting recording device "
    "site number".split()
)
# A word after a kind that is not a name ("Zoom Room settings", "external contact for X").
NOT_NAMES = frozenset("settings setting details info for of to from in by with on".split())

_SEPARATOR = re.compile(r"(?:^|(?<=\s))-(?=\s|$)")  # " - ", not "Sign-in" or "-5"
# "Field: ..." -- a colon followed by a space or the end, so URLs, IPv6 and times are no fields.
_CHANGE = re.compile(r"^(?P<field>[^:]*[^:\s])\s*:(?:\s+(?P<rest>.*))?$", re.DOTALL)
_FROM_TO = re.compile(r"^from(?:\s+(?P<old>.*?))?\s+to(?:\s+(?P<new>.*))?$", re.DOTALL)
_SET_TO = re.compile(r"^set\s+to(?:\s+(?P<new>.*))?$", re.DOTALL)
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_EMAIL = re.compile(r"[^\s@'\"<>()]+@[^\s@'\"<>()]+\.[^\s@'\"<>()]+")
# "cloud recording of meeting 85746352617", "external contact 123": a bare number names nothing
# on its own, so the object is named by the words up to and including it.
_NUMBERED = re.compile(
    r"^(?P<name>.*?\b(?:" + "|".join(sorted(KINDS)) + r")\s+(?:id\s+)?\d(?:[\d -]*\d)?)\b",
    re.I,
)


@dataclass(frozen=True)
class Change:
    """One ``Field: from OLD to NEW`` / ``Field: set to NEW`` segment.

    ``old`` is None when Zoom did not say (``set to``); ``""`` when it said the value was empty.
    """

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Detail:
    """What one ``operation_detail`` says, as far as its grammar lets us tell."""

    head: str  # the first segment: operation and object, e.g. "Update a Channel X"
    verb: str | None  # its leading verb, lower case ("update"), if it has one
    subject: str  # the head without its verb and article ("a Channel X" -> "Channel X")
    name: str | None  # the object's name, if the head names one ("X")
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()  # segments that are no change (e.g. the admin assigned)


def _unquote(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_change(segment: str, *, bare: bool = True) -> Change | None:
    """``"Name: from A to B"`` -> Change("Name", "A", "B"); None when it is no change.

    ``bare`` also reads ``"Field: VALUE"`` (no ``from``/``set to``) as a new value.
    """
    match = _CHANGE.match(segment.strip())
    if not match:
        return None
    field = match["field"].strip()
    rest = (match["rest"] or "").strip()
    from_to = _FROM_TO.match(rest)
    if from_to:
        return Change(field, _unquote(from_to["old"]) or "", _unquote(from_to["new"]) or "")
    set_to = _SET_TO.match(rest)
    if set_to:
        return Change(field, None, _unquote(set_to["new"]) or "")
    return Change(field, None, _unquote(rest)) if bare else None


def _name(subject: str) -> str | None:
    """Find the object's name in a head's subject (``"User x@y.com"`` -> ``"x@y.com"``)."""
    quoted = _QUOTED.search(subject)
    if quoted:
        return (quoted[1] or quoted[2]).strip() or None
    numbered = _NUMBERED.match(subject)
    if numbered:
        return numbered["name"].strip()
    words = subject.split()
    if words and _EMAIL.fullmatch(words[-1]):
        return words[-1]
    kinds = [i for i, word in enumerate(words) if word.casefold() in KINDS]
    if kinds:
        rest = words[kinds[-1] + 1 :]
        if rest and rest[0].casefold() not in NOT_NAMES and rest[0].casefold() not in KINDS:
            return " ".join(rest)
    return None


def _head(text: str) -> tuple[str | None, str, str | None]:
    """Split a head into (verb, subject, name)."""
    words = text.split()
    verb = words[0].casefold() if words and words[0].casefold() in VERBS else None
    rest = words[1:] if verb else words
    if rest and rest[0].casefold() in ARTICLES:
        rest = rest[1:]
    subject = " ".join(rest)
    return verb, subject, _name(subject)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Detail | None:
    segments = [s.strip() for s in _SEPARATOR.split(text.strip()) if s.strip()]
    if not segments:
        return None
    if parse_change(segments[0], bare=False) is not None:
        head = ""  # the sentence starts with a change: it names no operation or object
    else:
        head, segments = segments[0], segments[1:]
    changes: list[Change] = []
    notes: list[str] = []
    for segment in segments:
        change = parse_change(segment)
        if change is None:
            notes.append(segment)
        else:
            changes.append(change)
    verb, subject, name = _head(head) if head else (None, "", None)
    return Detail(head, verb, subject, name, tuple(changes), tuple(notes))


def parse(value: Any) -> Detail | None:
    """Parse an ``operation_detail`` (None for anything that is not non-blank text)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse(value)


def without_emails(text: str) -> str:
    """Drop e-mail addresses from ``text`` (a user called admin@... names no admin role)."""
    return _EMAIL.sub(" ", text)


def join_values(changes: tuple[Change, ...], which: str) -> str | None:
    """ASIM ``OldValue``/``NewValue`` text: the value itself for one change, else labelled.

    ``which`` is ``"old"`` or ``"new"``. One change gives its bare value (``"Off"``); several give
    ``"Field: value; Field: value"`` over the changes that carry that side (a ``set to`` change
    has no old value); None when none does.
    """
    if len(changes) == 1:
        return getattr(changes[0], which)
    parts = [f"{c.field}: {getattr(c, which)}" for c in changes if getattr(c, which) is not None]
    return "; ".join(parts) or None
