"""`dbagents check --fix/--diff/--unsafe-fixes` end to end: what is written, what is shown, what is never touched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst

from dbagents.check.rules.dba106_default_evaluated_once import DefaultEvaluatedOnce

MODELS = '''import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {int: BigInteger}


class User(Base):
    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4())  # one id for every row
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))


def active(session):
    return session.scalars(select(User).where(User.team_id is None)).all()
'''
SAFE = MODELS.replace("default=uuid.uuid4()", "default=uuid.uuid4").replace(
    "User.team_id is None", "User.team_id.is_(None)")


def dbagents(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dbagents", "check", "--no-cache", *args], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, **(env or {})})


def project(tmp_path: Path, name: str = "app") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "models.py").write_text(MODELS)
    return root


def test_diff_writes_nothing_and_shows_what_fix_writes(tmp_path):
    root = project(tmp_path)
    shown = dbagents(root, "--diff", ".")
    assert shown.returncode == 1, shown.stderr
    assert (root / "models.py").read_text() == MODELS
    assert "Would fix 2 findings in 1 file (DBA106 1, DBA114 1)." in shown.stderr
    assert "--unsafe-fixes" in shown.stderr  # DBA104's index is one unsafe fix away
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    subprocess.run(["git", "apply", "-p0", "-"], input=shown.stdout, text=True, cwd=copy, check=True)
    fixed = dbagents(root, "--fix", ".")
    assert (root / "models.py").read_text() == SAFE == (copy / "models.py").read_text()
    assert "Fixed 2 findings in 1 file" in fixed.stdout
    assert "DBA104" in fixed.stdout and fixed.returncode == 0  # a warning is left; --fail-on error by default
    again = dbagents(root, "--diff", ".")
    assert again.returncode == 0 and again.stdout == ""  # idempotent: nothing left to fix


def test_unsafe_fixes_and_json_report(tmp_path):
    root = project(tmp_path)
    done = dbagents(root, "--fix", "--unsafe-fixes", "--format", "json", ".")
    report = json.loads(done.stdout)
    assert report["findings"] == [] or all(f["rule"] != "DBA104" for f in report["findings"])
    fix = report["fix"]
    assert sorted(f["rule"] for f in fix["fixed"]) == ["DBA104", "DBA106", "DBA114"]
    assert fix["schema_changes"] == [{"kind": "add_index", "table": "users", "column": "team_id", "schema": None,
                                      "new_type": "", "old_type": "", "nullable": None, "path": "models.py",
                                      "line": 15, "name": ""}]
    text = (root / "models.py").read_text()
    assert 'mapped_column(ForeignKey("teams.id"), index=True)' in text
    compile(text, "models.py", "exec")


def test_mode_kept_and_option_errors(tmp_path):
    root = project(tmp_path)
    (root / "models.py").chmod(0o640)
    dbagents(root, "--fix", ".")
    assert (root / "models.py").stat().st_mode & 0o777 == 0o640
    assert not [p for p in root.iterdir() if p.name.endswith(".dbagents-fix")]
    for args, words in ((["--unsafe-fixes"], "--unsafe-fixes goes with --fix or --diff"),
                        (["--fix", "--diff"], "not both"),
                        (["--diff", "--format", "json"], "drop --format")):
        out = dbagents(root, *args, ".")
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr


def test_missing_libcst_is_a_one_line_error(tmp_path):
    root = project(tmp_path)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "libcst.py").write_text("raise ImportError('No module named libcst')\n")
    out = dbagents(root, "--diff", ".", env={"PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert out.returncode == 2, out.stderr
    assert "pip install 'dbagents[fix]'" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert (root / "models.py").read_text() == MODELS


def test_file_that_did_not_parse_is_never_rewritten(tmp_path):
    root = project(tmp_path)
    newer = MODELS + "\n\ntype UserId = int\n"  # PEP 695: this Python skips the statement (DBA000), checks the rest
    (root / "models.py").write_text(newer)
    out = dbagents(root, "--fix", ".")
    if sys.version_info < (3, 12):
        assert (root / "models.py").read_text() == newer
        assert "did not parse completely" in out.stdout


def _past_revision_project(root: Path) -> None:
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(
        "from alembic import context\n\n\ndef run_migrations_online():\n    with engine.connect() as connection:\n"
        "        connection.exec_driver_sql(\"SET lock_timeout = '5s'\")\n"
        "        context.configure(connection=connection)\n        with context.begin_transaction():\n"
        "            context.run_migrations()\n")
    down = None
    for i in range(3):
        (root / "migrations" / "versions" / f"r{i}.py").write_text(
            f'"""step {i}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = "r{i}"\n'
            f"down_revision = {down!r}\n\n\ndef upgrade():\n"
            f'    op.create_index("ix_orders_c{i}", "orders", ["c{i}"])\n\n\ndef downgrade():\n'
            f'    op.drop_index("ix_orders_c{i}", "orders")\n')
        down = f"r{i}"


def test_shipped_revisions_are_never_rewritten(tmp_path):
    root = tmp_path / "svc"
    root.mkdir()
    _past_revision_project(root)
    (root / "pyproject.toml").write_text('[tool.dbagents.per-role]\npast-revision = { DBA202 = "on" }\n')
    before = (root / "migrations" / "versions" / "r0.py").read_text()
    out = dbagents(root, "--fix", "--select", "DBA202", ".")
    assert "r0.py" in out.stdout  # reported (the setting asks for it) ...
    assert (root / "migrations" / "versions" / "r0.py").read_text() == before  # ... but a shipped file stays
    head = (root / "migrations" / "versions" / "r2.py").read_text()
    assert "autocommit_block():\n        op.create_index(" in head and "postgresql_concurrently=True" in head


def test_a_fix_adding_a_finding_or_breaking_compilation_is_undone(tmp_path, monkeypatch):
    from dbagents.check.engine import check_tree
    from dbagents.check.fix import run_fixes
    from dbagents.config import Config

    root = project(tmp_path)

    def check():
        return check_tree([root], root=root, config=Config(), enabled={"DBA106"}, jobs=1, use_cache=False)

    for replacement, words in (("datetime.now()", "would add DBA106"), ("await uuid", "would not compile")):
        def bad_fix(self, site, replacement=replacement):
            once = site.node(cst.Call)
            arg = next(a for a in site.ancestors(once) if isinstance(a, cst.Arg) and a.keyword is not None)
            return site.edit(arg, arg.with_changes(value=cst.parse_expression(replacement)))

        monkeypatch.setattr(DefaultEvaluatedOnce, "fix", bad_fix)
        outcome = check()
        run = run_fixes(outcome, outcome.findings, enabled={"DBA106"}, unsafe=False)
        assert not run.files and any(words in note for note in run.notes), run.notes
