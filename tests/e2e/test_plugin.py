"""The plugin form in the real Claude Code (`--plugin-dir`, no .claude/ in the project): commands namespaced
`dbagents:…`, agents listed as `dbagents:…`, context docs read under ${CLAUDE_PLUGIN_ROOT}, and the plugin's
hooks/hooks.json running `dbagents hook` after an Edit."""

from __future__ import annotations

import re
import shutil

from test_plugin_manifest import plugin_source

from .conftest import assert_allowed, engine_json, last_tool_result, last_user_text, result_text
from .model_server import say, tool

STANDARDS = ".claude/context/database/python-sqlalchemy-standards.mdc"


def _read_standards(request: dict):
    expansion = "\n".join(b.get("text", "") for b in request["messages"][0]["content"] if isinstance(b, dict))
    paths = re.findall(r"`([^`\s]+/" + re.escape(STANDARDS) + ")`", expansion)
    assert paths and all("${" not in p for p in paths), paths  # Claude Code filled in the plugin root
    return tool("Read", file_path=paths[0])


def test_plugin_commands_agents_context_and_hook(project, claude_session, tmp_path):
    plugin = plugin_source(tmp_path)
    shutil.rmtree(project / ".claude")  # the plugin is the only place the bundle comes from
    models = project / "app" / "models.py"
    old = '    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))\n'
    new = old.replace("))", "), index=True)") + "    joined_at = mapped_column(DateTime)\n"
    steps = [
        tool("Bash", command="dbagents check models --format json app/", description="Run the engine"),
        _read_standards,
        tool("Agent", subagent_type="dbagents:db-expert", description="Review", prompt="Review app/models.py."),
        say("Subagent: reviewed."),
        tool("Read", file_path=str(models)),
        tool("Edit", file_path=str(models), old_string=old, new_string=new),
        say("Done."),
    ]
    session = claude_session(project, "/dbagents:validate-sqlalchemy-models app/", steps, "--plugin-dir", str(plugin),
                             "--permission-mode", "acceptEdits")
    assert session.proc.returncode == 0, session.proc.stdout + session.proc.stderr
    assert not session.script.errors, session.script.errors
    r = session.requests
    assert len(r) == len(steps)

    first = str(r[0]["messages"])
    assert "<command-name>/dbagents:validate-sqlalchemy-models</command-name>" in first
    assert "dbagents check models --format json app/" in first
    listing = "\n".join(m["content"] for m in r[0]["messages"] if isinstance(m["content"], str))
    assert "- dbagents:db-expert: " in listing and "- dbagents:python-database-administrator: " in listing

    check = last_tool_result(r[1])
    assert_allowed(check)
    assert engine_json(check)["findings"][0]["path"] == "app/models.py"

    standards = last_tool_result(r[2])
    assert not standards.get("is_error"), result_text(standards)
    assert str(plugin / STANDARDS) == r[2]["messages"][-2]["content"][0]["input"]["file_path"]
    assert "DBA105" in result_text(standards)

    system = "\n".join(b.get("text", "") for b in r[3]["system"])
    assert "SQLAlchemy 2.0" in system and str(plugin) in system  # the agent body, its plugin root filled in

    # the plugin's hooks/hooks.json ran `dbagents hook` after the Edit
    assert "DBA105 warning: player.joined_at" in last_user_text(r[6])
