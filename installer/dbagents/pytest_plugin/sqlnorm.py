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


# Statements that are never "a query in a loop" for DBA402: schema changes, settings, and what
# `inspect()` / Alembic autogenerate / dialect start-up send to read the schema.
_DDL_WORDS = (
    "CREATE", "ALTER", "DROP", "TRUNCATE", "COMMENT", "GRANT", "REVOKE", "RENAME", "REINDEX", "VACUUM",
    "ANALYZE", "CLUSTER", "PRAGMA", "SET", "SHOW", "RESET", "DISCARD", "LOCK", "DESCRIBE", "EXPLAIN",
)
_CATALOG = re.compile(
    r"\b(?:information_schema|pg_catalog|sqlite_master|sqlite_temp_master|sqlite_schema|sqlite_temp_schema)\b"
    r"|\bpg_(?:class|namespace|attribute|index|constraint|type|enum|proc|description|inherits|depend|"
    r"sequence|collation|extension|attrdef|am|opclass|views|tables|indexes|matviews|settings)\b"
    r"|\b(?:current_schema|version)\s*\(\s*\)\s*$"
    r"|\balembic_version\b",  # Alembic's own bookkeeping, once per revision
    re.I,
)
# A bounded memo: a suite sends the same few thousand statement texts again and again.
_BOOKKEEPING: dict[str, bool] = {}


def is_bookkeeping(statement: str) -> bool:
    """Transaction control, DDL, settings or schema reflection: never a DBA402 loop."""
    known = _BOOKKEEPING.get(statement)
    if known is None:
        head = statement.lstrip()[:24].upper()
        word = head.split(None, 1)[0] if head.strip() else ""
        known = (head.startswith(_TRANSACTION_WORDS) or word.rstrip(";") in _DDL_WORDS
                 or _CATALOG.search(statement) is not None)
        if len(statement) <= _CACHE_MAX_LENGTH:
            if len(_BOOKKEEPING) >= _CACHE_ENTRIES:
                _BOOKKEEPING.clear()
            _BOOKKEEPING[statement] = known
    return known


def is_transaction_control(statement: str) -> bool:
    """BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE: bookkeeping, not queries; never counted."""
    head = statement.lstrip()[:20].upper()
    return head.startswith(_TRANSACTION_WORDS)
