"""Findings and rule metadata: the one currency every checker and reporter shares."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so `--fail-on` can compare."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}; use error, warning or info") from None

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def sarif_level(self) -> str:
        return {Severity.INFO: "note", Severity.WARNING: "warning", Severity.ERROR: "error"}[self]


@dataclass(frozen=True)
class RuleInfo:
    """What a reporter may know about a rule: data only, no behaviour."""

    id: str
    name: str
    summary: str
    severity: Severity
    help: str = ""  # markdown: what / why / example / fix
    help_uri: str = ""


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place. `path` is POSIX, relative to the checked root ("" = no file).

    `line`/`col` are 1-based; 0 means unknown. `obj` names a database object
    (schema.table.column) for live findings.
    """

    path: str
    line: int
    col: int
    rule_id: str
    message: str
    severity: Severity = field(default=Severity.WARNING, compare=False)
    hint: str = field(default="", compare=False)
    obj: str = field(default="", compare=False)
    end_line: int = field(default=0, compare=False, repr=False)  # last line of the node; `# noqa` works there too
    # structured facts behind the message (live findings: the catalog object) for `--emit-revision`; never printed
    detail: dict | None = field(default=None, compare=False, repr=False)

    def with_severity(self, severity: Severity) -> "Finding":
        return dataclasses.replace(self, severity=severity)

    def to_dict(self) -> dict:
        data = {
            "rule": self.rule_id,
            "severity": self.severity.label,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.col,
        }
        if self.hint:
            data["hint"] = self.hint
        if self.obj:
            data["object"] = self.obj
        return data


def count_at_or_above(findings, threshold: Severity) -> int:
    return sum(1 for f in findings if f.severity >= threshold)
