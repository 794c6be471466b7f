"""`dbagents hook`: the PostToolUse hook judges only the edited file, with facts from its project, and answers
in the form Claude Code feeds back to the model (findings on stderr, exit 2) or stays silent (exit 0)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MODEL = '''from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)


class Player(Base):
    __tablename__ = "player"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    joined_at = mapped_column(DateTime)
'''
CLEAN = MODEL.replace("mapped_column(DateTime)", "mapped_column(DateTime(timezone=True))")


def hook(payload, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return subprocess.run([sys.executable, "-m", "dbagents", "hook", *args], cwd=cwd, input=text,
                          capture_output=True, text=True, timeout=120)


def edit(path: Path, cwd: Path, tool: str = "Edit") -> dict:
    return {"session_id": "s", "hook_event_name": "PostToolUse", "tool_name": tool, "cwd": str(cwd),
            "tool_input": {"file_path": str(path), "old_string": "a", "new_string": "b"},
            "tool_response": {"filePath": str(path), "success": True}}


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.dbagents]\n")
    (root / "app" / "models.py").write_text(MODEL)
    (root / "app" / "other.py").write_text(CLEAN.replace("class Player", "class Other").replace('"player"', '"other"'))
    return root


def test_findings_of_the_edited_file_go_to_stderr_with_exit_2(project):
    res = hook(edit(project / "app" / "models.py", project), project)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert lines[0] == "dbagents found 1 database issue in app/models.py after this edit:"
    assert lines[1].startswith("app/models.py:18:5: DBA105 warning: player.joined_at")
    assert "(fix: use DateTime(timezone=True)" in lines[1]
    assert "`dbagents rule DBA105`" in lines[-1]


def test_paths_are_relative_to_the_session_cwd(project):
    res = hook(edit(project / "app" / "models.py", project / "app"), project)
    assert res.returncode == 2 and "\nmodels.py:18:5: DBA105" in res.stderr
    res = hook(edit("app/models.py", project), project / "app")  # a relative file_path is the session cwd's
    assert res.returncode == 2 and "\napp/models.py:18:5: DBA105" in res.stderr


def test_only_the_edited_file_is_judged(project):
    (project / "app" / "models.py").write_text(CLEAN)
    (project / "app" / "other.py").write_text(MODEL.replace("class Player", "class Other").replace('"player"', '"other"'))
    res = hook(edit(project / "app" / "models.py", project), project)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    res = hook(edit(project / "app" / "other.py", project, "Write"), project)
    assert res.returncode == 2 and "other.joined_at" in res.stderr


def test_silent_for_files_that_are_not_checked_and_for_other_tools(project):
    (project / "README.md").write_text("# hi\n")
    for payload in (edit(project / "README.md", project),
                    {"tool_name": "Bash", "tool_input": {"command": "ls"}, "cwd": str(project)},
                    edit(project / "app" / "gone.py", project)):
        res = hook(payload, project)
        assert (res.returncode, res.stdout, res.stderr) == (0, "", ""), payload


def test_min_severity_and_the_baseline_quiet_it(project):
    res = hook(edit(project / "app" / "models.py", project), project, "--min-severity", "error")
    assert (res.returncode, res.stderr) == (0, "")
    res = hook(edit(project / "app" / "models.py", project), project, "--min-severity", "info")
    assert res.returncode == 2 and "DBA110 info" in res.stderr
    written = subprocess.run([sys.executable, "-m", "dbagents", "check", "--write-baseline"], cwd=project,
                             capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    res = hook(edit(project / "app" / "models.py", project), project)
    assert (res.returncode, res.stderr) == (0, "")


def test_bad_hook_input_is_one_line_and_exit_2(project):
    for text, words in (("not json", "is not JSON"), ("[1]", "must be a JSON object")):
        res = hook(text, project)
        assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith("dbagents: error: the hook input on stdin") and words in res.stderr


def test_the_plain_command_line_and_the_click_one_agree(project):
    """`dbagents hook [--min-severity L]` runs without click (it starts after every edit); `--min-severity=L`
    is the same call, and help or a mistake goes through click as for any other command."""
    payload = edit(project / "app" / "models.py", project)
    spaced = hook(payload, project, "--min-severity", "info")
    joined = hook(payload, project, "--min-severity=info")
    assert spaced.returncode == joined.returncode == 2 and spaced.stderr == joined.stderr
    assert "DBA110 info" in joined.stderr
    helped = hook("", project, "--help")
    assert helped.returncode == 0 and "--min-severity [info|warning|error]" in helped.stdout
    wrong = hook(payload, project, "--min-severity", "loud")
    assert wrong.returncode == 2 and "'loud' is not one of" in wrong.stderr and "Traceback" not in wrong.stderr
    extra = hook(payload, project, "--min-severity", "info", "app/models.py")
    assert extra.returncode == 2 and "unexpected extra argument" in extra.stderr.lower()


def test_the_console_script_is_the_entry_point(project):
    from dbagents.entry import main

    with pytest.raises(SystemExit) as stop:
        main(["hook", "--min-severity", "error", "--bogus"])
    assert stop.value.code == 2
