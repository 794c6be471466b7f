"""`--with-mcp`: the MCP servers the bundled agents name, added to the project's `.mcp.json`.

Server names must equal the middle part of the agents' tool names (`mcp__context7__…` needs a server called
`context7`; one registered as `sequential-thinking` would not match `mcp__sequentialthinking__…`).
Existing servers are never removed or changed. For the user scope dbagents does not edit ~/.claude.json
(Claude Code's own state file); it prints the `claude mcp add --scope user …` lines to run instead.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dbagents.errors import InputError
from dbagents.install.source import BundleSource
from dbagents.install.target import Target, safe_project_file

MCP_FILE = ".mcp.json"

# Known servers: name -> stdio config (npm packages run through npx), pinned to the versions whose tools the
# agents name (the python-database-administrator agent's own `mcpServers` pins the same; .ci/run installs them
# and tests/test_mcp_servers.py lists each one's tools).
PINNED_PACKAGES = {
    "context7": "@upstash/context7-mcp@4.1.1",
    "sequentialthinking": "@modelcontextprotocol/server-sequential-thinking@2026.8.31",
}
KNOWN_SERVERS: dict[str, dict] = {
    name: {"type": "stdio", "command": "npx", "args": ["-y", package], "env": {}}
    for name, package in PINNED_PACKAGES.items()
}

_MCP_TOOL = re.compile(r"\bmcp__([A-Za-z0-9_-]+?)(?:__|\b)")
_FRONTMATTER = re.compile(rb"\A---\r?\n(.*?)\r?\n---\s*(?:\r?\n|\Z)", re.S)


def servers_named_by_agents(source: BundleSource) -> list[str]:
    """MCP server names used in the `tools:` of the bundled agents' frontmatter, in order of appearance."""
    names: list[str] = []
    for sf in source.files:
        if sf.component != "agents":
            continue
        match = _FRONTMATTER.match(sf.raw)
        if not match:
            continue
        for name in _MCP_TOOL.findall(match.group(1).decode("utf-8", "replace")):
            if name not in names:
                names.append(name)
    return names


def add_command(name: str, config: dict, scope: str = "user") -> str:
    return "claude mcp add --scope {} {} -- {}".format(
        scope, name, " ".join(shlex.quote(x) for x in [config["command"], *config.get("args", [])])
    )


@dataclass
class McpPlan:
    path: Path | None  # .mcp.json, or None for the user scope
    to_add: dict[str, dict] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)  # already configured, left exactly as they are
    unknown: list[str] = field(default_factory=list)  # named by an agent, but no known config
    new_bytes: bytes | None = None  # new .mcp.json content (None = nothing to write)
    created_file: bool = False
    user_commands: list[str] = field(default_factory=list)


def read_json_object(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"is not valid JSON ({exc.msg}); fix it and run again", path=str(path), line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise InputError("must hold a JSON object; fix it and run again", path=str(path))
    return doc


def plan_mcp(target: Target, source: BundleSource) -> McpPlan:
    names = servers_named_by_agents(source)
    wanted = {n: KNOWN_SERVERS[n] for n in names if n in KNOWN_SERVERS}
    unknown = [n for n in names if n not in KNOWN_SERVERS]
    if target.scope == "user":
        from os.path import expanduser

        user_file = Path(expanduser("~")) / ".claude.json"
        try:
            configured = read_json_object(user_file).get("mcpServers") or {}
        except InputError:
            configured = {}
        plan = McpPlan(None, unknown=unknown)
        for name, config in wanted.items():
            if isinstance(configured, dict) and name in configured:
                plan.present.append(name)
            else:
                plan.to_add[name] = config
                plan.user_commands.append(add_command(name, config))
        return plan
    path = safe_project_file(target, MCP_FILE)
    doc = read_json_object(path)
    servers = doc.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise InputError("'mcpServers' must be a JSON object; fix it and run again", path=str(path))
    plan = McpPlan(path, unknown=unknown, created_file=not path.exists())
    for name, config in wanted.items():
        if name in servers:
            plan.present.append(name)
        else:
            plan.to_add[name] = config
    if plan.to_add:
        merged = dict(doc)
        merged["mcpServers"] = {**servers, **plan.to_add}
        plan.new_bytes = (json.dumps(merged, indent=2) + "\n").encode("utf-8")
    return plan


def remove_added_servers(path: Path, added: dict[str, dict], created_file: bool) -> tuple[list[str], list[str], bytes | None, bool]:
    """For uninstall: servers to drop (those still exactly as dbagents added them) and the new file content.

    Returns (removed, kept, new_bytes or None, delete_file).
    """
    doc = read_json_object(path)
    servers = doc.get("mcpServers")
    if not isinstance(servers, dict):
        return [], sorted(added), None, False
    removed = [n for n, cfg in added.items() if servers.get(n) == cfg]
    kept = [n for n in added if n not in removed and n in servers]
    if not removed:
        return [], kept, None, False
    remaining = {n: c for n, c in servers.items() if n not in removed}
    new_doc = {**doc, "mcpServers": remaining}
    if created_file and new_doc == {"mcpServers": {}}:
        return removed, kept, None, True
    return removed, kept, (json.dumps(new_doc, indent=2) + "\n").encode("utf-8"), False
