"""`--with-mcp`: the agents' MCP servers land in .mcp.json under their exact tool-name server names,
merged with what is there; nothing existing is removed or changed."""

from __future__ import annotations

import json

from test_install_support import (
    dbagents,
    project,  # noqa: F401 - fixture
    read_manifest,
    snapshot,
    status_json,
)

CONTEXT7 = {"type": "stdio", "command": "npx", "args": ["-y", "@upstash/context7-mcp@4.1.1"], "env": {}}
SEQ = {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-sequential-thinking@2026.8.31"],
       "env": {}}


def test_with_mcp_creates_mcp_json_with_the_exact_server_names(project):
    root, home = project
    res = dbagents("install", "--with-mcp", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    doc = json.loads((root / ".mcp.json").read_text())
    assert doc == {"mcpServers": {"context7": CONTEXT7, "sequentialthinking": SEQ}}
    agent = (root / ".claude" / "agents" / "python-database-administrator.md").read_text()
    for name in doc["mcpServers"]:
        assert f"mcp__{name}__" in agent
    assert ".mcp.json: added MCP server context7" in res.stdout
    assert status_json(root, home)["mcp_servers_added"] == ["context7", "sequentialthinking"]

    before = snapshot(root)
    res = dbagents("install", "--with-mcp", cwd=root, home=home)
    assert "already configured, left as is" in res.stdout and "nothing written" in res.stdout
    assert snapshot(root) == before

    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0 and ".mcp.json: removed MCP server sequentialthinking" in res.stdout
    assert not (root / ".mcp.json").exists()  # dbagents created it and it is empty again


def test_with_mcp_merges_and_never_changes_existing_servers(project):
    root, home = project
    mine = {"command": "uvx", "args": ["my-context7-fork"]}
    original = {"mcpServers": {"context7": mine, "postgres": {"command": "pg-mcp"}}, "other": [1, 2]}
    (root / ".mcp.json").write_text(json.dumps(original))
    res = dbagents("install", "--with-mcp", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    doc = json.loads((root / ".mcp.json").read_text())
    assert doc["mcpServers"]["context7"] == mine  # left exactly as it was
    assert doc["mcpServers"]["postgres"] == {"command": "pg-mcp"} and doc["other"] == [1, 2]
    assert doc["mcpServers"]["sequentialthinking"] == SEQ
    assert ".mcp.json: MCP server context7 already configured, left as is" in res.stdout
    assert read_manifest(root / ".claude")["mcp"]["servers"] == {"sequentialthinking": SEQ}

    # Uninstall removes only the server dbagents added, and only while it is unchanged.
    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert json.loads((root / ".mcp.json").read_text()) == original


def test_uninstall_keeps_an_added_server_the_user_changed(project):
    root, home = project
    assert dbagents("install", "--with-mcp", cwd=root, home=home).returncode == 0
    doc = json.loads((root / ".mcp.json").read_text())
    doc["mcpServers"]["context7"]["env"] = {"CONTEXT7_API_KEY": "${CONTEXT7_API_KEY}"}
    (root / ".mcp.json").write_text(json.dumps(doc))
    res = dbagents("uninstall", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "MCP server context7 changed since dbagents added it, left as is" in res.stdout
    left = json.loads((root / ".mcp.json").read_text())["mcpServers"]
    assert list(left) == ["context7"] and left["context7"]["env"]


def test_user_scope_prints_claude_mcp_add_lines_and_leaves_claude_json_alone(project):
    root, home = project
    res = dbagents("install", "--scope", "user", "--with-mcp", cwd=root, home=home)
    assert res.returncode == 0, res.stderr
    assert "claude mcp add --scope user context7 -- npx -y @upstash/context7-mcp@4.1.1" in res.stdout
    assert ("claude mcp add --scope user sequentialthinking -- npx -y "
            "@modelcontextprotocol/server-sequential-thinking@2026.8.31") in res.stdout
    assert not (home / ".claude.json").exists() and not (root / ".mcp.json").exists()

    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"context7": {"command": "x"}}}))
    before = (home / ".claude.json").read_bytes()
    res = dbagents("install", "--scope", "user", "--with-mcp", cwd=root, home=home)
    assert "~/.claude.json: MCP server context7 already configured" in res.stdout
    assert "--scope user context7" not in res.stdout and "--scope user sequentialthinking" in res.stdout
    assert (home / ".claude.json").read_bytes() == before
