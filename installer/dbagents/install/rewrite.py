"""User scope: `.claude/context/...` references become `~/.claude/context/...` so they resolve anywhere."""

from __future__ import annotations

import re

# A project-relative reference: `.claude/context/` or `./.claude/context/`, not already behind `~/` or a path.
_PROJECT_CONTEXT_REF = re.compile(r"(?<![\w~/.-])(?:\./)?\.claude/context/")


def rewrite_for_user_scope(data: bytes) -> bytes:
    """Rewrite context references in a UTF-8 text file; other bytes are returned as they are."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return _PROJECT_CONTEXT_REF.sub("~/.claude/context/", text).encode("utf-8")
