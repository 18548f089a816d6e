"""Scalar expressions: tokens -> syntax tree, and the token cursor the parsers share.

Precedence as in the KQL reference ("Logical (binary) operators": ``and`` binds tighter than
``or``; comparison and string operators bind tighter than both). Arithmetic (``+ - * / %``),
member access (``x.y``, ``x[0]``) and every operator not listed in ``COMPARISONS`` /
``LIST_OPERATORS`` are refused where they appear.
"""

from __future__ import annotations

import json

from ..values import parse_datetime
from .errors import KQLError
from .lexer import Source, Token, tokenize
from .syntax import Binary, Call, Expr, ListOp, Literal, Name

# "String operators" and "Numerical operators" (learn.microsoft.com/kusto/query).
COMPARISONS = {
    "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "has", "!has", "contains", "!contains",
    "startswith", "!startswith", "endswith", "!endswith",
}  # fmt: skip
LIST_OPERATORS = {"in", "!in", "in~", "!in~", "has_any"}
# Operators Kusto has that this emulator does not evaluate (named in the refusal).
KNOWN_UNSUPPORTED = {
    "has_cs", "!has_cs", "hasprefix", "!hasprefix", "hassuffix", "!hassuffix", "contains_cs",
    "!contains_cs", "startswith_cs", "!startswith_cs", "endswith_cs", "!endswith_cs",
    "matches", "like", "notlike", "between", "!between", "has_all", "!has_any", "<>",
}  # fmt: skip
_TYPED_LITERALS = {"bool": "bool", "boolean": "bool", "int": "int", "long": "long",
                   "real": "real", "double": "real", "string": "string"}  # fmt: skip


class Cursor:
    """A position in a token list, with the helpers both parsers use."""

    def __init__(self, source: Source) -> None:
        """Tokenise ``source``."""
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0

    @property
    def peek(self) -> Token:
        """The current token."""
        return self.tokens[self.index]

    def ahead(self, offset: int = 1) -> Token:
        """Return the token ``offset`` places ahead (``end`` past the end)."""
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        """Consume and return the current token."""
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        """Say whether the current token is of ``kind`` (and ``text``)."""
        token = self.peek
        return token.kind == kind and (text is None or token.text == text)

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        """Consume the current token if it matches."""
        return self.next() if self.at(kind, text) else None

    def expect(self, kind: str, text: str | None = None, what: str | None = None) -> Token:
        """Consume a matching token or refuse, naming what was expected."""
        if self.at(kind, text):
            return self.next()
        raise self.error(f"expected {what or repr(text or kind)}, found {describe(self.peek)}")

    def error(self, message: str, token: Token | None = None) -> KQLError:
        """Make an error at ``token`` (default: the current one)."""
        return self.source.error(message, (token or self.peek).pos)


def describe(token: Token) -> str:
    """How a token is named in error messages."""
    return "end of text" if token.kind == "end" else repr(token.text)


def parse_expression(cur: Cursor) -> Expr:
    """Parse one scalar expression at the cursor."""
    return _or(cur)


def _or(cur: Cursor) -> Expr:
    left = _and(cur)
    while cur.at("ident", "or"):
        token = cur.next()
        left = Binary("or", left, _and(cur), token.pos)
    return left


def _and(cur: Cursor) -> Expr:
    left = _comparison(cur)
    while cur.at("ident", "and"):
        token = cur.next()
        left = Binary("and", left, _comparison(cur), token.pos)
    return left


def _comparison(cur: Cursor) -> Expr:
    left = _operand(cur)
    token = cur.peek
    if token.kind not in ("op", "ident"):
        return left
    if token.text in KNOWN_UNSUPPORTED:
        raise cur.error(f"operator {token.text!r} is not supported")
    if token.text in LIST_OPERATORS:
        cur.next()
        cur.expect("op", "(", what=f"'(' after {token.text}")
        items: list[Expr] = []
        if not cur.at("op", ")"):
            items.append(parse_expression(cur))
            while cur.accept("op", ","):
                items.append(parse_expression(cur))
        cur.expect("op", ")")
        result: Expr = ListOp(token.text, left, tuple(items), token.pos)
    elif token.text in COMPARISONS and (token.kind == "op" or token.text[0].isalpha()):
        cur.next()
        result = Binary(token.text, left, _operand(cur), token.pos)
    else:
        return left
    if cur.peek.kind == "op" and cur.peek.text in COMPARISONS | {"in", "in~"}:
        raise cur.error(f"chained comparison {cur.peek.text!r} is not supported")
    return result


def _operand(cur: Cursor) -> Expr:
    expr = _primary(cur)
    token = cur.peek
    if token.kind == "op" and token.text in ("+", "-", "*", "/", "%"):
        raise cur.error(f"arithmetic operator {token.text!r} is not supported")
    if token.kind == "op" and token.text in (".", "["):
        raise cur.error(f"member access {token.text!r} on a value is not supported")
    return expr


