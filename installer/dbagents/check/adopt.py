"""The filter stage after the rules: changed-files scope, then the baseline (findings -> filter -> reporter)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.check import baseline as bl
from dbagents.check.changed import Scope
from dbagents.findings import Finding
from dbagents.reporting.paths import absolute, display_path, relative_if_inside


@dataclass
class Adopted:
    """Findings left to report, and what the filters did (for the summary and --write-baseline)."""

    findings: list[Finding]
    scope: Scope | None = None
    baseline: bl.Baseline | None = None
    hidden: int = 0
    stale: int = 0
    entries: list[bl.Entry] = field(default_factory=list)  # today's, for --write-baseline
    in_scope: object = None

    def _where(self) -> str:
        return display_path(str(self.baseline.path), "/") if self.baseline else ""

    def notes(self) -> list[str]:
        """Summary lines for the text report."""
        out = []
        if self.scope is not None:
            out.append(f"Judged only {self.scope.label}.")
        if self.baseline is not None and self.baseline.exists:
            line = (f"{self.hidden} finding{'s' * (self.hidden != 1)} hidden by the baseline {self._where()}; "
                    f"{self.stale} baseline entr{'ies' if self.stale != 1 else 'y'} stale")
            if self.stale:
                line += " (fixed or changed: `dbagents check --write-baseline` drops them)"
            out.append(line + ".")
        return out

    def extra(self) -> dict:
        """Keys for the JSON report."""
        data: dict = {}
        if self.scope is not None:
            data["scope"] = self.scope.label
        if self.baseline is not None and self.baseline.exists:
            data["baseline"] = {"path": self._where(), "hidden": self.hidden, "stale": self.stale}
        return data

    def write(self) -> str:
        """Write the baseline (--write-baseline) and say what it holds."""
        old = set(self.baseline.entries)
        entries = bl.merged(self.entries, self.baseline, self.in_scope)
        bl.write(self.baseline.path, entries)
        kept = len(old & set(self.entries))
        dropped = sum(1 for e in old if self.in_scope(e) and e not in set(self.entries))
        return (f"Wrote {len(entries)} baseline entr{'ies' if len(entries) != 1 else 'y'} to {self._where()} "
                f"({kept} kept, {len(entries) - len(old & set(entries))} new, {dropped} stale dropped); "
                "`dbagents check` now reports only findings not in it.")


def baseline_file(config, option: Path | None) -> Path:
    """--baseline (relative to the cwd), else the configured path relative to the project root."""
    if option is not None:
        return Path(os.path.abspath(option))
    return Path(os.path.abspath(bl.project_root(config) / config.baseline))


def adopt(findings: list[Finding], outcome, scope: Scope | None, *, root: Path, config, enabled: set[str],
          baseline_option: Path | None, use_baseline: bool) -> Adopted:
    """Keep findings on judged lines (scope), then hide those the baseline lists."""
    if scope is not None:
        # whole judged files first: a fingerprint's occurrence index counts every finding of its file
        findings = [f for f in findings if f.path and scope.covers(absolute(f.path, root))]
    if not use_baseline:
        return Adopted([f for f in findings if scope is None or scope.judges(f, root)], scope)
    base = bl.project_root(config)
    checked = set(outcome.project.files) if outcome is not None else set()

    def in_scope(entry: bl.Entry) -> bool:
        """Did this run judge the file and rule of a baseline entry? (root and base are real paths)"""
        if not entry.path or entry.rule not in enabled:
            return False
        full = absolute(entry.path, base)
        rel = relative_if_inside(full, str(root))
        if rel is None or rel not in checked:
            return False
        return scope is None or scope.covers(full)

    entries = bl.entries_for(findings, root, base, outcome.sources if outcome is not None else {},
                             outcome.project.files if outcome is not None else {})
    if scope is not None:
        pairs = [(f, e) for f, e in zip(findings, entries) if scope.judges(f, root)]
        findings, entries = [f for f, _ in pairs], [e for _, e in pairs]
    result = Adopted(findings, scope, bl.load(baseline_file(config, baseline_option)), entries=entries,
                     in_scope=in_scope)
    if result.baseline.exists:
        applied = bl.apply(findings, entries, result.baseline, in_scope)
        result.findings, result.hidden, result.stale = applied.kept, applied.hidden, applied.stale
    return result
