"""The baseline: findings a project accepted on the day it adopted dbagents, hidden from later runs.

An entry is (rule, path relative to the project root, fingerprint). The fingerprint hashes the normalised
source of the reported statement (its lines, without whitespace and comments) and the names of the
def/class blocks around it, plus an occurrence index among identical ones — never a line number, so edits
elsewhere in the file do not turn an accepted finding into a new one. The statement text comes from the
bytes the engine already read (CheckOutcome.sources); nothing is read twice.

The file is JSON, one entry per line, sorted: re-running on unchanged code writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.errors import InputError
from dbagents.findings import Finding
from dbagents.reporting.paths import absolute, git_toplevel, relative_if_inside

FORMAT = "dbagents-baseline"
VERSION = 1
_SCOPE = re.compile(r"\s*(?:async\s+def|def|class)\s+(\w+)")


def project_root(config, cwd: Path | None = None) -> Path:
    """Where the baseline and its paths hang: the config's folder, else the git top level, else the cwd (real
    paths, like the check root, so the two compare)."""
    here = os.path.realpath(cwd or os.getcwd())
    if config.root is not None:
        return Path(os.path.realpath(config.root))
    top = git_toplevel(here)
    return Path(os.path.realpath(top) if top else here)


# string literals (kept as they are), comments and whitespace (dropped): one C-speed pass, no tokenizer
_LEXEME = re.compile(r"""(?P<s>[rRbBuUfF]{0,2}(?:'\'\'[\s\S]*?\'\'\'|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
                     r"|#[^\n]*|\s+")


def normalise(text: str) -> str:
    """Source without comments and whitespace (string literals untouched): reformatting keeps it the same."""
    return _LEXEME.sub(lambda m: m.group("s") or "", text)


def enclosing_scopes(lines: list[str], line: int) -> str:
    """`Outer.inner` names of the def/class blocks around 1-based `line`, found by indentation."""
    if not 1 <= line <= len(lines):
        return ""
    first = lines[line - 1]
    level = len(first) - len(first.lstrip())
    names = []
    for i in range(line - 2, -1, -1):
        text = lines[i]
        if not text or text[0] not in " \t":  # the common case of a top-level line, checked cheaply
            indent = 0
            if not text or text[0] == "#":
                continue
        else:
            stripped = text.lstrip()
            if not stripped or stripped[0] == "#":
                continue
            indent = len(text) - len(stripped)
        if indent < level:
            m = _SCOPE.match(text)
            if m:
                names.append(m.group(1))
            level = indent
            if indent == 0:
                break
    return ".".join(reversed(names))


def statement_span(line: int, ends: dict[int, int]) -> tuple[int, int]:
    """First and last line of the simple statement around `line` (`ends`: the engine's multi-line statements);
    a line outside them is a statement of its own (or the header of a def/class/if, never its whole body)."""
    end = ends.get(line)
    if end is None:
        return line, line
    start = line
    while ends.get(start - 1) == end:
        start -= 1
    return start, end


def _statement(f: Finding, lines: list[str] | None, ends: dict[int, int]) -> str:
    if lines is None or not f.line:
        return f.obj
    first, last = statement_span(f.line, ends)
    return normalise("\n".join(lines[first - 1:last]) + "\n") + "\x1e" + enclosing_scopes(lines, first)


@dataclass(frozen=True, order=True)
class Entry:
    path: str
    rule: str
    fingerprint: str


def entries_for(findings: list[Finding], root: Path, base: Path, sources: dict[str, bytes],
                files: dict | None = None) -> list[Entry]:
    """One entry per finding (same order): `root` is what finding paths are relative to, `base` the project root,
    `sources` the bytes the engine read and `files` its per-file results (for statement spans)."""
    texts: dict[str, list[str] | None] = {}
    seen: Counter = Counter()
    out = []
    for f in findings:
        if f.path not in texts:
            data = sources.get(f.path)
            if data is not None and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            texts[f.path] = data.decode("utf-8", errors="replace").splitlines() if data is not None else None
        path = ""
        if f.path:
            full = absolute(f.path, root)
            path = relative_if_inside(full, base) or Path(full).as_posix()
        result = (files or {}).get(f.path)
        statement = _statement(f, texts[f.path], result.statement_ends if result is not None else {})
        key = (f.rule_id, path, statement)
        index = seen[key]
        seen[key] += 1
        digest = hashlib.blake2b(f"{f.rule_id}\0{path}\0{statement}\0{index}".encode(), digest_size=8).hexdigest()
        out.append(Entry(path, f.rule_id, digest))
    return out


@dataclass
class Baseline:
    path: Path
    entries: list[Entry] = field(default_factory=list)
    exists: bool = False


def load(path: Path) -> Baseline:
    """The baseline at `path` (empty when there is none); a file that is not a baseline is an input error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Baseline(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the baseline ({exc}); fix it or re-create it with --write-baseline",
                         path=str(path)) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the baseline is not valid JSON ({exc.msg}); re-create it with --write-baseline",
                         path=str(path), line=exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("findings"), list):
        raise InputError(f"not a dbagents baseline (no \"format\": \"{FORMAT}\" with a findings list); "
                         "re-create it with --write-baseline", path=str(path))
    if doc.get("version") != VERSION:
        raise InputError(f"baseline version {doc.get('version')!r} is not {VERSION}; re-create it with "
                         "--write-baseline", path=str(path))
    entries = []
    for n, row in enumerate(doc["findings"], start=1):
        if not (isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("path", "rule", "fingerprint"))):
            raise InputError(f"baseline entry {n} needs string path, rule and fingerprint; re-create it with "
                             "--write-baseline", path=str(path))
        entries.append(Entry(row["path"], row["rule"], row["fingerprint"]))
    return Baseline(path, entries, True)


def render(entries: list[Entry]) -> str:
    rows = [json.dumps({"path": e.path, "rule": e.rule, "fingerprint": e.fingerprint}) for e in sorted(set(entries))]
    body = ",\n    ".join(rows)
    findings = f"[\n    {body}\n  ]" if rows else "[]"
    return f'{{\n  "format": "{FORMAT}",\n  "version": {VERSION},\n  "findings": {findings}\n}}\n'


def write(path: Path, entries: list[Entry]) -> None:
    """Write atomically (a temporary file renamed over it): an interrupted run leaves the old file whole."""
    text = render(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".dbagents-baseline-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class Applied:
    kept: list[Finding]
    hidden: int
    stale: int


def apply(findings: list[Finding], entries: list[Entry], baseline: Baseline, in_scope) -> Applied:
    """Hide findings the baseline lists; count the baseline entries in scope that matched nothing (stale)."""
    remaining = Counter(baseline.entries)
    kept = []
    hidden = 0
    for f, entry in zip(findings, entries):
        if remaining[entry] > 0:
            remaining[entry] -= 1
            hidden += 1
        else:
            kept.append(f)
    stale = sum(n for entry, n in remaining.items() if n > 0 and in_scope(entry))
    return Applied(kept, hidden, stale)


def merged(entries: list[Entry], baseline: Baseline, in_scope) -> list[Entry]:
    """What --write-baseline writes: today's entries, plus old entries this run did not judge (out of scope)."""
    return sorted(set(entries) | {e for e in baseline.entries if not in_scope(e)})
