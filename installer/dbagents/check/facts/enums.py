"""Enum classes a file defines (`class WebhookEventType(StrEnum)`), as a list of names.

DBA501 reads them project-wide: a parameter annotated with one of them holds a member defined in code, so
formatting it into SQL cannot inject anything.
"""

from __future__ import annotations

import ast

from dbagents.check.facts._sql_module import ENUM_BASES
from dbagents.check.source import SourceFile
from dbagents.check.walk import of_type

KEY = "enums"
TRIGGERS = ("Enum", "Flag")


def extract(src: SourceFile) -> list[str] | None:
    found = {cls.name for cls in of_type(src.tree, ast.ClassDef)
             if any((b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")) in ENUM_BASES
                    for b in cls.bases)}
    return sorted(found) or None
