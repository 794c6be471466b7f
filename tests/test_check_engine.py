"""The static engine's interface: noqa, config, formats, exit codes, discovery, syntax recovery, cache."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from dbagents.check import cache as result_cache
from dbagents.check.engine import PARALLEL_MIN_FILES, check_tree
from dbagents.config import Config

BAD = "from sqlalchemy import select\nstmt = select(User).where(User.deleted_at is None)\n"
GOOD = "from sqlalchemy import select\nstmt = select(User).where(User.deleted_at.is_(None))\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def ids(proc) -> list[str]:
    return re.findall(r"DBA\d{3}", proc.stdout)


def test_text_format_is_gcc_style_with_hint(tmp_path, run_cli):
    write(tmp_path, {"app/q.py": BAD})
    proc = run_cli("check", "--no-cache", ".")
    assert proc.returncode == 1, proc.stderr
    first, hint = proc.stdout.splitlines()[:2]
    assert first.startswith("app/q.py:2:27: DBA114 [error] ")
    assert hint.startswith("    hint: ")
    assert "\x1b[" not in proc.stdout  # colour only on a TTY


def test_clean_tree_exits_zero(tmp_path, run_cli):
    write(tmp_path, {"q.py": GOOD})
    proc = run_cli("check", "--no-cache", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All checks passed" in proc.stdout


def test_noqa_variants(tmp_path, run_cli):
    write(tmp_path, {
        "a.py": "stmt = select(U).where(U.x is None)  # noqa: DBA114\n",
        "b.py": "stmt = select(U).where(U.x is None)  # noqa: DBA104, DBA114\n",
        "c.py": "stmt = select(U).where(U.x is None)  # noqa\n",
        "d.py": "stmt = select(U).where(U.x is None)  # noqa: DBA104\n",
        "e.py": "# dbagents: ignore-file: DBA114\nstmt = select(U).where(U.x is None)\n",
        "f.py": "stmt = select(U).where(\n    U.x is None\n)  # noqa: DBA114\n",
    })
    proc = run_cli("check", "--no-cache", "--format", "json", ".")
    doc = json.loads(proc.stdout)
    assert [f["path"] for f in doc["findings"]] == ["d.py"]


def test_config_discovered_upward_select_ignore_per_file(tmp_path, run_cli):
    write(tmp_path, {
        "pyproject.toml": """
            [tool.dbagents]
            ignore = ["DBA000"]
            exclude = ["generated"]
            fail-on = "warning"

            [tool.dbagents.per-file-ignores]
            "legacy/*.py" = ["DBA114"]
        """,
        "src/app/q.py": BAD,
        "src/legacy/old.py": BAD,
        "src/generated/gen.py": BAD,
        "src/app/new.py": "type X = int\n",
    })
    proc = run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path / "src")
    paths = [f["path"] for f in json.loads(proc.stdout)["findings"]]
    assert paths == ["app/q.py"], proc.stdout
    proc = run_cli("check", "--no-cache", "--select", "DBA000", ".", cwd=tmp_path / "src")
    assert ids(proc) == [], "config ignore applies on top of --select"


def test_fail_on_threshold(tmp_path, run_cli):
    write(tmp_path, {"new.py": "from sqlalchemy import select\ntype X = int\n"})  # only a DBA000 warning
    assert run_cli("check", "--no-cache", ".").returncode == 0
    assert run_cli("check", "--no-cache", "--fail-on", "warning", ".").returncode == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (("check", "missing-dir"), "missing-dir: no such file or directory"),
        (("check", "--select", "DBA999", "."), "'DBA999' matches no rule"),
        (("rule", "NOPE"), "unknown rule 'NOPE'"),
    ],
)
def test_usage_errors_exit_2_one_line(tmp_path, run_cli, args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_config_is_input_error(tmp_path, run_cli):
    write(tmp_path, {"pyproject.toml": "[tool.dbagents]\nselectt = ['DBA1']\n", "q.py": GOOD})
    proc = run_cli("check", ".")
    assert proc.returncode == 2 and "pyproject.toml: unknown key 'selectt'" in proc.stderr
    write(tmp_path, {"pyproject.toml": "[tool.dbagents\n"})
    proc = run_cli("check", ".")
    assert proc.returncode == 2 and "pyproject.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_github_format(tmp_path, run_cli):
    write(tmp_path, {"q.py": BAD})
    out = run_cli("check", "--no-cache", "--format", "github", ".").stdout
    assert out.startswith("::error file=q.py,line=2,col=27,title=DBA114 python-operator-in-filter::")


def test_gitignore_virtualenv_and_explicit_files(tmp_path, run_cli):
    write(tmp_path, {
        ".gitignore": "build/\n*.gen.py\n!keep.gen.py\n/top_only.py\n",
        "build/q.py": BAD,
        "x.gen.py": BAD,
        "keep.gen.py": BAD,
        "top_only.py": BAD,
        "pkg/top_only.py": BAD,
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/q.py": BAD,
        "node_modules/q.py": BAD,
        "pkg/sub/.gitignore": "ignored_here.py\n",
        "pkg/sub/ignored_here.py": BAD,
    })
    doc = json.loads(run_cli("check", "--no-cache", "--format", "json", ".").stdout)
    assert sorted(f["path"] for f in doc["findings"]) == ["keep.gen.py", "pkg/top_only.py"]
    doc = json.loads(run_cli("check", "--no-cache", "--format", "json", "build/q.py").stdout)
    assert [f["path"] for f in doc["findings"]] == ["build/q.py"]


def test_newer_syntax_is_skipped_statementwise_and_rest_checked(tmp_path):
    write(tmp_path, {
        "new.py": """
            from sqlalchemy import select

            type UserId = int

            def first[T](items: list[T]) -> T:
                return items[0]

            stmt = select(User).where(User.deleted_at is None)
        """,
        "broken.py": "import sqlalchemy\n" + "def f(:\n    pass\n" * 40,
        "fine.py": BAD,
    })
    out = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA000", "DBA114"}, use_cache=False)
    by_path = {}
    for f in out.findings:
        by_path.setdefault(f.path, []).append(f.rule_id)
    assert by_path["new.py"] == ["DBA000", "DBA114"]
    assert by_path["broken.py"] == ["DBA000"]
    assert by_path["fine.py"] == ["DBA114"]


def test_cache_reused_and_never_wrong_after_edit(tmp_path):
    write(tmp_path, {"q.py": GOOD})
    cfg = Config()
    first = check_tree([tmp_path], root=tmp_path, config=cfg, enabled={"DBA114"})
    assert first.findings == [] and first.cache_hits == 0
    again = check_tree([tmp_path], root=tmp_path, config=cfg, enabled={"DBA114"})
    assert again.cache_hits == 1
    (tmp_path / "q.py").write_text(BAD)
    edited = check_tree([tmp_path], root=tmp_path, config=cfg, enabled={"DBA114"})
    assert [f.rule_id for f in edited.findings] == ["DBA114"] and edited.cache_hits == 0
    assert not (tmp_path / ".dbagents_cache").exists()  # the cache lives per user, never in the checked tree
    cached = result_cache.cache_file(tmp_path)
    assert cached.is_file() and cached.parent == result_cache.cache_dir()
    # a corrupt cache is ignored, not fatal
    cached.write_bytes(b"garbage")
    assert [f.rule_id for f in check_tree([tmp_path], root=tmp_path, config=cfg, enabled={"DBA114"}).findings] == ["DBA114"]


PARENT = (
    "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\nclass Base(DeclarativeBase):\n"
    "    pass\n\n\nclass Team(Base):\n    __tablename__ = 'team'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
)
CHILD = (
    "from sqlalchemy import ForeignKey\nfrom sqlalchemy.orm import Mapped, mapped_column\nfrom .team import Base\n\n\n"
    "class Player(Base):\n    __tablename__ = 'player'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
    "    team_id: Mapped[int] = mapped_column(ForeignKey('team.id'){extra})\n"
)


def test_project_rule_cache_follows_edits_and_rule_choice(tmp_path):
    """Project-wide findings are reused only while no file, rule choice or setting changed."""
    write(tmp_path, {"app/__init__.py": "", "app/team.py": PARENT, "app/player.py": CHILD.format(extra="")})
    cfg = Config()

    def run(enabled):
        return [(f.rule_id, f.path) for f in check_tree([tmp_path], root=tmp_path, config=cfg, enabled=enabled).findings]

    assert run({"DBA104"}) == [("DBA104", "app/player.py")]
    assert run({"DBA104"}) == [("DBA104", "app/player.py")]  # from the cache
    assert run({"DBA105"}) == []  # another rule choice is computed, not reused
    (tmp_path / "app/player.py").write_text(CHILD.format(extra=", index=True"), encoding="utf-8")
    assert run({"DBA104"}) == []  # the edit is seen by the cross-file rule
    (tmp_path / "app/player.py").write_text(CHILD.format(extra=""), encoding="utf-8")
    assert run({"DBA104"}) == [("DBA104", "app/player.py")]


def test_parallel_equals_serial(tmp_path):
    files = {f"m{i}.py": (BAD if i % 3 == 0 else GOOD) for i in range(PARALLEL_MIN_FILES + 20)}
    write(tmp_path, files)
    serial = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA114"}, jobs=1, use_cache=False)
    parallel = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA114"}, jobs=2, use_cache=False)
    assert serial.findings == parallel.findings and len(serial.findings) == len([k for k in files if files[k] == BAD])


def test_rules_and_rule_commands(run_cli):
    proc = run_cli("rule", "DBA114")
    assert proc.returncode == 0
    for heading in ("## What it does", "## Why is this bad", "## Example", "## Fix"):
        assert heading in proc.stdout
    assert run_cli("rule", "python-operator-in-filter").stdout == proc.stdout
    rows = json.loads(run_cli("rules", "--format", "json").stdout)
    assert {"DBA000", "DBA114"} <= {r["id"] for r in rows}


def test_pyproject_tool_alembic_is_discovered(tmp_path, run_cli):
    rev = 'from alembic import op\nrevision = "{r}"\ndown_revision = {d}\n\ndef upgrade():\n    pass\n\n' \
          'def downgrade():\n    pass\n'
    write(tmp_path, {
        "pyproject.toml": '[tool.alembic]\nscript_location = "db/migrations"\n',
        "db/migrations/env.py": "from alembic import context\ncontext.run_migrations()\n",
        "db/migrations/versions/a.py": rev.format(r="a1", d="None"),
        "db/migrations/versions/b.py": rev.format(r="b1", d='"a1"'),
        "db/migrations/versions/c.py": rev.format(r="c1", d='"a1"'),
    })
    doc = json.loads(run_cli("check", "migrations", "--no-cache", "--select", "DBA213", "--format", "json", ".").stdout)
    assert [f["rule"] for f in doc["findings"]] and all(f["rule"] == "DBA213" for f in doc["findings"])
    assert any("head" in f["message"] for f in doc["findings"]), doc


def test_other_tools_sql_injection_markers_silence_dba501(tmp_path):
    sink = 'from sqlalchemy import text\n\ndef f(conn, t):\n    conn.execute(text(f"SELECT * FROM {t}"))MARK\n'
    write(tmp_path, {"a.py": sink.replace("MARK", "  # noqa: S608"), "b.py": sink.replace("MARK", "  # nosec B608"),
                     "c.py": sink.replace("MARK", "  # nosec"), "d.py": sink.replace("MARK", "")})
    out = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA501"}, use_cache=False)
    assert sorted(f.path for f in out.findings) == ["c.py", "d.py"]


SCREENED_IN = {
    "app/__init__.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
    "app/models.py": "from app import db\n\n\nclass Challenges(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n"
                     "    value = db.Column(db.Integer)\n\n\nclass Solves(db.Model):\n"
                     "    id = db.Column(db.Integer, primary_key=True)\n"
                     "    challenge_id = db.Column(db.Integer, db.ForeignKey('challenges.id'), index=True)\n"
                     "    account_id = db.Column(db.Integer, index=True)\n"
                     "    challenge = db.relationship('Challenges')\n",
    # Flask-SQLAlchemy: models come in through the app package, no SQLAlchemy import in this file
    "flask_loop.py": "from app.models import Solves\n\n\ndef board(ids):\n"
                     "    rows = Solves.query.filter(Solves.account_id.in_(ids)).all()\n"
                     "    return [r.challenge.value for r in rows]\n",
    "driver.py": "import sqlite3\n\n\ndef find(conn, name):\n"
                 "    return conn.cursor().execute(f\"SELECT * FROM users WHERE name = '{name}'\")\n",
    "settings.py": 'DATABASE_URL = "postgresql://app:hunter2@db.internal.corp/app"\n',
    "tasks.py": "import asyncio\n\n\nasync def f(session: AsyncSession):\n"
                "    await asyncio.gather(load(session), save(session))\n",
}
SCREENED_OUT = {
    # syntax this Python cannot read, in a file with nothing of a database: not parsed, so not reported
    "newer.py": "type Vector = list[float]\n\n\ndef scale(v: Vector, k: float) -> Vector:\n    return [k * x for x in v]\n",
    "report.py": "from rich.table import Table\n\n\ndef show(rows):\n    t = Table(title='declaration')\n"
                 "    for op in rows:\n        t.add_row(op.name, op.query_string)\n    return t\n",
    "runner.py": "def run(executor, job):\n    return executor.execute_job(job)  # not a statement\n",
}


def test_pre_filter_reads_database_code_only(tmp_path):
    write(tmp_path, {**SCREENED_IN, **SCREENED_OUT})
    from dbagents.check.registry import selected_ids

    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled=selected_ids([], [], []),
                         use_cache=False)
    parsed = {rel for rel, result in outcome.project.files.items() if result.parsed}
    assert parsed == set(SCREENED_IN)
    found = {(f.path, f.rule_id) for f in outcome.findings}
    assert {("flask_loop.py", "DBA116"), ("driver.py", "DBA501"), ("settings.py", "DBA502"),
            ("tasks.py", "DBA113")} <= found
    assert not any(path in SCREENED_OUT for path, _ in found)


def test_skipped_statement_spans_multiline_headers_and_decorators():
    from dbagents.check.source import parse_python

    text = textwrap.dedent("""\
        from sqlalchemy import select


        @router.post(
            "/x",
        )
        async def handler(
            session,
        ):
            try:
                pass
            except KeyError, ValueError:
                pass


        class Thing(
            Base,
        ):
            stmt = select(User).where(User.deleted_at is None)
    """)
    tree, problem = parse_python(text, "x.py")
    assert problem is not None and not problem.fatal
    [(first, last)] = problem.skipped  # the whole decorated function (and blank lines after it), in one retry
    assert first == 4 and 14 <= last < 17
    assert [type(s).__name__ for s in tree.body] == ["ImportFrom", "ClassDef"]
