"""Name a JSON value's type in an error line ("holds an array, not an object").

Shared by both CLIs' input checks (config, state and catalog files, Singer messages): one
wording for the same fact wherever a user meets it.
"""

from __future__ import annotations

_KINDS = ((bool, "a boolean"), (dict, "an object"), (list, "an array"), (str, "a string"))


def json_kind(value: object) -> str:
    """Return ``an object``, ``an array``, ``a string``, ``a boolean``, ``null`` or ``a number``."""
    for kind, text in _KINDS:
        if isinstance(value, kind):
            return text
    return "null" if value is None else "a number"
