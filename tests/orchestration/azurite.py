"""Azurite, Microsoft's Azure Storage emulator, as the remote Meltano state backend of a test.

Installed by ``make azurite`` (``npm ci`` in orchestration/azurite, from the committed lock file);
started here on a free loopback port with a throwaway data folder, telemetry off.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = PROJECT / "orchestration" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account and key (the same in every Azurite; not a secret).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"listens on (http://127\.0\.0\.1:(\d+))")


def require_azurite() -> None:
    """Fail (not skip) with what to run when Node.js or the Azurite package is missing."""
    if shutil.which("node") is None:
        pytest.fail(
            "Node.js is not installed: the state-backend test runs Azurite (an npm package). "
            "Install Node.js >= 18 and npm, then run `make azurite`."
        )
    if not AZURITE_BLOB.exists():
        pytest.fail(
            f"Azurite is not installed ({AZURITE_BLOB} is missing): run `make azurite` "
            "(npm ci in orchestration/azurite); `make test` does it."
        )


class Azurite:
    """One ``azurite-blob`` process; ``connection_string`` reaches it."""

    def __init__(self, location: Path, log: Path) -> None:
        """Start Azurite on a free port and wait until it listens."""
        location.mkdir(parents=True, exist_ok=True)
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [
                str(AZURITE_BLOB),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--location",
                str(location),
                "--skipApiVersionCheck",  # the Python SDK may be newer than the emulator
                "--disableTelemetry",  # nothing leaves the machine
                "--silent",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint = self._wait_listening(30.0)

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_path.read_text())
            if match:
                return f"{match.group(1)}/{ACCOUNT}"
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"Azurite did not start:\n{self.log_path.read_text()[-2000:]}")

    @property
    def connection_string(self) -> str:
        """What MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING takes."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    def create_container(self, name: str) -> None:
        """Create a blob container (Meltano's backend expects it to exist, as in Azure)."""
        from azure.storage.blob import BlobServiceClient

        BlobServiceClient.from_connection_string(self.connection_string).create_container(name)

    def blob_names(self, container: str) -> list[str]:
        """Every blob in a container, read straight from the emulator."""
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        return sorted(b.name for b in client.get_container_client(container).list_blobs())

    def stop(self) -> None:
        """Stop the emulator."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
