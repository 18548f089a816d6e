"""target-defender: Zoom records in Microsoft's security shapes (ASIM / CloudAppEvents).

Delivery guarantee: a STATE message is written to stdout only after every record received
before it is durable (fsynced file, or HTTP 204 from Azure Monitor). The SDK already writes
STATE only after draining all sinks; this target additionally drains whenever the tap sends a
new STATE, so each acknowledgement follows its own data instead of waiting for the end of the
run (a killed pipeline then resumes from the last bookmark the tap actually reached).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import (
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.io_base import SingerReader
from singer_sdk.plugin_base import JSONSchemaValidator
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.target_base import Target

from tap_zoom_defender.config_files import ConfigFileErrors
from tap_zoom_defender.defender.destinations.azure_monitor import (
    DEFAULT_SCOPE,
    AzureMonitorDestination,
    build_credential,
)
from tap_zoom_defender.defender.destinations.jsonl import JsonlDestination
from tap_zoom_defender.defender.errors import ConfigError, DefenderError, InputError
from tap_zoom_defender.defender.mapping import (
    DEFAULT_PROFILE,
    PASSTHROUGH,
    PROFILES,
    MappingContext,
    Table,
    all_tables,
)
from tap_zoom_defender.defender.names import AccountNames
from tap_zoom_defender.defender.settings import (
    DEFAULT_MAX_RETRIES,
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

DEFAULT_OUTPUT_DIR = "output/defender"
# Seconds may arrive as text (see settings.SECONDS_SETTINGS); settings.py checks them.
NUMBER_OR_TEXT = th.CustomType({"type": ["number", "string"]})


def default_stream_names() -> dict[str, str]:
    """Table -> DCR input stream (``Custom-<table>``; ``Custom-Zoom<table>`` for ASim tables)."""
    return {name: table.default_stream for name, table in all_tables().items()}


class _Reader(SingerReader):
    """Singer reader whose bad input fails with one line, not a traceback and a full dump."""

    line_number = 0

    @override
    def deserialize_json(self, line: str) -> dict:
        self.line_number += 1
        try:
            message = deserialize_json(line)
        except ValueError:
            raise InputError(
                f"input line {self.line_number} is not a JSON Singer message "
                f"(starts {line[:60]!r}); check what the tap writes to stdout"
            ) from None
        if not isinstance(message, dict):
            raise InputError(f"input line {self.line_number} is not a JSON object")
        return message

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

    config_jsonschema = th.PropertiesList(
        th.Property(
            "schema_profile",
            th.StringType,
            default=DEFAULT_PROFILE,
            allowed_values=sorted(PROFILES),
            description="Mapping profile: asim (ASimAuthenticationEventLogs, "
            "ASimAuditEventLogs) or cloudappevents (ZoomCloudAppEvents_CL). Users always go "
            "to ZoomIdentityInfo_CL.",
        ),
        th.Property(
            "destination",
            th.StringType,
            default="jsonl",
            allowed_values=["jsonl", "azure_monitor"],
            description="jsonl: one <Table>.jsonl file per table under output_dir. "
            "azure_monitor: the Azure Monitor Logs Ingestion API.",
        ),
        th.Property(
            "output_dir",
            th.StringType,
            default=DEFAULT_OUTPUT_DIR,
            description="jsonl table files; for every destination also the dead-letter/ "
            "directory and the email -> display name map.",
        ),
        th.Property(
            "unknown_streams",
            th.StringType,
            default="passthrough",
            allowed_values=["passthrough", "reject"],
            description="Streams other than users, activities and operation_logs: passthrough "
            "writes them raw to ZoomPassthrough_CL; reject stops the run.",
        ),
        th.Property(
            "azure_endpoint",
            th.StringType,
            description="Logs ingestion endpoint of the Data Collection Endpoint (or of the "
            "DCR), e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com",
        ),
        th.Property(
            "azure_dcr_immutable_id",
            th.StringType,
            description="The Data Collection Rule's immutable id (dcr-...).",
        ),
        th.Property(
            "azure_stream_names",
            th.ObjectType(additional_properties=th.StringType),
            description="Table -> DCR input stream name overrides. Defaults: Custom-<Table> "
            "for custom tables, Custom-Zoom<Table> for the ASim tables (the DCR routes them to "
            "Microsoft-<Table>).",
        ),
        th.Property(
            "azure_credential",
            th.StringType,
            allowed_values=["client_secret", "default"],
            description="client_secret (app registration) or default (DefaultAzureCredential:"
            " managed identity, environment, Azure CLI...). Default: client_secret when "
            "azure_client_secret is set, else default.",
        ),
        th.Property("azure_tenant_id", th.StringType, description="Entra ID tenant id."),
        th.Property("azure_client_id", th.StringType, description="App registration (client) id."),
        th.Property(
            "azure_client_secret",
            th.StringType,
            secret=True,
            description="App registration client secret.",
        ),
        th.Property(
            "azure_authority",
            th.StringType,
            description="Entra ID authority host for sovereign clouds, e.g. "
            "login.microsoftonline.us (default: public cloud).",
        ),
        th.Property(
            "azure_disable_instance_discovery",
            th.BooleanType,
            default=False,
            description="Skip authority validation (private clouds / Azure Stack only).",
        ),
        th.Property(
            "azure_credential_scope",
            th.StringType,
            default=DEFAULT_SCOPE,
            description="Token scope; change only for sovereign clouds "
            "(e.g. https://monitor.azure.us//.default).",
        ),
        th.Property(
            "azure_max_retries",
            th.IntegerType,
            default=DEFAULT_MAX_RETRIES,
            description="Retries per call on 429 (honouring Retry-After), 5xx and network "
            "errors before the batch is dead-lettered.",
        ),
        th.Property(
            "azure_retry_backoff_factor",
            NUMBER_OR_TEXT,
            default=0.8,
            description="Exponential backoff factor in seconds when no Retry-After is given.",
        ),
        th.Property(
            "azure_retry_backoff_max",
            NUMBER_OR_TEXT,
            default=60,
            description="Longest backoff between retries, in seconds.",
        ),
        th.Property(
            "azure_timeout_seconds",
            NUMBER_OR_TEXT,
            default=120,
            description="Connect and read timeout per call, in seconds.",
        ),
    ).to_dict()

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
        super()._write_state_message(state)

    @override
    def process_endofpipe(self) -> None:
        """Drain (and acknowledge) what is left, then close the destination."""
        try:
            super().process_endofpipe()
        finally:
            self.destination.close()

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the target; expected failures become one error line and a distinct exit code."""
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


def _first_line(text: str, limit: int) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
