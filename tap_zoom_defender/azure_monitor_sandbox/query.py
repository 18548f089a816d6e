"""KQL over the workspace: the catalog the evaluator (``kql/``) reads tables and functions from.

Tables are read as a query would see them ("Standard columns in Azure Monitor Logs"): every
column of the table's schema (a column a stored row lacks is null; strings empty, since Kusto
strings are never null), ``Type`` = the table's name, and ``_ItemId``, a unique id per record
(the emulator's ids are stable UUIDs derived from table and row number). ``TenantId`` and the
other columns Azure fills are left empty. Datetime columns are datetimes (UTC).

Functions: Sentinel's built-in parsers (``kql/sentinel.py``) and the workspace's functions
(saved searches with a function alias, from templates), whose body is parsed when first called.
Any table a DCR may write exists (empty until rows arrive), and so does every native table the
emulator knows, as in a workspace where Sentinel is enabled.
"""

from __future__ import annotations

import uuid
from typing import Any

from .arm import SavedFunction
from .kql import FunctionSpec, QueryResult, Table, run_query
from .kql.lexer import Source
from .kql.parser import parse_query
from .kql.sentinel import builtin_function
from .tables import TableSchema
from .values import parse_datetime
from .workspace import Workspace

_ITEM_IDS = uuid.UUID("6f1c4f8e-1d0e-4c55-9a52-9a0d3a5c0001")


class WorkspaceCatalog:
    """Tables and functions of one emulated workspace, as queries see them."""

    def __init__(
        self,
        workspace: Workspace,
        schemas: dict[str, TableSchema],
        functions: dict[str, SavedFunction],
    ) -> None:
        """``schemas``: every table that exists; ``functions``: the workspace functions."""
        self.workspace = workspace
        self.schemas = schemas
        self.functions = functions
        self._parsed: dict[str, FunctionSpec] = {}

    def table_schema(self, name: str) -> dict[str, str] | None:
        """Return the columns of ``name`` as a query sees them, or None."""
        schema = self.schemas.get(name)
        if schema is None:
            return None
        return {**schema.columns, "Type": "string", "_ItemId": "string"}

    def table(self, name: str) -> Table | None:
        """Return the rows stored in ``name``, typed by its schema (None: no such table)."""
        columns = self.table_schema(name)
        if columns is None:
            return None
        stored = self.workspace.table_rows(name) if name in self.workspace.tables else []
        rows = []
        for index, row in enumerate(stored):
            typed = {column: _typed(kind, row.get(column)) for column, kind in columns.items()}
            typed["Type"] = name
            typed["_ItemId"] = str(uuid.uuid5(_ITEM_IDS, f"{name}/{index}"))
            rows.append(typed)
        return Table(columns, rows)

    def function(self, name: str) -> FunctionSpec | None:
        """Return a built-in parser or a workspace function (parsed), or None."""
        builtin = builtin_function(name)
        if builtin is not None:
            return builtin
        saved = self.functions.get(name)
        if saved is None:
            return None
        if name not in self._parsed:
            label = f"function {name}"
            body = parse_query(saved.query, label)
            self._parsed[name] = FunctionSpec(name, saved.params, body, Source(saved.query, label))
        return self._parsed[name]

    def run(self, kql: str) -> QueryResult:
        """Evaluate ``kql`` over what is stored now (the ingestion backlog settled first)."""
        self.workspace.settle()
        return run_query(kql, self)


def _typed(kind: str, value: Any) -> Any:
    if value is None:
        return "" if kind == "string" else None
    if kind == "datetime":
        return parse_datetime(value)
    return value
