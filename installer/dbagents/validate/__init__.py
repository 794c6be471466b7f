"""`dbagents validate`: check agents, commands, skills and plugins exactly as Claude Code 2.1 reads them.

Public API: ``validate_paths(paths) -> list[Finding]`` and ``VALIDATOR_RULES`` (rule id -> RuleInfo).
"""

from __future__ import annotations

from pathlib import Path

from dbagents.findings import Finding
from dbagents.validate.rules import VALIDATOR_RULES

__all__ = ["validate_paths", "VALIDATOR_RULES", "report_root"]


def validate_paths(paths: list[Path], *, kind: str | None = None, root: Path | None = None) -> list[Finding]:
    """Validate files or folders; finding paths are POSIX, relative to `report_root(paths)` (or `root`)."""
    from dbagents.validate.engine import validate

    return validate([Path(p) for p in paths], forced_kind=kind, root=root)


def report_root(paths: list[Path]) -> Path:
    from dbagents.validate.engine import report_root as _root

    return _root([Path(p) for p in paths])
