"""One pass over one file: parse it with libcst once, ask each finding's rule for its edit, apply the edits that do
not overlap (the others wait for the next pass), add the imports the new code needs."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dbagents.check.fix.imports import add_imports
from dbagents.check.fix.site import Edit, FileView, FixSite
from dbagents.findings import Finding


@dataclass
class FilePass:
    text: str  # the file after this pass (unchanged when no edit applied)
    edits: list[Edit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    declined: list[Finding] = field(default_factory=list)  # findings whose rule made no edit (asked once per run)


class _Replace(cst.CSTTransformer):
    def __init__(self, edits: list[Edit]):
        super().__init__()
        self.by_node = {id(e.old): e.new for e in edits}

    def on_leave(self, original_node, updated_node):
        new = self.by_node.get(id(original_node))
        if new is None:
            return updated_node
        return cst.FlattenSentinel(new) if isinstance(new, list) else new


def _overlaps(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def fix_file(relpath: str, text: str, findings: list[Finding], project, rules: dict,
             sources: dict[str, bytes] | None = None) -> FilePass:
    """Apply the fixes of `findings` (all in this file) that do not overlap; innermost edits go first."""
    try:
        view = FileView(relpath, text, project, sources)
    except cst.ParserSyntaxError as exc:
        return FilePass(text, notes=[f"{relpath}:{exc.raw_line}: not fixed: libcst cannot parse this file"])
    edits: list[Edit] = []
    notes: list[str] = []
    declined: list[Finding] = []
    for finding in sorted(findings):
        try:
            edit = rules[finding.rule_id].fix(FixSite(view, finding))
        except Exception as exc:  # a fix that fails leaves its finding as it is; the run goes on
            notes.append(f"{relpath}:{finding.line}: {finding.rule_id} fix not applied ({type(exc).__name__}: {exc})")
            edit = None
        if edit is None:
            declined.append(finding)
        else:
            edits.append(edit)
    chosen: list[Edit] = []
    for edit in sorted(edits, key=lambda e: (_size(e), e.span)):
        if not any(_overlaps(edit.span, c.span) for c in chosen):
            chosen.append(edit)
    if not chosen:
        return FilePass(text, notes=notes, declined=declined)
    module = view.module.visit(_Replace(chosen))
    imports = sorted({pair for e in chosen for pair in e.imports})
    if imports:
        module = add_imports(module, imports)
    return FilePass(module.code, sorted(chosen, key=lambda e: e.span), notes, declined)


def _size(edit: Edit) -> tuple[int, int]:
    (l1, c1), (l2, c2) = edit.span
    return (l2 - l1, c2 - c1 if l1 == l2 else c2)
