"""The ``transformKql`` forms the emulator evaluates, and a clear refusal of every other one.

A transformation is a KQL statement applied to each incoming record, ``source`` being the input
stream ("Transformations in Azure Monitor"; "Supported KQL features in Azure Monitor
transformations" lists the operators Azure allows). This emulator evaluates only:

- ``source`` (passes the input on unchanged; "Logs Ingestion API in Azure Monitor", DCR section),
- ``| project-away Col1, Col2`` (drops those columns; every one must exist, as in Kusto),
- ``| extend Col = OtherCol`` or ``| extend Col = <constant>`` (string, number, true/false),
  several assignments per extend allowed,

in any sequence after ``source``. Anything else (``where``, ``project``, functions, arithmetic,
wildcards, ...) is refused when the DCR is loaded, naming the operator: guessing what Azure
would make of it would defeat the point of an emulator that checks the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class TransformError(ValueError):
    """A ``transformKql`` this emulator does not evaluate, or one Kusto itself would reject."""


SUPPORTED = (
    "supported forms: 'source', '| project-away Col1, Col2' and "
    "'| extend Col = OtherCol | \"constant\" | 123 | true'"
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<quoted>\[\s*(?:"[^"]*"|'[^']*')\s*\])
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[|,=()*])
  | (?P<other>.)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Column:
    """A reference to a column of the current row."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A literal and its Kusto type."""

    value: Any
    kind: str


@dataclass(frozen=True)
class ProjectAway:
    """``| project-away A, B``."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class Extend:
    """``| extend A = B, C = "x"``."""

    assignments: tuple[tuple[str, Column | Constant], ...]


@dataclass(frozen=True)
class Transform:
    """A parsed transformation: ``source`` followed by ``steps``."""

    text: str
    steps: tuple[ProjectAway | Extend, ...]

    def output_columns(self, columns: dict[str, str]) -> dict[str, str]:
        """Column name -> type after the transformation; raises TransformError like Kusto."""
        current = dict(columns)
        for step in self.steps:
            if isinstance(step, ProjectAway):
                for name in step.columns:
                    if name not in current:
                        raise TransformError(
                            f"project-away: column {name!r} does not exist in the input "
                            f"(columns: {', '.join(current) or 'none'})"
                        )
                    del current[name]
            else:
                for name, expr in step.assignments:
                    if isinstance(expr, Column):
                        if expr.name not in current:
                            raise TransformError(
                                f"extend {name} = {expr.name}: column {expr.name!r} does not "
                                "exist at that point of the transformation"
                            )
                        current[name] = current[expr.name]
                    else:
                        current[name] = expr.kind
        return current

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        """Evaluate the transformation on one record (columns already read per their type)."""
        current = dict(row)
        for step in self.steps:
            if isinstance(step, ProjectAway):
                for name in step.columns:
                    current.pop(name, None)
            else:
                updates = {
                    name: current.get(expr.name) if isinstance(expr, Column) else expr.value
                    for name, expr in step.assignments
                }
                current.update(updates)
        return current


def parse_transform(text: str | None) -> Transform:
    """Parse ``transformKql`` (absent means ``source``); refuse what is not evaluated here."""
    if text is None:
        return Transform("source", ())
    tokens = _tokens(text)
    if not tokens or tokens[0] != ("ident", "source"):
        first = tokens[0][1] if tokens else "nothing"
        raise TransformError(
            f"a transformation must start with the input table 'source', not {first!r} "
            f"({SUPPORTED})"
        )
    steps: list[ProjectAway | Extend] = []
    index = 1
    while index < len(tokens):
        if tokens[index] != ("punct", "|"):
            raise TransformError(
                f"expected '|' after {tokens[index - 1][1]!r}, got "
                f"{tokens[index][1]!r} ({SUPPORTED})"
            )
        index += 1
        if index >= len(tokens):
            raise TransformError("the transformation ends with '|'")
        kind, word = tokens[index]
        end = _next_pipe(tokens, index)
        if (kind, word) == ("ident", "project-away"):
            steps.append(ProjectAway(_column_list(tokens[index + 1 : end], word)))
        elif (kind, word) == ("ident", "extend"):
            steps.append(Extend(_assignments(tokens[index + 1 : end])))
        else:
            raise TransformError(
                f"operator {word!r} is not evaluated by this emulator ({SUPPORTED})"
            )
        index = end
    return Transform(text, tuple(steps))


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind != "space":  # anything else is refused where it appears, with its context
            tokens.append((kind, match.group()))
    return tokens


def _next_pipe(tokens: list[tuple[str, str]], start: int) -> int:
    for index in range(start, len(tokens)):
        if tokens[index] == ("punct", "|"):
            return index
    return len(tokens)


def _column_name(token: tuple[str, str], context: str) -> str:
    kind, text = token
    if kind == "quoted":
        return text.strip("[] \t")[1:-1]
    if kind == "ident" and "-" not in text:
        return text
    raise TransformError(f"{context}: expected a column name, got {text!r} ({SUPPORTED})")


def _column_list(tokens: list[tuple[str, str]], operator: str) -> tuple[str, ...]:
    if not tokens:
        raise TransformError(f"{operator} needs at least one column")
    names = []
    for position, token in enumerate(tokens):
        if position % 2:
            if token != ("punct", ","):
                raise TransformError(
                    f"{operator}: expected ',' between columns, got "
                    f"{token[1]!r} (wildcards and expressions are not "
                    f"evaluated; {SUPPORTED})"
                )
        else:
            names.append(_column_name(token, operator))
    if len(tokens) % 2 == 0:
        raise TransformError(f"{operator}: the column list ends with ','")
    return tuple(names)


def _assignments(tokens: list[tuple[str, str]]) -> tuple[tuple[str, Column | Constant], ...]:
    if not tokens:
        raise TransformError("extend needs at least one 'Column = value'")
    groups: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token == ("punct", ","):
            groups.append([])
        else:
            groups[-1].append(token)
    result = []
    for group in groups:
        text = " ".join(t[1] for t in group)
        if len(group) != 3 or group[1] != ("punct", "="):
            raise TransformError(
                f"extend {text!r}: only 'Column = OtherColumn' or 'Column = constant' is "
                f"evaluated ({SUPPORTED})"
            )
        name = _column_name(group[0], "extend")
        result.append((name, _value(group[2], text)))
    return tuple(result)


def _value(token: tuple[str, str], context: str) -> Column | Constant:
    kind, text = token
    if kind == "string":
        body = text[1:-1]
        return Constant(
            re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body), "string"
        )
    if kind == "number":
        if re.fullmatch(r"-?\d+", text):
            return Constant(int(text), "long")  # Kusto: an integer literal is a long
        return Constant(float(text), "real")
    if kind == "ident" and text in ("true", "false"):
        return Constant(text == "true", "bool")
    if kind in ("ident", "quoted"):
        return Column(_column_name(token, f"extend {context!r}"))
    raise TransformError(f"extend {context!r}: {text!r} is not a column or constant ({SUPPORTED})")
