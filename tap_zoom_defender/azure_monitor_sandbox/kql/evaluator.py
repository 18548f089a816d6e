"""Runs a parsed query: let statements, function calls, union, datatable and the operators.

Semantics, from the KQL reference (learn.microsoft.com/kusto/query):

- "let statement": a name bound by ``let`` shadows a table of that name; a function's body sees
  its parameters and the lets before it (lexical scope); a saved function sees only the
  workspace (tables and other functions), never the caller's lets.
- "User-defined functions": arguments bind by position, then by name; omitted ones take their
  default; one without a default is required; a function whose parameters all have defaults can
  be used without parentheses (as Sentinel content uses ``imAuthentication``). Recursion is
  refused, as Kusto refuses it.
- "union operator": ``kind=outer``; a column that appears with several types becomes one column
  per type, named ``<name>_<type>``; cells a leg does not have are null. With ``isfuzzy=true``
  a leg that fails to resolve (unknown table or function, a semantic error inside it) is
  skipped with a warning, and the query fails only if no leg resolves.
- "extend": assignments are evaluated left to right, a later one sees the columns an earlier
  one in the same ``extend`` made; an existing column is replaced in place.
- "project-away" / "project-rename": a column that the input does not have is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..values import format_datetime
from .compiler import Compiler
from .errors import KQLError, KQLSemanticError
from .lexer import Source
from .parser import parse_query
from .scalars import family
from .syntax import (
    Arg,
    Body,
    DataTable,
    Extend,
    Invoke,
    LetScalar,
    Name,
    Operator,
    Param,
    Pipeline,
    Project,
    ProjectAway,
    ProjectRename,
    TableRef,
    Tabular,
    Union_,
    Where,
)


@dataclass
class Table:
    """A tabular value: column name -> Kusto type, and rows holding every column."""

    columns: dict[str, str]
    rows: list[dict[str, Any]]


@dataclass
class FunctionSpec:
    """A callable tabular function: a ``let`` function, a saved function or a built-in."""

    name: str
    params: tuple[Param, ...]
    body: Body
    source: Source  # the text the body's positions refer to
    closure: Scope | None = None  # None: a workspace function (sees only the catalog)


class Catalog(Protocol):
    """What a query can name: the workspace's tables and its functions."""

    def table_schema(self, name: str) -> dict[str, str] | None:
        """Columns of table ``name`` (None if there is no such table)."""

    def table(self, name: str) -> Table | None:
        """Rows of table ``name``, typed (None if there is no such table)."""

    def function(self, name: str) -> FunctionSpec | None:
        """Return the workspace or built-in function ``name`` (parsed), or None."""


@dataclass
class QueryResult:
    """Columns (name, type), rows (datetimes as ISO 8601 text), and union warnings."""

    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def run_query(text: str, catalog: Catalog, label: str = "query") -> QueryResult:
    """Parse and evaluate ``text`` against ``catalog``."""
    source = Source(text, label)
    body = parse_query(text, label)
    evaluator = _Evaluator(catalog)
    table = evaluator.body(body, Scope(evaluator, None, source))
    return QueryResult(
        [{"name": n, "type": t} for n, t in table.columns.items()],
        [{k: _render(v) for k, v in row.items()} for row in table.rows],
        evaluator.warnings,
    )


