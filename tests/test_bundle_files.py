"""The bundle: two agents and five commands keep the seeds' substance, drive the real engine, and validate clean."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLAUDE = REPO / ".claude"
AGENTS = {p.stem: p for p in sorted((CLAUDE / "agents").glob("*.md"))}
COMMANDS = {p.stem: p for p in sorted((CLAUDE / "commands").glob("*.md"))}
GROUPS = {
    "validate-database-schema": "schema",
    "validate-sqlalchemy-models": "models",
    "validate-alembic-migrations": "migrations",
    "validate-database-performance": "performance",
    "validate-database-security": "security",
}
CONTEXT_DOCS = ["python-sqlalchemy-standards.mdc", "postgresql-standards.mdc"]
MCP_TOOLS = [
    "mcp__context7__resolve-library-id",
    "mcp__context7__query-docs",
    "mcp__sequentialthinking__sequentialthinking",
]


def split(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    _, front, body = text.split("---\n", 2)
    data = yaml.safe_load(front)  # strict YAML, not only Claude Code's repaired form
    assert isinstance(data, dict)
    return data, body


def tools_of(front: dict) -> list[str]:
    value = front["tools"]
    return [t.strip() for t in value.split(",")] if isinstance(value, str) else list(value)


def test_the_nine_files_exist():
    assert set(AGENTS) == {"db-expert", "python-database-administrator"}
    assert set(COMMANDS) == set(GROUPS)
    assert sorted(p.name for p in (CLAUDE / "context" / "database").iterdir()) == sorted(CONTEXT_DOCS)


# ------------------------------------------------------------------ db-expert


def test_db_expert_frontmatter():
    front, _ = split(AGENTS["db-expert"])
    assert front["name"] == "db-expert"
    assert tools_of(front) == ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
    assert front["model"] == "sonnet"
    assert "Use when" in front["description"] and "migration" in front["description"]


def test_db_expert_keeps_the_seed_substance():
    _, body = split(AGENTS["db-expert"])
    for needle in [
        "Mapped[", "mapped_column()", "Column()", "AsyncSession", "selectinload", "joinedload",
        "index on every foreign key", "N+1", "partial writes", "pool", "hashed", "downgrade()",
        "bound parameters", "NEVER use `Column()`", "ALWAYS implement `downgrade()`", "async patterns",
    ]:
        assert needle in body, needle
    # the checklist keeps its seven seed items (plus the timestamp item)
    checklist = body.split("<review_checklist>")[1].split("</review_checklist>")[0]
    assert checklist.count("- [ ]") >= 7


def code_blocks(text: str, lang: str = "python") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_db_expert_corrects_the_dated_patterns():
    _, body = split(AGENTS["db-expert"])
    code = "\n".join(code_blocks(body))
    assert "utcnow" not in code and "bulk_insert_mappings" not in code
    assert "DateTime(timezone=True), server_default=func.now()" in code
    assert "session.execute(insert(Post), rows)" in code
    # the prose names the dated patterns only to reject them
    assert "legacy" in body and "bulk_insert_mappings" in body and "datetime.utcnow" in body


def test_agent_code_examples_compile_and_build_on_postgresql(pg_server):
    """The agents' own examples are held to the same standard as the context docs."""
    import sys
    import types

    from sqlalchemy import create_engine

    engine = create_engine(pg_server.createdb("agents").replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        for name, path in AGENTS.items():
            for number, code in enumerate(code_blocks(path.read_text(encoding="utf-8"))):
                compiled = compile(code, f"{name}#{number}", "exec")
                module = types.ModuleType(f"_agent_{name.replace('-', '_')}_{number}")
                sys.modules[module.__name__] = module
                if number == 0:
                    exec(compiled, module.__dict__)
                    with engine.connect() as conn:
                        trans = conn.begin()
                        module.Base.metadata.create_all(conn)
                        assert {"users", "posts"} <= set(module.Base.metadata.tables)
                        trans.rollback()
                else:
                    exec(compile(code_blocks(path.read_text())[0], "models", "exec"), module.__dict__)
                    exec(compiled, module.__dict__)
    finally:
        engine.dispose()


# ------------------------------------------------------------------ python-database-administrator


def test_pda_frontmatter_keeps_accept_edits_and_mcp_tools():
    front, _ = split(AGENTS["python-database-administrator"])
    assert front["name"] == "python-database-administrator"
    assert front["permissionMode"] == "acceptEdits"
    tools = tools_of(front)
    for tool in MCP_TOOLS:
        assert tool in tools
    # acceptEdits only means something if the agent can edit
    assert {"Edit", "Write"} <= set(tools)
    assert "PROACTIVELY" in front["description"]
    servers = {name for entry in front["mcpServers"] for name in entry}
    assert servers == {"context7", "sequentialthinking"}  # exactly the servers its tool names use


def test_pda_keeps_the_seed_substance_and_corrections():
    _, body = split(AGENTS["python-database-administrator"])
    for needle in [
        "3NF", "primary key", "bigint identity", "database-level constraints", "unused",
        "AsyncAttrs", "DeclarativeBase", "create_async_engine", "async_sessionmaker", "Depends()",
        "await session.commit()", "select()", "selectinload()` for one-to-many", "joinedload()` for many-to-one",
        "back_populates", "DateTime(timezone=True)", "Never skip Alembic", "Review autogenerated",
        "staging", "downgrade()", "EXPLAIN", "session.execute(insert(Model), rows)",
    ]:
        assert needle in body, needle
    assert "bulk_insert_mappings()` is\n  legacy" in body or "bulk_insert_mappings()` is legacy" in body


def test_pda_uses_context7_only_when_available_and_falls_back():
    _, body = split(AGENTS["python-database-administrator"])
    assert "if the Context7 MCP tools" in body.replace("If", "if")
    assert "If they are not available" in body and "bundled standards" in body


def test_pda_runs_the_five_validate_commands_and_the_checks_behind_them():
    _, body = split(AGENTS["python-database-administrator"])
    for command, group in GROUPS.items():
        assert f"/{command}" in body
        assert group in body
    assert "dbagents check <schema|models|migrations|performance|security> --format json" in body
    assert "pip install dbagents" in body


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agents_point_to_the_installed_context_docs_and_their_plugin_form(agent):
    body = AGENTS[agent].read_text(encoding="utf-8")
    for doc in CONTEXT_DOCS:
        assert f".claude/context/database/{doc}" in body
        assert f"${{CLAUDE_PLUGIN_ROOT}}/.claude/context/database/{doc}" in body
        assert (CLAUDE / "context" / "database" / doc).is_file()


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize("command", sorted(GROUPS))
def test_command_frontmatter(command):
    front, body = split(COMMANDS[command])
    assert len(front["description"]) > 30
    hint = front["argument-hint"]
    assert hint.startswith("[path]")
    live = command in {"validate-database-schema", "validate-database-performance", "validate-alembic-migrations"}
    assert ("--scratch" in hint and "--database-url" in hint) == live
    allowed = [t.strip() for t in front["allowed-tools"].split(",")]
    assert "Bash(dbagents check:*)" in allowed and "Bash(dbagents rule:*)" in allowed
    assert {"Read", "Grep", "Glob"} <= set(allowed)
    # scoped: no blanket Bash, no editing tools, nothing outside what the command needs
    assert "Bash" not in allowed and not {"Edit", "Write", "NotebookEdit"} & set(allowed)
    extra = {t for t in allowed if t.startswith("Bash(") and "dbagents" not in t}
    assert extra == ({"Bash(pytest:*)", "Bash(python -m pytest:*)"} if command.endswith("performance") else set())


@pytest.mark.parametrize("command", sorted(GROUPS))
def test_command_body_drives_the_engine_honestly(command):
    _, body = split(COMMANDS[command])
    assert f"dbagents check {GROUPS[command]} --format json $ARGUMENTS" in body
    assert "dbagents rule" in body
    for needle in ["severity", "diff", "manual review", "not installed", "pip install dbagents", "nothing was validated",
                   "baseline.hidden", "--no-baseline"]:
        assert needle in body, needle


def test_performance_command_runs_the_nplusone_plugin_and_reads_its_report():
    _, body = split(COMMANDS["validate-database-performance"])
    match = re.search(r"pytest --dbagents-nplusone=warn --dbagents-report=(\S+)", body)
    assert match
    report = match.group(1)
    assert report.endswith(".json") and report in body.split(match.group(0), 1)[1]
    assert "test suite" in body


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "app" / "models.py").write_text(textwrap.dedent('''
        from datetime import datetime
        from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, text
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Parent(Base):
            __tablename__ = "parent"
            id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
            seen: Mapped[datetime] = mapped_column(DateTime)

        class Child(Base):
            __tablename__ = "child"
            id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
            parent_id: Mapped[int] = mapped_column(ForeignKey("parent.id"))

        def find(session, name):
            return session.execute(text(f"SELECT * FROM parent WHERE name = '{name}'"))
    '''))
    return project


