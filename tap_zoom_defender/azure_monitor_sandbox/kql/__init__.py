"""A subset of the Kusto Query Language (KQL), enough to run ASIM parsers over the workspace.

Azure's own way to read a Log Analytics workspace is a KQL query; Microsoft Sentinel's ASIM
parsers are KQL functions saved in the workspace ("Manage ASIM parsers",
https://learn.microsoft.com/azure/sentinel/normalization-manage-parsers). This package evaluates
the part of KQL those parsers need, with the semantics of the KQL reference
(https://learn.microsoft.com/kusto/query), and refuses everything else with a
:class:`KQLError` naming the construct and its line and column: a query the emulator cannot
evaluate never gets a guessed answer. What Kusto itself would reject (unknown table, column,
function or parameter, mismatched types) is a :class:`KQLSemanticError`.

The subset:

- statements: ``let name = <scalar>;``, ``let f = (p:type[=literal], ...) { <query> };``
  (types string, bool, datetime, dynamic, int, long, real), then one tabular expression;
  ``//`` comments;
- tabular sources: a table; a function (``let``, workspace or built-in) called with arguments
  by position and/or name, or without parentheses when every parameter has a default;
  ``union [kind=outer] [isfuzzy=true|false] leg, ...`` (legs: names, calls, ``(query)``);
  ``datatable(Col:type, ...) [values]``;
- operators: ``where``/``filter``, ``extend A = e, ...``, ``project A, B = e, ...``,
  ``project-away A, ...``, ``project-rename New = Old, ...``;
- scalar literals: ``'x'``, ``"x"``, ``@'x'``, numbers, ``true``/``false`` (any case),
  ``datetime(ISO 8601 | null)``, ``dynamic(JSON | null)``, ``bool(...)``, ``int(...)``,
  ``long(...)``, ``real(...)``;
- operators: ``and``, ``or``, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (numbers and
  datetimes), ``=~``, ``!~``, ``has``, ``!has``, ``contains``, ``!contains``, ``startswith``,
  ``!startswith``, ``endswith``, ``!endswith``, ``in``, ``!in``, ``in~``, ``!in~``,
  ``has_any`` (lists of scalars and/or dynamic arrays);
- functions: isnull, isnotnull, isempty, isnotempty, not, array_length, coalesce, iff, iif,
  tostring, todatetime, toint, strcat, has_any_ipv4_prefix, column_ifexists;
- Sentinel built-ins: ``_Im_Authentication``, ``_ASim_Authentication``, ``_Im_AuditEvent``,
  ``_ASim_AuditEvent`` and their ``*_Native`` parsers (``sentinel.py``).

Modules: ``lexer.py`` (text -> tokens), ``syntax.py`` (the tree), ``expressions.py`` and
``parser.py`` (tokens -> tree), ``scalars.py`` (Kusto's scalar semantics), ``compiler.py``
(type-checks an expression against a row schema), ``evaluator.py`` (statements, calls and
operators over a :class:`Catalog`), ``sentinel.py`` (the built-in parsers).
"""

from .errors import KQLError, KQLSemanticError
from .evaluator import Catalog, FunctionSpec, QueryResult, Table, run_query
from .parser import parse_parameters

__all__ = [
    "Catalog",
    "FunctionSpec",
    "KQLError",
    "KQLSemanticError",
    "QueryResult",
    "Table",
    "parse_parameters",
    "run_query",
]
