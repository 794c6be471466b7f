"""`dbagents doctor` under real conditions: temp projects and homes, a real PostgreSQL, a bogus URL, real CLIs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLAUDE_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin"


@pytest.fixture
def env_for(tmp_path):
    """Environment for a doctor run: a private HOME and a PATH with only the interpreter's folder (no claude)."""
    home = tmp_path / "home"
    home.mkdir()
    base_path = os.pathsep.join(p for p in [str(Path(os.sys.executable).parent), "/usr/bin", "/bin"]
                                if p and not (Path(p) / "claude").exists())

    def make(**extra):
        env = {"HOME": str(home), "PATH": base_path, "DATABASE_URL": ""}
        env.update(extra)
        return env

    make.home = home
    return make


def doctor(run_cli, project: Path, env: dict, *args):
    result = run_cli("doctor", "--path", str(project), "--format", "json", *args, cwd=project, env=env)
    assert result.returncode in (0, 1), result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    return result.returncode, checks


def test_empty_project_warns_with_fixes_and_exits_zero(run_cli, tmp_path, env_for):
    project = tmp_path / "empty"
    project.mkdir()
    code, checks = doctor(run_cli, project, env_for())
    assert code == 0
    assert checks["Claude Code"]["status"] == "warn" and "npm install" in checks["Claude Code"]["fix"]
    assert checks["bundle"]["status"] == "warn" and "dbagents install" in checks["bundle"]["fix"]
    for server in ("context7", "sequentialthinking"):
        check = checks[f"MCP {server}"]
        assert check["status"] == "warn" and check["fix"].startswith(f"claude mcp add --scope project {server} -- npx")
    assert checks["Alembic"]["status"] == "warn"
    assert checks["DATABASE_URL"]["status"] == "warn"
    assert checks["pytest N+1 plugin"]["status"] == "ok"
    assert checks["scratch PostgreSQL"]["status"] == "ok"  # pgserver is a dev dependency


def test_text_output_has_one_line_per_check_with_fix(run_cli, tmp_path, env_for):
    project = tmp_path / "p"
    project.mkdir()
    result = run_cli("doctor", "--path", str(project), cwd=project, env=env_for())
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dbagents doctor")
    assert any(l.startswith("warn  bundle") for l in lines)
    assert any("fix: dbagents install" in l for l in lines)
    assert lines[-1].endswith("0 fail")


def test_installed_bundle_is_found_and_valid_then_broken(run_cli, tmp_path, env_for):
    project = tmp_path / "app"
    project.mkdir()
    env = env_for()
    installed = run_cli("install", "--path", str(project), cwd=project, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    code, checks = doctor(run_cli, project, env)
    assert checks["bundle (project)"]["status"] == "ok", checks["bundle (project)"]
    assert "valid" in checks["bundle (project)"]["detail"]
    # the installed agent defines its MCP servers itself
    assert checks["MCP context7"]["status"] in {"ok", "warn"}
    assert "agent" in checks["MCP context7"]["detail"]

    agent = project / ".claude" / "agents" / "db-expert.md"
    agent.write_text(agent.read_text().replace("description:", "descripton:", 1))
    code, checks = doctor(run_cli, project, env)
    assert code == 1
    assert checks["bundle (project)"]["status"] == "fail"
    assert "CC013" in checks["bundle (project)"]["detail"]

    agent.unlink()
    code, checks = doctor(run_cli, project, env)
    assert code == 1 and "missing" in checks["bundle (project)"]["detail"]


def test_user_scope_install_is_reported(run_cli, tmp_path, env_for):
    project = tmp_path / "elsewhere"
    project.mkdir()
    env = env_for()
    installed = run_cli("install", "--scope", "user", cwd=project, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    code, checks = doctor(run_cli, project, env)
    assert checks["bundle (user)"]["status"] == "ok", checks["bundle (user)"]
    assert "bundle (project)" not in checks


def test_mcp_servers_configured_in_project_mcp_json(run_cli, tmp_path, env_for):
    project = tmp_path / "mcp"
    project.mkdir()
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {
        "context7": {"command": "npx", "args": ["-y", "@upstash/context7-mcp"]},
        "sequential-thinking": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-sequential-thinking"]},
    }}))
    code, checks = doctor(run_cli, project, env_for())
    assert checks["MCP context7"]["status"] == "ok" and ".mcp.json" in checks["MCP context7"]["detail"]
    # registered under another name: the agent's mcp__sequentialthinking__ tools would not match it
    assert checks["MCP sequentialthinking"]["status"] == "warn"


