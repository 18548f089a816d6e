"""What an emulator is started with: ``SandboxConfig`` (and ``DcrSource`` for one DCR)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .limits import BYTES_PER_WINDOW, MAX_CALL_BYTES, REQUESTS_PER_WINDOW, WINDOW_SECONDS
from .workspace import FIELD_LIMIT_BYTES


@dataclass
class DcrSource:
    """A DCR to load: a JSON document (dict), JSON text, or a path to a JSON file."""

    document: dict[str, Any] | str | Path
    immutable_id: str | None = None
    label: str | None = None


@dataclass
class SandboxConfig:
    """Everything configurable; every field has a usable default.

    The workspace set-up is the union of ``dcrs``, ``table_definitions``, the generated set-up
    of ``azure_setup_profiles`` and the ARM ``templates``. With none of ``dcrs``, ``templates``
    and ``azure_setup_profiles``, the ARM template the project generates for the asim profile
    is deployed (``setup_loader.py``).
    """

    dcrs: list[DcrSource | dict[str, Any] | str | Path] = field(default_factory=list)
    # custom table definitions: file paths, or text (az commands / JSON)
    table_definitions: list[str | Path] = field(default_factory=list)
    # run the project's azure_setup generator for these profiles (DCR + custom tables)
    azure_setup_profiles: list[str] = field(default_factory=list)
    # ARM deployment templates (dict, JSON text or file path): tables, DCRs, functions
    templates: list[dict[str, Any] | str | Path] = field(default_factory=list)
    # values of the templates' parameters (by name; text is read as the declared type)
    template_parameters: dict[str, Any] = field(default_factory=dict)
    dcr_immutable_id: str | None = None  # for the first DCR loaded (if it has none)
    tenant_id: str = "00000000-0000-4000-8000-00000000cafe"
    client_id: str = "11111111-2222-4333-8444-555555555555"
    client_secret: str = field(default_factory=lambda: "sandbox~" + secrets.token_urlsafe(18))
    # app registrations that get tokens but lack "Monitoring Metrics Publisher": (id, secret)
    apps_without_role: list[tuple[str, str]] = field(default_factory=list)
    token_ttl: float = 3599.0
    max_call_bytes: int = MAX_CALL_BYTES
    field_limit_bytes: int = FIELD_LIMIT_BYTES
    rate_limit_requests: int = REQUESTS_PER_WINDOW
    rate_limit_bytes: int = BYTES_PER_WINDOW
    rate_window_seconds: float = WINDOW_SECONDS
    host: str = "127.0.0.1"
    port: int = 0
    ca_dir: Path | None = None  # where ca.pem is written; a temporary directory if None
    request_log_limit: int = 10_000
    verbose: bool = False
