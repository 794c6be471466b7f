"""The MCP servers the bundle names, at their pinned versions: each starts over stdio (from .ci/node, which
.ci/run installs; npm offline) and lists every `mcp__server__tool` the agents and commands name."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from dbagents.install.mcp import KNOWN_SERVERS, PINNED_PACKAGES

REPO = Path(__file__).resolve().parents[1]
NODE = REPO / ".ci" / "node"
BUNDLE_FILES = sorted((REPO / ".claude" / "agents").glob("*.md")) + sorted((REPO / ".claude" / "commands").glob("*.md"))
TOOL_NAME = re.compile(r"\bmcp__([A-Za-z0-9_-]+?)__([A-Za-z0-9_-]+)")


def named_tools() -> dict[str, set[str]]:
    """server -> tool names the bundle's agents and commands mention (frontmatter and body)."""
    out: dict[str, set[str]] = {}
    for path in BUNDLE_FILES:
        for server, tool in TOOL_NAME.findall(path.read_text(encoding="utf-8")):
            out.setdefault(server, set()).add(tool)
    return out


def agent_servers() -> dict[str, dict]:
    text = (REPO / ".claude" / "agents" / "python-database-administrator.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---", 2)[1])
    return {name: config for entry in front["mcpServers"] for name, config in entry.items()}


def list_tools(command: str, args: list[str]) -> list[str]:
    """Start the server as Claude Code would (command + args, stdio), initialize, and ask tools/list."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "dbagents-tests", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    env = {**os.environ, "npm_config_offline": "true", "npm_config_update_notifier": "false"}
    proc = subprocess.Popen([command, *args], cwd=NODE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        proc.stdin.flush()
        for line in proc.stdout:  # one JSON-RPC message per line; logs go to stderr
            reply = json.loads(line)
            if reply.get("id") == 2:
                return [tool["name"] for tool in reply["result"]["tools"]]
        raise AssertionError(f"{command} {' '.join(args)} ended without answering tools/list: {proc.stderr.read()}")
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_the_agent_and_with_mcp_pin_the_same_servers():
    assert set(agent_servers()) == set(KNOWN_SERVERS) == set(named_tools())
    for name, config in agent_servers().items():
        assert config["command"] == KNOWN_SERVERS[name]["command"]
        assert config["args"] == KNOWN_SERVERS[name]["args"] == ["-y", PINNED_PACKAGES[name]]
        assert re.fullmatch(r"@?[\w./-]+@\d+\.\d+\.\d+", PINNED_PACKAGES[name])  # an exact version
    ci_run = (REPO / ".ci" / "run").read_text()
    for package in PINNED_PACKAGES.values():
        assert package in ci_run  # what the tests below start is what CI installs


@pytest.mark.parametrize("server", sorted(PINNED_PACKAGES))
def test_pinned_server_lists_every_tool_the_bundle_names(server):
    if not (NODE / "node_modules" / PINNED_PACKAGES[server].rsplit("@", 1)[0]).is_dir():
        pytest.skip(f"{PINNED_PACKAGES[server]} is not installed in .ci/node (bash .ci/run installs it)")
    config = agent_servers()[server]
    tools = list_tools(config["command"], config["args"])
    missing = named_tools()[server] - set(tools)
    assert not missing, f"{server} {PINNED_PACKAGES[server]} serves {tools}; the bundle names {sorted(missing)}"