def test_mcp_servers_configured_in_user_claude_json(run_cli, tmp_path, env_for):
    project = tmp_path / "mcpu"
    project.mkdir()
    env = env_for()
    (env_for.home / ".claude.json").write_text(json.dumps({
        "mcpServers": {"context7": {"command": "npx"}},
        "projects": {str(project.resolve()): {"mcpServers": {"sequentialthinking": {"command": "npx"}}}},
    }))
    code, checks = doctor(run_cli, project, env)
    assert checks["MCP context7"]["status"] == "ok" and "user" in checks["MCP context7"]["detail"]
    assert checks["MCP sequentialthinking"]["status"] == "ok" and "local" in checks["MCP sequentialthinking"]["detail"]


def test_alembic_found_and_broken(run_cli, tmp_path, env_for):
    project = tmp_path / "alembic-app"
    (project / "migrations" / "versions").mkdir(parents=True)
    (project / "migrations" / "env.py").write_text("# env\n")
    (project / "migrations" / "versions" / "0001_init.py").write_text("revision = '0001'\ndown_revision = None\n")
    (project / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    code, checks = doctor(run_cli, project, env_for())
    assert checks["Alembic"]["status"] == "ok"
    assert "1 revision files" in checks["Alembic"]["detail"]

    (project / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    code, checks = doctor(run_cli, project, env_for())
    assert code == 1 and checks["Alembic"]["status"] == "fail" and "nowhere" in checks["Alembic"]["detail"]


def test_database_url_reachable_on_real_postgresql_with_password_masked(run_cli, tmp_path, env_for, pg_server):
    project = tmp_path / "db"
    project.mkdir()
    # trust auth ignores the password, so the URL connects while carrying a secret that must never be printed
    url = pg_server.uri().replace("postgresql://postgres:@", "postgresql+psycopg://postgres:hunter2secret@", 1)
    assert "hunter2secret" in url
    result = run_cli("doctor", "--path", str(project), cwd=project, env=env_for(DATABASE_URL=url))
    assert "hunter2secret" not in result.stdout + result.stderr
    line = next(l for l in result.stdout.splitlines() if "DATABASE_URL" in l)
    assert line.startswith("ok") and "reachable" in line and "postgres:***@" in line


def test_bogus_database_url_fails_fast_and_masked(run_cli, tmp_path, env_for):
    project = tmp_path / "bogus"
    project.mkdir()
    url = "postgresql://app:s3cretpw@127.0.0.1:1/nope"
    code, checks = doctor(run_cli, project, env_for(DATABASE_URL=url), "--timeout", "2")
    assert code == 1
    check = checks["DATABASE_URL"]
    assert check["status"] == "fail" and "not reachable" in check["detail"]
    assert "s3cretpw" not in json.dumps(checks) and "app:***@127.0.0.1:1" in check["detail"]


def test_option_url_overrides_environment(run_cli, tmp_path, env_for):
    project = tmp_path / "opt"
    project.mkdir()
    code, checks = doctor(run_cli, project, env_for(), "--database-url", "mysql://x@y/z")
    assert code == 1 and "not a PostgreSQL URL" in checks["DATABASE_URL"]["detail"]


def test_claude_code_found_with_version(run_cli, tmp_path, env_for):
    exe = CLAUDE_BIN / "claude"
    if not exe.exists() and shutil.which("claude") is None:
        pytest.skip("Claude Code CLI not installed (CI installs it into .ci/node)")
    folder = str(CLAUDE_BIN) if exe.exists() else str(Path(shutil.which("claude")).parent)
    env = env_for()
    env["PATH"] = folder + os.pathsep + env["PATH"]
    project = tmp_path / "cc"
    project.mkdir()
    code, checks = doctor(run_cli, project, env)
    assert checks["Claude Code"]["status"] == "ok"
    assert "Claude Code" in checks["Claude Code"]["detail"] and any(ch.isdigit() for ch in checks["Claude Code"]["detail"])


def test_plugin_install_is_recognised(run_cli, tmp_path, env_for):
    project = tmp_path / "plug"
    project.mkdir()
    plugins = env_for.home / ".claude" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "installed_plugins.json").write_text(json.dumps({"version": 2, "plugins": {
        "dbagents@dbagents": [{"scope": "user", "installPath": str(tmp_path), "version": "0.1.0"}]}}))
    code, checks = doctor(run_cli, project, env_for())
    assert checks["bundle (plugin)"]["status"] == "ok" and "permissionMode" in checks["bundle (plugin)"]["detail"]


def test_not_a_folder_is_an_input_error(run_cli, tmp_path):
    result = run_cli("doctor", "--path", str(tmp_path / "missing"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
