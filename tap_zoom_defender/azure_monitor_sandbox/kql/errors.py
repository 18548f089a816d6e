"""The two ways a query fails: not evaluated here, or rejected by Kusto itself."""

from __future__ import annotations


class KQLError(ValueError):
    """A query (or part of one) this emulator does not evaluate; names the construct and where.

    The emulator never guesses what Kusto would answer: anything outside the supported subset
    (``kql/__init__.py`` lists it) is refused with this error, also inside ``union isfuzzy=true``.
    """

    code = "KQLError"


class KQLSemanticError(KQLError):
    """A query Kusto itself rejects when it analyses it.

    Unknown table, column or function, wrong argument types, a parameter the function does not
    declare, ...

    Kept apart from :class:`KQLError` because ``union isfuzzy=true`` tolerates exactly these
    failures in a union leg ("union operator", isfuzzy: "any resolution failure yields a
    warning in the query status results, but won't prevent the query execution").
    """

    code = "SemanticError"


def where(text: str, position: int, label: str) -> str:
    """Describe ``position`` in ``text`` as ``label line L, column C``."""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"{label} line {line}, column {column}"
