"""Both agents in the real Claude Code: listed for the Agent tool with their descriptions; a started subagent's
request carries the agent's body as its system prompt and exactly the tools Claude Code grants from its
frontmatter (this build offers no Glob/Grep tools; an agent's own `mcpServers` add every tool they serve)."""

from __future__ import annotations

import pytest
import yaml

from .conftest import REPO, last_tool_result, result_text
from .model_server import say, tool

AGENTS = ("db-expert", "python-database-administrator")


def frontmatter_and_body(name: str) -> tuple[dict, str]:
    text = (REPO / ".claude" / "agents" / f"{name}.md").read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    return yaml.safe_load(front), body.strip()


def listed_tools(front: dict) -> list[str]:
    tools = front["tools"]
    return [t.strip() for t in tools.split(",")] if isinstance(tools, str) else list(tools)


def system_text(request: dict) -> str:
    system = request.get("system")
    return system if isinstance(system, str) else "\n".join(b.get("text", "") for b in system or [])


@pytest.mark.parametrize("name", AGENTS)
def test_agent_runs_with_its_prompt_and_tools(name, project, claude_session):
    front, body = frontmatter_and_body(name)
    steps = [
        tool("Agent", subagent_type=name, description="Review the models",
             prompt="Review app/models.py and report what the standards say."),
        say("Subagent report: two findings."),  # the subagent's only turn
        say("Done."),
    ]
    session = claude_session(project, "Review my database models.", steps)
    assert session.proc.returncode == 0, session.proc.stdout + session.proc.stderr
    assert not session.script.errors, session.script.errors
    main, sub, back = session.requests

    # the Agent tool lists both agents with their descriptions
    listing = "\n".join(m["content"] for m in main["messages"] if isinstance(m["content"], str))
    listing += "\n".join(t.get("description", "") for t in main["tools"])
    for agent in AGENTS:
        description = frontmatter_and_body(agent)[0]["description"]
        assert f"- {agent}: {description}" in listing, agent

    # the subagent: the agent's body is its system prompt, and it got exactly the granted tools
    system = system_text(sub)
    for paragraph in body.split("\n\n")[:3]:
        assert paragraph in system
    offered_to_main = {t["name"] for t in main["tools"]}
    granted = {t["name"] for t in sub["tools"]}
    listed = listed_tools(front)
    builtin = {t for t in listed if not t.startswith("mcp__")}
    assert {t for t in granted if not t.startswith("mcp__")} == builtin & offered_to_main
    assert {"Read", "Edit", "Write", "Bash"} <= granted
    own_servers = {server for entry in front.get("mcpServers") or [] for server in entry}
    mcp_granted = {t for t in granted if t.startswith("mcp__")}
    assert {t.split("__")[1] for t in mcp_granted} == own_servers
    assert {t for t in listed if t.startswith("mcp__")} <= mcp_granted  # every MCP tool it names is real

    # the main loop got the subagent's answer back
    assert "Subagent report: two findings." in result_text(last_tool_result(back))
