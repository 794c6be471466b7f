"""`dbagents hook` in the real Claude Code: installed with `dbagents install --with-hooks`, it runs after the
scripted model's Edit, and the findings of the edited file reach the model in the next request."""

from __future__ import annotations

import json

from .conftest import last_tool_result, last_user_text, result_text
from .model_server import say, tool

NAIVE = '    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)\n    joined_at = mapped_column(DateTime)\n'


def test_edit_feeds_findings_back_to_the_model(project, claude_session):
    models = project / "app" / "models.py"
    text = models.read_text()
    old = '    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))\n'
    assert old in text
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == "dbagents hook"
    steps = [
        tool("Read", file_path=str(models)),
        tool("Edit", file_path=str(models), old_string=old, new_string=NAIVE),
        tool("Edit", file_path=str(models), old_string="mapped_column(DateTime)",
             new_string="mapped_column(DateTime(timezone=True))"),
        say("Added the column."),
    ]
    # the Edit needs DateTime imported for the fix to be real code; the engine reads it statically either way
    models.write_text(text.replace("import ForeignKey, Integer, String", "import DateTime, ForeignKey, Integer, String"))
    session = claude_session(project, "Add a joined_at timestamp to Player.", steps, "--permission-mode",
                             "acceptEdits")
    assert session.proc.returncode == 0, session.proc.stdout + session.proc.stderr
    requests = session.requests
    assert not session.script.errors, session.script.errors
    assert len(requests) == 4, [json.dumps(r["messages"][-1])[:500] for r in requests]
    # after the naive column: the edit went through, and the hook's findings ride along with its result
    assert "updated successfully" in result_text(last_tool_result(requests[2]))
    fed_back = last_user_text(requests[2])
    line = models.read_text().splitlines().index("    joined_at = mapped_column(DateTime(timezone=True))") + 1
    assert f"app/models.py:{line}:5: DBA105 warning: player.joined_at" in fed_back, fed_back
    assert "DBA104" not in fed_back  # the foreign key got its index in the same edit
    # after the fix the hook is silent
    assert "updated successfully" in result_text(last_tool_result(requests[3]))
    assert "dbagents" not in last_user_text(requests[3])
