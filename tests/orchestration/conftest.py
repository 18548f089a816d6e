"""One fleet per module: Azurite, a sandbox per account, the project copy and Dagster."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .azurite import Azurite, require_azurite
from .dagster_ui import Dagster
from .fleet import (
    CONTAINER,
    PROJECT,
    Account,
    base_env,
    copy_project,
    require_orchestrator,
    start_accounts,
)


@dataclass
class Fleet:
    """Everything a scale-out test drives and checks."""

    project: Path
    env: dict[str, str]
    accounts: dict[str, Account]
    azurite: Azurite
    dagster: Dagster
    dagster_home: Path

    def secrets(self) -> list[str]:
        """Values that must never appear in a log."""
        return [s for a in self.accounts.values() for s in a.secrets]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Azurite + one sandbox per account + ``meltano invoke dagster:dev`` on a project copy."""
    require_azurite()
    require_orchestrator()
    root = tmp_path_factory.mktemp("fleet")
    azurite = Azurite(root / "azurite", root / "azurite.log")
    accounts: dict[str, Account] = {}
    dagster = None
    try:
        azurite.create_container(CONTAINER)
        accounts = start_accounts(root / "accounts")
        project = copy_project(root / "project")
        dagster_home = root / "dagster-home"
        dagster_home.mkdir()
        shutil.copy2(PROJECT / "orchestration" / "dagster" / "dagster.yaml", dagster_home)
        env = base_env(project, azurite.connection_string, dagster_home)
        for account in accounts.values():
            env.update(account.variables())
        dagster = Dagster(project, env, root / "dagster.log")
        dagster.wait_ready([a.job for a in accounts.values()])
        yield Fleet(project, env, accounts, azurite, dagster, dagster_home)
    finally:
        if dagster is not None:
            dagster.stop()
        for account in accounts.values():
            account.sandbox.stop()
        azurite.stop()
