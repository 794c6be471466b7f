"""A small, faithful-enough .gitignore matcher (patterns, anchoring, dir-only, negation, **)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern
    negate: bool
    dir_only: bool


def _translate(glob: str) -> str:
    """Translate one gitignore glob (without anchoring/dir flags) into a regex fragment."""
    out = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob[i : i + 3] == "**/":
                out.append("(?:.*/)?")
                i += 3
                continue
            if glob[i : i + 2] == "**":
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_patterns(text: str) -> list[_Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        line = line.rstrip() if not line.endswith("\\ ") else line
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _translate(line)
        regex = f"^{body}(?:/.*)?$" if anchored else f"^(?:.*/)?{body}(?:/.*)?$"
        patterns.append(_Pattern(re.compile(regex), negate, dir_only))
    return patterns


class IgnoreRules:
    """The .gitignore patterns of one folder, matched against paths relative to that folder."""

    def __init__(self, base: Path, patterns: list[_Pattern]):
        self.base = base
        self.patterns = patterns

    @classmethod
    def load(cls, folder: Path) -> "IgnoreRules | None":
        file = folder / ".gitignore"
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        patterns = parse_patterns(text)
        return cls(folder, patterns) if patterns else None

    def match(self, rel: str, is_dir: bool) -> bool | None:
        """True = ignored, False = re-included by `!`, None = no pattern matched."""
        verdict = None
        for pat in self.patterns:
            if pat.dir_only and not is_dir:
                # a dir-only pattern still ignores files *inside* a matching folder
                parts = rel.split("/")
                if not any(pat.regex.match("/".join(parts[:k])) for k in range(1, len(parts))):
                    continue
            elif not pat.regex.match(rel):
                continue
            verdict = not pat.negate
        return verdict
