"""Tool names and permission rules as Claude Code 2.1 knows them (spec §4, §5)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

CURRENT_TOOLS = frozenset(
    "Agent Bash Read Write Edit Glob Grep NotebookEdit WebFetch WebSearch TodoWrite Skill AskUserQuestion "
    "EnterPlanMode ExitPlanMode TaskOutput TaskStop ToolSearch LSP Monitor PowerShell EnterWorktree ExitWorktree "
    "CronCreate CronDelete CronList ScheduleWakeup TaskCreate TaskGet TaskUpdate TaskList SendMessage "
    "ListMcpResourcesTool ReadMcpResourceTool ReadMcpResourceDirTool StructuredOutput WaitForMcpServers".split()
)
FEATURE_GATED_TOOLS = frozenset(
    "Workflow REPL Artifact RemoteTrigger PushNotification SendUserMessage ListAgents TeamCreate TeamDelete".split()
)
RENAMED_TOOLS = {
    "Task": "Agent",
    "KillShell": "TaskStop",
    "KillBash": "TaskStop",
    "BashOutput": "TaskOutput",
    "AgentOutput": "TaskOutput",
    "ListMcpResources": "ListMcpResourcesTool",
    "ReadMcpResource": "ReadMcpResourceTool",
}
REMOVED_TOOLS = {
    "MultiEdit": "Edit",
    "LS": "Glob or Bash",
    "NotebookRead": "Read",
    "SlashCommand": "Skill",
    "TodoRead": "TodoWrite",
}
NOT_FOR_SUBAGENTS = frozenset(
    "AskUserQuestion EnterPlanMode ExitPlanMode ScheduleWakeup WaitForMcpServers TaskOutput".split()
)
EDIT_TOOLS = frozenset({"Edit", "Write", "NotebookEdit", "MultiEdit"})
FILE_TOOLS = frozenset({"Read", "Write", "Edit", "NotebookEdit", "Glob", "Grep"})
KNOWN = CURRENT_TOOLS | FEATURE_GATED_TOOLS
_LOWER = {name.lower(): name for name in KNOWN | set(RENAMED_TOOLS)}
_MCP_RE = re.compile(r"^mcp__([A-Za-z0-9_-]+?)(?:__([A-Za-z0-9_*-]+))?$")
BUILTIN_MCP_SERVERS = ("ide",)


def split_tool_string(value: str) -> list[str]:
    """Split `Read, Grep Bash(git diff:*)` on commas or spaces outside brackets."""
    items, current, depth = [], [], 0
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if depth == 0 and (char == "," or char.isspace()):
            if current:
                items.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def tool_entries(value) -> list[str]:
    """The tool names a field value lists (strings only: the runtime drops other list items)."""
    if isinstance(value, str):
        return split_tool_string(value)
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.extend(split_tool_string(item) if "(" not in item else [item.strip()])
        return out
    return []


def base_name(entry: str) -> tuple[str, str | None]:
    """`Bash(git:*)` -> ("Bash", "git:*"); `Read` -> ("Read", None)."""
    if "(" in entry:
        head, _, rest = entry.partition("(")
        return head.strip(), rest[:-1] if rest.endswith(")") else rest
    return entry.strip(), None


def suggest(name: str) -> str | None:
    if name.lower() in _LOWER:
        return _LOWER[name.lower()]
    close = difflib.get_close_matches(name, sorted(KNOWN), n=1, cutoff=0.75)
    if close:
        return close[0]
    close = difflib.get_close_matches(name.lower(), sorted(_LOWER), n=1, cutoff=0.75)
    return _LOWER[close[0]] if close else None


def mcp_server(name: str) -> str | None:
    match = _MCP_RE.match(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class ToolIssue:
    rule_id: str
    message: str
    hint: str = ""


def classify(name: str, *, field_name: str, deny: bool = False) -> ToolIssue | None:
    """Check one bare tool name. Returns None when Claude Code accepts it as-is."""
    if name in KNOWN or name == "*":
        return None
    if name in RENAMED_TOOLS:
        new = RENAMED_TOOLS[name]
        return ToolIssue("CC021", f"`{name}` in {field_name} was renamed to `{new}`; the old name still works",
                         f"write `{new}`")
    if name in REMOVED_TOOLS:
        return ToolIssue("CC022", f"`{name}` in {field_name} no longer exists; Claude Code ignores it",
                         f"remove it ({REMOVED_TOOLS[name]} covers what it did)")
    if name.startswith("mcp__"):
        if name == "mcp__*" and deny:
            return None
        if _MCP_RE.match(name) and name != "mcp__*":
            return None
        return ToolIssue("CC020", f"`{name}` in {field_name} is not a valid MCP tool name; it is dropped",
                         "use mcp__<server>, mcp__<server>__<tool> or mcp__<server>__*")
    guess = suggest(name)
    hint = f"did you mean {guess}?" if guess else "tool names are case-sensitive; see the tools reference"
    return ToolIssue("CC020", f"`{name}` in {field_name} is not a Claude Code tool; it is dropped silently", hint)


_URL_RE = re.compile(r"^[a-z]+://", re.I)


def rule_syntax_problem(entry: str) -> str | None:
    """Why a permission rule (as written in allowed-tools) cannot match, or None if it is well formed."""
    depth = 0
    for char in entry:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return "has a `)` without `(`"
    if depth:
        return "has unbalanced brackets"
    name, spec = base_name(entry)
    if spec is not None and not entry.rstrip().endswith(")"):
        return "has text after the closing `)`"
    if not name:
        return "has no tool name before `(`"
    if "_" not in name and not name[:1].isupper() and name != "*":
        return "tool name must start with a capital letter"
    if "*" in name and not (name.startswith("mcp__") and name.count("__") >= 2):
        return "allow rules may use `*` in the tool name only after `mcp__<server>__`"
    if spec is None:
        return None
    if name.startswith("mcp__"):
        return "MCP rules take no `(…)`; write the tool name alone"
    if spec.strip() == "":
        return "has empty `()`; write the bare tool name to allow everything"
    if ":*" in spec and not spec.endswith(":*"):
        return "uses `:*` before the end; the legacy prefix form needs `:*` last"
    if name in FILE_TOOLS and ":*" in spec:
        return "file rules use gitignore-style paths, not `:*`"
    if name == "WebFetch":
        if _URL_RE.match(spec):
            return "WebFetch rules take `domain:host`, not a URL"
        if not spec.startswith("domain:"):
            return "WebFetch rules take `domain:host`"
    if name == "WebSearch" and "*" in spec:
        return "WebSearch rules do not accept wildcards"
    return None
