"""Per-file field checks: schema, name/description, unknown keys, tool lists and consistency."""

from __future__ import annotations

import difflib
import re

from dbagents.findings import Severity
from dbagents.validate import tools as T
from dbagents.validate.discover import AGENT, COMMAND, SKILL
from dbagents.validate.documents import Document
from dbagents.validate.schema_check import known_keys, schema_errors

E, W = Severity.ERROR, Severity.WARNING
_NAME_STYLE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CANON = {}  # normalised key -> canonical spelling, over every kind (like Claude Code's own key map)


def _canon() -> dict:
    if not _CANON:
        for kind in (AGENT, COMMAND, SKILL):
            for key in known_keys(kind):
                _CANON.setdefault(key.replace("-", "").replace("_", "").lower(), key)
    return _CANON


def check_fields(doc: Document, mcp_servers: frozenset) -> None:
    if doc.fields_lost or (not doc.has_frontmatter and doc.item.kind != AGENT):
        return
    if not doc.has_frontmatter:
        return
    kind = doc.item.kind
    data = doc.data
    if kind == AGENT:
        _agent_identity(doc)
    for path, message in schema_errors(kind, data):
        key = str(path[0]) if path else ""
        if key == "model":
            doc.add("CC014", f"model `{data.get('model')}` is not an alias or a Claude model id", E, doc.line_of(key),
                    hint="use inherit, sonnet, opus, haiku, fable, best, opusplan (optionally [1m]) or claude-…")
        elif key in ("name", "description") and kind == AGENT:
            continue  # reported by _agent_identity
        else:
            doc.add("CC015", message + _dropped(kind, key), E, doc.line_of(key))
    _unknown_keys(doc)
    hint = data.get("argument-hint")
    if isinstance(hint, (list, dict)):
        doc.add("CC018", "argument-hint is a YAML list, so the brackets are not shown", W, doc.line_of("argument-hint"),
                hint=f'quote it: argument-hint: "{_raw_value(doc, "argument-hint")}"')
    _tool_fields(doc, mcp_servers)
    if kind == AGENT:
        _agent_consistency(doc)


def _dropped(kind: str, key: str) -> str:
    if key in ("hooks",):
        return "; Claude Code drops the hooks"
    return "; Claude Code ignores the value"


def _agent_identity(doc: Document) -> None:
    data = doc.data
    name = data.get("name")
    plugin = doc.item.scope.kind == "plugin"
    if name is None or (isinstance(name, str) and not name.strip()):
        if not plugin:
            doc.add("CC010", "agent has no `name`; Claude Code skips the file without a message", E,
                    doc.line_of("name") if "name" in data else doc.yaml_first_line - 1,
                    hint=f"add `name: {_slug(doc.item.path.stem)}`")
    elif not isinstance(name, str):
        doc.add("CC010", f"`name` must be a string, not {type(name).__name__}; the agent is skipped", E,
                doc.line_of("name"), hint=f'quote it: name: "{name}"')
    elif name.startswith("-"):
        doc.add("CC011", f"name `{name}` starts with `-`; Claude Code rejects the agent", E, doc.line_of("name"),
                hint=f"name: {_slug(name)}")
    elif not _NAME_STYLE_RE.match(name):
        doc.add("CC012", f"name `{name}` is not lowercase letters, digits and hyphens", W, doc.line_of("name"),
                hint=f"name: {_slug(name)}")
    description = data.get("description")
    fallback = data.get("when_to_use") if plugin else None
    if not (isinstance(description, str) and description.strip()):
        if isinstance(fallback, str) and fallback.strip():
            return
        what = "no `description`" if description is None else f"`description` is not a non-empty string"
        doc.add("CC013", f"agent has {what}; Claude Code rejects it", E,
                doc.line_of("description") if "description" in data else doc.yaml_first_line - 1,
                hint="add `description:` saying when to delegate to this agent")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "my-agent"


def _unknown_keys(doc: Document) -> None:
    kind = doc.item.kind
    known = known_keys(kind)
    if kind == AGENT and doc.item.scope.kind == "plugin":
        known = known | {"when_to_use"}
    for key in doc.data:
        if key in known:
            continue
        canon = _canon().get(key.replace("-", "").replace("_", "").lower())
        if canon and canon in known:
            hint = f"did you mean `{canon}`?"
        elif canon:
            hint = f"`{canon}` is a field of other file kinds, not of {kind} files"
        else:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
            hint = f"did you mean `{close[0]}`?" if close else "remove it; Claude Code does not read it"
        if kind == AGENT and key == "allowed-tools":
            hint = "agents use `tools:`; `allowed-tools` is for commands and skills"
        doc.add("CC016", f"unknown key `{key}` in {kind} frontmatter; Claude Code ignores it", W, doc.line_of(key),
                hint=hint)


