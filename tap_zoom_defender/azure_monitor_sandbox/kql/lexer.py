"""KQL text -> tokens, each with its offsets so that errors can say where they are.

Token rules follow the Kusto Query Language reference (learn.microsoft.com/kusto/query):
string literals ('...', "...", with backslash escapes; @'...' verbatim; h'...' obfuscated),
bracketed names (['Name']), ``//`` comments, hyphenated operator names (``project-away``), and
the operators written with punctuation (``!in``, ``in~``, ``=~``, ``!has``, ...). Literals
written ``datetime(...)`` and ``dynamic(...)`` keep their raw text: what is inside is not
expression syntax (``datetime(2026-01-02T03:04:05Z)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import KQLError, KQLSemanticError, where


@dataclass(frozen=True)
class Token:
    """One token: kind (ident, string, number, op, raw, unsupported, end), text, offsets, value.

    ``text`` is the name for identifiers (bracketed names unwrapped), the operator for ``op``,
    the literal's type name for ``raw`` (``datetime``/``dynamic``/...); ``value`` is the decoded
    string, the number, or the raw text inside a raw literal's parentheses.
    """

    kind: str
    text: str
    pos: int
    end: int
    value: Any = None


@dataclass(frozen=True)
class Source:
    """A query text and what to call it in error messages (the query, or a function's name)."""

    text: str
    label: str

    def error(self, message: str, pos: int, semantic: bool = False) -> KQLError:
        """Make an error that says where in this text it happened."""
        kind = KQLSemanticError if semantic else KQLError
        return kind(f"{where(self.text, pos, self.label)}: {message}")


# Operator names written with a hyphen (Kusto's tabular operators): one token each.
HYPHENATED = {
    "project-away", "project-rename", "project-keep", "project-reorder", "mv-expand",
    "mv-apply", "make-series", "top-nested", "top-hitters", "parse-where", "parse-kv",
    "make-graph", "graph-match", "graph-to-table", "graph-merge", "graph-shortest-paths",
}  # fmt: skip
# Raw-literal forms: the text inside the parentheses is read by the parser, not tokenised.
RAW_LITERALS = {"datetime", "dynamic", "timespan", "time", "guid"}

_SPACE = re.compile(r"(?:\s+|//[^\n]*)+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_BRACKETED = re.compile(r"\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\s*\]")
_PUNCT = ("==", "!=", "=~", "!~", "<=", ">=", "<>", "=>", "..")
_SINGLE = "()[]{},;|:=<>.+-*/%!?~"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def tokenize(source: Source) -> list[Token]:
    """Split ``source`` into tokens, ending with an ``end`` token."""
    text, pos, tokens = source.text, 0, []
    while True:
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
        if pos >= len(text):
            tokens.append(Token("end", "end of text", pos, pos))
            return tokens
        token = _next(source, pos)
        tokens.append(token)
        pos = token.end


def _next(source: Source, pos: int) -> Token:
    text = source.text
    char = text[pos]
    if char in "'\"" or (char in "@hH" and text[pos + 1 : pos + 2] in ("'", '"')):
        return _string(source, pos)
    if char == "[":
        bracketed = _BRACKETED.match(text, pos)
        if bracketed:
            raw = bracketed.group(1) if bracketed.group(1) is not None else bracketed.group(2)
            return Token("ident", _unescape(raw), pos, bracketed.end())
    ident = _IDENT.match(text, pos)
    if ident:
        return _word(source, pos, ident.group(), ident.end())
    number = _NUMBER.match(text, pos)
    if number:
        tail = _IDENT.match(text, number.end())
        if tail:  # 1d, 10m, 0x1F: timespan and hex literals
            return Token("unsupported", text[pos : tail.end()], pos, tail.end())
        raw = number.group()
        value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
        return Token("number", raw, pos, number.end(), value)
    if char == "!":
        word = _IDENT.match(text, pos + 1)
        if word:
            end = word.end() + (1 if text[word.end() : word.end() + 1] == "~" else 0)
            return Token("op", text[pos:end], pos, end)
    for punct in _PUNCT:
        if text.startswith(punct, pos):
            return Token("op", punct, pos, pos + len(punct))
    if char in _SINGLE:
        return Token("op", char, pos, pos + 1)
    if char == "`":
        raise source.error("multi-line (```) string literals are not supported", pos)
    raise source.error(f"unexpected character {char!r}", pos)


def _word(source: Source, pos: int, word: str, end: int) -> Token:
    text = source.text
    joined = _IDENT.match(text, end + 1) if text[end : end + 1] == "-" else None
    if joined and f"{word}-{joined.group()}" in HYPHENATED:
        word, end = f"{word}-{joined.group()}", joined.end()
    if word == "in" and text[end : end + 1] == "~":
        return Token("op", "in~", pos, end + 1)
    if word.lower() in RAW_LITERALS:
        space = _SPACE.match(text, end)
        paren = space.end() if space else end
        if text[paren : paren + 1] == "(":
            close = _closing(source, paren)
            return Token("raw", word.lower(), pos, close + 1, text[paren + 1 : close].strip())
    return Token("ident", word, pos, end)


def _string(source: Source, start: int) -> Token:
    text, pos = source.text, start
    verbatim = text[pos] == "@"
    if text[pos] in "@hH":
        pos += 1
    quote = text[pos]
    pos += 1
    chars: list[str] = []
    while pos < len(text) and text[pos] != "\n":
        char = text[pos]
        if char == quote:
            if verbatim and text[pos + 1 : pos + 2] == quote:  # @'it''s'
                chars.append(quote)
                pos += 2
                continue
            return Token("string", text[start : pos + 1], start, pos + 1, "".join(chars))
        if char == "\\" and not verbatim and pos + 1 < len(text):
            escaped = text[pos + 1]
            if escaped not in _ESCAPES:
                raise source.error(f"escape sequence \\{escaped} is not supported", pos)
            chars.append(_ESCAPES[escaped])
            pos += 2
            continue
        chars.append(char)
        pos += 1
    raise source.error("unterminated string literal", start)


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw)


def _closing(source: Source, paren: int) -> int:
    """Offset of the parenthesis that closes the one at ``paren`` (quotes, nesting respected)."""
    text, depth, pos, quote = source.text, 0, paren, ""
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    raise source.error("unclosed '('", paren)
