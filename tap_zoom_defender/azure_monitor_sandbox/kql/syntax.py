"""The syntax tree of the supported KQL subset (what ``parser.py`` builds).

Every node keeps ``pos``, its offset in its :class:`~.lexer.Source`, so that an error found
later (an unknown column, a wrong type) can still say where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --- scalar expressions --------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A constant and its Kusto type (``'x'``, ``3``, ``true``, ``datetime(null)``, ...)."""

    value: Any
    type: str
    pos: int


@dataclass(frozen=True)
class Name:
    """A column, a parameter or a scalar ``let``: resolved when the expression is compiled."""

    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    """A scalar function call ``f(a, b)``."""

    name: str
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class Binary:
    """``left <op> right``: and, or, comparisons and string operators."""

    op: str
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True)
class ListOp:
    """``left in (a, b)`` / ``!in`` / ``in~`` / ``!in~`` / ``has_any``: a list on the right."""

    op: str
    left: Expr
    items: tuple[Expr, ...]
    pos: int


Expr = Literal | Name | Call | Binary | ListOp

# --- tabular expressions -------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument of a tabular function call; ``name`` None when positional."""

    name: str | None
    value: Expr
    pos: int


@dataclass(frozen=True)
class TableRef:
    """A bare name in tabular position: a table, or a function called without parentheses."""

    name: str
    pos: int


@dataclass(frozen=True)
class Invoke:
    """A tabular function call ``f(a=1, b=2)``."""

    name: str
    args: tuple[Arg, ...]
    pos: int


@dataclass(frozen=True)
class Union_:
    """``union [isfuzzy=true] leg, leg, ...``."""

    legs: tuple[Tabular, ...]
    fuzzy: bool
    pos: int


@dataclass(frozen=True)
class DataTable:
    """``datatable(Col:type, ...) [v1, v2, ...]`` (values row after row)."""

    columns: tuple[tuple[str, str], ...]
    values: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class Where:
    """``| where <predicate>``."""

    predicate: Expr
    pos: int


@dataclass(frozen=True)
class Extend:
    """``| extend A = e1, B = e2`` (evaluated left to right)."""

    assignments: tuple[tuple[str, Expr], ...]
    pos: int


@dataclass(frozen=True)
class Project:
    """``| project A, B = e``: the columns kept, in this order."""

    items: tuple[tuple[str, Expr], ...]
    pos: int


@dataclass(frozen=True)
class ProjectAway:
    """``| project-away A, B``."""

    names: tuple[tuple[str, int], ...]
    pos: int


@dataclass(frozen=True)
class ProjectRename:
    """``| project-rename New = Old, ...``."""

    pairs: tuple[tuple[str, str, int], ...]
    pos: int


Operator = Where | Extend | Project | ProjectAway | ProjectRename


@dataclass(frozen=True)
class Pipeline:
    """A source followed by ``| operator`` steps."""

    source: Tabular
    operators: tuple[Operator, ...]
    pos: int


Tabular = TableRef | Invoke | Union_ | DataTable | Pipeline

# --- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A function parameter ``name: type [= default literal]``."""

    name: str
    type: str
    default: Literal | None
    pos: int


@dataclass(frozen=True)
class LetScalar:
    """``let name = <scalar expression>;``."""

    name: str
    value: Expr
    pos: int


@dataclass(frozen=True)
class LetFunction:
    """``let name = (params) { body };``."""

    name: str
    params: tuple[Param, ...]
    body: Body
    pos: int


@dataclass(frozen=True)
class Body:
    """Statements then one tabular expression: a whole query, or a function's body."""

    lets: tuple[LetScalar | LetFunction, ...]
    result: Tabular