def test_each_command_line_runs_on_the_real_engine(run_cli, tmp_path):
    """The exact command each slash command runs works against the engine and returns the JSON it describes."""
    project = _project(tmp_path)
    reported = {}
    for command, group in GROUPS.items():
        _, body = split(COMMANDS[command])
        line = re.search(r"dbagents check \S+ --format json \$ARGUMENTS", body).group(0)
        args = line.replace("$ARGUMENTS", str(project / "app")).split()[1:]
        result = run_cli(*args, cwd=project)
        assert result.returncode in (0, 1), result.stderr
        doc = json.loads(result.stdout)
        assert {"summary", "findings", "rules"} <= set(doc)
        for finding in doc["findings"]:
            assert {"rule", "severity", "message", "path", "line", "column"} <= set(finding)
        reported[group] = {f["rule"] for f in doc["findings"]}
    assert "DBA104" in reported["models"]
    assert "DBA501" in reported["security"]
    rule = run_cli("rule", "DBA104")
    assert rule.returncode == 0 and "DBA104" in rule.stdout


# ------------------------------------------------------------------ validation


def test_bundle_passes_validate_fail_on_warning(run_cli):
    result = run_cli("validate", "--fail-on", "warning", str(CLAUDE), cwd=REPO, env={"HOME": "/nonexistent-home"})
    assert result.returncode == 0, result.stdout + result.stderr


