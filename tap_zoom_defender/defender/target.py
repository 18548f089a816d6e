"""target-defender: Zoom records in Microsoft's security shapes (ASIM / CloudAppEvents).

Delivery guarantee: a STATE message is written to stdout only after every record received
before it is durable (fsynced file, or HTTP 204 from Azure Monitor). The SDK already writes
STATE only after draining all sinks; this target additionally drains whenever the tap sends a
new STATE, so each acknowledgement follows its own data instead of waiting for the end of the
run (a killed pipeline then resumes from the last bookmark the tap actually reached).
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import json
import signal
import sys
from pathlib import Path
from typing import Any

from singer_sdk.exceptions import (
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.io_base import SingerReader
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.target_base import Target

from tap_zoom_defender.config_files import ConfigFileErrors
from tap_zoom_defender.defender.destinations.azure_monitor import (
    DEFAULT_SCOPE,
    AzureMonitorDestination,
    build_credential,
)
from tap_zoom_defender.defender.destinations.jsonl import JsonlDestination
from tap_zoom_defender.defender.errors import ConfigError, DefenderError, InputError
from tap_zoom_defender.defender.graceful_stop import STOP, STOP_GRACE_S, read_lines
from tap_zoom_defender.defender.mapping import (
    PASSTHROUGH,
    PROFILES,
    MappingContext,
    Table,
    all_tables,
)
from tap_zoom_defender.defender.messages import check_message
from tap_zoom_defender.defender.names import AccountNames
from tap_zoom_defender.defender.ordered_writer import OrderedWriter
from tap_zoom_defender.defender.settings import (
    CONFIG_SCHEMA,
    DEFAULT_MAX_RETRIES,
    DEFAULT_OUTPUT_DIR,
    SECONDS_SETTINGS,
    check_settings,
    schema_problem,
    secret_settings,
)
from tap_zoom_defender.defender.sinks import DefenderSink

try:  # Python 3.12+
    from typing import override  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    from typing_extensions import override


def default_stream_names() -> dict[str, str]:
    """Table -> DCR input stream (``Custom-<table>``; ``Custom-Zoom<table>`` for ASim tables)."""
    return {name: table.default_stream for name, table in all_tables().items()}


# The SDK's ``deserialize_json`` (``json.loads(line, parse_float=Decimal)``) builds a new decoder
# per line; one decoder with the same settings reads each line at a fraction of the cost.
_DECODER = json.JSONDecoder(parse_float=decimal.Decimal)


class _Reader(SingerReader):
    """Singer reader whose bad input fails with one line, not a traceback and a full dump."""

    line_number = 0

    @override
    def deserialize_json(self, line: str) -> dict:
        self.line_number += 1
        try:
            message = _DECODER.decode(line)
        except ValueError:
            raise InputError(
                f"input line {self.line_number} is not a JSON Singer message "
                f"(starts {line[:60]!r}); check what the tap writes to stdout"
            ) from None
        if not isinstance(message, dict):
            raise InputError(f"input line {self.line_number} is not a JSON object")
        check_message(message, self.line_number)
        return message

    @override
    def process_lines(self, file_input: Any, callbacks: dict) -> Any:
        """Read until the input ends, or until a stop signal's grace period is over."""
        return super().process_lines(read_lines(file_input or self.default_input, STOP), callbacks)

    @override
    def _process_unknown_message(self, message_dict: dict) -> None:
        raise InputError(
            f"input line {self.line_number} has unknown Singer message type "
            f"{str(message_dict.get('type'))[:40]!r}"
        )


