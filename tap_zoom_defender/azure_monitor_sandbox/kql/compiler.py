"""Scalar expression -> (Kusto type, callable on a row), checked once per operator.

Kusto resolves names and types when it analyses a query, before reading any row; so does this
compiler: an unknown column or a comparison of a string with a datetime fails even on an empty
table (:class:`KQLSemanticError`), and a function or operator outside the subset is refused
(:class:`KQLError`). Supported functions (each as its learn.microsoft.com/kusto/query page
describes it): isnull, isnotnull, isempty, isnotempty, not, array_length, coalesce, iff/iif,
tostring, todatetime, toint, strcat, has_any_ipv4_prefix, column_ifexists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import scalars as s
from .lexer import Source
from .syntax import Binary, Call, Expr, ListOp, Literal, Name

Row = dict[str, Any]


@dataclass(frozen=True)
class Compiled:
    """A checked expression: its Kusto type and how to compute it for a row."""

    type: str
    fn: Callable[[Row], Any]


class Names(Protocol):
    """What a compiler needs from the statement scope (parameters and scalar lets)."""

    def scalar(self, name: str) -> tuple[str, Any] | None:
        """Type and value of a scalar bound to ``name``, or None."""

    def is_tabular(self, name: str) -> bool:
        """Say whether ``name`` is a table or a tabular function."""


def _const(kind: str, value: Any) -> Compiled:
    return Compiled(kind, lambda row: value)


class Compiler:
    """Compiles expressions of one source against one row schema (None: no row)."""

    def __init__(self, source: Source, schema: dict[str, str] | None, names: Names) -> None:
        """Compile for rows of ``schema`` (column -> type); None: no row (scalar context)."""
        self.source = source
        self.schema = schema
        self.names = names

    def compile(self, expr: Expr) -> Compiled:
        """Check ``expr`` and return its type and evaluator."""
        if isinstance(expr, Literal):
            return _const(expr.type, expr.value)
        if isinstance(expr, Name):
            return self._name(expr)
        if isinstance(expr, Binary):
            return self._binary(expr)
        if isinstance(expr, ListOp):
            return self._list(expr)
        return self._call(expr)

    def _semantic(self, message: str, pos: int) -> Exception:
        return self.source.error(message, pos, semantic=True)

    def _name(self, expr: Name) -> Compiled:
        column = self.schema.get(expr.name) if self.schema is not None else None
        bound = self.names.scalar(expr.name)
        if column is not None and bound is not None:
            raise self.source.error(
                f"{expr.name!r} is both a column and a parameter or let; which one Kusto "
                "picks is not evaluated by this emulator",
                expr.pos,
            )
        if column is not None:
            name = expr.name
            return Compiled(column, lambda row: row.get(name))
        if bound is not None:
            return _const(*bound)
        if self.names.is_tabular(expr.name):
            raise self._semantic(f"{expr.name!r} is tabular, not a scalar expression", expr.pos)
        raise self._semantic(f"Failed to resolve scalar expression named {expr.name!r}", expr.pos)

    def _binary(self, expr: Binary) -> Compiled:
        left, right = self.compile(expr.left), self.compile(expr.right)
        lf, rf, op = left.fn, right.fn, expr.op
        if op in ("and", "or"):
            for side in (left, right):
                if side.type != "bool":
                    raise self._semantic(f"'{op}' needs bool operands, not {side.type}", expr.pos)
            combine = s.kql_and if op == "and" else s.kql_or
            return Compiled("bool", lambda row: combine(lf(row), rf(row)))
        if "dynamic" in (left.type, right.type):
            raise self.source.error(f"'{op}' on a dynamic value is not supported", expr.pos)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if s.family(left.type) != s.family(right.type):
                raise self._semantic(
                    f"Cannot compare values of types {left.type} and {right.type} with '{op}'",
                    expr.pos,
                )
            if op in ("==", "!="):
                return Compiled("bool", lambda row: s.equality(op, lf(row), rf(row)))
            if s.family(left.type) not in ("number", "datetime"):
                raise self.source.error(f"'{op}' on {left.type} values is not supported", expr.pos)
            return Compiled("bool", lambda row: s.ordering(op, lf(row), rf(row)))
        if left.type != "string" or right.type != "string":
            raise self.source.error(
                f"'{op}' on {left.type} and {right.type} values is not supported (strings only)",
                expr.pos,
            )
        return Compiled("bool", lambda row: s.string_operator(op, lf(row), rf(row)))

    def _list(self, expr: ListOp) -> Compiled:
        left = self.compile(expr.left)
        items = [self.compile(item) for item in expr.items]
        if expr.op in ("in~", "!in~", "has_any") and left.type != "string":
            raise self.source.error(
                f"'{expr.op}' on a {left.type} value is not supported", expr.pos
            )
        for item, node in zip(items, expr.items, strict=True):
            if item.type != "dynamic" and s.family(item.type) != s.family(left.type):
                raise self._semantic(
                    f"'{expr.op}': element of type {item.type} for a {left.type} value", node.pos
                )
        lf, fns, op = left.fn, [item.fn for item in items], expr.op
        if op == "has_any":
            return Compiled("bool", lambda row: s.has_any(lf(row), s.flatten(f(row) for f in fns)))
        return Compiled("bool", lambda row: s.in_list(op, lf(row), s.flatten(f(row) for f in fns)))

    def _call(self, expr: Call) -> Compiled:
        name = expr.name
        if name == "column_ifexists":
            return self._column_ifexists(expr)
        rule = _FUNCTIONS.get(name)
        if rule is None:
            if self.names.is_tabular(name):
                raise self.source.error(
                    f"calling the tabular function {name!r} in a scalar expression is not "
                    "supported",
                    expr.pos,
                )
            raise self.source.error(f"function {name}() is not supported", expr.pos)
        low, high, check = rule
        if not low <= len(expr.args) <= high:
            raise self._semantic(
                f"{name}() takes {low}{'' if low == high else f'..{high}'} arguments, "
                f"got {len(expr.args)}",
                expr.pos,
            )
        args = [self.compile(arg) for arg in expr.args]
        problem, result = check(args)
        if problem:
            raise self._semantic(f"{name}(): {problem}", expr.pos)
        fns = [arg.fn for arg in args]
        apply = _APPLY[name]
        return Compiled(result, lambda row: apply([f(row) for f in fns]))

    def _column_ifexists(self, expr: Call) -> Compiled:
        if len(expr.args) != 2 or not (
            isinstance(expr.args[0], Literal) and expr.args[0].type == "string"
        ):
            raise self._semantic(
                "column_ifexists() takes a column name (a string literal) and a default", expr.pos
            )
        column = expr.args[0].value
        if self.schema is not None and column in self.schema:
            return Compiled(self.schema[column], lambda row: row.get(column))
        return self.compile(expr.args[1])


def _any(kind: str) -> Callable[[list[Compiled]], tuple[str, str]]:
    return lambda args: ("", kind)


def _same(args: list[Compiled], start: int = 0) -> tuple[str, str]:
    kinds = [a.type for a in args[start:]]
    if len({s.family(k) for k in kinds}) > 1:
        return f"arguments must have the same type, not {', '.join(kinds)}", ""
    return "", kinds[0]


def _iff(args: list[Compiled]) -> tuple[str, str]:
    if args[0].type != "bool":
        return f"the condition must be bool, not {args[0].type}", ""
    return _same(args, 1)


def _typed(*allowed: str, result: str) -> Callable[[list[Compiled]], tuple[str, str]]:
    def check(args: list[Compiled]) -> tuple[str, str]:
        for arg in args:
            if arg.type not in allowed:
                return f"an argument of type {arg.type} (expected {' or '.join(allowed)})", ""
        return "", result

    return check


def _ipv4(args: list[Compiled]) -> tuple[str, str]:
    if args[0].type != "string" or any(a.type not in ("string", "dynamic") for a in args[1:]):
        return "takes a string and prefixes (strings or a dynamic array)", ""
    return "", "bool"


def _first_set(values: list[Any]) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return values[0] if values and isinstance(values[0], str) else None


_FUNCTIONS: dict[str, tuple[int, int, Callable[[list[Compiled]], tuple[str, str]]]] = {
    "isnull": (1, 1, _any("bool")),
    "isnotnull": (1, 1, _any("bool")),
    "isempty": (1, 1, _any("bool")),
    "isnotempty": (1, 1, _any("bool")),
    "not": (1, 1, _typed("bool", result="bool")),
    "array_length": (1, 1, _typed("dynamic", result="long")),
    "coalesce": (2, 64, _same),
    "iff": (3, 3, _iff),
    "iif": (3, 3, _iff),
    "tostring": (1, 1, _any("string")),
    "todatetime": (1, 1, _typed("string", "datetime", "dynamic", result="datetime")),
    "toint": (1, 1, _typed("string", "int", "long", "real", "bool", "dynamic", result="int")),
    "strcat": (1, 64, _any("string")),
    "has_any_ipv4_prefix": (2, 64, _ipv4),
}
_APPLY: dict[str, Callable[[list[Any]], Any]] = {
    "isnull": lambda v: v[0] is None,
    "isnotnull": lambda v: v[0] is not None,
    "isempty": lambda v: v[0] is None or v[0] == "",
    "isnotempty": lambda v: not (v[0] is None or v[0] == ""),
    "not": lambda v: s.kql_not(v[0]),
    "array_length": lambda v: len(v[0]) if isinstance(v[0], list) else None,
    "coalesce": _first_set,
    "iff": lambda v: v[1] if v[0] is True else v[2],
    "iif": lambda v: v[1] if v[0] is True else v[2],
    "tostring": lambda v: s.tostring(v[0]),
    "todatetime": lambda v: s.todatetime(v[0]),
    "toint": lambda v: s.toint(v[0]),
    "strcat": lambda v: "".join(s.tostring(x) for x in v),
    "has_any_ipv4_prefix": lambda v: s.has_any_ipv4_prefix(v[0], s.flatten(v[1:])),
}
