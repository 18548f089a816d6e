"""Statements and tabular expressions: tokens -> syntax tree (``syntax.py``).

Grammar of the subset (KQL reference: "let statement", "union operator", "datatable operator",
"where", "extend", "project", "project-away", "project-rename", "User-defined functions")::

    query     := (let ';')* tabular [';']
    let       := 'let' name '=' ( '(' params ')' '{' query '}' | scalar )
    params    := [name ':' type ['=' literal] (',' ...)*]     -- also functionParameters text
    tabular   := source ('|' operator)*
    source    := name | name '(' args ')' | '(' tabular ')' | union | datatable
    union     := 'union' ['kind=outer'] ['isfuzzy=' bool] leg (',' leg)*
    operator  := where expr | extend A = e, ... | project A [= e], ...
               | project-away A, ... | project-rename New = Old, ...

Anything else is refused where it stands (``KQLError``, with line and column).
"""

from __future__ import annotations

from .expressions import Cursor, describe, parse_expression
from .lexer import Source
from .syntax import (
    Arg,
    Body,
    DataTable,
    Expr,
    Extend,
    Invoke,
    LetFunction,
    LetScalar,
    Literal,
    Name,
    Operator,
    Param,
    Pipeline,
    Project,
    ProjectAway,
    ProjectRename,
    TableRef,
    Tabular,
    Union_,
    Where,
)

# Scalar types of function parameters ("Scalar data types"; synonyms as Kusto accepts them).
PARAM_TYPES = {"string": "string", "bool": "bool", "boolean": "bool", "datetime": "datetime",
               "date": "datetime", "dynamic": "dynamic", "int": "int", "long": "long",
               "real": "real", "double": "real"}  # fmt: skip
_UNSUPPORTED_SOURCES = {"print", "range", "search", "find", "externaldata", "evaluate",
                        "materialize", "view", "cluster", "database", "workspace", "app",
                        "table", "toscalar", "set", "declare", "alias", "pattern",
                        "restrict"}  # fmt: skip


def parse_query(text: str, label: str = "query") -> Body:
    """Parse a whole query (or a saved function's body): lets, then one tabular expression."""
    cur = Cursor(Source(text, label))
    body = _body(cur)
    if not cur.at("end"):
        previous = cur.tokens[cur.index - 1]
        if previous.kind == "op" and previous.text == ";":
            raise cur.error(
                f"only one tabular expression statement is supported, found {describe(cur.peek)}"
            )
        raise cur.error(f"unexpected {describe(cur.peek)}")
    return body


def parse_parameters(text: str, label: str = "functionParameters") -> tuple[Param, ...]:
    """Parse a saved function's ``functionParameters`` (``a:string='x', b:bool=false``)."""
    cur = Cursor(Source(text, label))
    params = _params(cur, closing="end")
    cur.expect("end", what="end of the parameter list")
    return params


def _body(cur: Cursor) -> Body:
    lets: list[LetScalar | LetFunction] = []
    while True:
        while cur.accept("op", ";"):
            pass
        if not cur.at("ident", "let"):
            break
        lets.append(_let(cur))
        cur.expect("op", ";", what="';' after a let statement")
    token = cur.peek
    if token.kind == "ident" and token.text in _UNSUPPORTED_SOURCES:
        raise cur.error(f"{token.text!r} is not supported")
    result = _tabular(cur)
    while cur.accept("op", ";"):
        pass
    return Body(tuple(lets), result)


def _let(cur: Cursor) -> LetScalar | LetFunction:
    start = cur.expect("ident", "let")
    name = cur.expect("ident", what="a name after 'let'").text
    cur.expect("op", "=", what=f"'=' after 'let {name}'")
    if cur.at("op", "(") and (
        cur.ahead().text == ")" or (cur.ahead().kind == "ident" and cur.ahead(2).text == ":")
    ):
        cur.next()
        params = _params(cur, closing=")")
        cur.expect("op", ")")
        cur.expect("op", "{", what="'{' opening the function body")
        body = _body(cur)
        cur.expect("op", "}", what="'}' closing the function body")
        return LetFunction(name, params, body, start.pos)
    if cur.at("ident") and cur.peek.text in ("view", "materialize", "toscalar"):
        raise cur.error(f"let ... = {cur.peek.text}(...) is not supported")
    value = parse_expression(cur)
    if cur.at("op", "|"):
        raise cur.error(f"let {name} = <tabular expression> is not supported (scalar lets only)")
    return LetScalar(name, value, start.pos)


