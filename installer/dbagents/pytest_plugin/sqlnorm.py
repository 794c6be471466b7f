"""Normalize SQL text into a fingerprint: literals and placeholders become `?`, lists fold."""

from __future__ import annotations

import re

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'")
# %(name)s, %s, $1, :name (not ::cast), ?
_PLACEHOLDERS = re.compile(r"%\(\w+\)s|%s|\$\d+|(?<![:\w]):[A-Za-z_]\w*|\?")
# ?::INTEGER, ?::VARCHAR(30), ?::INTEGER[] (PostgreSQL casts SQLAlchemy adds to parameters)
_CASTS = re.compile(r"\?\s*::\s*[A-Za-z_][\w.]*(?:\s*\([\d,\s]*\))?(?:\[\])*")
_NUMBERS = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_SPACE = re.compile(r"\s+")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_ARRAY = re.compile(r"\bARRAY\s*\[\s*\?(?:\s*,\s*\?)*\s*\]", re.I)
# (?, ?), (?, ?) ... as produced by multi-row VALUES / insertmanyvalues batches
_TUPLE = r"\(\s*\?(?:\s*,\s*\?)*\s*\)"
_TUPLES = re.compile(rf"({_TUPLE})(?:\s*,\s*{_TUPLE})+")

_TRANSACTION_WORDS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START TRANSACTION", "END")


# A test suite runs the same statement texts in test after test: fingerprints are remembered
# (bounded, and only for statements of ordinary length).
_CACHE: dict[str, str] = {}
_CACHE_ENTRIES = 4096
_CACHE_MAX_LENGTH = 4000


def normalize_sql(statement: str) -> str:
    """One fingerprint for statements that differ only in literals, parameters or list lengths."""
    text = _CACHE.get(statement)
    if text is None:
        text = _normalize(statement)
        if len(statement) <= _CACHE_MAX_LENGTH:
            if len(_CACHE) >= _CACHE_ENTRIES:
                _CACHE.clear()
            _CACHE[statement] = text
    return text


def _normalize(statement: str) -> str:
    text = _COMMENTS.sub(" ", statement)
    text = _STRINGS.sub("?", text)
    text = _PLACEHOLDERS.sub("?", text)
    text = _CASTS.sub("?", text)
    text = _NUMBERS.sub("?", text)
    text = _SPACE.sub(" ", text).strip().rstrip(";").strip()
    text = _IN_LIST.sub("IN (...)", text)
    text = _ARRAY.sub("ARRAY[...]", text)
    text = _TUPLES.sub(r"\1, ...", text)
    return text


def is_transaction_control(statement: str) -> bool:
    """BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE: bookkeeping, not queries; never counted."""
    head = statement.lstrip()[:20].upper()
    return head.startswith(_TRANSACTION_WORDS)
