"""Log Analytics table schemas: native ones from the data file, custom ones from definitions.

Native tables (``Microsoft-<Table>`` output streams) come from ``native_tables.txt``, copied
from Microsoft's table reference (the file names its pages). Custom tables (``Custom-<Table>_CL``)
come from the definitions a workspace was set up with: the ``az monitor log-analytics workspace
table create ... --columns Name=type ...`` commands that ``azure_setup tables`` prints, or JSON
(``{"name": ..., "columns": [{"name", "type"}]}``, a list of those, or the ARM
``Microsoft.OperationalInsights/workspaces/tables`` shape with ``properties.schema``).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .values import normalize_type

# "Standard columns in Azure Monitor Logs": filled by Azure Monitor in every table. Data sent
# for them is not stored. _ResourceId, _SubscriptionId, TenantId and Type are also reserved
# column names ("Logs Ingestion API in Azure Monitor", Supported tables), as are id, UniqueId
# and Title, which a custom table may not define either.
SYSTEM_COLUMNS = {
    "_BilledSize": "real",
    "_IsBillable": "string",
    "_ResourceId": "string",
    "_SubscriptionId": "string",
    "TenantId": "string",
    "Type": "string",
}
RESERVED_NAMES = {"_ResourceId", "id", "_SubscriptionId", "TenantId", "Type", "UniqueId", "Title"}
# "Logs Ingestion API in Azure Monitor", Supported tables (note): column names start with a
# letter and have up to 45 alphanumeric characters and underscores; custom table names end _CL.
_COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,44}$")


class TableDefinitionError(ValueError):
    """A table definition the emulator cannot use; the message says which and why."""


@dataclass
class TableSchema:
    """A table's columns (name -> Kusto type) and which of them Azure fills itself."""

    name: str
    columns: dict[str, str]
    system: set[str] = field(default_factory=set)
    custom: bool = False
    source: str = ""

    def writable(self, column: str) -> bool:
        """Say whether ingested data can set this column."""
        return column in self.columns and column not in self.system


def load_native_tables() -> dict[str, TableSchema]:
    """Read the native tables of ``native_tables.txt`` (its header names the source pages)."""
    text = resources.files(__package__).joinpath("native_tables.txt").read_text("utf-8")
    tables: dict[str, TableSchema] = {}
    current: TableSchema | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = TableSchema(line[1:-1], {}, source="native_tables.txt")
            tables[current.name] = current
            continue
        parts = line.split()
        kind = normalize_type(parts[1]) if len(parts) >= 2 else None
        if current is None or kind is None or len(parts) > 3:
            raise TableDefinitionError(f"native_tables.txt line {number}: cannot read {raw!r}")
        current.columns[parts[0]] = kind
        if parts[2:] == ["system"]:
            current.system.add(parts[0])
    return tables


def parse_table_definitions(text: str, source: str) -> list[TableSchema]:
    """Read custom tables from ``az ... table create`` commands or JSON (see module doc)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TableDefinitionError(f"{source}: not valid JSON ({exc})") from None
        items = data if isinstance(data, list) else [data]
        return [_from_json(item, source) for item in items]
    tables = []
    for number, line in enumerate(_logical_lines(text), 1):
        words = shlex.split(line, comments=True)
        if not words:
            continue
        where = f"{source} command {number}"
        if words[:6] != ["az", "monitor", "log-analytics", "workspace", "table", "create"]:
            raise TableDefinitionError(
                f"{where}: expected 'az monitor log-analytics workspace table create ...', "
                f"got {line[:80]!r}"
            )
        name, columns = _az_arguments(words[6:], where)
        tables.append(_custom_table(name, columns, where))
    return tables


def _logical_lines(text: str) -> list[str]:
    """Split into lines, joining shell continuations (a backslash at the end)."""
    return [line for line in re.sub(r"\\\n", " ", text).splitlines() if line.strip()]


def _az_arguments(args: list[str], where: str) -> tuple[str, list[tuple[str, str]]]:
    name = None
    columns: list[tuple[str, str]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("--name", "-n") and index + 1 < len(args):
            name = args[index + 1]
            index += 2
        elif arg == "--columns":
            index += 1
            while index < len(args) and not args[index].startswith("-"):
                column, sep, kind = args[index].partition("=")
                if not sep:
                    raise TableDefinitionError(f"{where}: column {args[index]!r} is not Name=type")
                columns.append((column, kind))
                index += 1
        else:
            index += 1
    if not name:
        raise TableDefinitionError(f"{where}: no --name")
    if not columns:
        raise TableDefinitionError(f"{where}: table {name} has no --columns")
    return name, columns


def _from_json(item: Any, source: str) -> TableSchema:
    if not isinstance(item, dict):
        raise TableDefinitionError(f"{source}: a table definition must be a JSON object")
    schema = item.get("properties", {}).get("schema") if "properties" in item else item
    if not isinstance(schema, dict) or "name" not in schema:
        raise TableDefinitionError(f"{source}: a table definition needs a name and columns")
    columns = [(c.get("name", ""), c.get("type", "")) for c in schema.get("columns", [])]
    return _custom_table(str(schema["name"]), columns, source)


def _custom_table(name: str, columns: list[tuple[str, str]], where: str) -> TableSchema:
    # "Logs Ingestion API in Azure Monitor", Supported tables: custom table names end in _CL.
    if not name.endswith("_CL"):
        raise TableDefinitionError(f"{where}: custom table name {name!r} must end with _CL")
    table = TableSchema(name, {}, system=set(SYSTEM_COLUMNS), custom=True, source=where)
    for column, kind in columns:
        normalized = normalize_type(kind)
        if normalized is None:
            raise TableDefinitionError(f"{where}: column {column} of {name} has type {kind!r}")
        if column in RESERVED_NAMES:
            raise TableDefinitionError(
                f"{where}: column {column} of {name} is a reserved column name "
                "('Logs Ingestion API in Azure Monitor', Supported tables)"
            )
        if not _COLUMN_NAME.match(column):
            raise TableDefinitionError(
                f"{where}: column name {column!r} of {name} must start with a letter and have "
                "up to 45 letters, digits and underscores"
            )
        table.columns[column] = normalized
    # "Add or delete tables and columns in Azure Monitor Logs": every table has TimeGenerated.
    if table.columns.get("TimeGenerated") != "datetime":
        raise TableDefinitionError(f"{where}: {name} needs a TimeGenerated column of type datetime")
    table.columns.update(SYSTEM_COLUMNS)
    return table
