"""The five /validate-* commands in the real Claude Code: expansion, the engine run, a Read of a reported path,
`dbagents rule`, and the pytest N+1 run of /validate-database-performance."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from .conftest import DENIED, REPO, assert_allowed, engine_json, last_tool_result, result_text
from .model_server import Reply, say, tool

# command -> the arguments the user types
COMMANDS = {
    "validate-sqlalchemy-models": "app/",
    "validate-alembic-migrations": "migrations/",
    "validate-database-schema": "app/",
    "validate-database-performance": "app/",
    "validate-database-security": "app/",
}


def fenced_line(name: str, prefix: str) -> str:
    """The line of the command file's fenced block that starts with `prefix` (the command, not retyped)."""
    text = (REPO / ".claude" / "commands" / f"{name}.md").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(prefix)]
    assert lines, f"{name}.md has no line starting with {prefix!r}"
    return lines[0]


def _read_first_finding(request: dict) -> Reply:
    first = engine_json(last_tool_result(request))["findings"][0]
    return tool("Read", file_path=first["path"])  # exactly what the engine reported, relative to the cwd


def _explain_first_rule(request: dict) -> Reply:
    report = engine_json(_bash_results(request)[0])
    return tool("Bash", command=f"dbagents rule {report['findings'][0]['rule']}", description="Explain the rule")


def _bash_results(request: dict) -> list[dict]:
    """tool_result blocks of the Bash calls, in order."""
    uses = [b for m in request["messages"] if m["role"] == "assistant" for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_use" and b["name"] == "Bash"]
    results = {b["tool_use_id"]: b for m in request["messages"] if m["role"] == "user"
               and isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_result"}
    return [results[u["id"]] for u in uses if u["id"] in results]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_runs_the_engine_in_claude_code(name, project, claude_session):
    args = COMMANDS[name]
    check_line = fenced_line(name, "dbagents check ")
    assert "$ARGUMENTS" in check_line
    command = check_line.replace("$ARGUMENTS", args)
    steps = [tool("Bash", command=command, description="Run the dbagents engine"),
             _read_first_finding, _explain_first_rule]
    pytest_line = None
    if name == "validate-database-performance":
        pytest_line = fenced_line(name, "pytest --")
        steps.append(tool("Bash", command=pytest_line, description="Run the tests with the N+1 plugin"))
    steps.append(say("Report written."))

    session = claude_session(project, f"/{name} {args}", steps)
    assert session.proc.returncode == 0, session.proc.stdout + session.proc.stderr
    requests = session.requests
    assert not session.script.errors, (session.script.errors, json.dumps(requests[-1]["messages"][-1])[:3000])
    assert len(requests) == len(steps), [r["messages"][-1] for r in requests]

    # the expansion: the command body with the user's arguments in place of $ARGUMENTS
    first = json.dumps(requests[0]["messages"])
    assert f"<command-name>/{name}</command-name>" in first
    assert f"`{args}`" in first or f"check {name.split('-')[-1]}" in first
    assert json.dumps(command)[1:-1] in first and "$ARGUMENTS" not in first

    # the engine's JSON came back from the Bash call (allowed by the command's allowed-tools)
    check_result = last_tool_result(requests[1])
    assert_allowed(check_result)
    report = engine_json(check_result)
    assert report["tool"] == "dbagents" and report["findings"], report
    finding = report["findings"][0]

    # the reported path opens from the session's cwd
    read_result = last_tool_result(requests[2])
    assert_allowed(read_result)
    assert not read_result.get("is_error"), result_text(read_result)
    source_lines = (project / finding["path"]).read_text().splitlines()
    assert source_lines[finding["line"] - 1].strip() in result_text(read_result)

    # `dbagents rule ID` is allowed and prints the rule's documentation
    rule_result = last_tool_result(requests[3])
    assert_allowed(rule_result)
    assert not rule_result.get("is_error"), result_text(rule_result)
    assert finding["rule"] in result_text(rule_result)

    if pytest_line is not None:
        assert "--dbagents-nplusone=warn" in pytest_line and "--dbagents-report=" in pytest_line
        run = last_tool_result(requests[4])
        text = result_text(run)
        assert_allowed(run)
        assert not run.get("is_error"), text
        assert "unrecognized arguments" not in text and "1 passed" in text, text
        report_path = re.search(r"--dbagents-report=(\S+)", pytest_line).group(1)
        nplusone = json.loads((project / report_path).read_text())
        assert nplusone["summary"]["total"] == 0 and "findings" in nplusone


def test_a_command_outside_allowed_tools_is_denied(project, claude_session):
    """The allowed runs above are allowed because of the commands' allowed-tools, not because -p allows all."""
    steps = [tool("Bash", command="python -c 'print(12345)'", description="Not in allowed-tools"), say("Stopped.")]
    session = claude_session(project, "/validate-sqlalchemy-models app/", steps)
    assert session.proc.returncode == 0, session.proc.stdout + session.proc.stderr
    denied = last_tool_result(session.requests[1])
    assert DENIED.search(result_text(denied)) and "12345" not in result_text(denied)
