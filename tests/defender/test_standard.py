"""singer-sdk's standard target tests, for both destinations.

The SDK's test streams are not Zoom streams, so they exercise the passthrough table
(``unknown_streams: passthrough``, the default) through each destination.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_target_test_class

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, SandboxConfig
from tap_zoom_defender.defender.target import TargetDefender

# Filled in by class-scoped fixtures before the SDK's function-scoped runner reads them.
JSONL_CONFIG: dict = {}
AZURE_CONFIG: dict = {}

_JsonlTests = get_target_test_class(TargetDefender, config=JSONL_CONFIG, parse_env_config=False)
_AzureTests = get_target_test_class(TargetDefender, config=AZURE_CONFIG, parse_env_config=False)


class TestTargetDefenderJsonl(_JsonlTests):
    """Standard tests, jsonl destination."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _output_dir(cls, tmp_path_factory):
        out = tmp_path_factory.mktemp("standard-jsonl")
        JSONL_CONFIG["output_dir"] = str(out)
        yield
        # The suite itself only checks that nothing raised: the rows must be on disk too.
        assert (out / "ZoomPassthrough_CL.jsonl").stat().st_size > 0


class TestTargetDefenderAzureMonitor(_AzureTests):
    """Standard tests, azure_monitor destination: real Azure clients, the Azure Monitor emulator."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _emulator(cls, tmp_path_factory):
        azure = AzureMonitorSandbox(
            SandboxConfig(ca_dir=tmp_path_factory.mktemp("standard-ca"))
        ).start()
        AZURE_CONFIG.update(
            destination="azure_monitor",
            output_dir=str(tmp_path_factory.mktemp("standard-azure")),
            azure_retry_backoff_factor=0.05,
            azure_retry_backoff_max=0.2,
            **azure.target_settings(),
        )
        with pytest.MonkeyPatch.context() as patch:
            for key, value in azure.env().items():
                patch.setenv(key, value)
            yield azure
        azure.stop()
        # The suite itself only checks that nothing raised: Azure must have stored the rows.
        assert azure.received("Custom-ZoomPassthrough_CL"), "no rows reached Logs Ingestion"
        stored = azure.rows("ZoomPassthrough_CL")
        assert {row["SourceStream"] for row in stored} >= {"test_array_data"}
