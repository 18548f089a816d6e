"""Check the shape of ``--state`` and ``--catalog`` before the SDK (or a sync) relies on it.

The SDK reads both with bare dict/list operations: a state of ``[]`` or ``{"bookmarks": []}``, a
catalog of ``[]`` or with ``"metadata": 5``, ended in an AttributeError/TypeError traceback and exit
1, and some shapes were silently taken as "no state" (a full re-sync, every event sent again). Each
function here returns the parsed value when it is usable and otherwise raises one error saying
what is wrong, where, and what to do (the CLI prefixes the file name and exits 65).

Not checked here: what only a sync can judge (a bookmark later than Zoom's clock, see
``IncrementalState.check_entry``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import IO, Any

from singer_sdk.helpers._util import load_json

from tap_zoom_defender.errors import InputFileError, StateError
from tap_zoom_defender.json_kind import json_kind
from tap_zoom_defender.windows import IncrementalState

_DROP_STATE = "fix it, or drop --state to sync from lookback_days/start_date (events already "
_DROP_STATE += "loaded are sent again)"
_REDISCOVER = "regenerate the catalog with --discover"


def check_state(state: object, *, report_streams: Collection[str]) -> dict[str, Any]:
    """Return ``state`` if the tap can resume from it; raise StateError otherwise.

    Shape: ``{"bookmarks": {<stream>: {...}}}`` (other top-level keys are the SDK's business).
    Entries of the report streams must hold a usable bookmark and id lists; entries of other
    streams only need to be objects (the SDK reads them as such).
    """
    if not isinstance(state, dict):
        raise StateError(
            f"holds {json_kind(state)}, not a Singer state object like "
            f'{{"bookmarks": {{"activities": {{...}}}}}}; {_DROP_STATE}'
        )
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateError(
            f"'bookmarks' is {json_kind(bookmarks)}, not an object of streams like "
            f'{{"activities": {{...}}}}; {_DROP_STATE}'
        )
    for name, entry in bookmarks.items():
        if name in report_streams:
            IncrementalState.check_entry(entry, name=name)
            continue
        if not isinstance(entry, dict):
            raise StateError(
                f"state for stream {name} is {json_kind(entry)}, not an object; remove the "
                "stream's entry from the state"
            )
        _check_sdk_keys(entry, name)
    for name in report_streams:
        entry = bookmarks.get(name)
        if isinstance(entry, dict):
            _check_sdk_keys(entry, name)
    return state


def _check_sdk_keys(entry: Mapping[str, Any], name: str) -> None:
    """Keys the SDK reads from any stream's entry on its own (and would crash on)."""
    partitions = entry.get("partitions")
    if partitions is not None and (
        not isinstance(partitions, list)
        or not all(isinstance(p, dict) and isinstance(p.get("context"), dict) for p in partitions)
    ):
        raise StateError(
            f"state for stream {name}: 'partitions' must be a list of objects with a 'context' "
            "object (this tap writes none); remove 'partitions' from the stream's entry"
        )
    markers = entry.get("progress_markers")
    if markers is not None and not isinstance(markers, dict):
        raise StateError(
            f"state for stream {name}: 'progress_markers' is {json_kind(markers)}, not an "
            "object; remove 'progress_markers' from the stream's entry"
        )


def check_catalog(catalog: object, *, required: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """Return ``catalog`` if the tap can use it; raise InputFileError otherwise.

    ``required`` names, per stream of this tap, the schema properties it cannot work without
    (keys, the replication key, the fields a record's ``event_id`` is computed from): a catalog
    may deselect other properties, but not these.
    """
    if not isinstance(catalog, dict):
        raise InputFileError(
            f'holds {json_kind(catalog)}, not a Singer catalog object like {{"streams": [...]}}; '
            f"{_REDISCOVER}"
        )
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        shown = "missing" if "streams" not in catalog else json_kind(streams)
        raise InputFileError(f"'streams' is {shown}, not an array of streams; {_REDISCOVER}")
    for index, stream in enumerate(streams):
        where = f"streams[{index}]"
        if not isinstance(stream, dict):
            raise InputFileError(f"{where} is {json_kind(stream)}, not an object; {_REDISCOVER}")
        stream_id = stream.get("tap_stream_id")
        if not isinstance(stream_id, str) or not stream_id:
            raise InputFileError(
                f"{where} has no tap_stream_id string (it is {json_kind(stream_id)}); {_REDISCOVER}"
            )
        _check_catalog_stream(stream, f"stream {stream_id}", required.get(stream_id))
    return catalog


def _check_catalog_stream(
    stream: Mapping[str, Any], where: str, required: Collection[str] | None
) -> None:
    """Check one catalog entry (``required``: None for a stream this tap does not have)."""
    keys = stream.get("key_properties")
    if keys is not None and (
        not isinstance(keys, list) or not all(isinstance(key, str) for key in keys)
    ):
        raise InputFileError(f"{where}: key_properties must be a list of strings; {_REDISCOVER}")
    for key in ("replication_key", "replication_method", "stream"):
        value = stream.get(key)
        if value is not None and not isinstance(value, str):
            raise InputFileError(f"{where}: {key} must be a string; {_REDISCOVER}")
    schema = stream.get("schema", {} if required is None else None)
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(schema, dict) or (
        "properties" in schema and not isinstance(properties, dict)
    ):
        raise InputFileError(f"{where}: 'schema' is not a JSON schema object; {_REDISCOVER}")
    missing = [name for name in required or () if name not in (properties or {})]
    if missing:
        raise InputFileError(
            f"{where}: the schema lacks {', '.join(repr(m) for m in missing)}, which the tap "
            "needs (keys and the fields event_id is computed from); to leave a field out, "
            f"deselect it in the metadata instead (meltano select), or {_REDISCOVER}"
        )
    metadata = stream.get("metadata", [])
    if not isinstance(metadata, list):
        raise InputFileError(f"{where}: 'metadata' is {json_kind(metadata)}, not an array")
    for item in metadata:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("breadcrumb"), list)
            or not isinstance(item.get("metadata"), dict)
        ):
            raise InputFileError(
                f"{where}: every 'metadata' entry must be an object with a 'breadcrumb' array "
                f"and a 'metadata' object; {_REDISCOVER}"
            )
        values = item["metadata"]
        for flag in ("selected", "selected-by-default"):
            if flag in values and not isinstance(values[flag], bool):
                raise InputFileError(
                    f"{where}: metadata {flag!r} is {json_kind(values[flag])}, not true or "
                    'false (a string such as "false" would count as selected)'
                )


def read_state_file(file: IO[str], *, report_streams: Collection[str]) -> dict[str, Any]:
    """Parse and check a ``--state`` file; errors name it (StateError, exit 65)."""
    try:
        return check_state(load_json(file.read()), report_streams=report_streams)
    except ValueError:
        raise StateError(f"--state {file.name}: not valid JSON; {_DROP_STATE}") from None
    except StateError as exc:
        raise StateError(f"--state {file.name}: {exc}") from None


def read_catalog_file(file: IO[str], *, required: Mapping[str, Collection[str]]) -> dict[str, Any]:
    """Parse and check a ``--catalog`` file; errors name it (InputFileError, exit 65)."""
    try:
        return check_catalog(load_json(file.read()), required=required)
    except ValueError:
        raise InputFileError(
            f"--catalog {file.name}: not valid JSON; fix it, or {_REDISCOVER}"
        ) from None
    except InputFileError as exc:
        raise InputFileError(f"--catalog {file.name}: {exc}") from None
