"""The token store: the file that keeps an OAuth app's newest refresh token across runs.

Zoom rotates an OAuth app's refresh token on every use and kills the old one, so the new one
must survive the process that received it: this module writes it atomically (temp file, mode
0600, fsync, rename, fsync of the directory) and reads it back on the next run, together with
the access token issued with it while that lasts (runs within its hour then refresh nothing).
Which token wins, the store's or a newly pasted ``refresh_token`` setting, is decided by
:func:`choose_refresh_token`. Nothing here logs or reprs a secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tap_zoom_defender.errors import ConfigError, register_secret

logger = logging.getLogger("tap_zoom_defender.auth")


def _fingerprint(secret: str) -> str:
    """Return a one-way fingerprint of a token, safe to store next to it and to compare."""
    return hashlib.sha256(secret.encode()).hexdigest()


def setting_fingerprint(setting: str | None) -> str:
    """Return the ``seed_sha256`` that makes a new store win over this ``refresh_token`` setting.

    ``authorize`` writes a chain that is newer than whatever the setting still holds (an old,
    probably dead token, or nothing): seeding the store with the setting's fingerprint makes
    :func:`choose_refresh_token` take the store, until an admin pastes another token there.
    """
    return _fingerprint(setting) if setting else ""


@dataclass(frozen=True)
class StoredToken:
    """What the token store holds: the newest refresh token and where its chain started.

    Plus the access token issued with it, while it lasts: ``access_refresh_at`` is the wall-clock
    time (epoch seconds) at which it is due for renewal, the expiry less the safety margin.
    """

    refresh_token: str
    seed_sha256: str
    saved_at: str
    access_token: str | None = None
    access_refresh_at: float = 0.0
    api_url: str | None = None

    def live_access_token(self) -> tuple[str, float] | None:
        """``(access token, seconds until it is due for renewal)`` if it is still good."""
        left = self.access_refresh_at - time.time()
        if self.access_token and left > 0:
            return self.access_token, left
        return None

    def __repr__(self) -> str:
        """Never show the token itself."""
        return f"StoredToken(saved_at={self.saved_at!r})"


class TokenStore:
    """The file that keeps the newest refresh token across runs.

    Written atomically (temp file in the same directory, mode 0600, fsync, ``os.replace``,
    fsync of the directory) so a crash leaves either the old or the new token, never half of one.
    ``seed_sha256`` fingerprints the ``refresh_token`` *setting* the chain started from: when the
    setting still matches it, the store is newer and wins; when an admin pastes a new token into
    the setting (after consenting again), the setting wins.
    """

    def __init__(self, path: Path) -> None:
        """Remember the path; nothing is read or written yet."""
        self.path = path

    def load(self) -> StoredToken | None:
        """Return the stored token, None if there is no store yet; ConfigError if unreadable."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(
                [f"token_store_path={self.path}: cannot read the token store ({exc.strerror})"]
            ) from None
        try:
            data = json.loads(raw)
            access = data.get("access_token")
            api_url = data.get("api_url")
            stored = StoredToken(
                refresh_token=str(data["refresh_token"]),
                seed_sha256=str(data.get("seed_sha256", "")),
                saved_at=str(data.get("saved_at", "")),
                access_token=access if isinstance(access, str) else None,
                access_refresh_at=float(data.get("access_refresh_at") or 0.0),
                api_url=api_url if isinstance(api_url, str) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigError(
                [
                    f"token_store_path={self.path} is not a token store written by this tap "
                    "(expected JSON with refresh_token): point token_store_path at another file "
                    "or delete it and set refresh_token"
                ]
            ) from None
        register_secret(stored.refresh_token)
        register_secret(stored.access_token)
        return stored

    def save(
        self,
        refresh_token: str,
        seed_sha256: str,
        *,
        access_token: str | None = None,
        access_refresh_at: float = 0.0,
        api_url: str | None = None,
    ) -> None:
        """Atomically replace the store with these tokens (owner read/write only)."""
        payload = json.dumps(
            {
                "refresh_token": refresh_token,
                "seed_sha256": seed_sha256,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "access_token": access_token,
                "access_refresh_at": access_refresh_at,
                "api_url": api_url,
            }
        ).encode()
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        with contextlib.suppress(OSError):  # not every filesystem can fsync a directory
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def choose_refresh_token(setting: str | None, store: TokenStore) -> StoredToken:
    """Return the token chain to go on with: the store's, or a newly consented setting.

    The store wins when it descends from the current setting (or there is no setting); a setting
    that is neither the store's seed nor its token is a newly consented one and wins (without
    the store's access token, which belongs to the old chain).
    """
    stored = store.load()
    if setting:
        register_secret(setting)
        seed = _fingerprint(setting)
        if stored and (stored.seed_sha256 == seed or stored.refresh_token == setting):
            return stored
        if stored:
            logger.info(
                "refresh_token setting is newer than the token store (%s): using the setting",
                store.path,
            )
        return StoredToken(refresh_token=setting, seed_sha256=seed, saved_at="")
    if stored:
        return stored
    raise ConfigError(
        [
            f"token_store_path={store.path} holds no token yet and refresh_token is not set: "
            "set refresh_token to the token from the app's consent flow"
        ]
    )
