"""Show what target-defender wrote: row counts and a few mapped rows per table.

Used by ``make demo`` and by hand: ``python -m tap_zoom_defender.defender.summary DIR``.
Reads the jsonl destination's output directory (and reports any dead-lettered rows), so the
counts are what a Log Analytics workspace would hold before dedupe; distinct keys show what it
holds after ``summarize arg_max(TimeGenerated, *) by <key>``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tap_zoom_defender.defender.mapping import all_tables

# The columns worth a glance per table (the full row is in the file).
PREVIEW: dict[str, tuple[str, ...]] = {
    "ZoomAuthentication_CL": (
        "TimeGenerated", "EventType", "EventResult", "TargetUsername", "SrcIpAddr", "SrcDvcOs",
    ),
    "ZoomAuditEvent_CL": (
        "TimeGenerated", "EventType", "Operation", "ActorUsername", "ObjectType",
    ),
    "ZoomIdentityInfo_CL": (
        "AccountUpn", "AccountDisplayName", "Department", "IsAccountEnabled", "CreatedDateTime",
    ),
    "ZoomCloudAppEvents_CL": (
        "Timestamp", "ActionType", "AccountId", "AccountDisplayName", "IPAddress",
        "IsAdminOperation",
    ),
    "ZoomPassthrough_CL": ("TimeGenerated", "SourceStream", "SourceRecordId"),
}  # fmt: skip
MAX_CELL = 38


@dataclass(frozen=True)
class TableSummary:
    """Counts for one table file."""

    table: str
    rows: int
    distinct_keys: int
    key_column: str


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Read a table file; a torn last line (a killed run) is skipped, not fatal."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def summarize(
    output_dir: Path | str, *, sample: int = 3, out: TextIO | None = None
) -> list[TableSummary]:
    """Print counts and ``sample`` rows per table found in ``output_dir``; return the counts."""
    out = out or sys.stdout
    directory = Path(output_dir)
    tables = all_tables()
    results: list[TableSummary] = []
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if not files:
        out.write(f"No table files in {directory}\n")
    for path in files:
        table = path.stem
        rows = load_rows(path)
        key = tables[table].key_column if table in tables else ""
        distinct = len({row.get(key) for row in rows}) if key else len(rows)
        results.append(TableSummary(table, len(rows), distinct, key))
        out.write(f"\n{table}: {len(rows)} rows, {distinct} distinct {key or 'rows'}\n")
        if rows and sample > 0:
            columns = PREVIEW.get(table) or tuple(rows[0])[:6]
            _print_rows(out, columns, rows[:sample])
    dead_dir = directory / "dead-letter"
    for path in sorted(dead_dir.glob("*.jsonl")) if dead_dir.is_dir() else []:
        out.write(f"\nDEAD-LETTERED {path.stem}: {len(load_rows(path))} rows in {path}\n")
    return results


def _cell(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _print_rows(out: TextIO, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        text = "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True))
        out.write(f"  {text.rstrip()}\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", help="target-defender's output_dir (jsonl destination)")
    parser.add_argument("--rows", type=int, default=3, help="sample rows per table")
    args = parser.parse_args(argv)
    results = summarize(args.output_dir, sample=args.rows)
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
