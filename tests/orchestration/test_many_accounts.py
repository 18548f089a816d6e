"""Many Zoom accounts on Dagster (Meltano's dagster utility) with their state in Azure Blob Storage.

Three rounds over every account of orchestration/accounts.meltano.yml, each account on its own
Zoom sandbox, the Meltano state in Azurite (``azure://``), the runs launched through Dagster's
run queue and executed by its run workers (``meltano run ... --force`` via dagster-meltano):

1. first sync: each account's records are exactly its own Zoom's, its state, quota store and
   (for the account on an OAuth app) token store are its own;
2. the clocks move on: the next round is incremental (only new events, nothing twice);
3. one account's run worker is SIGKILLed mid-sync: the other accounts finish, the dead run
   leaves the remote state untouched, Dagster marks it failed and retries it by itself, and the
   retry resumes from the remote state: nothing lost, nothing the earlier rounds delivered is
   read again.

The tests share one fleet (module fixture) and run in order: each round builds on the last.
"""

from __future__ import annotations

import time
from collections import Counter

from .conftest import Fleet
from .dagster_ui import kill_worker, run_worker_of
from .fleet import (
    CONTAINER,
    FIELDS,
    JOB_TAG,
    as_counter,
    bookmark,
    key,
    state_ids,
    states,
)

ROUNDS: list[dict] = []  # per round: account -> {"rows": ..., "state": ...}


def _launch_all(fleet: Fleet) -> dict[str, str]:
    return {name: fleet.dagster.launch(a.job) for name, a in fleet.accounts.items()}


def _assert_succeeded(fleet: Fleet, runs: dict[str, str]) -> None:
    statuses = fleet.dagster.wait(list(runs.values()))
    failed = {name: run for name, run in runs.items() if statuses[run] != "SUCCESS"}
    assert not failed, "\n\n".join(
        f"{name}: {statuses[run]}\n{fleet.dagster.logs(run)}" for name, run in failed.items()
    )


def _remote_states(fleet: Fleet) -> dict[str, dict]:
    ids = [a.state_id for a in fleet.accounts.values()]
    got = states(fleet.project, fleet.env, ids)
    return {name: got[a.state_id] for name, a in fleet.accounts.items()}


def _truth(account, stream: str, end) -> Counter:
    return as_counter(stream, account.sandbox.ground_truth(stream, None, end))


def _token(account) -> str:
    return account.token_store.read_text() if account.token_store.exists() else ""


def _event_ids(rows: list[dict]) -> set[str]:
    return {r["event_id"] for r in rows}


def test_round_1_each_account_syncs_its_own_zoom_into_its_own_remote_state(fleet: Fleet):
    runs = _launch_all(fleet)
    _assert_succeeded(fleet, runs)
    for name, run in runs.items():  # the run queue's one-run-per-job tag is on every run
        assert fleet.dagster.run(run)["tags"].get(JOB_TAG) == fleet.accounts[name].job

    ids = state_ids(fleet.project, fleet.env)
    assert {a.state_id for a in fleet.accounts.values()} <= ids, ids
    blobs = fleet.azurite.blob_names(CONTAINER)
    for account in fleet.accounts.values():  # in the emulator itself: one blob per account
        assert any(b.endswith(f"zoom/{account.state_id}/state.json") for b in blobs), blobs

    remote = _remote_states(fleet)
    round_1 = {}
    for name, account in fleet.accounts.items():
        rows = account.take_new_rows()
        others = [a for a in fleet.accounts.values() if a is not account]
        users = {u["id"] for u in account.sandbox.ground_truth("users")}
        assert {u["id"] for u in rows["users"]} == users, f"{name}: users"
        for stream in FIELDS:
            end = bookmark(remote[name], stream)
            got = as_counter(stream, rows[stream])
            assert got, f"{name}: no {stream}"
            assert got == _truth(account, stream, end), f"{name} {stream} != its Zoom's"
            foreign = {key(stream, r) for o in others for r in o.sandbox.ground_truth(stream)}
            assert not set(got) & foreign, f"{name} received another account's {stream}"
            # The remote state remembers this account's events, and only them.
            seen = _seen_prefixes(remote[name], stream)
            assert seen and seen <= {i[:16] for i in _event_ids(rows[stream])}
        # Its own quota store counted exactly the report requests its own Zoom served.
        assert account.quota_matches_zoom(), name
        # An OAuth app keeps its rotating refresh token in its own token store (owner-only).
        assert account.token_store.exists() == account.oauth_app, name
        if account.oauth_app:
            assert account.token_store.stat().st_mode & 0o077 == 0
        round_1[name] = {"rows": rows, "state": remote[name], "token": _token(account)}
    ROUNDS.append(round_1)


