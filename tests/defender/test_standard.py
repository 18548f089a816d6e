"""singer-sdk's standard target tests, for both destinations.

The SDK's test streams are not Zoom streams, so they exercise the passthrough table
(``unknown_streams: passthrough``, the default) through each destination.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import get_target_test_class

from tap_zoom_defender.defender.target import TargetDefender, default_stream_names

from .azure_standin import AzureStandIns

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
    """Standard tests, azure_monitor destination (real Azure clients, local HTTPS stand-ins)."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _stand_ins(cls, tmp_path_factory):
        stand_ins = AzureStandIns(
            tmp_path_factory.mktemp("standard-ca"), set(default_stream_names().values())
        )
        AZURE_CONFIG.update(stand_ins.target_config(tmp_path_factory.mktemp("standard-azure")))
        with pytest.MonkeyPatch.context() as patch:
            for key, value in stand_ins.env().items():
                patch.setenv(key, value)
            yield stand_ins
        stand_ins.stop()
        received = stand_ins.ingestion.received("Custom-ZoomPassthrough_CL")
        assert received, "no rows reached the Logs Ingestion stand-in"
        assert {row["SourceStream"] for row in received} >= {"test_array_data"}