def _render(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def normalize(kind: str, value: Any) -> Any:
    """Return ``value`` as a ``kind`` column holds it (strings never null, reals floats)."""
    if value is None:
        return "" if kind == "string" else None
    if kind == "real" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


class Scope:
    """Names bound by lets and parameters, inside one query or function body."""

    def __init__(self, evaluator: _Evaluator, parent: Scope | None, source: Source) -> None:
        """Open a scope in ``parent`` (None: the workspace) for statements of ``source``."""
        self.evaluator = evaluator
        self.parent = parent
        self.source = source
        self.scalars: dict[str, tuple[str, Any]] = {}
        self.functions: dict[str, FunctionSpec] = {}

    def scalar(self, name: str) -> tuple[str, Any] | None:
        """Type and value bound to ``name`` here or in an enclosing scope."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.scalars:
                return scope.scalars[name]
            if name in scope.functions:
                return None
            scope = scope.parent
        return None

    def function(self, name: str) -> FunctionSpec | None:
        """Return the ``let`` function ``name`` visible here, or None."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.functions:
                return scope.functions[name]
            if name in scope.scalars:
                return None
            scope = scope.parent
        return None

    def is_tabular(self, name: str) -> bool:
        """Say whether ``name`` names a table or a function here."""
        catalog = self.evaluator.catalog
        if self.function(name) or catalog.table_schema(name) is not None:
            return True
        try:
            return catalog.function(name) is not None
        except KQLError:  # a function whose body is not evaluated here: it exists all the same
            return True


class _Evaluator:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.warnings: list[str] = []
        self.calls: list[FunctionSpec] = []

    def body(self, body: Body, scope: Scope) -> Table:
        for let in body.lets:
            if isinstance(let, LetScalar):
                if isinstance(let.value, Name) and scope.is_tabular(let.value.name):
                    raise scope.source.error(
                        f"let {let.name} = <tabular expression> is not supported", let.pos
                    )
                compiled = Compiler(scope.source, None, scope).compile(let.value)
                scope.scalars[let.name] = (compiled.type, compiled.fn({}))
                scope.functions.pop(let.name, None)
            else:
                spec = FunctionSpec(let.name, let.params, let.body, scope.source, scope)
                scope.functions[let.name] = spec
                scope.scalars.pop(let.name, None)
        return self.tabular(body.result, scope)

    def tabular(self, node: Tabular, scope: Scope) -> Table:
        if isinstance(node, Pipeline):
            table = self.tabular(node.source, scope)
            for operator in node.operators:
                table = self.operator(operator, table, scope)
            return table
        if isinstance(node, TableRef):
            return self.reference(node, scope)
        if isinstance(node, Invoke):
            spec = scope.function(node.name) or self.catalog.function(node.name)
            if spec is None:
                what = "a table, not a function" if self.catalog.table_schema(node.name) else ""
                raise scope.source.error(
                    f"{node.name!r} is {what}" if what else f"Unknown function: {node.name!r}",
                    node.pos,
                    semantic=True,
                )
            return self.call(spec, node.args, scope, node.pos)
        if isinstance(node, Union_):
            return self.union(node, scope)
        return self.datatable(node, scope)

    def reference(self, node: TableRef, scope: Scope) -> Table:
        spec = scope.function(node.name)
        if spec is None and scope.scalar(node.name) is not None:
            raise scope.source.error(f"{node.name!r} is a scalar, not a table", node.pos, True)
        if spec is None:
            table = self.catalog.table(node.name)
            if table is not None:
                return Table(dict(table.columns), [dict(row) for row in table.rows])
            spec = self.catalog.function(node.name)
        if spec is None:
            raise scope.source.error(
                f"Failed to resolve table or column expression named {node.name!r}",
                node.pos,
                semantic=True,
            )
        return self.call(spec, (), scope, node.pos)

    def call(self, spec: FunctionSpec, args: tuple[Arg, ...], caller: Scope, pos: int) -> Table:
        if any(spec is active for active in self.calls):
            raise caller.source.error(f"recursive call of {spec.name}", pos, semantic=True)
        bound: dict[str, tuple[str, Any]] = {}
        params = {param.name: param for param in spec.params}
        for index, arg in enumerate(args):
            if arg.name is None:
                if index >= len(spec.params):
                    raise caller.source.error(
                        f"{spec.name} takes {len(spec.params)} arguments", arg.pos, True
                    )
                param = spec.params[index]
            elif arg.name in params:
                param = params[arg.name]
            else:
                raise caller.source.error(
                    f"{spec.name} has no parameter named {arg.name!r} (parameters: "
                    f"{', '.join(params) or 'none'})",
                    arg.pos,
                    semantic=True,
                )
            if param.name in bound:
                raise caller.source.error(f"{param.name} is given twice", arg.pos, True)
            value = Compiler(caller.source, None, caller).compile(arg.value)
            if family(value.type) != family(param.type):
                raise caller.source.error(
                    f"argument {param.name} of {spec.name} must be {param.type}, not {value.type}",
                    arg.pos,
                    semantic=True,
                )
            bound[param.name] = (param.type, normalize(param.type, value.fn({})))
        for param in spec.params:
            if param.name not in bound:
                if param.default is None:
                    raise caller.source.error(
                        f"{spec.name}: no value for parameter {param.name!r}", pos, True
                    )
                bound[param.name] = (param.type, normalize(param.type, param.default.value))
        scope = Scope(self, spec.closure, spec.source)
        scope.scalars.update(bound)
        self.calls.append(spec)
        try:
            return self.body(spec.body, scope)
        finally:
            self.calls.pop()

    def union(self, node: Union_, scope: Scope) -> Table:
        tables: list[Table] = []
        failures: list[str] = []
        for leg in node.legs:
            try:
                tables.append(self.tabular(leg, scope))
            except KQLSemanticError as exc:
                if not node.fuzzy:
                    raise
                failures.append(str(exc))
        if not tables:
            raise scope.source.error(
                f"no union leg could be resolved ({'; '.join(failures)})", node.pos, True
            )
        self.warnings.extend(f"union isfuzzy=true skipped a leg: {f}" for f in failures)
        return merge(tables)

    def datatable(self, node: DataTable, scope: Scope) -> Table:
        compiler = Compiler(scope.source, None, scope)
        values = []
        for index, expr in enumerate(node.values):
            name, kind = node.columns[index % len(node.columns)]
            compiled = compiler.compile(expr)
            if family(compiled.type) != family(kind):
                raise scope.source.error(
                    f"datatable column {name} is {kind}, the value is {compiled.type}",
                    node.pos,
                    semantic=True,
                )
            values.append(normalize(kind, compiled.fn({})))
        width = len(node.columns)
        rows = [
            {name: values[start + i] for i, (name, _) in enumerate(node.columns)}
            for start in range(0, len(values), width)
        ]
        return Table(dict(node.columns), rows)

    def operator(self, op: Operator, table: Table, scope: Scope) -> Table:
        if isinstance(op, Where):
            compiled = Compiler(scope.source, table.columns, scope).compile(op.predicate)
            if compiled.type != "bool":
                raise scope.source.error(
                    f"where needs a bool predicate, not {compiled.type}", op.pos, True
                )
            return Table(table.columns, [row for row in table.rows if compiled.fn(row) is True])
        if isinstance(op, Extend):
            columns, rows = dict(table.columns), [dict(row) for row in table.rows]
            for name, expr in op.assignments:
                compiled = Compiler(scope.source, columns, scope).compile(expr)
                for row in rows:
                    row[name] = normalize(compiled.type, compiled.fn(row))
                columns[name] = compiled.type
            return Table(columns, rows)
        if isinstance(op, Project):
            compiler = Compiler(scope.source, table.columns, scope)
            items = []
            for name, expr in op.items:
                if any(name == seen for seen, _ in items):
                    raise scope.source.error(f"project: column {name} twice", op.pos, True)
                items.append((name, compiler.compile(expr)))
            return Table(
                {name: c.type for name, c in items},
                [{name: normalize(c.type, c.fn(row)) for name, c in items} for row in table.rows],
            )
        if isinstance(op, ProjectAway):
            for name, pos in op.names:
                if name not in table.columns:
                    raise scope.source.error(
                        f"project-away: column {name!r} does not exist", pos, semantic=True
                    )
            drop = {name for name, _ in op.names}
            return Table(
                {n: t for n, t in table.columns.items() if n not in drop},
                [{k: v for k, v in row.items() if k not in drop} for row in table.rows],
            )
        return rename(op, table, scope.source)


def rename(op: ProjectRename, table: Table, source: Source) -> Table:
    """``project-rename New = Old``: the column keeps its place and values."""
    mapping: dict[str, str] = {}
    for new, old, pos in op.pairs:
        if old not in table.columns:
            raise source.error(f"project-rename: column {old!r} does not exist", pos, True)
        if new in table.columns and new != old:
            raise source.error(f"project-rename: column {new!r} already exists", pos, True)
        mapping[old] = new
    return Table(
        {mapping.get(n, n): t for n, t in table.columns.items()},
        [{mapping.get(k, k): v for k, v in row.items()} for row in table.rows],
    )


def merge(tables: list[Table]) -> Table:
    """Union (kind=outer) of ``tables``; a name with several types splits into name_type."""
    types: dict[str, list[str]] = {}
    for table in tables:
        for name, kind in table.columns.items():
            kinds = types.setdefault(name, [])
            if kind not in kinds:
                kinds.append(kind)
    out: dict[tuple[str, str], str] = {
        (name, kind): name if len(kinds) == 1 else f"{name}_{kind}"
        for name, kinds in types.items()
        for kind in kinds
    }
    columns = {out[key]: key[1] for key in out}
    empty = {name: normalize(kind, None) for name, kind in columns.items()}
    rows = []
    for table in tables:
        names = {column: out[(column, kind)] for column, kind in table.columns.items()}
        for row in table.rows:
            merged = dict(empty)
            merged.update({names[k]: v for k, v in row.items()})
            rows.append(merged)
    return Table(columns, rows)
