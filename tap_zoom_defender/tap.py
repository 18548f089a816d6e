"""TapZoom: the stream list and the shared objects (authenticator, governor, clock).

The settings schema and their checks live in :mod:`tap_zoom_defender.settings`; how expected
problems end the CLI (one line, an exit code) in :mod:`tap_zoom_defender.cli`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_zoom_defender import authorize, prefetch
from tap_zoom_defender.auth import ZoomAuthenticator
from tap_zoom_defender.authorize_settings import CONFIG_PROPERTIES as AUTHORIZE_PROPERTIES
from tap_zoom_defender.cli import ZoomCommand
from tap_zoom_defender.config_files import ConfigFileErrors
from tap_zoom_defender.errors import (
    AuthError,
    ConfigError,
    OutputClosed,
    QuotaStop,
    StateError,
    register_secret,
)
from tap_zoom_defender.governor import QuotaExhausted, RateGovernor
from tap_zoom_defender.graceful_stop import STOP
from tap_zoom_defender.input_files import read_catalog_file, read_state_file
from tap_zoom_defender.listing_stream import ListingStream
from tap_zoom_defender.message_writer import ZoomMessageWriter
from tap_zoom_defender.settings import (
    CONFIG_PROPERTIES,
    DEFAULT_API_URL,
    DEFAULT_OAUTH_URL,
    check_settings,
    coerce_env_strings,
    plain_numbers,
)
from tap_zoom_defender.streams import STREAM_TYPES, ReportStream
from tap_zoom_defender.token_store import TokenStore
from tap_zoom_defender.windows import IncrementalState
from tap_zoom_defender.zoom_clock import ZoomClock

REPORT_STREAMS = frozenset(t.name for t in STREAM_TYPES if issubclass(t, ReportStream))
CATALOG_REQUIRED_FIELDS = {
    t.name: tuple(
        name
        for name in dict.fromkeys(
            [*t.primary_keys, t.replication_key, *getattr(t, "identity_fields", ())]
        )
        if name
    )
    for t in STREAM_TYPES
}
"""Schema properties a --catalog may not drop: keys, replication key, event_id's inputs."""


