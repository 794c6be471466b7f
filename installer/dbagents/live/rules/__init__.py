"""One module per live rule (DBA3xx), each defining RULE; ALL_RULES lists them in id order."""

from __future__ import annotations

import importlib
import pkgutil

from dbagents.live.rules._base import LiveContext, LiveRule

ALL_RULES: list[LiveRule] = [
    importlib.import_module(f"{__name__}.{info.name}").RULE
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
    if info.name.startswith("dba")
]

__all__ = ["ALL_RULES", "LiveContext", "LiveRule"]
