"""The scratch worker's guard: no connection but to the scratch database, for any dialect and any driver.

Real files and a real second PostgreSQL database: what the guard protects is checked byte for byte / row for
row after the worker ran the project's env.py against them.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from test_scratch_worker_support import copy_fixture, run_both, run_worker, sa_url

pytest.importorskip("alembic")
psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow

RAW_REV = '''"""a data migration that opens its own connection, bypassing SQLAlchemy"""
import os
import sqlite3

import psycopg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    kind, _, target = os.environ["RAW_TARGET"].partition(":")
    try:
        if kind == "sqlite":
            conn = sqlite3.connect(target)
            conn.execute("DELETE FROM authors")
            conn.commit()
        else:
            with psycopg.connect(target, autocommit=True) as conn:
                conn.execute("DELETE FROM authors")
    except BaseException:
        if os.environ.get("RAW_SWALLOW") != "1":
            raise


def downgrade():
    pass
'''


def _sqlite_db(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                       "INSERT INTO authors VALUES (1, 'Ada'), (2, 'Grace');"
                       "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);"
                       "INSERT INTO alembic_version VALUES ('0002');")
    conn.commit()
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def other_db(pg_server):
    """Another database on the same server, with a table and rows: what a wrong env.py would destroy."""
    url = pg_server.createdb("users_real")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO authors VALUES (1, 'Ada'), (2, 'Grace')")
    return url


def _state(url: str):
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall()
        rows = conn.execute("SELECT * FROM authors ORDER BY id").fetchall()
    return tables, rows


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


@pytest.mark.parametrize(("settings", "driver"), [({}, "pysqlite"), (
    {"APP_DATABASE_URL": "sqlite+aiosqlite:///dev/data/app.db", "APP_ASYNC": "1"}, "aiosqlite")])
def test_sqlite_file_from_settings_is_untouched(pg_server, tmp_path, settings, driver):
    if driver == "aiosqlite":
        pytest.importorskip("aiosqlite")
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    db = project / "dev" / "data" / "app.db"
    digest = _sqlite_db(db)
    scratch = pg_server.createdb("scratch")
    result = run_worker(project, sa_url(scratch), env=settings)
    assert result["fatal_kind"] == "guard"
    assert result["attempts"] == [f"sqlite+{driver} file {str(db)!r}"]
    assert str(db) in result["fatal"] and "not the scratch database" in result["fatal"]
    assert "upgrade to revision 0001" in result["fatal"]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in db.parent.iterdir()) == ["app.db"]  # no journal, no -wal left behind
    assert result["findings"] == [] and result["applied"] == []
    assert _tables(scratch) == []


@pytest.mark.parametrize("use_async", ["0", "1"], ids=["sync-engine", "async-engine"])
def test_another_postgres_database_is_untouched(pg_server, other_db, tmp_path, use_async):
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    before = _state(other_db)
    target = sa_url(other_db).replace("postgres:@", "postgres:s3cret@")
    result = run_worker(project, sa_url(pg_server.createdb("scratch")),
                        env={"APP_DATABASE_URL": target, "APP_ASYNC": use_async})
    assert result["fatal_kind"] == "guard", result
    (attempt,) = result["attempts"]
    dbname = other_db.split("?")[0].rsplit("/", 1)[1]
    assert attempt.startswith(f"postgresql+psycopg database {dbname!r} on /")
    assert "as user 'postgres' (password ***)" in attempt and "s3cret" not in result["fatal"]
    assert _state(other_db) == before


def test_settings_pointed_at_the_scratch_url_runs(pg_server, tmp_path):
    """The recipe for such projects: set the app's own variable to the scratch URL; then everything runs."""
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_settings_url")
    scratch = sa_url(pg_server.createdb("scratch"))
    up, down = run_both(project, scratch, env={"APP_DATABASE_URL": scratch, "APP_ASYNC": "1"})
    assert (up["fatal"], up["applied"], up["findings"]) == (None, ["0001", "0002"], [])
    assert (down["fatal"], down["checked"], down["findings"]) == (None, 2, [])


