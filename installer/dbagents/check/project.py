"""The whole checked tree as facts: per-file results plus project-wide facts built on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dbagents.check.source import Suppressions
from dbagents.config import Config
from dbagents.findings import Finding


@dataclass
class FileResult:
    """Everything the engine keeps about one file after the worker is done with it (picklable, cached)."""

    relpath: str
    kind: str
    digest: str
    parsed: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    suppressions: Suppressions = field(default_factory=Suppressions)
    # line -> last line of the multi-line simple statement it belongs to (`# noqa` may sit there)
    statement_ends: dict[int, int] = field(default_factory=dict)

    def suppresses(self, finding: Finding) -> bool:
        lines = (finding.line, finding.end_line, self.statement_ends.get(finding.line, 0))
        return self.suppressions.suppresses(finding.rule_id, *lines)


class Project:
    def __init__(self, root: Path, config: Config, files: dict[str, FileResult]):
        self.root = root
        self.config = config
        self.files = files
        self._built: dict[str, Any] = {}

    def module_facts(self, key: str) -> Iterator[tuple[str, Any]]:
        """(relpath, facts) for every file that produced facts under `key`."""
        for relpath, result in self.files.items():
            value = result.facts.get(key)
            if value is not None:
                yield relpath, value

    def get(self, key: str) -> Any:
        """Project-wide facts of extractor `key` (its ``build(project)``), computed once."""
        if key not in self._built:
            from dbagents.check.facts import extractors

            module = extractors().get(key)
            if module is None or not hasattr(module, "build"):
                raise KeyError(f"no project-level facts named {key!r}")
            self._built[key] = module.build(self)
        return self._built[key]
