"""A local emulator of Azure Monitor's Logs Ingestion API (with Entra ID), from Microsoft's docs.

The Defender-side twin of ``zoom-sandbox``: it serves, over HTTPS with a throwaway CA, an Entra ID
client-credentials token endpoint and ``POST /dataCollectionRules/{id}/streams/{stream}``; it
loads DCRs and custom-table definitions as a workspace would receive them, evaluates the DCRs'
transformations, and stores rows as Azure would (unknown columns dropped, TimeGenerated window,
64 KB fields, documented limits and errors). It also deploys ARM templates (tables, DCRs,
workspace functions) and evaluates a subset of KQL over the stored rows, with Sentinel's
built-in ASIM parsers (``kql/``). It imports nothing of target-defender, so it stays an
independent check of it. Each rule names the Microsoft page it comes from.

Console script ``azure-monitor-sandbox`` (``--help``); Python API ``AzureMonitorSandbox``; pytest
fixtures in ``tap_zoom_defender.azure_monitor_sandbox.pytest_plugin``.
"""

from .arm import TemplateError
from .dcr import DcrError
from .kql import KQLError, KQLSemanticError
from .sandbox import AzureMonitorSandbox, Call, DcrSource, SandboxConfig
from .tables import TableDefinitionError
from .transform import TransformError

__all__ = [
    "AzureMonitorSandbox",
    "Call",
    "DcrError",
    "DcrSource",
    "KQLError",
    "KQLSemanticError",
    "SandboxConfig",
    "TableDefinitionError",
    "TemplateError",
    "TransformError",
]
