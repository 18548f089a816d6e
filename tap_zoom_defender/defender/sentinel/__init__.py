"""The Microsoft Sentinel content shipped with target-defender, read from its YAML files.

- ``parsers/``: ASIM parsers in the YAML form of the Azure-Sentinel repository (``ParserName``,
  ``ParserParams``, ``ParserQuery``): the Zoom source parsers (``vimAuthenticationZoom``,
  ``ASimAuthenticationZoom``, ``vimAuditEventZoom``, ``ASimAuditEventZoom``) and the four custom
  unifying parsers Sentinel's built-in ``_Im_*``/``_ASim_*`` parsers pick up.
- ``hunting/`` and ``analytics/``: queries and scheduled rules in the repository's YAML form.

``azure_setup template`` turns the parsers into workspace functions of its ARM template, so the
files here are the one source of the KQL that gets deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

_ROOT = resources.files(__name__)


@dataclass(frozen=True)
class Parser:
    """One ASIM parser: a workspace function with its parameters and KQL body."""

    name: str
    title: str
    schema: str  # ASIM schema: Authentication | AuditEvent
    params: tuple[tuple[str, str, str], ...]  # (name, type, default as KQL)
    query: str
    source: str  # file name, for messages

    @property
    def function_parameters(self) -> str:
        """The ``functionParameters`` string of a saved function (``name:type=default,...``)."""
        return ",".join(f"{name}:{kind}={default}" for name, kind, default in self.params)


def _load(folder: str) -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for entry in sorted(_ROOT.joinpath(folder).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            documents.append((entry.name, yaml.safe_load(entry.read_text(encoding="utf-8"))))
    return documents


def parsers() -> list[Parser]:
    """Every shipped parser, by file name."""
    loaded = []
    for name, doc in _load("parsers"):
        loaded.append(
            Parser(
                name=doc["ParserName"],
                title=doc["Parser"]["Title"],
                schema=doc["Normalization"]["Schema"],
                params=tuple(
                    (p["Name"], p["Type"], str(p["Default"])) for p in doc.get("ParserParams", [])
                ),
                query=doc["ParserQuery"].strip() + "\n",
                source=f"parsers/{name}",
            )
        )
    return loaded


def hunting_queries() -> list[dict[str, Any]]:
    """Return the shipped hunting queries (Azure-Sentinel YAML documents, plus ``file``)."""
    return [{**doc, "file": f"hunting/{name}"} for name, doc in _load("hunting")]


def analytics_rules() -> list[dict[str, Any]]:
    """Return the shipped scheduled rules (Azure-Sentinel YAML documents, plus ``file``)."""
    return [{**doc, "file": f"analytics/{name}"} for name, doc in _load("analytics")]
