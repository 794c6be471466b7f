"""The real Claude Code CLI (from .ci/node, installed by .ci/run) against the scripted model server, offline.

Each session gets a temporary HOME and project; the only network it may use is the loopback model server
(ANTHROPIC_BASE_URL), npm runs offline (MCP servers come from .ci/node's node_modules), and Claude Code's
non-essential traffic (telemetry, auto-update, error reports) is switched off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .model_server import ModelServer, Script

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / ".ci" / "node"
CLAUDE = NODE / "node_modules" / ".bin" / "claude"

MODELS = '''from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Player(Base):
    __tablename__ = "player"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
'''

QUERIES = '''from sqlalchemy import text


def find_player(session, name):
    return session.execute(text(f"SELECT * FROM player WHERE name = '{name}'")).all()
'''

MIGRATION = '''"""add rating"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.add_column("player", sa.Column("rating", sa.Integer(), nullable=False))


def downgrade():
    op.drop_column("player", "rating")
'''


def pytest_collection_modifyitems(config, items):
    if CLAUDE.exists():
        return
    skip = pytest.mark.skip(reason=f"Claude Code CLI not installed at {CLAUDE.relative_to(REPO)} (bash .ci/run installs it)")
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def model_server():
    server = ModelServer().start()
    yield server
    server.stop()


@dataclass
class Session:
    proc: subprocess.CompletedProcess
    script: Script

    @property
    def requests(self) -> list[dict]:
        return self.script.requests


def _env(home: Path, server: ModelServer) -> dict:
    bin_dir = str(Path(sys.executable).parent)  # the dbagents this test suite runs
    return {
        "PATH": os.pathsep.join([bin_dir, str(NODE / "node_modules" / ".bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": "dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        "npm_config_offline": "true",  # npx finds the pinned MCP servers in the project's node_modules or fails
        "npm_config_update_notifier": "false",
        "DBAGENTS_CACHE_DIR": str(home / ".cache" / "dbagents"),
        "NO_PROXY": "127.0.0.1,localhost",
    }


@pytest.fixture
def claude_session(model_server, tmp_path):
    """run(project, prompt, steps, *args) -> Session: one `claude -p` run, its requests scripted by `steps`."""

    def run(project: Path, prompt: str, steps: list, *args: str, timeout: int = 180) -> Session:
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        script = model_server.register(str(project), steps)
        cmd = [str(CLAUDE), "-p", prompt, "--output-format", "json", "--max-turns", "12", *args]
        proc = subprocess.run(cmd, cwd=project, env=_env(home, model_server), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return Session(proc, script)

    return run


@pytest.fixture
def project(tmp_path) -> Path:
    """A small SQLAlchemy project with findings, dbagents installed into its .claude/ (with the hook), and
    .ci/node's npm packages visible to npx (the pinned MCP servers)."""
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(MODELS)
    (root / "app" / "queries.py").write_text(QUERIES)
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "versions" / "0001_add_rating.py").write_text(MIGRATION)
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text("def test_app():\n    assert True\n")
    if (NODE / "node_modules").is_dir():
        (root / "node_modules").symlink_to(NODE / "node_modules")
        shutil.copy(NODE / "package.json", root / "package.json")
    proc = subprocess.run([sys.executable, "-m", "dbagents", "install", "--with-hooks"], cwd=root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def tool_results(request: dict) -> dict[str, dict]:
    """tool_use_id -> tool_result block, over every message of a request."""
    out = {}
    for message in request["messages"]:
        if message["role"] == "user" and isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    out[block["tool_use_id"]] = block
    return out


def result_text(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def engine_json(block: dict) -> dict:
    """The JSON a Bash tool_result carries; Claude Code puts "Exit code N" first when N is not 0 (1 = findings)."""
    text = result_text(block)
    exit_line = re.match(r"Exit code (\d+)\n", text)
    if exit_line:
        assert exit_line.group(1) == "1", text
        text = text[exit_line.end():]
    return json.loads(text)


DENIED = re.compile(r"requires approval|was blocked|requested permissions|haven't granted|permission to use", re.I)


def assert_allowed(block: dict) -> None:
    """The tool ran: no permission check turned it into a denial (the texts Claude Code 2.1 answers with in -p)."""
    text = result_text(block)
    assert not DENIED.search(text), text


def last_tool_result(request: dict) -> dict:
    """The tool_result block(s) of the request's last user message (what the last tool call returned)."""
    message = request["messages"][-1]
    blocks = [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert blocks, json.dumps(message)[:2000]
    return blocks[-1]


def last_user_text(request: dict) -> str:
    """All text the request's last user message carries (tool results and any text blocks after them)."""
    message = request["messages"][-1]
    parts = []
    for block in message["content"] if isinstance(message["content"], list) else [message["content"]]:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            parts.append(result_text(block))
    return "\n".join(parts)
