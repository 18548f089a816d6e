"""One "pipeline" as its own OS process: governed report requests against a sandbox.

Run as ``python pipeline_process.py CONFIG_JSON REQUESTS``; prints the statuses it got as JSON.
Used to prove that pipelines in separate processes can share one per-second budget.
"""

from __future__ import annotations

import json
import sys

import requests

from tap_zoom_defender.governor import RateGovernor


def main() -> None:
    config = json.loads(sys.argv[1])
    count = int(sys.argv[2])
    governor = RateGovernor.from_config(config)
    token = requests.post(
        config["oauth_url"],
        params={"grant_type": "account_credentials", "account_id": config["account_id"]},
        auth=(config["client_id"], config["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    statuses = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for _ in range(count):
            governor.acquire("Heavy")
            response = session.get(
                config["api_url"] + "/report/activities", params=config["params"], timeout=30
            )
            statuses.append(response.status_code)
            if response.status_code != 429:
                governor.on_response("Heavy", response)
    governor.close()
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