def _params(cur: Cursor, closing: str) -> tuple[Param, ...]:
    params: list[Param] = []
    if cur.at("op", ")") or cur.at("end"):
        return ()
    while True:
        token = cur.expect("ident", what="a parameter name")
        cur.expect("op", ":", what=f"':' and a type after parameter {token.text}")
        if cur.at("op", "("):
            raise cur.error(f"tabular parameter {token.text} is not supported")
        kind_token = cur.expect("ident", what=f"the type of parameter {token.text}")
        kind = PARAM_TYPES.get(kind_token.text)
        if kind is None:
            raise cur.error(
                f"parameter type {kind_token.text!r} is not supported "
                f"({', '.join(sorted(set(PARAM_TYPES)))})",
                kind_token,
            )
        default = None
        if cur.accept("op", "="):
            at = cur.peek
            value = parse_expression(cur)
            if not isinstance(value, Literal):
                raise cur.error(f"the default of parameter {token.text} must be a literal", at)
            default = value
        elif params and params[-1].default is not None:
            raise cur.error(f"parameter {token.text} without a default after one with a default")
        params.append(Param(token.text, kind, default, token.pos))
        if not cur.accept("op", ","):
            return tuple(params)
        if closing == ")" and cur.at("op", ")"):
            raise cur.error("a parameter is expected after ','")


def _tabular(cur: Cursor) -> Tabular:
    start = cur.peek
    source = _source(cur)
    operators: list[Operator] = []
    while cur.accept("op", "|"):
        operators.append(_operator(cur))
    if cur.at("op", "*"):
        raise cur.error("wildcard table names are not supported")
    return Pipeline(source, tuple(operators), start.pos) if operators else source


def _source(cur: Cursor) -> Tabular:
    token = cur.peek
    if cur.accept("op", "("):
        inner = _tabular(cur)
        cur.expect("op", ")")
        return inner
    if token.kind != "ident":
        raise cur.error(f"expected a table, a function call or union, found {describe(token)}")
    if token.text == "union":
        return _union(cur)
    if token.text == "datatable":
        return _datatable(cur)
    if token.text in _UNSUPPORTED_SOURCES:
        raise cur.error(f"{token.text!r} is not supported")
    cur.next()
    if cur.at("op", "("):
        return Invoke(token.text, _args(cur), token.pos)
    return TableRef(token.text, token.pos)


def _args(cur: Cursor) -> tuple[Arg, ...]:
    cur.expect("op", "(")
    args: list[Arg] = []
    if cur.accept("op", ")"):
        return ()
    while True:
        start = cur.peek
        if start.kind == "ident" and cur.ahead().kind == "op" and cur.ahead().text == "=":
            cur.next()
            cur.next()
            args.append(Arg(start.text, parse_expression(cur), start.pos))
        else:
            if any(arg.name for arg in args):
                raise cur.error("a positional argument after a named one")
            args.append(Arg(None, parse_expression(cur), start.pos))
        if not cur.accept("op", ","):
            break
    cur.expect("op", ")", what="')' or ',' in the argument list")
    return tuple(args)


def _union(cur: Cursor) -> Union_:
    start = cur.expect("ident", "union")
    fuzzy = False
    while cur.at("ident") and cur.ahead().text == "=":
        name = cur.next()
        cur.next()
        value = cur.next()
        setting = (name.text, value.text.lower())
        if setting in (("isfuzzy", "true"), ("isfuzzy", "false")):
            fuzzy = setting[1] == "true"
        elif setting != ("kind", "outer"):
            raise cur.error(f"union parameter {name.text}={value.text} is not supported", name)
    legs = [_leg(cur)]
    while cur.accept("op", ","):
        legs.append(_leg(cur))
    return Union_(tuple(legs), fuzzy, start.pos)