def plugin_copy(tmp_path: Path) -> Path:
    """The plugin as Claude Code installs it: manifest + the bundle folders, without the rest of the repo."""
    root = tmp_path / "plugin"
    shutil.copytree(REPO / ".claude-plugin", root / ".claude-plugin")
    for part in ("agents", "commands", "context"):
        shutil.copytree(CLAUDE / part, root / ".claude" / part)
    return root


# The plugin-form warnings the README documents: Claude Code ignores these fields in plugin agents.
DOCUMENTED_PLUGIN_WARNINGS = {
    ("CC031", ".claude/agents/python-database-administrator.md", "permissionMode"),
    ("CC031", ".claude/agents/python-database-administrator.md", "mcpServers"),
}


def test_plugin_form_has_no_errors_and_only_the_documented_warnings(run_cli, tmp_path):
    root = plugin_copy(tmp_path)
    result = run_cli("validate", "--format", "json", str(root), cwd=tmp_path, env={"HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert not [f for f in findings if f["severity"] == "error"]
    got = set()
    for f in findings:
        field = re.search(r"`(\w+)`", f["message"]).group(1)
        got.add((f["rule"], f["path"].split("plugin/", 1)[-1], field))
    assert got == DOCUMENTED_PLUGIN_WARNINGS
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:bundle -->")[1].split("<!-- /section:bundle -->")[0]
    assert "CC031" in section and "permissionMode" in section and "mcpServers" in section


def test_performance_command_pytest_line_produces_the_report_it_reads(tmp_path):
    """Run the exact pytest line of /validate-database-performance on a project with a real N+1."""
    import shlex
    import subprocess
    import sys

    _, body = split(COMMANDS["validate-database-performance"])
    line = re.search(r"^pytest --dbagents-nplusone=warn --dbagents-report=\S+ -q$", body, flags=re.M).group(0)
    report_rel = re.search(r"--dbagents-report=(\S+)", line).group(1)
    project = tmp_path / "n1"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_orders.py").write_text(textwrap.dedent('''
        from __future__ import annotations
        from sqlalchemy import ForeignKey, create_engine, select
        from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

        class Base(DeclarativeBase):
            pass

        class Customer(Base):
            __tablename__ = "customer"
            id: Mapped[int] = mapped_column(primary_key=True)
            orders: Mapped[list[Order]] = relationship(back_populates="customer")

        class Order(Base):
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
            customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
            customer: Mapped[Customer] = relationship(back_populates="orders")

        def test_report():
            engine = create_engine("sqlite://")
            Base.metadata.create_all(engine)
            with Session(engine) as session:
                session.add_all([Customer(orders=[Order(), Order()]) for _ in range(5)])
                session.commit()
            with Session(engine) as session:
                counts = [len(c.orders) for c in session.scalars(select(Customer))]
            assert counts == [2] * 5
    '''))
    args = shlex.split(line)[1:]
    result = subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=project,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr  # warn mode: the test passes
    report = json.loads((project / report_rel).read_text())
    assert {"summary", "findings", "rules"} <= set(report)
    assert any(f["rule"] == "DBA401" and "Customer.orders" in f["message"] for f in report["findings"]), report
