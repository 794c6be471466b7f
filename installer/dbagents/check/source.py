"""One checked file, read and parsed exactly once; syntax newer than this Python is skipped, not fatal."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_RECOVERY = 25  # statements we are willing to blank out before giving up on a file

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE_FILE = re.compile(
    r"#\s*dbagents:\s*ignore-file(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE
)


@dataclass
class Suppressions:
    """`# noqa[: IDS]` per line and `# dbagents: ignore-file[: IDS]` for the whole file (None = all ids)."""

    lines: dict[int, frozenset[str] | None] = field(default_factory=dict)
    whole_file: frozenset[str] | None | bool = False

    def suppresses(self, rule_id: str, *lines: int) -> bool:
        if self.whole_file is None or (self.whole_file and rule_id in self.whole_file):
            return True
        for line in lines:
            if line in self.lines:
                codes = self.lines[line]
                if codes is None or rule_id in codes:
                    return True
        return False


# Other tools' ids for the same problem: code already marked for them is not reported twice.
ALIASES = {"S608": "DBA501", "B608": "DBA501"}
_NOSEC = re.compile(r"#\s*nosec\b(?:[:\s]+(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)


def _codes(text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    codes = {c.upper() for c in re.split(r"[\s,]+", text.strip()) if c}
    return frozenset(codes | {ALIASES[c] for c in codes if c in ALIASES})


def scan_suppressions(text: str) -> Suppressions:
    sup = Suppressions()
    if "noqa" not in text and "dbagents:" not in text and "nosec" not in text:
        return sup
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        m = _NOQA.search(line)
        if m:
            sup.lines[number] = _codes(m.group("codes"))
        else:
            m = _NOSEC.search(line)  # bandit: `# nosec B608` silences DBA501 there; a bare `# nosec` does not
            if m and m.group("codes"):
                sup.lines[number] = _codes(m.group("codes"))
        m = _IGNORE_FILE.search(line)
        if m:
            sup.whole_file = _codes(m.group("codes"))
    return sup


@dataclass
class ParseProblem:
    line: int
    col: int
    message: str
    skipped: list[tuple[int, int]]  # line ranges blanked out so the rest could be checked
    fatal: bool  # True = nothing of the file could be checked


@dataclass
class SourceFile:
    path: Path
    relpath: str
    kind: str  # python | ini
    text: str
    tree: ast.Module | None = None
    problem: ParseProblem | None = None
    _lines: list[str] | None = None
    _nodes: list | None = None

    @property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree in preorder, from the one index shared by extractors and rules."""
        if self._nodes is None:
            from dbagents.check.walk import walk

            self._nodes = walk(self.tree) if self.tree is not None else []
        return self._nodes

    def nodes_of(self, *types: type) -> list[ast.AST]:
        if self.tree is None:
            return []
        from dbagents.check.walk import of_type

        return of_type(self.tree, *types)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ""


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _statement_range(lines: list[str], lineno: int) -> tuple[int, int]:
    """The top-level statement (with its indented body) around 1-based `lineno`."""

    def top_level(i: int) -> bool:
        s = lines[i]
        # `):` closing a multi-line class/def header at column 0 continues that statement
        return bool(s.strip()) and not s[0].isspace() and s[0] not in "#)]}"

    idx = min(max(lineno - 1, 0), len(lines) - 1)
    start = idx
    while start > 0 and not top_level(start):
        start -= 1
    # decorators belong to the statement they decorate (also one spanning several lines)
    while start > 0:
        j = start - 1
        while j > 0 and not top_level(j):
            j -= 1
        if not lines[j].startswith("@"):
            break
        start = j
    end = idx + 1
    while end < len(lines) and not top_level(end):
        end += 1
    while end < len(lines) and lines[end].startswith(("else", "elif", "except", "finally", "case")):
        end += 1
        while end < len(lines) and not top_level(end):
            end += 1
    return start + 1, end  # 1-based inclusive range


def parse_python(text: str, filename: str) -> tuple[ast.Module | None, ParseProblem | None]:
    """Parse, and on a SyntaxError blank out the failing top-level statement and retry.

    Code written for a newer Python (PEP 695 `type` aliases, generic `def f[T]`, …) thus loses only the
    statements this interpreter cannot read; everything else is still checked.
    """
    try:
        return ast.parse(text, filename=filename, type_comments=False), None
    except SyntaxError as first:
        err_line, err_col, err_msg = first.lineno or 1, first.offset or 1, first.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return None, ParseProblem(1, 1, str(exc), [], True)
    lines = text.splitlines()
    skipped: list[tuple[int, int]] = []
    current = err_line
    for _ in range(MAX_RECOVERY):
        if not lines:
            break
        start, end = _statement_range(lines, current)
        for i in range(start - 1, end):
            lines[i] = ""
        skipped.append((start, end))
        try:
            tree = ast.parse("\n".join(lines), filename=filename)
            return tree, ParseProblem(err_line, err_col, err_msg, skipped, False)
        except SyntaxError as again:
            current = again.lineno or 1
        except (ValueError, RecursionError, MemoryError):
            break
    return None, ParseProblem(err_line, err_col, err_msg, skipped, True)
