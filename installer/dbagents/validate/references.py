"""References in a prompt body: `.claude/…`, `~/.claude/…`, `${CLAUDE_PLUGIN_ROOT}/…`, `@path` and `/command`."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from dbagents.findings import Severity
from dbagents.validate.documents import Document

BUILTIN_COMMANDS = frozenset(
    """add-dir advisor agents autocompact autofix-pr background branch brief btw bug cd chrome clear color compact
    config context copy cost daemon desktop diff doctor effort exit export extra-usage fast feedback focus fork goal
    help hooks ide init init-verifiers insights install install-github-app install-slack-app keybindings login logout
    loop loops mcp memory migrate-installer mobile model output-style passes permissions plan plugin powerup
    pr-comments privacy-settings quit radio recap release-notes reload-plugins reload-skills remote-control remote-env
    rename reset resume review rewind sandbox scroll-speed security-review session setup-bedrock setup-vertex skills
    simplify batch debug claude-api stats status statusline stickers stop tasks team-onboarding teleport
    terminal-setup theme todos tui ultraplan ultrareview update upgrade usage usage-credits version vim voice
    web-setup wellbeing workflows new checkpoint schedule""".split()
)
_FENCE_RE = re.compile(r"^\s{0,3}(```+|~~~+)")
_CLAUDE_REF_RE = re.compile(r"(?<![\w.~/}$-])\.claude/([A-Za-z0-9_./-]*[A-Za-z0-9_/-])?")
_HOME_REF_RE = re.compile(r"(?<![\w$}])~/\.claude/([A-Za-z0-9_./-]*[A-Za-z0-9_/-])?")
_PLUGIN_REF_RE = re.compile(r"\$\{?CLAUDE_PLUGIN_ROOT\}?/([A-Za-z0-9_./-]*[A-Za-z0-9_/-])")
_AT_REF_RE = re.compile(r"(?:(?<=\s)|^|(?<=\())@((?:\.{1,2}/|~/|/)?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.("
                        r"md|mdc|txt|json|ya?ml|toml|py|ts|tsx|js|jsx|sql|sh|cfg|ini|rst|csv|html|css|go|rs|java"
                        r"))(?![\w/])")
_CODE_SPAN_RE = re.compile(r"`+[^`]*`+")
_SLASH_RE = re.compile(r"^/([a-z][a-z0-9_-]*(?::[a-z0-9_-]+)*)(?=$|\s)")
_GLOB_CHARS = set("*{<[$")
_NOT_COMMAND_CONTEXT_RE = re.compile(
    r"\b(?:endpoints?|urls?|routes?|https?|api|paths?|GET|POST|PUT|PATCH|DELETE|HEAD|curl|directory|folder|dir|"
    r"mount|redirects?|pages?|comment|imports?|\w+\.md)\b", re.I)
_COMMAND_CONTEXT_RE = re.compile(r"\b(?:run|use|invoke|type|call|execute|slash|command|skill|then)\b", re.I)
_LIST_MARKER_RE = re.compile(r"^[\s>]*(?:[-*+]|\d+[.)])?\s*")
_PLACEHOLDERS = frozenset({"command", "command-name", "my-command", "your-command", "name", "skill-name", "plugin-name",
                           "cmd", "foo", "bar", "example", "my-skill", "x"})
_PATH_ROOTS = frozenset("tmp etc usr var dev home opt bin sbin lib proc sys mnt root srv users volumes app src".split())


_FENCE_LINE_RE = re.compile(r"(?m)^ {0,3}(```+|~~~+)")
# `/name` ends at the line end, whitespace, a backtick, or punctuation closing a sentence (`/a-b.`, `(/a-b),`);
# a `/` right after it (`/usr/bin`, `/a/b`) or a file suffix (`/a-b.md`) is a path
_SLASH_RE_ANY = re.compile(r"/([a-z][a-z0-9_-]*(?::[a-z0-9_-]+)*)(?=$|[\s`]|[.,;:!?)'\"]+(?:\s|$))", re.M)
_SLASH_BEFORE = frozenset(" \t\n`>(")
_LINE_PREFIX_RE = re.compile(r"[ \t>]*(?:[-*+]|\d+[.)])?[ \t]*")
_SPAN_PREFIX_RE = re.compile(r"(?:^|[^`])`+ ?$")


class _Body:
    """A prompt body with fast offset -> line lookups and the ranges of fenced code blocks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._fences: list[tuple[int, int]] | None = None

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        return self._starts

    @property
    def fences(self) -> list[tuple[int, int]]:
        if self._fences is None:
            self._fences = self._find_fences() if ("```" in self.text or "~~~" in self.text) else []
        return self._fences

    def _find_fences(self) -> list[tuple[int, int]]:
        text = self.text
        fences: list[tuple[int, int]] = []
        opened = None
        for match in _FENCE_LINE_RE.finditer(text):
            marker = match.group(1)
            if opened is None:
                opened = (match.start(), marker[0] * 3)
            elif marker.startswith(opened[1]):
                fences.append((opened[0], match.end()))
                opened = None
        if opened is not None:
            fences.append((opened[0], len(text)))
        return fences

    def line_index(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def line(self, index: int) -> str:
        end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[index]:end]

    def in_fence(self, offset: int) -> bool:
        return any(a <= offset < b for a, b in self.fences)


