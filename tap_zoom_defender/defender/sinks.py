"""The one sink class: map each record to its table row, hand batches to the destination.

Mapping happens as records arrive (on the reader thread), so a record the profile cannot map
fails the run before anything after it is acknowledged. Writing happens in ``process_batch``,
which the SDK may run for several sinks in parallel threads: destinations are thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import JSONSchemaValidator

from tap_zoom_defender.defender.errors import InputError
from tap_zoom_defender.defender.mapping import identity

try:  # Python 3.12+
    from typing import override  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from tap_zoom_defender.defender.target import TargetDefender


class _ClearValidator(JSONSchemaValidator):
    """The SDK's validator, failing with one line that names the stream and the problem."""

    def __init__(self, schema: dict, stream: str) -> None:
        super().__init__(schema)
        self.stream = stream

    @override
    def validate(self, record: dict) -> None:
        try:
            super().validate(record)
        except InvalidRecord as exc:
            path = getattr(exc.__cause__, "absolute_path", None)
            where = f"field '{'.'.join(map(str, path))}': " if path else ""
            raise InputError(
                f"stream '{self.stream}': a record does not match its SCHEMA message "
                f"({where}{exc.error_message}); fix the upstream tap, or set "
                "validate_records=false to load it anyway"
            ) from None


class DefenderSink(BatchSink):
    """Rows for one Singer stream, all bound for one table."""

    def __init__(
        self,
        target: TargetDefender,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        """Bind the stream to its table (the target already decided it is known or allowed)."""
        self._defender = target
        super().__init__(
            target=target, stream_name=stream_name, schema=schema, key_properties=key_properties
        )
        self.table = target.table_for(stream_name)
        self._learns_names = self.table is identity.USERS

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """Validate against the tap's schema, failing with one clear line (no traceback)."""
        if not self.validate_schema:
            return None
        return _ClearValidator(self.schema, self.stream_name)

    @override
    def process_record(self, record: dict, context: dict) -> None:
        """Map now (bad records fail the run here), keep the row until the batch drains."""
        row = self.table.map(record, self._defender.mapping_context(self.stream_name))
        context.setdefault("rows", []).append(row)
        if self._learns_names:
            self._defender.account_names.learn(record.get("email"), identity.display_name(record))

    @override
    def process_batch(self, context: dict) -> None:
        """Write the batch durably; raises (and withholds STATE) if that is not possible."""
        rows: list[dict[str, Any]] = context.get("rows", [])
        self._defender.destination.write(self.table.name, rows)
        self.tally_record_written(len(rows))
        if self._learns_names:
            self._defender.account_names.save()
