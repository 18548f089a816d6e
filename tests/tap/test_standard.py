"""singer-sdk's standard tap tests, run in-process against the shared session sandbox.

The generated class syncs once per class (class-scoped ``runner`` fixture) and needs a tap at
import time to list streams. So it gets a placeholder config dict that the class-scoped autouse
fixture below fills in with the session sandbox's URLs before that sync runs.
"""

from __future__ import annotations

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_zoom_defender.tap import TapZoom

CONFIG: dict = {
    "account_id": "placeholder-account",
    "client_id": "placeholder-client",
    "client_secret": "placeholder-secret",
    "api_url": "http://127.0.0.1:9/v2",
    "oauth_url": "http://127.0.0.1:9/oauth/token",
}

_Base = get_tap_test_class(TapZoom, config=CONFIG, suite_config=SuiteConfig())


class TestTapZoomStandard(_Base):  # type: ignore[misc, valid-type]
    """The SDK's tap, stream and attribute tests."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _point_at_sandbox(cls, session_sandbox, tmp_path_factory):
        CONFIG.update(
            session_sandbox.tap_config(
                quota_state_path=str(tmp_path_factory.mktemp("quota") / "quota.sqlite")
            )
        )
