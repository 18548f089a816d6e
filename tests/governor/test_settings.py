"""Throttling settings: defaults a user relies on, and one clear error naming each bad setting."""

from __future__ import annotations

import pytest
from singer_sdk import typing as th

from tap_zoom_defender.governor import RateGovernor
from tap_zoom_defender.throttle_settings import config_properties


def test_defaults_follow_plan_and_share(make_governor):
    pro = make_governor(plan="pro")
    assert pro.budget_per_second("Heavy") == 5.0  # 10/s on Pro x default share 0.5
    assert pro.budget_per_second("Light") == 15.0
    assert pro.settings.daily_request_budget == 15_000  # half of Pro's 30,000 Heavy quota

    business = make_governor(plan="business", rate_limit_share=1.0)
    assert business.budget_per_second("Heavy") == 40.0
    assert business.settings.daily_request_budget == 30_000


def test_override_is_the_account_limit_and_share_still_applies(make_governor):
    governor = make_governor(plan="pro", rate_limits_per_second={"Heavy": 20}, rate_limit_share=0.5)
    assert governor.budget_per_second("Heavy") == 10.0
    assert governor.budget_per_second("Medium") == 10.0  # untouched categories keep the plan


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"rate_limit_share": 0}, "rate_limit_share"),
        ({"rate_limit_share": 1.5}, "rate_limit_share"),
        ({"rate_limit_share": "half"}, "rate_limit_share"),
        ({"rate_limits_per_second": {"Heavvy": 5}}, "rate_limits_per_second"),
        ({"rate_limits_per_second": {"Heavy": -1}}, "rate_limits_per_second"),
        ({"rate_limits_per_second": [5]}, "rate_limits_per_second"),
        ({"daily_request_budget": 0}, "daily_request_budget"),
        ({"daily_request_budget": 2.5}, "daily_request_budget"),
        ({"plan": "platinum"}, "plan"),
        ({"quota_state_path": ""}, "quota_state_path"),
        ({"shared_rate_limits": "yes"}, "shared_rate_limits"),
    ],
)
def test_bad_setting_is_named(make_governor, config, setting):
    with pytest.raises(ValueError, match=rf"^{setting}: ") as caught:
        make_governor(**config)
    assert "\n" not in str(caught.value)


def test_unusable_quota_file_is_named(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"^quota_state_path: cannot use"):
        RateGovernor.from_config({"quota_state_path": str(blocker / "quota.sqlite")})


def test_unknown_category_is_refused(make_governor):
    with pytest.raises(ValueError, match="unknown rate-limit category 'Heavyy'"):
        make_governor().acquire("Heavyy")


def test_config_properties_document_the_settings():
    schema = th.PropertiesList(*config_properties()).to_dict()["properties"]
    assert set(schema) == {
        "rate_limit_share",
        "rate_limits_per_second",
        "daily_request_budget",
        "quota_state_path",
        "shared_rate_limits",
    }
    assert schema["rate_limit_share"]["default"] == 0.5
    assert all(prop["description"] for prop in schema.values())