def _raw_value(doc: Document, key: str) -> str:
    line = doc.line_of(key)
    lines = doc.lines
    if 0 < line <= len(lines):
        return lines[line - 1].split(":", 1)[-1].strip().replace('"', '\\"')
    return ""


def _entry_line(doc: Document, key: str, entry: str) -> int:
    start = doc.line_of(key)
    lines = doc.lines
    for number in range(start, min(start + 60, len(lines)) + 1):
        if entry in lines[number - 1]:
            return number
        if number > start and number - 1 < len(lines) and re.match(r"^[A-Za-z_]", lines[number - 1]):
            break
    return start


TOOL_FIELDS = {
    AGENT: (("tools", False, False), ("disallowedTools", True, False)),
    COMMAND: (("allowed-tools", False, True), ("disallowed-tools", True, False), ("disallowedTools", True, False)),
    SKILL: (("allowed-tools", False, True), ("disallowed-tools", True, False), ("disallowedTools", True, False)),
}


def _tool_fields(doc: Document, mcp_servers: frozenset) -> None:
    kind = doc.item.kind
    missing_servers: dict[str, int] = {}
    for key, deny, rules in TOOL_FIELDS[kind]:
        if key not in doc.data:
            continue
        for entry in T.tool_entries(doc.data[key]):
            line = _entry_line(doc, key, entry)
            name, spec = T.base_name(entry)
            if rules:
                problem = T.rule_syntax_problem(entry)
                if problem:
                    doc.add("CC023", f"permission rule `{entry}` in {key} {problem}", E, line,
                            hint="write `Tool` or `Tool(spec)`, e.g. Bash(git diff *)")
                    if "(" in entry and not name[:1].isupper():
                        continue
            elif spec is not None and name not in ("Agent", "Task") and name in T.KNOWN:
                doc.add("CC026", f"`{entry}` in {key}: the part in brackets is ignored; the agent gets all of {name}",
                        W, line, hint=f"list `{name}` and restrict it with permission rules in settings")
            issue = T.classify(name, field_name=key, deny=deny)
            if issue:
                doc.add(issue.rule_id, issue.message, E if issue.rule_id == "CC020" else W, line, hint=issue.hint)
                continue
            if kind == AGENT and not deny and name in T.NOT_FOR_SUBAGENTS:
                if not (name == "ExitPlanMode" and doc.data.get("permissionMode") == "plan"):
                    doc.add("CC025", f"`{name}` is never given to subagents; listing it does nothing", W, line,
                            hint=f"remove `{name}` from tools")
            server = T.mcp_server(name)
            if server and server not in mcp_servers and not _server_provided_elsewhere(server):
                missing_servers.setdefault(server, line)
    for server, line in missing_servers.items():
        doc.add("CC024", f"MCP server `{server}` is named in tools but configured nowhere this project can see", W,
                line, hint=f"claude mcp add --scope project {server} -- <command to start it>")


def _server_provided_elsewhere(server: str) -> bool:
    return server in T.BUILTIN_MCP_SERVERS or server.startswith(("plugin_", "claude_ai_"))


def _agent_consistency(doc: Document) -> None:
    data = doc.data
    if data.get("permissionMode") == "acceptEdits":
        tools_value = data.get("tools")
        granted = None if tools_value is None else {T.RENAMED_TOOLS.get(n, n) for n in
                                                    (T.base_name(e)[0] for e in T.tool_entries(tools_value))}
        denied = {T.base_name(e)[0] for e in T.tool_entries(data.get("disallowedTools"))}
        if granted is not None and "*" not in granted:
            can_edit = granted & (T.EDIT_TOOLS - {"MultiEdit"})
        else:
            can_edit = (T.EDIT_TOOLS - {"MultiEdit"}) - denied
        if not can_edit:
            doc.add("CC030", "permissionMode acceptEdits, but the agent has no Edit, Write or NotebookEdit tool", W,
                    doc.line_of("permissionMode"), hint="add Edit or Write to tools, or remove permissionMode")
    if doc.item.scope.kind == "plugin":
        for key in ("permissionMode", "hooks", "mcpServers"):
            if key in data:
                doc.add("CC031", f"`{key}` is ignored for plugin agents", W, doc.line_of(key),
                        hint="remove it; put hooks in hooks/hooks.json and servers in the plugin's .mcp.json")
        if data.get("isolation") == "remote":
            doc.add("CC031", "`isolation: remote` is ignored for plugin agents (only worktree works)", W,
                    doc.line_of("isolation"), hint="use isolation: worktree or remove it")
