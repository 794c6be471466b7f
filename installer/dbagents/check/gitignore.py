"""A small, faithful-enough .gitignore matcher (patterns, anchoring, dir-only, negation, **)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern
    negate: bool
    dir_only: bool


STAR, DSTAR, DSTAR_SLASH = "[^/]*", ".*", "(?:.*/)?"
_WILD = (STAR, DSTAR, DSTAR_SLASH)
MAX_BACKTRACKING = 2  # wildcards a regex may backtrack over; a pattern with more is matched by _Linear
MAX_FILE_BYTES = 1024 * 1024  # of one .gitignore; real ones are a few KB


def _tokens(glob: str) -> list[str]:
    """One gitignore glob (without anchoring/dir flags) as regex fragments: wildcards or one character each."""
    out = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob[i : i + 3] == "**/":
                out.append(DSTAR_SLASH)
                i += 3
                continue
            if glob[i : i + 2] == "**":
                out.append(DSTAR)
                i += 2
                continue
            out.append(STAR)
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
    return out


def _translate(tokens: list[str]) -> tuple[str, int]:
    """(regex, wildcards it may backtrack over). A `*` that only `*` or `**` wildcards follow commits to
    the leftmost match of the text after it, as fnmatch does: the same paths match, but without trying
    every split (a `*a*a*a*a*b` line against a long name would otherwise take hours)."""
    wild = [i for i, t in enumerate(tokens) if t in _WILD]
    if not wild:
        return "".join(tokens), 0
    out = tokens[: wild[0]]
    backtracking = 0
    for k, i in enumerate(wild):
        run = tokens[i + 1 : wild[k + 1] if k + 1 < len(wild) else len(tokens)]
        later = [tokens[j] for j in wild[k + 1 :]]
        if (tokens[i] == STAR and later and run and all(t in (STAR, DSTAR) for t in later)
                and not any(t.startswith("[") and t != "[^/]" for t in run)):
            out.append(f"(?=(?P<g{k}>[^/]*?{''.join(run)}))(?P=g{k})")
        else:
            out.append(tokens[i] + "".join(run))
            backtracking += 1
    return "".join(out), backtracking


class _Linear:
    """Matches a many-wildcard pattern by tracking every reachable position: time len(pattern) x len(path),
    whatever the pattern. Quacks like a compiled regex's `match` for IgnoreRules."""

    def __init__(self, tokens: list[str], anchored: bool):
        self.steps = [t if t in _WILD else re.compile(t) for t in tokens]
        self.anchored = anchored

    def match(self, s: str) -> bool:
        n = len(s)
        pos = {0} if self.anchored else {0, *(j + 1 for j, c in enumerate(s) if c == "/")}
        for step in self.steps:
            if not pos:
                return False
            if step is STAR:
                reach, covered = set(), -1
                for p in sorted(pos):
                    j = max(p, covered + 1)
                    while j <= n and (j == p or s[j - 1] != "/"):
                        reach.add(j)
                        j += 1
                    covered = j - 1
                pos = reach
            elif step is DSTAR:
                pos = set(range(min(pos), n + 1))
            elif step is DSTAR_SLASH:
                low = min(pos)
                pos = pos | {j for j in range(low + 1, n + 1) if s[j - 1] == "/"}
            else:
                pos = {p + 1 for p in pos if p < n and step.fullmatch(s[p])}
        return any(p == n or s[p] == "/" for p in pos)  # the path, or a folder above it


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
        tokens = _tokens(line)
        body, backtracking = _translate(tokens)
        if backtracking > MAX_BACKTRACKING:
            patterns.append(_Pattern(_Linear(tokens, anchored), negate, dir_only))
            continue
        regex = f"^{body}(?:/.*)?$" if anchored else f"^(?:.*/)?{body}(?:/.*)?$"
        try:
            patterns.append(_Pattern(re.compile(regex), negate, dir_only))
        except re.error:  # e.g. a bracket range written backwards: git matches nothing with it either
            continue
    return patterns


def read_ignore_file(folder: Path | str) -> tuple[bytes, os.stat_result] | None:
    """The first MAX_FILE_BYTES of `folder`/.gitignore as (bytes, os.stat_result taken before reading),
    or None when it cannot be read."""
    try:
        with open(os.path.join(folder, ".gitignore"), "rb") as fh:
            st = os.fstat(fh.fileno())
            return fh.read(MAX_FILE_BYTES), st
    except OSError:
        return None


class IgnoreRules:
    """The .gitignore patterns of one folder, matched against paths relative to that folder."""

    def __init__(self, base: Path, patterns: list[_Pattern]):
        self.base = base
        self.patterns = patterns

    @classmethod
    def load(cls, folder: Path) -> "IgnoreRules | None":
        read = read_ignore_file(folder)
        return cls.parse(folder, read[0]) if read is not None else None

    @classmethod
    def parse(cls, folder: Path, data: bytes) -> "IgnoreRules | None":
        """The rules of a .gitignore's bytes (None when it holds no pattern)."""
        patterns = parse_patterns(data.decode("utf-8", errors="replace"))
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