@pytest.mark.parametrize("swallow", ["0", "1"], ids=["raised", "swallowed-by-user-code"])
def test_direct_sqlite3_connect_in_a_migration_is_refused(pg_server, tmp_path, swallow):
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/versions/0003_raw.py": RAW_REV})
    db = tmp_path / "data.db"
    digest = _sqlite_db(db)
    scratch = pg_server.createdb("scratch")
    result = run_worker(project, sa_url(scratch), env={"RAW_TARGET": f"sqlite:{db}", "RAW_SWALLOW": swallow})
    assert result["fatal_kind"] == "guard"
    assert result["attempts"] == [f"sqlite+sqlite3 file {str(db)!r}"]
    assert "upgrade to revision 0003" in result["fatal"]
    assert result["applied"] == ["0001", "0002"]  # the revisions before it ran on the scratch database
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


def test_direct_psycopg_connect_in_a_migration_is_refused_even_if_caught(pg_server, other_db, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/versions/0003_raw.py": RAW_REV})
    before = _state(other_db)
    result = run_worker(project, sa_url(pg_server.createdb("scratch")),
                        env={"RAW_TARGET": f"pg:{other_db}", "RAW_SWALLOW": "1"})
    assert result["fatal_kind"] == "guard"
    assert result["attempts"][0].startswith("postgresql+psycopg database 'users_real_")
    assert _state(other_db) == before


def test_sqlite_in_memory_is_allowed(pg_server, tmp_path):
    """Decision (see _guard.py): in-memory SQLite cannot hold user data, so code may use it."""
    revision = RAW_REV.replace('kind, _, target = os.environ["RAW_TARGET"].partition(":")',
                                    'kind, target = "sqlite", ":memory:"').replace(
        'conn.execute("DELETE FROM authors")\n            conn.commit()', 'conn.execute("SELECT 1")')
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/versions/0003_raw.py": revision})
    result = run_worker(project, sa_url(pg_server.createdb("scratch")))
    assert result["fatal_kind"] is None and result["attempts"] == []
    assert result["applied"] == ["0001", "0002", "0003"]


def _guard_module():
    import importlib.util

    from test_scratch_worker_support import REPO

    spec = importlib.util.spec_from_file_location("scratch_guard", REPO / "installer/dbagents/scratch/_guard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("args", "kwargs", "allowed"), [
    ((), {"host": "/tmp/sock", "port": "5433", "dbname": "scratch", "user": "postgres"}, True),  # psycopg(2)
    ((), {"host": "/tmp/sock/", "port": 5433, "database": "scratch"}, True),  # asyncpg, trailing slash
    ((), {"unix_sock": "/tmp/sock/.s.PGSQL.5433", "port": 5433, "database": "scratch"}, True),  # pg8000
    (("host=/tmp/sock port=5433 dbname=scratch",), {}, True),  # a conninfo string
    (("postgresql://postgres@/scratch?host=/tmp/sock&port=5433",), {}, True),  # a URI
    ((), {"host": "/tmp/sock", "port": "5432", "dbname": "scratch"}, False),  # another server
    ((), {"host": "/tmp/sock", "port": "5433", "dbname": "prod"}, False),  # another database
    ((), {"host": "/tmp/sock", "port": "5433", "dbname": "scratch", "user": "app"}, False),  # another role
    (("password='it\\'s a secret' host=/tmp/sock port=5433 dbname='scratch' user=postgres",), {}, True),
])
def test_postgres_connect_arguments_of_every_driver_are_read(args, kwargs, allowed):
    """The scratch URL's port may sit in its query (unix sockets); each driver's way of passing it is understood."""
    guard = _guard_module()
    scratch = guard.Guard("postgresql+psycopg://postgres@/scratch?host=/tmp/sock&port=5433")
    assert scratch.allowed(guard.postgres_target("psycopg", args, kwargs)) is allowed
