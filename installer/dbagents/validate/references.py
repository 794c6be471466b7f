"""References in a prompt body: `.claude/…`, `~/.claude/…`, `${CLAUDE_PLUGIN_ROOT}/…`, `@path` and `/command`."""

from __future__ import annotations

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


def _lines_outside_fences(body: str):
    """(index, line, in_fence) for each body line."""
    fence = None
    for index, line in enumerate(body.split("\n")):
        match = _FENCE_RE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker[0] * 3
                yield index, line, True
                continue
            if marker.startswith(fence):
                fence = None
                yield index, line, True
                continue
        yield index, line, fence is not None


def _exists(target: Path) -> bool:
    try:
        return target.exists()
    except OSError:
        return False


def _followed_by_glob(line: str, end: int) -> bool:
    return end < len(line) and line[end] in _GLOB_CHARS


def check_references(doc: Document, command_names: frozenset) -> None:
    scope = doc.item.scope
    home = Path.home()
    for index, line, in_fence in _lines_outside_fences(doc.body):
        number = doc.body_first_line + index
        mentions = []
        if scope.claude_dir is not None:
            for match in _CLAUDE_REF_RE.finditer(line):
                if match.group(1) and not _followed_by_glob(line, match.end()):
                    mentions.append((match, scope.claude_dir / match.group(1).rstrip(".")))
        for match in _HOME_REF_RE.finditer(line) if scope.kind == "claude" else ():
            if match.group(1) and not _followed_by_glob(line, match.end()):
                mentions.append((match, home / ".claude" / match.group(1).rstrip(".")))
        if scope.kind == "plugin":
            for match in _PLUGIN_REF_RE.finditer(line):
                if not _followed_by_glob(line, match.end()):
                    mentions.append((match, scope.root / match.group(1).rstrip(".")))
        if not in_fence:
            prose = _CODE_SPAN_RE.sub(lambda m: " " * len(m.group(0)), line)
            for match in _AT_REF_RE.finditer(prose):
                target = _resolve_at(match.group(1), scope, home)
                if target is not None:
                    mentions.append((match, target))
        for match, target in mentions:
            if "." not in target.name:
                continue  # a folder mention ("save reports under .claude/reports/") names a place, not a file
            if not _exists(target):
                doc.add("CC040", f"`{match.group(0)}` points to a file that does not exist ({_show(target, home)})",
                        Severity.ERROR, number, match.start() + 1,
                        hint="fix the path or add the file")
        if not in_fence:
            _slash_mentions(doc, line, number, command_names)


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


def _slash_mentions(doc: Document, line: str, number: int, command_names: frozenset) -> None:
    """`/name` as the first word of a line or of an inline code span is an instruction to run a command."""
    candidates = []
    stripped = _LIST_MARKER_RE.sub("", line, count=1)
    match = _SLASH_RE.match(stripped)
    if match:
        candidates.append((match.group(1), len(line) - len(stripped) + 1))
    for span in _CODE_SPAN_RE.finditer(line):
        inner = span.group(0).strip("`").strip()
        match = _SLASH_RE.match(inner)
        if match:
            candidates.append((match.group(1), span.start() + 2))
    if candidates and _NOT_COMMAND_CONTEXT_RE.search(line):
        return
    commandish = bool(_COMMAND_CONTEXT_RE.search(line))
    for name, col in candidates:
        if name in _PLACEHOLDERS or name.split(":")[0] in _PATH_ROOTS:
            continue
        if not commandish and "-" not in name and ":" not in name:
            continue
        base = name.split(":")[-1]
        if name in command_names or base in command_names or name in BUILTIN_COMMANDS:
            continue
        doc.add("CC041", f"`/{name}` is not a command or skill here, nor a built-in Claude Code command",
                Severity.WARNING, number, col, hint="fix the name or add the command to .claude/commands/")
