"""A small in-memory catalog for the KQL evaluator's unit tests (no workspace, no server)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from tap_zoom_defender.azure_monitor_sandbox.kql import FunctionSpec, Table, parse_parameters
from tap_zoom_defender.azure_monitor_sandbox.kql.lexer import Source
from tap_zoom_defender.azure_monitor_sandbox.kql.parser import parse_query

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)


class FakeCatalog:
    """Tables given as (columns, rows); functions as (functionParameters, query) texts."""

    def __init__(
        self,
        tables: dict[str, tuple[dict[str, str], list[dict[str, Any]]]],
        functions: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.tables = {
            name: Table(columns, [{c: row.get(c, "" if k == "string" else None)
                                  for c, k in columns.items()} for row in rows])
            for name, (columns, rows) in tables.items()
        }  # fmt: skip
        self.functions = functions or {}

    def table_schema(self, name: str) -> dict[str, str] | None:
        table = self.tables.get(name)
        return None if table is None else table.columns

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def function(self, name: str) -> FunctionSpec | None:
        if name not in self.functions:
            return None
        params, query = self.functions[name]
        label = f"function {name}"
        return FunctionSpec(
            name, parse_parameters(params, label), parse_query(query, label), Source(query, label)
        )


def sign_ins() -> FakeCatalog:
    """SignIns: four rows with strings, a datetime, an int (one null), a dynamic."""
    columns = {"User": "string", "Ip": "string", "Result": "string", "At": "datetime",
               "Count": "int", "Tags": "dynamic"}  # fmt: skip
    rows = [
        {"User": "ada@example.com", "Ip": "10.1.2.3", "Result": "Success", "At": T0,
         "Count": 1, "Tags": ["a", "b"]},
        {"User": "Bob.Smith@Example.com", "Ip": "192.168.7.9", "Result": "Failure",
         "At": datetime(2026, 1, 1, tzinfo=timezone.utc), "Count": None, "Tags": []},
        {"User": "carol", "Ip": "2001:db8::1", "Result": "success", "At": None, "Count": 3},
        {"User": "", "Ip": "", "Result": "", "At": T0, "Count": 0},
    ]  # fmt: skip
    other = {"User": "string", "Count": "long", "Extra": "bool"}
    return FakeCatalog(
        {"SignIns": (columns, rows), "Other": (other, [{"User": "zed", "Count": 9, "Extra": True}])}
    )
