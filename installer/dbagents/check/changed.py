"""Changed-files mode: which lines of which files a run judges (`--changed-since REF`, `--only-files`).

`--changed-since REF` compares the merge base of REF and HEAD (like `git diff REF...HEAD`) with the work
tree: commits on this branch, staged and unstaged edits count; commits that landed on REF after the branch
point do not. Untracked files (not ignored) count as changed in full. Only added or modified lines count
(a pure deletion changes no line that is still there); a renamed file counts by its changed lines.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.errors import InputError
from dbagents.findings import Finding
from dbagents.reporting.paths import absolute, git_toplevel

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Scope:
    """Real absolute paths to judge -> their changed lines (None = every line); `label` says where it came from.

    Finding paths are relative to the check root, which is a resolved (real) path.
    """

    files: dict[str, set[int] | None] = field(default_factory=dict)
    label: str = ""

    def judges(self, f: Finding, root: str | Path) -> bool:
        if not f.path:
            return False
        lines = self.files.get(absolute(f.path, root), False)
        if lines is False:
            return False
        if lines is None or not f.line:
            return True
        return any(n in lines for n in range(f.line, max(f.end_line, f.line) + 1))

    def covers(self, path: str) -> bool:
        return path in self.files


def _git(top: str, *args: str) -> subprocess.CompletedProcess:
    try:
        # core.fsmonitor names a program in the repository's own config: never let it run
        return subprocess.run(["git", "-c", "core.quotepath=off", "-c", "core.fsmonitor=false", *args], cwd=top,
                              capture_output=True, text=True, encoding="utf-8", errors="surrogateescape",
                              timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"--changed-since needs git ({exc})") from None


def _unquote(name: str) -> str:
    """git quotes unusual file names C-style ("a\\tb"); decode them back."""
    if len(name) >= 2 and name[0] == name[-1] == '"':
        raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw.encode("latin-1", "replace").decode("utf-8", "replace")
    return name


def parse_diff(text: str) -> dict[str, set[int]]:
    """Repository-relative path -> added/modified line numbers, from `git diff --unified=0`."""
    out: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            name = _unquote(line[4:].rstrip("\t"))
            if name == "/dev/null":
                current = None
                continue
            current = out.setdefault(name[2:] if name.startswith("b/") else name, set())
        elif line.startswith("@@") and current is not None:
            m = _HUNK.match(line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
                current.update(range(start, start + count))
    return out


def since(ref: str, cwd: str | None = None) -> Scope:
    """Lines changed since the merge base of `ref` and HEAD, in the work tree of the repository around cwd."""
    here = os.path.abspath(cwd or os.getcwd())
    top = git_toplevel(here)
    if top is None:
        raise InputError("--changed-since needs a git repository; run it inside one (or drop the option)")
    if ref.startswith("-"):
        raise InputError(f"--changed-since: {ref!r} is not a git revision")
    proc = _git(top, "merge-base", ref, "HEAD")
    if proc.returncode != 0:
        known = _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0
        why = "has no common history with HEAD" if known else "is not a commit here (fetch it first?)"
        raise InputError(f"--changed-since: {ref!r} {why}")
    base = proc.stdout.strip()
    diff = _git(top, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--unified=0", "--find-renames",
                "--diff-filter=d", base, "--")
    if diff.returncode != 0:
        raise InputError(f"--changed-since: git diff failed: {diff.stderr.strip().splitlines()[-1:]}")
    scope = Scope(label=f"changed since {ref} (merge base {base[:12]})")
    for rel, lines in parse_diff(diff.stdout).items():
        scope.files[os.path.realpath(os.path.join(top, rel))] = lines
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for rel in untracked.stdout.split("\0"):
        if rel:
            scope.files[os.path.realpath(os.path.join(top, rel))] = None
    return scope


def named(files: list[Path]) -> Scope:
    """The files given on the command line (pre-commit passes the staged ones), judged in full."""
    return Scope({os.path.realpath(p): None for p in files}, label=f"{len(files)} named file{'s' * (len(files) != 1)}")