class TargetDefender(ConfigFileErrors, Target):
    """Singer target writing Zoom users, sign-ins and admin operations in Defender shapes."""

    name = "target-defender"
    package_name = "tap-zoom-defender"  # the distribution that ships this console script
    default_sink_class = DefenderSink
    message_reader_class = _Reader

    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, **kwargs: Any) -> None:
        """Check settings that depend on each other, then build the destination once."""
        super().__init__(**kwargs)
        if not kwargs.get("validate_config", True):
            # Built without validation (library use): still refuse settings we cannot run with.
            problems = check_settings(self.config, set(all_tables()))
            if problems:
                raise ConfigError(problems)
        self.profile: dict[str, Table] = PROFILES[self.config.get("schema_profile", "asim")]
        self.output_dir = Path(self.config.get("output_dir") or DEFAULT_OUTPUT_DIR)
        self.account_names = AccountNames(self.output_dir)
        self._snapshot_time = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._contexts: dict[str, MappingContext] = {}
        self._last_written_state: str | None = None
        self.destination = self._build_destination()
        # Drains only hand batches to the writer thread, so the SDK's parallel drain threads
        # would add nothing but their start-up cost at every STATE.
        self.max_parallelism = 1
        self.writer = OrderedWriter(self.destination, self._emit_state)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Every settings problem as one ``<problem>: <fix>`` sentence (ConfigError, exit 78).

        Replaces the SDK's check, which logs each JSON-schema message (quoting the value, even
        a secret's) plus a generic "Config validation failed" line and exits 1 like a bug.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        secrets = secret_settings(schema)
        # The SDK's validator also fills in defaults, as the SDK's own check would.
        errors = sorted(
            JSONSchemaValidator(schema).iter_errors(self._config),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        problems = [schema_problem(e, secrets) for e in errors]
        problems += check_settings(self._config, set(all_tables()))
        if problems and raise_errors:
            raise ConfigError(problems)
        for problem in problems:
            self.logger.warning("Configuration problem (not checked strictly): %s", problem)
        return problems

    def _build_destination(self) -> JsonlDestination | AzureMonitorDestination:
        cfg = self.config
        if cfg.get("destination", "jsonl") == "jsonl":
            return JsonlDestination(self.output_dir)
        seconds = {name: float(cfg.get(name, d)) for name, d in SECONDS_SETTINGS.items()}
        return AzureMonitorDestination(
            endpoint=cfg["azure_endpoint"],
            rule_id=cfg["azure_dcr_immutable_id"],
            stream_names={**default_stream_names(), **(cfg.get("azure_stream_names") or {})},
            credential=build_credential(cfg),
            dead_letter_dir=self.output_dir / "dead-letter",
            max_retries=int(cfg.get("azure_max_retries", DEFAULT_MAX_RETRIES)),
            backoff_factor=seconds["azure_retry_backoff_factor"],
            backoff_max=seconds["azure_retry_backoff_max"],
            timeout_seconds=seconds["azure_timeout_seconds"],
            credential_scope=cfg.get("azure_credential_scope") or DEFAULT_SCOPE,
        )

    def table_for(self, stream_name: str) -> Table:
        """Return the table a stream maps to; unknown streams pass through or are rejected."""
        table = self.profile.get(stream_name)
        if table is not None:
            return table
        if self.config.get("unknown_streams", "passthrough") == "passthrough":
            self.logger.info(
                "Stream '%s' is not a Zoom stream this target maps; writing it raw to %s",
                stream_name,
                PASSTHROUGH.name,
            )
            return PASSTHROUGH
        raise InputError(
            f"stream '{stream_name}' is not one of {sorted(self.profile)}; deselect it in the "
            "tap, or set unknown_streams=passthrough to load it raw into "
            f"{PASSTHROUGH.name}"
        )

    def mapping_context(self, stream_name: str) -> MappingContext:
        """Per-stream context (cached): display names and the run's snapshot time."""
        ctx = self._contexts.get(stream_name)
        if ctx is None:
            ctx = MappingContext(
                stream=stream_name,
                display_name=self.account_names.get,
                snapshot_time=self._snapshot_time,
            )
            self._contexts[stream_name] = ctx
        return ctx

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        """Acknowledge each new STATE as soon as the data before it is durable."""
        previous = self._latest_state
        super()._process_state_message(message_dict)
        if self._latest_state != previous:
            self.drain_all()

    @override
    def _write_state_message(self, state: dict) -> None:
        """Write each distinct STATE once (drain_all repeats the latest one at end of input)."""
        text = json.dumps(state, sort_keys=True)
        if text == self._last_written_state:
            return
        self._last_written_state = text
        self.writer.acknowledge(state)

    def _emit_state(self, state: dict) -> None:
        """Write a STATE to stdout (the writer thread calls this once its rows are durable)."""
        super()._write_state_message(state)

    @override
    def _setup_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: read the tap's output to its end first (see :mod:`graceful_stop`).

        Replaces the SDK's handler, which drains the sinks from inside the signal handler (in
        the middle of whatever the main thread was writing) and exits 0.
        """
        STOP.install()

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        """Refuse ACTIVATE_VERSION for a stream without SCHEMA (the SDK's KeyError)."""
        self._require_schema(message_dict)
        super()._process_activate_version_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        """Read a BATCH message's files; one that cannot be read is one InputError line."""
        self._require_schema(message_dict)
        try:
            super()._process_batch_message(message_dict)
        except (OSError, ValueError, NotImplementedError) as exc:
            where = getattr(exc, "filename", None) or ", ".join(message_dict["manifest"])
            raise InputError(
                f"input line {self.message_reader.line_number}: the BATCH files of stream "
                f"'{message_dict['stream']}' ({where}) cannot be read: "
                f"{_first_line(str(exc), 200)}; check the tap's batch_config"
            ) from None

    def _require_schema(self, message_dict: dict) -> None:
        if message_dict["stream"] not in self.mapper.stream_maps:
            raise InputError(
                f"input line {self.message_reader.line_number}: a {message_dict['type']} "
                f"message for stream '{message_dict['stream']}' came before its SCHEMA; check "
                "what the tap writes to stdout"
            )

    @override
    def listen(self, file_input: Any = None) -> None:
        """Read all input; whatever happens, let the writer finish before the process ends.

        On an error the batches already handed over (each before a STATE the tap sent) are
        still written and acknowledged: a STATE line is never cut off mid-write by the exit.
        """
        try:
            super().listen(file_input)
        finally:
            self.writer.close()
            self.destination.close()

    @override
    def process_endofpipe(self) -> None:
        """Drain what is left and wait until it is durable and its STATE acknowledged."""
        super().process_endofpipe()
        self.writer.finish()

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the target; expected failures become one error line and a distinct exit code."""
        _tune_garbage_collector()
        try:
            super().invoke(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                cls.logger.error("Configuration error: %s", problem)
            sys.exit(exc.exit_code)
        except DefenderError as exc:
            cls.logger.error("%s", exc)
            sys.exit(exc.exit_code)
        except (
            InvalidInputLine,
            InvalidJSONSchema,
            RecordsWithoutSchemaException,
            MissingKeyPropertiesError,
        ) as exc:
            cls.logger.error("Bad Singer input: %s", _first_line(str(exc), 300))
            sys.exit(InputError.exit_code)
        except UnicodeDecodeError as exc:
            cls.logger.error(
                "Bad Singer input: not UTF-8 text (byte %s); check what the tap writes to stdout",
                exc.object[exc.start : exc.start + 1].hex(),
            )
            sys.exit(InputError.exit_code)
        if STOP.exit_code is not None:
            name = signal.Signals(STOP.signum).name
            if STOP.cut:
                cls.logger.warning(
                    "Stopped by %s: the input did not end within %.0f s, so records after the "
                    "last acknowledged STATE were not written; the tap sends them again on the "
                    "next run",
                    name,
                    STOP_GRACE_S,
                )
            else:
                cls.logger.warning(
                    "Stopped by %s: everything received is written and its last STATE "
                    "acknowledged; run again to resume",
                    name,
                )
            sys.exit(STOP.exit_code)


GC_THRESHOLDS = (100_000, 50, 100)
"""Cyclic garbage collector thresholds for the target process.

Every record allocates a few dicts (the message, the record, the row): with Python's default
first threshold (700 allocations) the collector ran several times per batch and scanned the
batches in flight each time, 15-20% of the CPU of a run. The rows form no cycles (reference
counting frees them), so collecting rarely changes nothing but the time spent. Objects created
at start-up (modules, schemas) are frozen out of every collection.
"""


def _tune_garbage_collector() -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _first_line(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