def _exists(target: Path) -> bool:
    try:
        return target.exists()
    except OSError:
        return False


def _followed_by_glob(text: str, end: int) -> bool:
    return end < len(text) and text[end] in _GLOB_CHARS


def check_references(doc: Document, command_names: frozenset) -> None:
    scope = doc.item.scope
    text = doc.body
    if not text:
        return
    body = _Body(text)
    home = Path.home()
    mentions = []
    if scope.claude_dir is not None and ".claude/" in text:
        for match in _CLAUDE_REF_RE.finditer(text):
            if match.group(1) and not _followed_by_glob(text, match.end()):
                mentions.append((match, scope.claude_dir / match.group(1).rstrip(".")))
    if scope.kind == "claude" and "~/.claude/" in text:
        for match in _HOME_REF_RE.finditer(text):
            if match.group(1) and not _followed_by_glob(text, match.end()):
                mentions.append((match, home / ".claude" / match.group(1).rstrip(".")))
    if scope.kind == "plugin" and "CLAUDE_PLUGIN_ROOT" in text:
        for match in _PLUGIN_REF_RE.finditer(text):
            if not _followed_by_glob(text, match.end()):
                mentions.append((match, scope.root / match.group(1).rstrip(".")))
    if "@" in text:
        for match in _AT_REF_RE.finditer(text):
            if body.in_fence(match.start()) or _inside_code_span(body, match.start()):
                continue
            target = _resolve_at(match.group(1), scope, home)
            if target is not None:
                mentions.append((match, target))
    for match, target in mentions:
        if "." not in target.name:
            continue  # a folder mention ("save reports under .claude/reports/") names a place, not a file
        if not _exists(target):
            index = body.line_index(match.start())
            doc.add("CC040", f"`{match.group(0)}` points to a file that does not exist ({_show(target, home)})",
                    Severity.ERROR, doc.body_first_line + index, match.start() - body.starts[index] + 1,
                    hint="fix the path or add the file")
    if "/" in text:
        _slash_mentions(doc, body, command_names)


def _inside_code_span(body: _Body, offset: int) -> bool:
    index = body.line_index(offset)
    line = body.line(index)
    column = offset - body.starts[index]
    return any(m.start() <= column < m.end() for m in _CODE_SPAN_RE.finditer(line)) if "`" in line else False


def _resolve_at(path: str, scope, home: Path) -> Path | None:
    if path.startswith("~/"):
        return home / path[2:]
    if path.startswith("/"):
        return Path(path)
    if path.startswith(".claude/"):
        return scope.claude_dir / path[len(".claude/"):] if scope.claude_dir is not None else None
    if scope.project_root is not None:
        return scope.project_root / path
    return None


def _show(target: Path, home: Path) -> str:
    try:
        return "~/" + target.relative_to(home).as_posix()
    except ValueError:
        return target.as_posix()


def _slash_mentions(doc: Document, body: _Body, command_names: frozenset) -> None:
    """`/name` as the first word of a line or of an inline code span is an instruction to run a command; so is a
    command-shaped `/name` (kebab-case or `plugin:command`) anywhere after whitespace in a sentence."""
    text = body.text
    for match in _SLASH_RE_ANY.finditer(text):
        offset, name = match.start(), match.group(1)
        if offset and text[offset - 1] not in _SLASH_BEFORE:
            continue
        if name in _PLACEHOLDERS or name.split(":")[0] in _PATH_ROOTS:
            continue
        index = body.line_index(offset)
        prefix = text[body.starts[index]:offset]
        if not (_LINE_PREFIX_RE.fullmatch(prefix) or _SPAN_PREFIX_RE.search(prefix)) \
                and "-" not in name and ":" not in name:
            continue
        if body.in_fence(offset):
            continue
        line = body.line(index)
        if _NOT_COMMAND_CONTEXT_RE.search(line):
            continue
        if "-" not in name and ":" not in name and not _COMMAND_CONTEXT_RE.search(line):
            continue
        base = name.split(":")[-1]
        if name in command_names or base in command_names or name in BUILTIN_COMMANDS:
            continue
        doc.add("CC041", f"`/{name}` is not a command or skill here, nor a built-in Claude Code command",
                Severity.WARNING, doc.body_first_line + index, offset - body.starts[index] + 1,
                hint="fix the name or add the command to .claude/commands/")