class TapZoom(ConfigFileErrors, Tap):
    """Zoom users, sign-in/sign-out activity and admin operation logs, for security monitoring."""

    name = "tap-zoom-defender"
    package_name = "tap-zoom-defender"
    config_jsonschema = th.PropertiesList(*CONFIG_PROPERTIES, *AUTHORIZE_PROPERTIES).to_dict()
    message_writer_class = ZoomMessageWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the tap; the quota-stop marker must exist before streams run."""
        self.quota_stop: QuotaExhausted | None = None
        self._explicit_api_url = False
        self._listing_slots: dict[str, prefetch.ListingSlots] = {}
        self.zoom_clock = ZoomClock()
        self.state_file: str | None = None  # the --state file, named in state errors
        super().__init__(*args, **kwargs)

    # --------------------------------------------------------------------------- settings

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our checks first (clear sentences naming the setting), then the SDK's JSON schema."""
        # Config files are parsed with Decimal for numbers; every check (ours, the governor's)
        # and every use wants plain floats.
        self._config = coerce_env_strings(plain_numbers(self._config), self.config_jsonschema)
        self._explicit_api_url = bool(self._config.get("api_url"))
        for name in ("client_secret", "refresh_token"):
            value = self._config.get(name)
            if isinstance(value, str):
                register_secret(value)
        if raise_errors:
            problems = check_settings(self._config)
            if problems:
                raise ConfigError(problems)
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError([f"invalid setting: {error}" for error in exc.errors]) from None

    # ---------------------------------------------------------------------- shared objects

    @cached_property
    def authenticator(self) -> ZoomAuthenticator:
        """The one authenticator (and so the one token) all streams share."""
        config = self.config
        store_path = config.get("token_store_path")
        s2s = bool(config.get("account_id"))
        store = TokenStore(Path(store_path).expanduser()) if store_path and not s2s else None
        authenticator = ZoomAuthenticator(
            oauth_url=config.get("oauth_url") or DEFAULT_OAUTH_URL,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            account_id=config["account_id"] if s2s else None,
            refresh_token=None if s2s else config.get("refresh_token"),
            token_store=store,
        )
        # Zoom's clock, from the Date header of every token response (see zoom_clock.py).
        authenticator.add_response_hook(self.zoom_clock.observe)
        return authenticator

    @cached_property
    def governor(self) -> RateGovernor:
        """The one rate governor of this process (plan-aware pacing, daily budget)."""
        try:
            return RateGovernor.from_config(self.config)
        except ValueError as exc:
            raise ConfigError([str(exc)]) from None

    @property
    def api_base_url(self) -> str:
        """The API base: the api_url setting, or else the one Zoom's token response names."""
        if self._explicit_api_url:
            return str(self.config["api_url"]).rstrip("/")
        self.authenticator.ensure_token()
        return (self.authenticator.token_api_url or DEFAULT_API_URL).rstrip("/")

    # ---------------------------------------------------------------------------- streams

    @override
    def discover_streams(self) -> list:
        """Return the three streams (their schemas are static)."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @override
    def load_streams(self) -> list:
        """Keep the streams in ``STREAM_TYPES`` order (users first), not the SDK's name order.

        The SDK syncs streams in the order this returns, and sorts them by name. Users, a small
        snapshot, go first: a target naming accounts from them (target-defender's
        ``cloudappevents`` profile) then knows every name before the run's first event.
        """
        order = {stream_type.name: i for i, stream_type in enumerate(STREAM_TYPES)}
        return sorted(super().load_streams(), key=lambda s: order.get(s.name, len(order)))

    def note_quota_stop(self, exc: QuotaExhausted) -> None:
        """Remember that a stream stopped at the daily quota; the CLI exits 75 at the end."""
        if self.quota_stop is None:
            self.quota_stop = exc

    def listing_slots(self, category: str) -> prefetch.ListingSlots:
        """Return the listing slots of one rate category, shared by every stream's pool.

        Called on the SDK's thread only (a stream creating its pool); the slots themselves are
        used by the worker threads and are thread-safe.
        """
        return self._listing_slots.setdefault(category, prefetch.ListingSlots())

    @override
    def sync_all(self) -> None:
        """Start every selected stream's listings now, then let the SDK emit stream by stream.

        The SDK syncs one stream after another: operation logs and users would only be requested
        once every activity record was emitted (CPU bound), the rate budget idle meanwhile. So
        each selected stream plans its sync (from its bookmark) and starts its prefetcher here,
        in the SDK's stream order; the SDK then emits each stream as before, from that plan,
        with the same records and STATE. Listings of streams sharing a rate budget take turns
        through its listing slots, the stream emitted first served first. With
        ``max_workers: 1`` nothing starts early (one request at a time, the SDK's way).

        Whatever ends the sync (an error, a quota stop, a stop signal) closes every started
        prefetcher: workers stop after their current request, spools and temp files go.
        """
        STOP.check()
        self.check_report_state()
        early = True
        with contextlib.ExitStack() as fetching:
            for stream in self.streams.values():
                if (
                    not isinstance(stream, ListingStream)
                    or stream.parent_stream_type
                    or not (stream.selected or stream.has_selected_descendents)
                ):
                    continue  # the SDK skips it too: nothing to fetch
                fetching.callback(stream.stop_fetching)
                # After a failed start its error is raised at its turn; the rest would meet it.
                early = early and stream.max_workers > 1 and stream.start_fetching()
            super().sync_all()

    def check_report_state(self) -> None:
        """Read Zoom's clock, then check every selected report stream's state before any sync.

        The token request comes first (every request needs it anyway): its Date header (or, with
        an access token from the token store, that of one small API request) says where Zoom's
        clock is, so planning ends the sync there (see :mod:`zoom_clock`) and a
        bookmark later than Zoom's "now" is refused for every stream before anything is
        emitted, not when the SDK reaches that stream.
        """
        reports = [
            stream
            for stream in self.streams.values()
            if isinstance(stream, ReportStream) and stream.selected
        ]
        if not reports:
            return
        self.authenticator.ensure_token()
        if self.zoom_clock.offset() is None and self.authenticator.refresh_count == 0:
            # The access token came from the token store, so Zoom has not answered yet: one
            # small request (users if selected: no daily quota) tells Zoom's clock.
            users = self.streams.get("users")
            probe = users if users is not None and users.selected else reports[0]
            probe.probe()  # type: ignore[attr-defined]
        self.zoom_clock.warn_if_skewed()
        now = self.zoom_clock.sync_end()
        bookmarks = self.state.get("bookmarks") or {}
        try:
            for stream in reports:
                entry = bookmarks.get(stream.name, {})
                IncrementalState.check_entry(entry, name=stream.name, now=now)
        except StateError as exc:
            where = f"--state {self.state_file}: " if self.state_file else ""
            raise StateError(f"{where}{exc}") from None

    @override
    def _setup_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop at a safe point (see :mod:`graceful_stop`), not the SDK's way."""
        STOP.install()

    def wait_for_token_refresh(self) -> None:
        """Let a refresh in flight on a worker thread store its new token; start no other."""
        if "authenticator" in self.__dict__:  # created (cached_property): it may be refreshing
            self.authenticator.close()

    def check_access(self) -> None:
        """``--test``: get a token, then one request per endpoint; name every missing scope."""
        self.authenticator.ensure_token()
        self.logger.info("Zoom accepted the credentials (%s)", self.authenticator.mode)
        missing: list[str] = []
        for stream in self.streams.values():
            try:
                stream.probe()  # type: ignore[attr-defined]
            except AuthError as exc:
                if "lacks the scope" not in str(exc):
                    raise
                missing.append(str(exc))
                continue
            self.logger.info("Stream %s: GET %s OK", stream.name, stream.path)  # type: ignore[attr-defined]
        if missing:
            raise AuthError("; ".join(missing))
        self.logger.info("Connection test passed: credentials valid, every scope granted")

    # -------------------------------------------------------------------------------- CLI

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """Return the SDK's command, with one-line errors and exit codes for expected problems."""
        command = super().get_singer_command()
        zoom_command = ZoomCommand(
            name=command.name,
            callback=command.callback,
            params=command.params,
            help=command.help,
            epilog=f"See also '{cls.name} {authorize.COMMAND} --help': connect an OAuth app.",
            context_settings=command.context_settings,
            logger=cls.logger,
        )
        zoom_command.tap_class = cls
        return zoom_command

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        """Run a sync; bad --state is an error line, and a quota stop exits 75 after STATE."""
        super(Tap, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        state_dict = None
        if state is not None:
            state_dict = read_state_file(state, report_streams=REPORT_STREAMS)
        catalog_dict = None
        if catalog is not None:
            catalog_dict = read_catalog_file(catalog, required=CATALOG_REQUIRED_FIELDS)
        tap = cls(
            config=config.config,
            state=state_dict,
            catalog=catalog_dict,
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        tap.state_file = state.name if state is not None else None
        try:
            tap.sync_all()
        except BrokenPipeError:
            # Whatever is left in the buffer has nowhere to go; the exit flush must not fail.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise OutputClosed(
                "the target stopped reading the tap's output (broken pipe): see the target's "
                "log; the next run resumes from the last STATE the target acknowledged"
            ) from None
        finally:
            tap.wait_for_token_refresh()
        STOP.check()  # a signal during the last stream's final steps: still not a success
        if tap.quota_stop is not None:
            raise QuotaStop(
                f"Stopped early: {tap.quota_stop}. Everything fetched so far was emitted and the "
                "state saved; run again after the reset to resume"
            )

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: check credentials and every scope with one request per endpoint."""
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
        tap.check_access()
        ctx.exit()


if __name__ == "__main__":
    TapZoom.cli()
