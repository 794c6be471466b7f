"""Helpers shared by tests/test_install_*.py, and unit tests of the installer's pure parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OLD_BUNDLE = REPO / "tests" / "fixtures" / "bundles" / "0.0.1"
BUNDLE_FILES = [
    "agents/db-expert.md",
    "agents/python-database-administrator.md",
    "commands/validate-alembic-migrations.md",
    "commands/validate-database-performance.md",
    "commands/validate-database-schema.md",
    "commands/validate-database-security.md",
    "commands/validate-sqlalchemy-models.md",
    "context/database/postgresql-standards.mdc",
    "context/database/python-sqlalchemy-standards.mdc",
]
TEST_ENV_VARS = ("DBAGENTS_TEST_BUNDLE_ROOT", "DBAGENTS_TEST_KILL_AT", "DBAGENTS_TEST_PAUSE")


def cli_env(home: Path, bundle: Path | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in TEST_ENV_VARS}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", NO_COLOR="1")
    if bundle is not None:
        env["DBAGENTS_TEST_BUNDLE_ROOT"] = str(bundle)
    env.update(extra)
    return env


def dbagents(*args, cwd: Path, home: Path, bundle: Path | None = None, **extra: str) -> subprocess.CompletedProcess:
    """Run the real CLI (`python -m dbagents`) in a subprocess with $HOME redirected."""
    return subprocess.run(
        [sys.executable, "-m", "dbagents", *map(str, args)],
        cwd=cwd,
        env=cli_env(home, bundle, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(root: Path) -> dict:
    """Every file and folder under root (hidden ones too): relpath -> (bytes, mtime_ns) or 'dir'."""
    state = {}
    if not root.exists():
        return state
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            state[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            state[rel] = "dir"
        else:
            state[rel] = (path.read_bytes(), path.stat().st_mtime_ns)
    return state


def bundle_bytes(relpath: str, bundle: Path | None = None) -> bytes:
    if bundle is not None:
        return (bundle / relpath).read_bytes()
    from dbagents.bundle import bundle_root

    return (bundle_root() / relpath).read_bytes()


def read_manifest(claude: Path) -> dict:
    return json.loads((claude / ".dbagents.json").read_text())


def status_json(cwd: Path, home: Path, *args, bundle: Path | None = None) -> dict:
    res = dbagents("status", "--format", "json", *args, cwd=cwd, home=home, bundle=bundle)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def states(doc: dict) -> dict:
    return {f["path"]: f["state"] for f in doc["files"]}


@pytest.fixture
def project(tmp_path):
    """(project root, fake $HOME) — every test runs with HOME redirected, never the real ~/.claude."""
    root = tmp_path / "proj"
    home = tmp_path / "home"
    root.mkdir()
    home.mkdir()
    return root, home


# ---- unit tests of the pure parts -------------------------------------------------------------------


def test_user_scope_rewrite_touches_only_project_relative_context_refs():
    from dbagents.install.rewrite import rewrite_for_user_scope

    text = (
        "see `.claude/context/database/a.mdc` and @.claude/context/database/b.mdc,\n"
        "./.claude/context/x.mdc too; leave ~/.claude/context/y.mdc, ${CLAUDE_PLUGIN_ROOT}/.claude/context/z.mdc,\n"
        "foo/.claude/context/w.mdc and .claude/agents/db-expert.md alone\n"
    )
    out = rewrite_for_user_scope(text.encode()).decode()
    assert "`~/.claude/context/database/a.mdc`" in out
    assert "@~/.claude/context/database/b.mdc" in out
    assert "~/.claude/context/x.mdc too" in out and "./.claude" not in out
    assert "leave ~/.claude/context/y.mdc" in out and "~/~/" not in out
    assert "${CLAUDE_PLUGIN_ROOT}/.claude/context/z.mdc" in out
    assert "foo/.claude/context/w.mdc" in out and ".claude/agents/db-expert.md alone" in out
    assert rewrite_for_user_scope(b"\xff\xfe binary .claude/context/") == b"\xff\xfe binary .claude/context/"
    assert rewrite_for_user_scope(out.encode()).decode() == out  # idempotent


@pytest.mark.parametrize("bad", ["../x.md", "agents/../../x.md", "/etc/passwd", "agents//x.md", "agents\\x.md", "", "./x"])
def test_unsafe_relative_paths_are_refused(bad):
    from dbagents.errors import InputError
    from dbagents.install.target import check_relpath

    with pytest.raises(InputError, match="refusing to write outside"):
        check_relpath(bad, "test")


def test_mcp_servers_come_from_the_agents_tool_names():
    from dbagents.install.mcp import KNOWN_SERVERS, servers_named_by_agents
    from dbagents.install.source import load_source

    names = servers_named_by_agents(load_source("project"))
    assert names == ["context7", "sequentialthinking"]
    assert set(names) <= set(KNOWN_SERVERS)
    agent = bundle_bytes("agents/python-database-administrator.md").decode()
    for name in names:
        assert f"mcp__{name}__" in agent
