"""Check target-defender's settings: every problem is one sentence naming the setting to fix.

Why not the SDK's own check: it logs each JSON-schema message (which quotes the bad value, even
of a secret) and then a generic "Config validation failed" line, and exits 1 like a bug would.
Here every problem, whether the JSON schema or a cross-setting rule found it, becomes one
``<problem>: <what to set>`` sentence; the CLI prints each as one ``Configuration error:`` line
and exits 78 (EX_CONFIG, the code tap-zoom-defender uses for its settings too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema.exceptions import ValidationError
from singer_sdk import typing as th

from tap_zoom_defender.defender.destinations.azure_monitor import DEFAULT_SCOPE, credential_kind
from tap_zoom_defender.defender.mapping import DEFAULT_PROFILE, PROFILES

# Settings given in seconds and their defaults. They may arrive as text: Meltano 4.4 passes
# `kind: decimal` settings set from environment variables badly, so meltano.yml declares them
# as strings and they are checked here.
SECONDS_SETTINGS = {
    "azure_retry_backoff_factor": 0.8,
    "azure_retry_backoff_max": 60.0,
    "azure_timeout_seconds": 120.0,
}
DEFAULT_MAX_RETRIES = 8
DEFAULT_OUTPUT_DIR = "output/defender"
# Seconds may arrive as text (see SECONDS_SETTINGS); check_settings checks them.
NUMBER_OR_TEXT = th.CustomType({"type": ["number", "string"]})
_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object (JSON mapping)",
    "array": "a list",
}


CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "schema_profile",
        th.StringType,
        default=DEFAULT_PROFILE,
        allowed_values=sorted(PROFILES),
        description="Mapping profile: asim (ZoomAuthentication_CL, "
        "ZoomAuditEvent_CL) or cloudappevents (ZoomCloudAppEvents_CL). Users always go "
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
        description="Table -> DCR input stream name overrides, e.g. "
        '{"ZoomAuthentication_CL": "Custom-MyStream"}. Default: Custom-<Table>, as the DCR '
        "from azure_setup declares them.",
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
"""target-defender's settings (``--about`` lists them; :func:`check_settings` checks them)."""


def secret_settings(schema: Mapping[str, Any]) -> set[str]:
    """Name the settings whose value is never shown (``secret``/``writeOnly`` in the schema)."""
    properties = schema.get("properties") or {}
    return {
        name
        for name, spec in properties.items()
        if isinstance(spec, Mapping) and (spec.get("secret") or spec.get("writeOnly"))
    }


def schema_problem(error: ValidationError, secrets: set[str]) -> str:
    """Turn one JSON-schema error into ``<problem>: <fix>``, never quoting a secret's value."""
    path = [str(p) for p in error.absolute_path]
    setting = ".".join(path) if path else "the configuration"
    top = path[0] if path else ""
    shown = "(hidden)" if top in secrets else repr(error.instance)
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return f"{setting} {shown} is not supported: set {setting} to one of {choices}"
    if error.validator == "type":
        wanted = error.validator_value
        kinds = wanted if isinstance(wanted, list) else [wanted]
        words = " or ".join(_TYPE_WORDS.get(str(k), str(k)) for k in kinds if k != "null")
        return f"{setting} {shown} is not {words}: set {setting} to {words}"
    message = "is invalid" if top in secrets else error.message
    return f"{setting} {message}: fix {setting}"


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _azure_problems(cfg: Mapping[str, Any], known_tables: set[str]) -> list[str]:
    problems = []
    if not cfg.get("azure_endpoint"):
        problems.append(
            "destination azure_monitor has no Logs Ingestion endpoint: set azure_endpoint to "
            "the DCR's (or DCE's) logs ingestion URL, https://<name>.<region>.ingest.monitor."
            "azure.com"
        )
    elif not str(cfg["azure_endpoint"]).startswith("https://"):
        problems.append(
            f"azure_endpoint {str(cfg['azure_endpoint'])[:80]!r} is not an https:// URL (Azure "
            "Monitor only accepts TLS): set azure_endpoint to the https:// logs ingestion URL"
        )
    if not cfg.get("azure_dcr_immutable_id"):
        problems.append(
            "destination azure_monitor has no Data Collection Rule: set azure_dcr_immutable_id "
            "to the DCR's immutable id (dcr-...)"
        )
    if credential_kind(cfg) == "client_secret":
        what = {
            "azure_tenant_id": "Entra ID tenant",
            "azure_client_id": "app registration (client) id",
            "azure_client_secret": "client secret",
        }
        problems.extend(
            f"azure_credential client_secret has no {label}: set {name}, or set "
            "azure_credential to default"
            for name, label in what.items()
            if not cfg.get(name)
        )
    streams = cfg.get("azure_stream_names")
    unknown = sorted(set(streams) - known_tables) if isinstance(streams, Mapping) else []
    if unknown:
        problems.append(
            f"azure_stream_names names tables this target never writes ({', '.join(unknown)}): "
            f"use only {', '.join(sorted(known_tables))} as keys in azure_stream_names"
        )
    return problems


def check_settings(cfg: Mapping[str, Any], known_tables: set[str]) -> list[str]:
    """Rules the JSON schema cannot say (settings that depend on each other, number ranges).

    Robust to values the JSON schema already rejected: it never raises, it only reports.
    """
    problems = []
    if cfg.get("destination") == "azure_monitor":
        problems.extend(_azure_problems(cfg, known_tables))
    for name, default in SECONDS_SETTINGS.items():
        value = cfg.get(name, default)
        if not _is_number(value):
            problems.append(
                f"{name} {value!r} is not a number of seconds: set {name} to a number, 0 or more"
            )
        elif float(value) < 0:
            problems.append(f"{name} {value!r} is negative: set {name} to 0 or more seconds")
    retries = cfg.get("azure_max_retries", DEFAULT_MAX_RETRIES)
    if _is_number(retries) and float(retries) < 0:
        problems.append(
            f"azure_max_retries {retries} is negative: set azure_max_retries to 0 or more"
        )
    return problems
