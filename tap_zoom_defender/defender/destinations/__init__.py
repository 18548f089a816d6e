"""Where mapped rows go. Each destination's ``write`` returns only once the rows are durable.

``write(table, rows)`` must either make every row durable (file fsynced, or HTTP 204 from Azure
Monitor) or raise ``DeliveryError`` after dead-lettering what it could not deliver: the target
emits a STATE message only after all writes before it returned.
"""

from __future__ import annotations

from typing import Any, Protocol


class Destination(Protocol):
    """The one contract the sinks rely on."""

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Durably store ``rows`` in ``table`` or raise ``DeliveryError``."""

    def close(self) -> None:
        """Release connections and files."""
