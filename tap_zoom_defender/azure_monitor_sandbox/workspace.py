"""The Log Analytics workspace side: what a row becomes once it is stored in its table.

Per row of an accepted call, for each data flow of its stream:

1. the record's top-level properties are read as the stream declaration says (undeclared ones
   are not part of ``source``: "Structure of a data collection rule (DCR) in Azure Monitor",
   Stream declarations: the stream lists the properties of the data you send);
2. the flow's transformation runs (``transform.py``);
3. the output is stored in the table: columns the table lacks are dropped, columns Azure fills
   itself are dropped, each value is read as the table column's type (null when it cannot be,
   see ``values.py``), values over 64 KB are truncated ("Azure Monitor service limits", Logs
   Ingestion API: "Fields longer than 64 KB are truncated"), and TimeGenerated is checked
   against the received time ("Standard columns in Azure Monitor Logs", TimeGenerated: "cannot
   be older than 2 days before received time or more than a day in the future ... it would be
   replaced with the actual received time"). A row without (a readable) TimeGenerated gets the
   received time: no page states this for the Logs Ingestion API; "Add or delete tables and
   columns in Azure Monitor Logs" says every table has TimeGenerated and that, for sample data
   without one, the portal adds it to the DCR's transformation as the time of ingestion, which
   is what the emulator does.

Stored rows hold only columns that have a value (Log Analytics shows the others empty).

Storing is asynchronous, as in Azure: a 204 means the call was accepted (checked, within the
limits, a JSON array) and the rows become queryable after an ingestion latency ("Log data
ingestion time in Azure Monitor"). The emulator stores accepted calls, in order of acceptance,
when their rows or counts are first read, so that latency costs the sender nothing and a reader
never sees a half-stored table.
"""

from __future__ import annotations

import collections
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .dcr import DataFlow
from .tables import TableSchema
from .values import coerce, format_datetime, parse_datetime, truncate

TIME_GENERATED_MAX_AGE = timedelta(days=2)
TIME_GENERATED_MAX_AHEAD = timedelta(days=1)
FIELD_LIMIT_BYTES = 64 * 1024


@dataclass
class TableStats:
    """Counts per table, as the query route reports them."""

    received: int = 0  # rows that arrived (accepted calls) for this table
    stored: int = 0  # rows stored
    time_generated_replaced: int = 0  # outside [received - 2 days, received + 1 day]
    time_generated_missing: int = 0  # no (readable) TimeGenerated: set to the received time
    columns_dropped: Counter = field(default_factory=Counter)  # not in the table, or system
    properties_undeclared: Counter = field(default_factory=Counter)  # not in the stream decl.
    values_nulled: Counter = field(default_factory=Counter)  # wrong type for the column
    values_truncated: Counter = field(default_factory=Counter)  # over the field limit

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly copy."""
        return {
            "received": self.received,
            "stored": self.stored,
            "time_generated_replaced": self.time_generated_replaced,
            "time_generated_missing": self.time_generated_missing,
            "columns_dropped": dict(self.columns_dropped),
            "properties_undeclared": dict(self.properties_undeclared),
            "values_nulled": dict(self.values_nulled),
            "values_truncated": dict(self.values_truncated),
        }


class Workspace:
    """Tables, their stored rows and counts."""

    def __init__(self, tables: dict[str, TableSchema], field_limit: int = FIELD_LIMIT_BYTES):
        """Start empty; ``tables`` are every table a DCR may output to."""
        self.tables = tables
        self.field_limit = field_limit
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        self.stats: dict[str, TableStats] = {name: TableStats() for name in tables}
        self.lock = threading.Lock()
        self._backlog: collections.deque[tuple[Any, ...]] = collections.deque()
        self._storing = threading.Lock()  # one reader stores the backlog, in order

    def reset(self) -> None:
        """Forget every stored row and count, and every accepted call not yet stored."""
        with self._storing:
            self._backlog.clear()
        with self.lock:
            for name in self.tables:
                self.rows[name] = []
                self.stats[name] = TableStats()

    def ingest(
        self,
        declared: dict[str, str],
        flows: list[DataFlow],
        records: list[dict[str, Any]],
        received: datetime,
    ) -> None:
        """Accept ``records`` (one call to a stream): stored before anything is read."""
        self._backlog.append((declared, flows, records, received))

    def settle(self) -> None:
        """Store every call accepted so far, in the order they were accepted."""
        with self._storing:
            while self._backlog:
                self._store_call(*self._backlog.popleft())

    def _store_call(
        self,
        declared: dict[str, str],
        flows: list[DataFlow],
        records: list[dict[str, Any]],
        received: datetime,
    ) -> None:
        """Store one accepted call's ``records`` through each of its stream's ``flows``."""
        inputs = []
        undeclared: Counter = Counter()
        nulled: Counter = Counter()  # values the stream declaration's type could not read
        for record in records:
            row = {}
            for name, kind in declared.items():
                if name in record:
                    row[name] = coerce(record[name], kind)
                    if row[name] is None and record[name] is not None:
                        nulled[name] += 1
            inputs.append(row)
            undeclared.update(name for name in record if name not in declared)
        for flow in flows:
            stored = [self._store_row(flow, flow.transform.apply(row), received) for row in inputs]
            with self.lock:
                stats = self.stats[flow.table]
                stats.received += len(records)
                stats.properties_undeclared.update(undeclared)
                stats.values_nulled.update(nulled)
                self.rows[flow.table].extend(row for row, _ in stored)
                stats.stored += len(stored)
                for _, notes in stored:
                    stats.columns_dropped.update(notes["dropped"])
                    stats.values_nulled.update(notes["nulled"])
                    stats.values_truncated.update(notes["truncated"])
                    stats.time_generated_replaced += notes["replaced"]
                    stats.time_generated_missing += notes["missing"]

    def _store_row(
        self, flow: DataFlow, row: dict[str, Any], received: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        table = self.tables[flow.table]
        notes: dict[str, Any] = {
            "dropped": [],
            "nulled": [],
            "truncated": [],
            "replaced": 0,
            "missing": 0,
        }
        stored: dict[str, Any] = {}
        for name, value in row.items():
            if not table.writable(name):
                notes["dropped"].append(name)
                continue
            kind = table.columns[name]
            converted = (
                value if kind == "string" and value.__class__ is str else coerce(value, kind)
            )
            if converted is None:
                if value is not None:
                    notes["nulled"].append(name)
                continue
            converted, cut = truncate(converted, self.field_limit)
            if cut:
                notes["truncated"].append(name)
            stored[name] = converted
        time_generated = parse_datetime(stored.get("TimeGenerated"))
        if time_generated is None:
            notes["missing"] = 1
            time_generated = received
        elif not (
            received - TIME_GENERATED_MAX_AGE
            <= time_generated
            <= received + TIME_GENERATED_MAX_AHEAD
        ):
            notes["replaced"] = 1
            time_generated = received
        stored["TimeGenerated"] = format_datetime(time_generated)
        ordered = {name: stored[name] for name in table.columns if name in stored}
        return ordered, notes

    def table_rows(self, name: str) -> list[dict[str, Any]]:
        """Return a copy of the rows stored in ``name``."""
        self.settle()
        with self.lock:
            return [dict(row) for row in self.rows[name]]

    def table_stats(self, name: str) -> dict[str, Any]:
        """Return the counts of ``name``."""
        self.settle()
        with self.lock:
            return self.stats[name].as_dict()
