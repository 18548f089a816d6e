"""The one sink class: map each record to its table row, hand batches to the destination.

Mapping happens as records arrive (on the reader thread), so a record the profile cannot map
fails the run before anything after it is acknowledged. Writing happens in ``process_batch``,
which the SDK may run for several sinks in parallel threads: destinations are thread-safe.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from tap_zoom_defender.defender.errors import InputError
from tap_zoom_defender.defender.graceful_stop import STOP
from tap_zoom_defender.defender.mapping import identity

try:  # Python 3.12+
    from typing import override  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    from typing_extensions import override

if TYPE_CHECKING:
    from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum

    from tap_zoom_defender.defender.target import TargetDefender


class _ClearValidator(BaseJSONSchemaValidator):
    """Validate records with a compiled schema; a mismatch is one line naming stream and field.

    Why not the SDK's validator: it runs ``jsonschema``'s interpreter per record, 40% of the
    target's CPU in a profile of 23,000 sign-ins. ``fastjsonschema`` compiles the schema to a
    Python function once per stream; formats are not checked and no defaults are filled in,
    as with the SDK's validator.
    """

    def __init__(self, schema: dict, stream: str) -> None:
        super().__init__(schema)
        self.stream = stream
        try:
            self._check = fastjsonschema.compile(schema, use_default=False, use_formats=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            raise InvalidJSONSchema(
                f"the SCHEMA message of stream '{stream}' is not a valid JSON Schema ({exc})"
            ) from None

    @override
    def validate(self, record: dict) -> None:
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            path = [str(part) for part in (exc.path or [])[1:]]  # the first part is "data"
            where = f"field '{'.'.join(path)}': " if path else ""
            message = (
                exc.message.replace(exc.name or "data", "value", 1) if exc.name else exc.message
            )
            raise InputError(
                f"stream '{self.stream}': a record does not match its SCHEMA message "
                f"({where}{message}); fix the upstream tap, or set "
                "validate_records=false to load it anyway"
            ) from None


def _datelike_fields(schema: dict) -> tuple[tuple[str, str], ...]:
    """``(field, "date-time" | "date" | "time")`` for each date-like property of a schema."""
    fields = []
    for key, prop in (schema.get("properties") or {}).items():
        kind = get_datelike_property_type(prop) if isinstance(prop, dict) else None
        if kind:
            fields.append((key, kind))
    return tuple(fields)


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
        # (schema, its date-like fields, its property names), worked out once per schema
        self._time_plan: tuple[dict, tuple[tuple[str, str], ...], set[str]] | None = None

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """Validate against the tap's schema, failing with one clear line (no traceback)."""
        if not self.validate_schema:
            return None
        return _ClearValidator(self.schema, self.stream_name)

    @override
    def _parse_timestamps_in_record(
        self, record: dict, schema: dict, treatment: DatetimeErrorTreatmentEnum
    ) -> None:
        """Check date-time fields as the SDK does, but leave valid ISO-8601 text as text.

        The SDK turns every date-time string into a ``datetime`` that the mapping only turns
        back into the same text: a third of the target's CPU per record. A value that
        ``datetime.fromisoformat`` reads (the SDK's own test of validity) stays as it is; any
        other value goes through the SDK's parsing, so ``datetime_error_treatment`` and the
        "No schema for record field" warning behave as before. A value it cannot parse is one
        InputError (the SDK raised a TypeError or ValueError traceback, even with
        ``validate_records: false``, where nothing checked it first).
        """
        plan = self._time_plan
        if plan is None or plan[0] is not schema:
            fields = set(schema.get("properties") or {})
            plan = self._time_plan = (schema, _datelike_fields(schema), fields)
        _, datelike, known = plan
        if not known.issuperset(record):  # fields without a schema: the SDK warns about them
            extra = {k: record[k] for k in record if k not in known}
            super()._parse_timestamps_in_record(record=extra, schema=schema, treatment=treatment)
        for key, kind in datelike:
            value = record.get(key)
            if value is None:
                continue
            if kind == "date-time" and value.__class__ is str:
                try:
                    dt.datetime.fromisoformat(value)
                    continue
                except ValueError:
                    pass
            one = {key: value}
            try:
                super()._parse_timestamps_in_record(record=one, schema=schema, treatment=treatment)
            except (TypeError, ValueError):
                raise self._bad_time(record, schema, treatment) from None
            record[key] = one[key]

    def _bad_time(
        self, record: dict, schema: dict, treatment: DatetimeErrorTreatmentEnum
    ) -> InputError:
        """Name the first date-time field the SDK cannot parse (those before it are parsed)."""
        properties = schema.get("properties") or {}
        for key, value in record.items():
            prop = properties.get(key)
            kind = get_datelike_property_type(prop) if isinstance(prop, dict) else None
            if not kind or value is None or isinstance(value, dt.date | dt.time):
                continue
            try:
                if not isinstance(value, str):
                    raise TypeError(value)
                one = {key: value}
                super()._parse_timestamps_in_record(record=one, schema=schema, treatment=treatment)
            except (TypeError, ValueError):
                shown = repr(value) if isinstance(value, str) else f"{type(value).__name__} {value}"
                return InputError(
                    f"stream '{self.stream_name}': field '{key}' is {shown[:80]}, not the ISO-8601 "
                    f"{kind} its SCHEMA message declares; fix the upstream tap or its stream maps"
                )
        return InputError(
            f"stream '{self.stream_name}': a record has a date-time field that cannot be parsed; "
            "fix the upstream tap or its stream maps"
        )

    @override
    def process_record(self, record: dict, context: dict) -> None:
        """Map now (bad records fail the run here), keep the row until the batch drains."""
        context.setdefault("rows", []).append(self._map(record))

    def _map(self, record: dict) -> dict[str, Any]:
        row = self.table.map(record, self._defender.mapping_context(self.stream_name))
        if self._learns_names:
            self._defender.account_names.learn(record.get("email"), identity.display_name(record))
        return row

    @override
    def process_batch(self, context: dict) -> None:
        """Write the batch durably; raises (and withholds STATE) if that is not possible.

        A BATCH message's file arrives as ``records`` (raw JSON, not validated or mapped yet):
        they are checked and mapped like RECORD messages' records, not dropped.
        """
        if STOP.cut:  # stopped before the input ended: no acknowledged STATE covers these rows
            return
        rows: list[dict[str, Any]] | None = context.get("rows")
        if rows is None:
            rows = [self._map(self._validate_and_parse(r)) for r in context.get("records", [])]
        self._defender.writer.write(self.table.name, rows)  # durable before its STATE
        self.tally_record_written(len(rows))
        if self._learns_names:
            self._defender.account_names.save()
