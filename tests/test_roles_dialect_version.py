"""Dialect-guarded branches and the project's SQLAlchemy pin, applied centrally (check/roles.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dbagents.check.facts import dialect_guards
from dbagents.check.facts._sqlalchemy_pin import _spec_version, pinned_sqlalchemy
from dbagents.check.source import SourceFile
from dbagents.check.walk import begin, reset
from test_roles_policy import findings, seen, write

GUARDED = '''from alembic import op
from sqlalchemy import inspect


def is_postgres():
    return op.get_context().dialect.name == "postgresql"


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.create_index("ix_a_sqlite", "a", ["x"])
    if bind.dialect.name != "postgresql":
        op.create_index("ix_b_other", "b", ["x"])
    if is_postgres():
        op.create_index("ix_c_pg", "c", ["x"], postgresql_concurrently=False)
    else:
        op.create_index("ix_c_else", "c", ["x"])
    if not is_postgres():
        op.create_index("ix_d_not_pg", "d", ["x"])
    if op.get_context().dialect.name in ("mysql", "sqlite"):
        op.create_index("ix_e_list", "e", ["x"])
    op.create_index("ix_f_always", "f", ["x"])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        return
    op.drop_index("ix_a_sqlite")
'''


def guarded_ranges(code: str):
    tree = ast.parse(code)
    begin(tree)
    try:
        return dialect_guards.extract(SourceFile(Path("x.py"), "x.py", "python", code, tree=tree))
    finally:
        reset()


def test_guard_ranges_are_the_other_dialects_branches():
    ranges = guarded_ranges(GUARDED)
    lines = GUARDED.splitlines()
    inside = " ".join(lines[n - 1] for first, last in ranges for n in range(first, last + 1))
    for name in ("create_index(\"ix_a_sqlite", "ix_b_other", "ix_c_else", "ix_d_not_pg", "ix_e_list",
                 "drop_index(\"ix_a_sqlite"):
        assert name in inside
    assert "ix_c_pg" not in inside and "ix_f_always" not in inside
    assert guarded_ranges("if engine.url.database == 'sqlite':\n    x = 1\n") is None  # not a dialect name


URL_GUARDS = '''def upgrade():
    url = str(op.get_bind().engine.url)
    if url.startswith("mysql"):
        op.drop_constraint("files_ibfk_3", "files")
    elif url.startswith("postgres"):
        op.drop_constraint("files_fkey_pg", "files")
    if url.startswith("sqlite") is False:
        op.add_column("teams", sa_column_pg)
    else:
        op.add_column("teams", sa_column_sqlite)
    if op.get_bind().engine.url.drivername == "postgresql+psycopg2":
        op.create_index("ix_driver_pg", "t", ["x"])
    if op.get_bind().engine.url.get_backend_name() != "postgresql":
        op.create_index("ix_backend_other", "t", ["x"])
    if name.startswith("mysql"):
        op.create_index("ix_not_a_url", "t", ["x"])
'''


def test_url_prefix_and_driver_guards():
    ranges = guarded_ranges(URL_GUARDS)
    lines = URL_GUARDS.splitlines()
    inside = " ".join(lines[n - 1] for first, last in ranges for n in range(first, last + 1))
    for name in ("files_ibfk_3", "sa_column_sqlite", "ix_backend_other"):
        assert name in inside
    for name in ("files_fkey_pg", "sa_column_pg", "ix_driver_pg", "ix_not_a_url"):
        assert name not in inside


def test_postgres_rules_skip_other_dialects_branches(tmp_path):
    root = write(tmp_path, {"alembic.ini": "[alembic]\nscript_location = migrations\n",
                            "migrations/versions/r1.py": GUARDED.replace("def upgrade", 'revision = "r1"\n'
                                                                         'down_revision = None\n\n\ndef upgrade')})
    found = findings(root, "--select", "DBA202")
    lines = sorted(f["line"] for f in found if f["rule"] == "DBA202")
    text = (root / "migrations/versions/r1.py").read_text().splitlines()
    assert [text[n - 1].split('"')[1] for n in lines] == ["ix_c_pg", "ix_f_always"]


@pytest.mark.parametrize("spec, line", [
    ("==1.4.54", "1.4"), (">=1.3,<1.4", "1.3"), ("<2", "1.x"), ("^1.4", "1.4"), ("~=1.4", "1.4"),
    (">=2.0", "2.x"), (">=1.4", None), ("==2.0.36", "2.0"),
])
def test_version_specifiers(spec, line):
    assert _spec_version(spec) == line


@pytest.mark.parametrize("files, version, source", [
    ({"requirements.txt": "flask-sqlalchemy==3.0.5\n    # via app\nsqlalchemy==1.4.54\n"}, "1.4", "requirements.txt"),
    ({"pyproject.toml": '[project]\ndependencies = ["SQLAlchemy[asyncio]>=2.0.30", "sqlalchemy-utils"]\n'},
     "2.x", "pyproject.toml"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\nSQLAlchemy = "^1.4.41"\n'}, "1.4",
     "pyproject.toml"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\nsqlalchemy = { version = "~1.3", extras = ["x"] }\n'}, "1.3",
     "pyproject.toml"),
    ({"server/uv.lock": '[[package]]\nname = "sqlalchemy"\nversion = "2.0.41"\nsource = { registry = "x" }\n',
      "requirements.txt": "sqlalchemy<2\n"}, "2.0", "server/uv.lock"),  # lock files first: what is installed
    ({"poetry.lock": '[[package]]\nname = "SQLAlchemy"\nversion = "1.4.52"\ndescription = "x"\n'}, "1.4",
     "poetry.lock"),
    ({"Pipfile.lock": '{"default": {"sqlalchemy": {"hashes": [], "version": "==1.3.24"}}}'}, "1.3", "Pipfile.lock"),
    ({"setup.cfg": "[options]\ninstall_requires =\n    SQLAlchemy>=1.3,<1.4\n"}, "1.3", "setup.cfg"),
    ({"setup.py": 'setup(install_requires=["sqlalchemy==1.4.0", "prefect[sqlalchemy]"])\n'}, "1.4", "setup.py"),
    ({"requirements.txt": "# sqlalchemy==1.3.0\nflask-sqlalchemy==2.5\n"}, None, None),
])
def test_pins_are_read_as_text(tmp_path, files, version, source):
    write(tmp_path, files)
    pin = pinned_sqlalchemy(tmp_path)
    assert (pin.version, pin.source) == (version, source) if version else pin is None


LEGACY = '''from sqlalchemy import create_engine

engine = create_engine("sqlite://")


def purge():
    with engine.connect() as conn:
        conn.execute("DELETE FROM audit")
'''


def test_removed_apis_are_upgrade_work_on_a_1x_pin(tmp_path):
    root = write(tmp_path, {"app/jobs.py": LEGACY, "requirements.txt": "sqlalchemy==1.4.54\n"})
    found = [f for f in findings(root, "--select", "DBA101") if f["rule"] == "DBA101"]
    assert [(f["path"], f["line"], f["severity"]) for f in found] == [("app/jobs.py", 8, "info"),
                                                                       ("requirements.txt", 1, "warning")]
    assert found[0]["message"].startswith("upgrade work: conn.execute() with a plain SQL string was removed")
    assert found[0]["message"].endswith("it runs on the pinned SQLAlchemy 1.4, change it before moving to 2.0")
    assert "SQLAlchemy 1.4 is pinned here" in found[1]["message"] and "1 uses" in found[1]["message"]

    (root / "pyproject.toml").write_text('[tool.dbagents]\nsqlalchemy = "2.0"\n')  # the setting wins
    found = [f for f in findings(root, "--select", "DBA101") if f["rule"] == "DBA101"]
    assert [(f["path"], f["severity"]) for f in found] == [("app/jobs.py", "error")]
    assert not found[0]["message"].startswith("upgrade work")

    (root / "pyproject.toml").write_text('[tool.dbagents]\nsqlalchemy = "1.4"\n')
    (root / "requirements.txt").write_text("sqlalchemy>=2.0\n")
    found = [f for f in findings(root, "--select", "DBA101") if f["rule"] == "DBA101"]
    assert [(f["path"], f["severity"]) for f in found] == [("", "warning"), ("app/jobs.py", "info")]
    assert "([tool.dbagents] sqlalchemy)" in found[0]["message"]


def test_no_pin_keeps_the_errors(tmp_path):
    root = write(tmp_path, {"app/jobs.py": LEGACY})
    found = [f for f in findings(root, "--select", "DBA101") if f["rule"] == "DBA101"]
    assert [(f["path"], f["severity"]) for f in found] == [("app/jobs.py", "error")]
    proc = subprocess.run([sys.executable, "-m", "dbagents", "rule", "DBA101"], capture_output=True, text=True)
    assert "pinned to SQLAlchemy 1.x" in proc.stdout


EVERY_KIND = '''from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.ext.declarative import declarative_base
from sqlalchemy.orm import Session

engine = create_engine("sqlite://")
meta = MetaData(bind=engine)
Base = declarative_base()


def report(session: Session, users):
    engine.execute("DELETE FROM audit")
    rows = session.execute(select([users.c.id]))
    return session.query(users).all(), rows
'''


def test_upgrade_work_is_every_removed_api_and_nothing_else(tmp_path):
    """Removed in 2.0 (every kind the rule knows) becomes upgrade work; moved (warning) and legacy (info) stay."""
    root = write(tmp_path, {"app/report.py": EVERY_KIND})
    before = {(f["line"], f["severity"]) for f in findings(root, "--select", "DBA101")}
    assert {s for _, s in before} == {"error", "warning", "info"}
    (root / "requirements.txt").write_text("sqlalchemy~=1.4.0\n")
    found = findings(root, "--select", "DBA101")
    after = {(f["line"], f["severity"]) for f in found if f["path"] == "app/report.py"}
    assert [(f["path"], f["line"]) for f in found if "is pinned here" in f["message"]] == [("requirements.txt", 1)]
    assert after == {(line, "info" if sev == "error" else sev) for line, sev in before}
