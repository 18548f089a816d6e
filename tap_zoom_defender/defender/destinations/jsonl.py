"""Destination ``jsonl`` (default): one ``<Table>.jsonl`` file per table under ``output_dir``.

The embedded destination ``make demo`` uses and the easiest way to inspect a mapping: each line
is exactly the row the ``azure_monitor`` destination would send.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tap_zoom_defender.defender.destinations.durable import DurableAppender, encode_lines
from tap_zoom_defender.defender.errors import DeliveryError


class JsonlDestination:
    """Appends rows to ``output_dir/<table>.jsonl``; durable (fsynced) when ``write`` returns."""

    def __init__(self, output_dir: Path) -> None:
        """Remember where the table files go (created on first write)."""
        self.output_dir = output_dir
        self._appender = DurableAppender()

    def path_for(self, table: str) -> Path:
        """Return the file a table's rows are appended to."""
        return self.output_dir / f"{table}.jsonl"

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append all rows in one write, then flush and fsync."""
        if not rows:
            return
        path = self.path_for(table)
        try:
            self._appender.append(path, encode_lines(rows))
        except OSError as exc:
            raise DeliveryError(
                f"could not write {len(rows)} rows to {path}: {exc.strerror or exc}; "
                "fix the disk/permissions or set output_dir (nothing was acknowledged, "
                "a re-run resends these rows)"
            ) from None

    def close(self) -> None:
        """Nothing is kept open between writes."""
