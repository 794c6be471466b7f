"""`dbagents check --fix/--diff`: rewrite files with libcst from the findings of fixable rules.

libcst is an optional extra (`pip install 'dbagents[fix]'`), imported only when a fix is asked for: importing this
package (or `changes`) does not import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbagents.check.fix.changes import SchemaChange
from dbagents.errors import InputError

if TYPE_CHECKING:
    from dbagents.check.fix.run import FixRun

MISSING = "fixing needs libcst, which is not installed: pip install 'dbagents[fix]'"


def require_libcst() -> None:
    """Raise the one-line input error (exit 2) when libcst is missing."""
    try:
        import libcst  # noqa: F401
    except ImportError:
        raise InputError(MISSING) from None


def run_fixes(outcome, reported, *, enabled: set[str], unsafe: bool) -> "FixRun":
    """Fix the `reported` findings of `outcome` in memory (nothing written); see run.run_fixes."""
    require_libcst()
    from dbagents.check.fix.run import run_fixes as run

    return run(outcome, reported, enabled=enabled, unsafe=unsafe)


def __getattr__(name: str):
    if name == "FixRun":
        require_libcst()
        from dbagents.check.fix.run import FixRun

        return FixRun
    raise AttributeError(name)


__all__ = ["FixRun", "SchemaChange", "require_libcst", "run_fixes"]
