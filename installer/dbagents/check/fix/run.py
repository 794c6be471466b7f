"""The fix loop: fix the reported findings file by file, re-check the new text in memory, go again while fixes
compose (a bigint key makes its foreign keys reportable), then keep only files that compile and gain no finding."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from dbagents.check import cache as result_cache
from dbagents.check.engine import CheckOutcome, _project_findings, analyze, filter_findings
from dbagents.check.fix.apply import fix_file
from dbagents.check.fix.changes import SchemaChange
from dbagents.check.fix.site import Edit
from dbagents.check.project import Project
from dbagents.check.project_settings import apply_settings, is_migration_rule
from dbagents.check.registry import static_rules
from dbagents.check.roles import apply_context
from dbagents.check.rule import ModuleRule
from dbagents.findings import Finding

MAX_PASSES = 4
BOM = "\ufeff"


@dataclass
class FileFix:
    """One file the run changes: its text before and after, and the edits that made the difference."""

    relpath: str
    before: str
    after: str
    edits: list[Edit] = field(default_factory=list)
    bom: bool = False


@dataclass
class FixRun:
    files: dict[str, FileFix]  # relpath -> change, only files whose text changes
    outcome: CheckOutcome  # the check of the fixed text (in memory; the same as on disk once written)
    unsafe_left: int = 0  # findings an unsafe fix would change (without --unsafe-fixes)
    notes: list[str] = field(default_factory=list)

    @property
    def edits(self) -> list[Edit]:
        return [e for f in self.files.values() for e in f.edits]

    @property
    def schema_changes(self) -> list[SchemaChange]:
        """What the applied unsafe model fixes change in the database (for --emit-revision)."""
        return [change for e in self.edits for change in e.changes]

    @property
    def follow_ups(self) -> list[SchemaChange]:
        """Schema steps the applied fixes leave to a new revision (VALIDATE CONSTRAINT after NOT VALID)."""
        return [e.follow_up for e in self.edits if e.follow_up is not None]


def fixable_rules(unsafe: bool) -> dict:
    """rule id -> rule instance, for the rules whose fixes this run may apply."""
    return {rid: cls() for rid, cls in static_rules().items()
            if cls.fixable and (unsafe or cls.fixable != "unsafe")}


def _key(f: Finding) -> tuple[str, str, str]:
    """A finding without its place in the file (lines move when a fix adds one above) or counts that a fix lowers
    (the SQLAlchemy pin's summary: "changing 7 uses ...")."""
    return f.path, f.rule_id, re.sub(r"\d+", "#", f.message)


class _Tree:
    """The checked project with some files' text replaced in memory; re-checks only what changed."""

    def __init__(self, outcome: CheckOutcome, enabled: set[str]):
        self.base = outcome
        self.root = outcome.project.root
        self.config = outcome.project.config
        self.enabled = enabled
        self.results = dict(outcome.project.files)
        self.texts: dict[str, str] = {}
        self._checked: CheckOutcome | None = None  # the last check, until a text changes

    def text(self, relpath: str) -> str:
        if relpath in self.texts:
            return self.texts[relpath]
        data = self.base.sources.get(relpath)
        if data is None:
            data = (self.root / relpath).read_bytes()
        return data.decode("utf-8").removeprefix(BOM)

    def set(self, relpath: str, text: str | None) -> None:
        """New text for a file (None: back to what is on disk)."""
        self._checked = None
        if text is None:
            self.texts.pop(relpath, None)
            self.results[relpath] = self.base.project.files[relpath]
            return
        self.texts[relpath] = text
        data = text.encode("utf-8")
        kind = self.base.project.files[relpath].kind
        self.results[relpath] = analyze(self.root / relpath, relpath, kind, data, result_cache.digest(data))

    def check(self) -> CheckOutcome:
        if self._checked is None:
            self._checked = self._check()
        return self._checked

    def _check(self) -> CheckOutcome:
        project = Project(self.root, self.config, dict(sorted(self.results.items())))
        findings = list(_project_findings(project, self.enabled))
        for result in project.files.values():
            findings.extend(result.findings)
        kept = apply_context(apply_settings(filter_findings(findings, project, self.enabled), project), project)
        sources = dict(self.base.sources)
        sources.update({p: t.encode("utf-8") for p, t in self.texts.items()})
        return replace(self.base, findings=kept, project=project, sources=sources)


def _past_revisions(project: Project) -> set[str]:
    from dbagents.check.facts._file_roles import revision_roles

    return {p for p, role in revision_roles(project.get("alembic")).items() if role == "past-revision"}


def run_fixes(outcome: CheckOutcome, reported: list[Finding], *, enabled: set[str], unsafe: bool) -> FixRun:
    """Fix what `reported` (the findings the user sees) can fix; nothing is written here (see write.py)."""
    rules = fixable_rules(unsafe)
    tree = _Tree(outcome, enabled)
    hidden = Counter(_key(f) for f in outcome.findings) - Counter(_key(f) for f in reported)
    paths = {f.path for f in reported if f.path}
    skip = _unfixable_files(outcome, paths)
    notes: list[str] = [note for note in skip.values() if note]
    past = _past_revisions(outcome.project)
    edits: dict[str, list[Edit]] = {}
    declined: set[tuple[str, str, str]] = set()  # a finding whose fix said no is not asked again
    current, project = reported, outcome.project
    for _ in range(MAX_PASSES):
        todo: dict[str, list[Finding]] = {}
        for f in current:
            if (f.rule_id in rules and f.path in paths and f.path not in skip and _key(f) not in hidden
                    and _key(f) not in declined):
                if is_migration_rule(f.rule_id) and f.path in past:
                    continue  # a shipped revision is never rewritten
                todo.setdefault(f.path, []).append(f)
        changed = False
        for relpath, found in sorted(todo.items()):
            before = tree.text(relpath)
            step = fix_file(relpath, before, found, project, rules, outcome.sources)
            notes.extend(step.notes)
            declined.update(_key(f) for f in step.declined)
            if step.text == before:
                continue
            problem = _compile_problem(step.text, relpath)
            if problem:
                notes.append(f"{relpath}: not fixed: the fixed text would not compile ({problem})")
                skip[relpath] = ""
                tree.set(relpath, None)
                edits.pop(relpath, None)
                continue
            tree.set(relpath, step.text)
            edits.setdefault(relpath, []).extend(step.edits)
            changed = True
        if not changed:
            break
        now = tree.check()
        current, project = now.findings, now.project
    after = _keep_trusted(tree, outcome, edits, notes)
    files = {}
    for relpath in sorted(tree.texts):
        raw = outcome.sources.get(relpath) or (outcome.project.root / relpath).read_bytes()
        before = raw.decode("utf-8").removeprefix(BOM)
        if tree.texts[relpath] != before:
            files[relpath] = FileFix(relpath, before, tree.texts[relpath], edits.get(relpath, []),
                                     raw.startswith(BOM.encode()))
    unsafe_left = 0 if unsafe else sum(
        1 for f in after.findings if static_rules().get(f.rule_id) is not None
        and static_rules()[f.rule_id].fixable == "unsafe" and f.path in paths)
    return FixRun(files, after, unsafe_left, notes)


def _unfixable_files(outcome: CheckOutcome, paths: set[str]) -> dict[str, str]:
    """Files never rewritten, with why: a parse problem, bytes that are not UTF-8, a link."""
    skip: dict[str, str] = {}
    root = outcome.project.root
    for relpath in paths:
        result = outcome.project.files.get(relpath)
        if result is None or result.kind != "python":
            skip[relpath] = ""
            continue
        if any(f.rule_id == "DBA000" for f in result.findings):
            skip[relpath] = f"{relpath}: not fixed: the file did not parse completely (DBA000)"
            continue
        data = outcome.sources.get(relpath)
        try:
            (data if data is not None else b"").decode("utf-8")
        except UnicodeDecodeError:
            skip[relpath] = f"{relpath}: not fixed: not UTF-8 text"
            continue
        path = root / relpath
        if path.is_symlink() or not path.resolve().is_relative_to(root.resolve()):
            skip[relpath] = f"{relpath}: not fixed: a symbolic link (the fix would replace the link by a file)"
    return skip


def _compile_problem(text: str, relpath: str) -> str:
    try:
        compile(text, relpath, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _keep_trusted(tree: _Tree, outcome: CheckOutcome, edits: dict[str, list[Edit]], notes: list[str]) -> CheckOutcome:
    """Undo the files whose fixes add a finding (compared with the check before any fix) until none is added."""
    before = Counter(_key(f) for f in outcome.findings)
    while True:
        after = tree.check()
        added = Counter(_key(f) for f in after.findings) - before
        if not added or not tree.texts:
            return after
        for relpath, what in sorted(_blame(added, tree, edits).items()):
            notes.append(f"{relpath}: not fixed: the fixed file would add {what}")
            tree.set(relpath, None)
            edits.pop(relpath, None)


def _blame(added: Counter, tree: _Tree, edits: dict[str, list[Edit]]) -> dict[str, str]:
    """The changed files to undo for the added findings, with what each would add. First the files whose schema
    change a finding names (a key made bigint leaves an int4 foreign key to it elsewhere), then the file a finding
    sits in, then the files with cross-file (project rule) fixes, and only then every changed file."""
    blamed: dict[str, str] = {}
    for path, rule, message in added:
        what = f"{rule} {message}" + (f" in {path}" if path else "")
        for relpath, file_edits in edits.items():
            if relpath in tree.texts and any(re.search(rf"(?<![\w.]){re.escape(c.table)}\.", message)
                                             for e in file_edits for c in e.changes):
                blamed.setdefault(relpath, what)
    if blamed:
        return blamed
    blamed = {path: f"{rule} {message}" for path, rule, message in added if path in tree.texts}
    if blamed:
        return blamed
    rules = static_rules()
    cross_file = {relpath for relpath, file_edits in edits.items() if relpath in tree.texts and any(
        e.finding is not None and not issubclass(rules[e.finding.rule_id], ModuleRule) for e in file_edits)}
    return {relpath: "a finding elsewhere" for relpath in (cross_file or set(tree.texts))}


__all__ = ["FileFix", "FixRun", "run_fixes"]
