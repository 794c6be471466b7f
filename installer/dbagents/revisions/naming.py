"""Names for what a revision creates, and for the revision itself: ids, slugs and file names like Alembic's."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid

MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1, in bytes
DEFAULT_TEMPLATE = "%(rev)s_%(slug)s"
DEFAULT_SLUG_LENGTH = 40


def identifier(prefix: str, *parts: str) -> str:
    """`ix_orders_customer_id`; past 63 bytes the tail is cut and an 8-hex hash of the full name keeps it unique."""
    full = "_".join(p for p in (prefix, *parts) if p)
    if len(full.encode()) <= MAX_IDENTIFIER:
        return full
    digest = hashlib.md5(full.encode()).hexdigest()[:8]
    head = full.encode()[: MAX_IDENTIFIER - 9].decode(errors="ignore").rstrip("_")
    return f"{head}_{digest}"


def numbered(name: str, n: int) -> str:
    """The n-th alternative of a taken name (`ix_t_c_2`), still within 63 bytes."""
    suffix = f"_{n}"
    if len((name + suffix).encode()) <= MAX_IDENTIFIER:
        return name + suffix
    return name.encode()[: MAX_IDENTIFIER - len(suffix)].decode(errors="ignore") + suffix


def new_revision_id(taken: set[str]) -> str:
    """12 hex digits like `alembic revision`, clashing with no existing id (nor being a prefix of one)."""
    while True:
        rid = uuid.uuid4().hex[-12:]
        if not any(t.startswith(rid) or rid.startswith(t) for t in taken):
            return rid


def slugify(message: str, length: int = DEFAULT_SLUG_LENGTH) -> str:
    """Alembic's slug: the words of the message joined by `_`, lower case, cut at a word before `length`."""
    slug = "_".join(re.findall(r"\w+", message or "")).lower()
    if length and len(slug) > length:
        slug = slug[:length].rsplit("_", 1)[0] + "_"
    return slug


def file_name(template: str | None, rev: str, slug: str, when: dt.datetime) -> str:
    """`<template>.py` with Alembic's tokens (rev, slug, epoch, year, month, day, hour, minute, second).

    A template with other tokens, a folder part or a bad format falls back to the default `%(rev)s_%(slug)s`.
    """
    values = {"rev": rev, "slug": slug, "epoch": int(when.timestamp()), "year": when.year, "month": when.month,
              "day": when.day, "hour": when.hour, "minute": when.minute, "second": when.second}
    for candidate in (template, DEFAULT_TEMPLATE):
        if not candidate:
            continue
        try:
            name = candidate.replace("%%", "%") % values
        except (KeyError, ValueError, TypeError):
            continue
        if name and "/" not in name and "\\" not in name and not name.startswith("."):
            return name + ".py"
    return f"{rev}_{slug}.py"