def test_round_2_is_incremental_per_account(fleet: Fleet):
    assert len(ROUNDS) == 1, "needs round 1"
    for account in fleet.accounts.values():
        account.sandbox.advance_clock(3 * 3600)  # three hours of new sign-ins and admin actions
    _assert_succeeded(fleet, _launch_all(fleet))
    remote = _remote_states(fleet)
    round_2 = {}
    for name, account in fleet.accounts.items():
        before = ROUNDS[0][name]
        rows = account.take_new_rows()
        for stream in FIELDS:
            new, old = rows[stream], before["rows"][stream]
            assert 0 < len(new) < len(old), f"{name} {stream}: {len(new)} new vs {len(old)}"
            assert not _event_ids(new) & _event_ids(old), f"{name} {stream}: read again"
            end = bookmark(remote[name], stream)
            assert end > bookmark(before["state"], stream)
            assert as_counter(stream, old + new) == _truth(account, stream, end)
        assert account.quota_matches_zoom(), name
        if account.oauth_app:  # Zoom rotated the token; the store kept the new one
            assert _token(account) != before["token"]
        round_2[name] = {"rows": rows, "state": remote[name]}
    ROUNDS.append(round_2)


def test_a_killed_worker_is_retried_by_dagster_and_resumes_from_the_remote_state(fleet: Fleet):
    assert len(ROUNDS) == 2, "needs rounds 1 and 2"
    victim = fleet.accounts[sorted(fleet.accounts)[0]]
    before = ROUNDS[1][victim.name]["state"]
    for account in fleet.accounts.values():
        account.sandbox.advance_clock(26 * 3600)  # two more days of reports to page through
    victim.sandbox.set_faults(latency=0.8)  # slow enough to be caught mid-sync
    served = len(victim.sandbox.request_log)
    runs = _launch_all(fleet)

    killed = kill_worker(_wait_mid_sync(victim, served))
    assert len(killed) >= 4, "the worker, the shell, meltano, the tap and the target"
    partial = victim.take_new_rows()  # what the dead run had written (its retry starts later)
    victim.sandbox.clear_faults()
    # A dead run writes no state: the remote state is still exactly round 2's.
    assert _remote_states(fleet)[victim.name] == before

    dead = runs[victim.name]
    assert fleet.dagster.wait([dead])[dead] == "FAILURE", "Dagster must notice the dead worker"
    retry = fleet.dagster.retry_of(dead)  # run_retries in dagster.yaml: no operator needed
    _assert_succeeded(
        fleet, {**{n: r for n, r in runs.items() if n != victim.name}, "retry": retry}
    )
    assert fleet.dagster.run(retry)["tags"].get(JOB_TAG) == victim.job

    final = _remote_states(fleet)
    rows = victim.take_new_rows()
    for stream in FIELDS:
        new = rows[stream]
        old = [*ROUNDS[0][victim.name]["rows"][stream], *ROUNDS[1][victim.name]["rows"][stream]]
        assert new, f"{stream}: the retry read nothing"
        assert not _event_ids(new) & _event_ids(old), f"{stream}: restarted, not resumed"
        end = bookmark(final[victim.name], stream)
        assert end > bookmark(before, stream)
        # Exactly once over the committed runs; what the dead run wrote is all in the retry.
        assert as_counter(stream, old + new) == _truth(victim, stream, end)
        assert set(as_counter(stream, partial[stream])) <= set(as_counter(stream, new))
    for name in fleet.accounts:  # the other accounts went on unaffected
        if name != victim.name:
            ahead = final[name]
            assert bookmark(ahead, "activities") > bookmark(ROUNDS[1][name]["state"], "activities")
    _assert_no_secret_logged(fleet)


def _wait_mid_sync(victim, served: int, timeout: float = 90.0):
    """The victim's run worker, once its tap has had a few report pages answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = [e for e in victim.sandbox.request_log[served:] if e.category == "Heavy"]
        if len(reports) >= 3:
            worker = run_worker_of(f"tap-zoom-{victim.name}")
            if worker is not None:
                return worker
        time.sleep(0.1)
    raise AssertionError(f"{victim.name}'s run never got under way")


def _seen_prefixes(state: dict, stream: str) -> set[str]:
    """16-hex-digit event_id prefixes in a stream's dedupe state (``seen`` and ``emitting``)."""
    ids = set()
    stream_state = state["singer_state"]["bookmarks"][stream]
    for chunk_key in ("seen", "emitting"):
        for chunk in stream_state.get(chunk_key) or []:
            joined = chunk.partition(" ")[2]
            ids |= {joined[i : i + 16] for i in range(0, len(joined), 16)}
    return ids


def _assert_no_secret_logged(fleet: Fleet) -> None:
    """No client secret in Dagster's logs, run storage or compute logs (or the console)."""
    files = [fleet.dagster.log_path, *(p for p in fleet.dagster_home.rglob("*") if p.is_file())]
    for path in files:
        data = path.read_bytes()
        for secret in fleet.secrets():
            assert secret.encode() not in data, f"a client secret is in {path}"