def _primary(cur: Cursor) -> Expr:
    token = cur.next()
    if token.kind == "string":
        return Literal(token.value, "string", token.pos)
    if token.kind == "number":
        return Literal(token.value, "real" if isinstance(token.value, float) else "long", token.pos)
    if token.kind == "op" and token.text == "-" and cur.at("number"):
        number = cur.next()
        kind = "real" if isinstance(number.value, float) else "long"
        return Literal(-number.value, kind, token.pos)
    if token.kind == "op" and token.text == "(":
        inner = parse_expression(cur)
        cur.expect("op", ")")
        return inner
    if token.kind == "raw":
        return _raw_literal(cur, token)
    if token.kind == "ident":
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return Literal(lowered == "true", "bool", token.pos)
        if cur.at("op", "("):
            if lowered in _TYPED_LITERALS:
                return _typed_literal(cur, token, _TYPED_LITERALS[lowered])
            cur.next()
            args: list[Expr] = []
            if not cur.at("op", ")"):
                args.append(parse_expression(cur))
                while cur.accept("op", ","):
                    args.append(parse_expression(cur))
            cur.expect("op", ")")
            return Call(token.text, tuple(args), token.pos)
        return Name(token.text, token.pos)
    if token.kind == "unsupported":
        raise cur.error(f"literal {token.text!r} (timespan or hex) is not supported", token)
    raise cur.error(f"expected a scalar expression, found {describe(token)}", token)


def _typed_literal(cur: Cursor, token: Token, kind: str) -> Literal:
    """``bool(null)``, ``int(1)``, ``long(-2)``, ``real(1.5)``: literals of a given type."""
    cur.expect("op", "(")
    inner = cur.next()
    negative = inner.kind == "op" and inner.text == "-"
    if negative:
        inner = cur.next()
    cur.expect("op", ")")
    if inner.kind == "ident" and inner.text == "null" and not negative:
        return Literal(None, kind, token.pos)
    if kind == "bool" and inner.kind == "ident" and inner.text.lower() in ("true", "false"):
        return Literal(inner.text.lower() == "true", "bool", token.pos)
    if kind in ("int", "long", "real") and inner.kind == "number":
        value = -inner.value if negative else inner.value
        return Literal(float(value) if kind == "real" else int(value), kind, token.pos)
    raise cur.error(f"{token.text}({inner.text}) is not a literal this emulator reads", token)


def _raw_literal(cur: Cursor, token: Token) -> Literal:
    raw = token.value
    if token.text == "datetime":
        if raw == "null":
            return Literal(None, "datetime", token.pos)
        parsed = parse_datetime(raw)
        if parsed is None:
            raise cur.error(
                f"datetime({raw}): only ISO 8601 date-times are read by this emulator", token
            )
        return Literal(parsed, "datetime", token.pos)
    if token.text == "dynamic":
        try:
            return Literal(_json_like(raw), "dynamic", token.pos)
        except (ValueError, KQLError):
            raise cur.error(
                f"dynamic({raw}): only JSON values (strings in either quote), or null, are "
                "read by this emulator",
                token,
            ) from None
    raise cur.error(f"{token.text}(...) literals are not supported", token)


def _json_like(raw: str) -> object:
    """Read a ``dynamic(...)`` literal: JSON, with strings in single or double quotes."""
    cur = Cursor(Source(raw, "dynamic literal"))
    value = _json_value(cur)
    cur.expect("end")
    return value


def _json_value(cur: Cursor) -> object:
    token = cur.next()
    if token.kind == "string":
        return token.value
    if token.kind == "number":
        return token.value
    if token.kind == "op" and token.text == "-" and cur.at("number"):
        return -cur.next().value
    if token.kind == "ident" and cur.source.text[token.pos] == "[":
        return [token.text]  # ['x'] lexes as a bracketed name: here it is a one-string array
    if token.kind == "ident" and token.text in ("true", "false", "null"):
        return json.loads(token.text)
    if token.kind == "op" and token.text == "[":
        items: list[object] = []
        while not cur.accept("op", "]"):
            items.append(_json_value(cur))
            if not cur.accept("op", ","):
                cur.expect("op", "]")
                break
        return items
    if token.kind == "op" and token.text == "{":
        mapping: dict[str, object] = {}
        while not cur.accept("op", "}"):
            key = cur.expect("string", what="a property name")
            cur.expect("op", ":")
            mapping[key.value] = _json_value(cur)
            if not cur.accept("op", ","):
                cur.expect("op", "}")
                break
        return mapping
    raise ValueError(f"unexpected {describe(token)}")