def _leg(cur: Cursor) -> Tabular:
    token = cur.peek
    if cur.accept("op", "("):
        inner = _tabular(cur)
        cur.expect("op", ")")
        return inner
    name = cur.expect("ident", what="a union leg (table, function call or '(' query ')')")
    if cur.at("op", "*"):
        raise cur.error("wildcard table names in union are not supported")
    if cur.at("op", "("):
        return Invoke(name.text, _args(cur), token.pos)
    return TableRef(name.text, token.pos)


def _datatable(cur: Cursor) -> DataTable:
    start = cur.expect("ident", "datatable")
    cur.expect("op", "(")
    columns = []
    while True:
        name = cur.expect("ident", what="a column name")
        cur.expect("op", ":")
        kind = cur.expect("ident", what=f"the type of column {name.text}")
        if kind.text not in PARAM_TYPES:
            raise cur.error(f"datatable column type {kind.text!r} is not supported", kind)
        columns.append((name.text, PARAM_TYPES[kind.text]))
        if not cur.accept("op", ","):
            break
    cur.expect("op", ")")
    cur.expect("op", "[")
    values: list[Expr] = []
    while not cur.at("op", "]"):
        values.append(parse_expression(cur))
        if not cur.accept("op", ","):
            break
    cur.expect("op", "]")
    if len(values) % len(columns):
        raise cur.error(f"datatable has {len(values)} values for {len(columns)} columns", start)
    return DataTable(tuple(columns), tuple(values), start.pos)


def _operator(cur: Cursor) -> Operator:
    token = cur.next()
    word = token.text if token.kind == "ident" else ""
    if word in ("where", "filter"):
        return Where(parse_expression(cur), token.pos)
    if word == "extend":
        return Extend(tuple(_assignments(cur, "extend", required=True)), token.pos)
    if word == "project":
        return Project(tuple(_assignments(cur, "project", required=False)), token.pos)
    if word == "project-away":
        return ProjectAway(tuple(_names(cur, word)), token.pos)
    if word == "project-rename":
        pairs = []
        while True:
            new = cur.expect("ident", what="New = Old in project-rename")
            cur.expect("op", "=", what=f"'=' after {new.text} in project-rename")
            old = cur.expect("ident", what=f"the column renamed to {new.text}")
            pairs.append((new.text, old.text, old.pos))
            if not cur.accept("op", ","):
                return ProjectRename(tuple(pairs), token.pos)
    if word:
        raise cur.error(f"operator {word!r} is not supported", token)
    raise cur.error(f"expected an operator after '|', found {describe(token)}", token)


def _assignments(cur: Cursor, operator: str, required: bool) -> list[tuple[str, Expr]]:
    items = []
    while True:
        name = cur.peek
        if name.kind != "ident" or (required and cur.ahead().text != "="):
            raise cur.error(f"{operator}: only 'Column = expression' items are supported")
        if cur.ahead().text == "=":
            cur.next()
            cur.next()
            items.append((name.text, parse_expression(cur)))
        else:
            expr = parse_expression(cur)
            if expr != Name(name.text, name.pos):
                raise cur.error(f"{operator}: an expression needs a name ('Name = ...')", name)
            items.append((name.text, expr))
        if cur.at("op", "*"):
            raise cur.error(f"{operator}: wildcards are not supported")
        if not cur.accept("op", ","):
            return items


def _names(cur: Cursor, operator: str) -> list[tuple[str, int]]:
    names = []
    while True:
        name = cur.expect("ident", what=f"a column name in {operator}")
        if cur.at("op", "*"):
            raise cur.error(f"{operator}: wildcards are not supported")
        names.append((name.text, name.pos))
        if not cur.accept("op", ","):
            return names
