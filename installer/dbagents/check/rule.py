"""Rule base classes. One rule = one module under dbagents/check/rules/ with one Rule subclass.

A rule carries its id, kebab-case name, groups, default severity, a one-line summary, a markdown doc
(## What it does / ## Why is this bad / ## Example / ## Fix), a default fix hint, and valid/invalid
examples from which tests are generated (tests/test_check_rule_examples.py).

A rule that can rewrite the code it reports declares `fixable` (FIX_AVAILABILITY) and implements `fix()` in its
own module, beside its detector; its invalid examples carry the fixed text (`Example.fixed`), which
tests/test_fix_examples.py checks (dbagents.check.fix runs the fixes, with libcst).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Iterable

from dbagents.findings import Finding, RuleInfo, Severity

if TYPE_CHECKING:
    from dbagents.check.fix.site import Edit, FixSite
    from dbagents.check.project import Project
    from dbagents.check.source import SourceFile

GROUPS = ("models", "migrations", "schema", "performance", "security")
DOC_SECTIONS = ("## What it does", "## Why is this bad", "## Example", "## Fix")
HELP_URI = "https://github.com/dbagents/dbagents/blob/main/README.md#rules"
# How a rule's fix is offered: for every finding, for some (the others keep their hint), or only with
# --unsafe-fixes because it changes the database schema or what the code does.
FIX_AVAILABILITY = {
    "always": "always available (safe: `dbagents check --fix`)",
    "sometimes": "sometimes available (safe: `dbagents check --fix`); other cases keep the hint",
    "unsafe": "available with `--unsafe-fixes` only: it changes the schema or what the code does",
}


@dataclass(frozen=True)
class Example:
    """Source for one generated test.

    `code` is written to `path`; `files` adds more files (relpath -> text) for cross-file cases, e.g. an
    alembic.ini plus a versions folder. For invalid examples, `lines` (optional) are the exact 1-based lines
    in `path` where the rule must report; without it at least one finding is required.
    """

    code: str
    path: str = "models.py"
    files: dict[str, str] = field(default_factory=dict)
    lines: tuple[int, ...] | None = None
    note: str = ""
    # invalid examples of a rule that can fix: the exact text of `path` after `dbagents check --fix`
    # (with --unsafe-fixes for an unsafe rule); None = the fix leaves this example unchanged
    fixed: str | None = None


class Rule:
    id: ClassVar[str]
    name: ClassVar[str]
    groups: ClassVar[tuple[str, ...]]
    severity: ClassVar[Severity] = Severity.WARNING
    summary: ClassVar[str]
    doc: ClassVar[str]
    hint: ClassVar[str] = ""
    valid: ClassVar[list[Example]] = []
    invalid: ClassVar[list[Example]] = []
    default_enabled: ClassVar[bool] = True  # False = opt-in (only with --select)
    fixable: ClassVar[str] = ""  # "" = no fix; else a FIX_AVAILABILITY key

    @classmethod
    def info(cls) -> RuleInfo:
        return RuleInfo(cls.id, cls.name, cls.summary, cls.severity, cls.doc.strip() + cls.fix_doc(), HELP_URI)

    @classmethod
    def fix_doc(cls) -> str:
        """The doc's line on fix availability ("" for a rule that cannot fix)."""
        return f"\n\nAutomatic fix: {FIX_AVAILABILITY[cls.fixable]}." if cls.fixable else ""

    def fix(self, site: "FixSite") -> "Edit | None":
        """The edit that removes `site.finding` (built with libcst through `site`), or None where none is certain."""
        return None

    def finding(
        self,
        path: str,
        line: int,
        col: int,
        message: str,
        *,
        hint: str | None = None,
        end_line: int = 0,
        obj: str = "",
    ) -> Finding:
        return Finding(
            path, line, col, self.id, message, self.severity, self.hint if hint is None else hint, obj, end_line
        )


class ModuleRule(Rule):
    """Runs once per file, in a worker, on the parsed tree and that file's facts."""

    # The rule only runs on files whose text contains one of these substrings (cheap pre-filter).
    triggers: ClassVar[tuple[str, ...]] = ()
    kinds: ClassVar[tuple[str, ...]] = ("python",)

    def check(self, ctx: "ModuleContext") -> Iterable[Finding]:
        raise NotImplementedError


class ProjectRule(Rule):
    """Runs once per run, in the main process, on facts gathered from every file."""

    # Every finding points into an Alembic revision file: a run that judges one other file (the hook's
    # edit of a model) need not run it, nor build the revision graph for it.
    revision_files_only: ClassVar[bool] = False

    def check(self, project: "Project") -> Iterable[Finding]:
        raise NotImplementedError


@dataclass
class ModuleContext:
    """What a ModuleRule sees: the parsed file and the facts extracted from it."""

    src: "SourceFile"
    facts: dict

    @property
    def tree(self) -> ast.Module:
        return self.src.tree

    @property
    def relpath(self) -> str:
        return self.src.relpath

    def report(self, rule: Rule, node: ast.AST | int, message: str, *, hint: str | None = None) -> Finding:
        if isinstance(node, int):
            return rule.finding(self.src.relpath, node, 1, message, hint=hint)
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        end = getattr(node, "end_lineno", 0) or 0
        return rule.finding(self.src.relpath, line, col, message, hint=hint, end_line=end)
