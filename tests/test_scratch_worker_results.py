"""What the worker reports when a run cannot be trusted: nothing ran, env.py or the app cannot load, a revision
fails (its first error and statement), or the worker itself breaks. Real PostgreSQL, real Alembic."""

from __future__ import annotations

import pytest

from test_scratch_worker_support import copy_fixture, messages, run_worker, sa_url

pytest.importorskip("alembic")
psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow

SETTINGS_ERROR = '''"""Settings validated at import, the way pydantic-settings does it."""
import os

REQUIRED = ("POSTGRES_SERVER", "POSTGRES_PASSWORD", "SECRET_KEY")
missing = [name for name in REQUIRED if name not in os.environ]
if missing:
    detail = "".join(f"\\n{name}\\n  Field required [type=missing, input_value={{}}, input_type=dict]" for name in missing)
    raise ValueError(f"{len(missing)} validation errors for Settings{detail}")
'''


def _scratch(pg_server, prefix="results"):
    return sa_url(pg_server.createdb(prefix))


# ---------------------------------------------------------------------------------------------- nothing ran


def test_multi_tenant_env_on_an_empty_server_is_nothing_ran(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_tenants")
    result = run_worker(project, _scratch(pg_server), ini_section="tenant")
    assert result["fatal_kind"] == "nothing_ran" and result["findings"] == []
    assert result["fatal"].startswith("env.py never called context.run_migrations() for the upgrade to revision 0001 "
                                      "(migrations/versions/0001_authors.py), so none of the 2 revisions ran")
    assert "multi-tenant" in result["fatal"] and "--alembic-name" in result["fatal"]


def test_multi_tenant_env_with_a_tenant_runs(pg_server, tmp_path):
    """The same env.py is fine once a tenant schema exists: the check is about what ran, not about the env's shape."""
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_tenants")
    url = pg_server.createdb("tenant")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tenant_acme")
    result = run_worker(project, sa_url(url), ini_section="tenant")
    assert (result["fatal"], result["applied"], result["findings"]) == (None, ["0001", "0002"], [])


def test_env_that_never_commits_is_nothing_ran(pg_server, tmp_path):
    env_py = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                            poolclass=pool.NullPool)
with engine.connect() as connection:
    outer = connection.begin()
    context.configure(connection=connection)
    context.run_migrations()
    outer.rollback()  # a leftover debugging line: nothing is ever committed
'''
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/env.py": env_py})
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "nothing_ran" and result["applied"] == [] and result["findings"] == []
    assert result["fatal"].startswith("the upgrade to revision 0001 (migrations/versions/0001_authors.py) ran but "
                                      "was not committed: the version table does not record it")
    assert "roll back its transaction" in result["fatal"]


def test_revisions_that_change_nothing_are_nothing_ran(pg_server, tmp_path):
    empty = 'revision = "{}"\ndown_revision = {!r}\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n'
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={
        "migrations/versions/0001_authors.py": empty.format("0001", None),
        "migrations/versions/0002_notes.py": empty.format("0002", "0001")})
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "nothing_ran" and result["applied"] == ["0001", "0002"]
    assert result["fatal"].startswith("all 2 revisions ran (env.py called context.run_migrations()) but none "
                                      "changed the scratch database's schema")


# ---------------------------------------------------------------------------------------------- env errors


def test_settings_error_at_import_is_env_with_the_full_message(pg_server, tmp_path):
    env_py = "import app.config  # noqa: F401\n" + (copy_fixture(tmp_path / "base", "scratch_base") /
                                                    "migrations/env.py").read_text()
    project = copy_fixture(tmp_path / "proj", "scratch_base",
                           files={"app/config.py": SETTINGS_ERROR, "migrations/env.py": env_py})
    result = run_worker(project, _scratch(pg_server), env={"POSTGRES_SERVER": "db"})
    assert result["fatal_kind"] == "env" and result["findings"] == []
    fatal = result["fatal"]
    assert fatal.startswith("running env.py (for the upgrade to revision 0001, before it ran any migration) failed "
                            "at app/config.py:8: ValueError: 2 validation errors for Settings\n")
    assert fatal.count("Field required") == 2 and "POSTGRES_PASSWORD" in fatal and "SECRET_KEY" in fatal
    assert "revision graph" not in fatal and "down_revision" not in fatal


def test_name_error_in_env_py_points_at_env_py(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace("target_metadata = metadata", "target_metadata = metdata"))
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "env"
    assert "failed at migrations/env.py:7: NameError: name 'metdata' is not defined" in result["fatal"]


def test_import_error_in_a_revision_file_is_env_not_a_graph_error(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    revision = project / "migrations" / "versions" / "0002_notes.py"
    revision.write_text(revision.read_text().replace("from alembic import op", "from alembic import op\nimport geoalchemy2"))
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "env" and result["findings"] == []
    assert result["fatal"].startswith("loading the migration scripts (env/revision files) failed at "
                                      "migrations/versions/0002_notes.py:4: ModuleNotFoundError: No module named "
                                      "'geoalchemy2'")


def test_missing_parent_revision_stays_a_graph_finding(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    revision = project / "migrations" / "versions" / "0002_notes.py"
    revision.write_text(revision.read_text().replace('down_revision = "0001"', 'down_revision = "0001x"'))
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal"] is None
    (graph,) = messages(result, "DBA213")
    assert graph.startswith("the revision graph cannot be loaded: KeyError: '0001x'")
    assert "0001x referenced from 0001x -> 0002" in graph and "is not present" in graph


def test_very_long_errors_are_trimmed(pg_server, tmp_path):
    env_py = 'raise RuntimeError("\\n".join(f"detail line {i}" for i in range(100)))\n'
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/env.py": env_py})
    fatal = run_worker(project, _scratch(pg_server))["fatal"]
    assert "detail line 39" in fatal and "detail line 40" not in fatal and fatal.endswith("... (60 more lines)")


# ---------------------------------------------------------------------------------------------- failing revisions

SWALLOWING_REVISION = '''"""a data fix that swallows its own error, then fails on the next statement"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    try:
        op.execute("UPDATE note_archive SET body = NULL")
    except sa.exc.ProgrammingError:
        pass  # "the archive table is optional"
    op.add_column("notes", sa.Column("archived", sa.Boolean()))


def downgrade():
    op.drop_column("notes", "archived")
'''


def test_failing_revision_names_the_first_error_and_its_statement(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base",
                           files={"migrations/versions/0003_archive.py": SWALLOWING_REVISION})
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal"] is None and result["failed"] == "0003" and result["applied"] == ["0001", "0002"]
    (failure,) = result["findings"]
    assert (failure["rule"], failure["path"], failure["line"]) == ("DBA213", "migrations/versions/0003_archive.py", 13)
    assert failure["message"] == ('upgrade to revision 0003 fails: UndefinedTable: relation "note_archive" does not '
                                  "exist; statement: UPDATE note_archive SET body = NULL")
    assert "InFailedSqlTransaction" not in failure["message"]


def test_failing_downgrade_names_its_statement(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    revision = project / "migrations" / "versions" / "0002_notes.py"
    revision.write_text(revision.read_text().replace('op.drop_table("notes")', 'op.drop_column("notes", "title")'))
    url = _scratch(pg_server)
    up = run_worker(project, url)
    down = run_worker(project, url, phase="down", applied=up["applied"], snapshots=up["snapshots"])
    assert (up["fatal"], down["fatal"], down["checked"]) == (None, None, 0)
    (failure,) = down["findings"]
    assert (failure["rule"], failure["path"], failure["line"]) == ("DBA215", "migrations/versions/0002_notes.py", 21)
    assert failure["message"] == ('downgrade of revision 0002 fails: UndefinedColumn: column "title" of relation '
                                  '"notes" does not exist; statement: ALTER TABLE notes DROP COLUMN title')


# ---------------------------------------------------------------------------------------------- our own failures


def test_internal_failure_is_reported_with_its_place(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    url = _scratch(pg_server)
    up = run_worker(project, url)
    result = run_worker(project, url, phase="down", applied=up["applied"], snapshots={})  # a runner bug: no snapshots
    assert result["fatal_kind"] == "internal"
    assert result["fatal"].startswith("internal error of the scratch worker at ")
    assert "_worker.py:" in result["fatal"] and "in _down: KeyError: '0002'" in result["fatal"]
    assert result["findings"] == [] and result["attempts"] == []


def test_unreadable_ini_is_env(pg_server, tmp_path):
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"alembic.ini": "[alembic\nscript_location = x\n"})
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "env"
    assert result["fatal"].startswith("reading alembic.ini failed: ")
    assert "MissingSectionHeaderError" in result["fatal"] and "[alembic" in result["fatal"]


def test_env_setup_failing_in_alembic_points_at_env_py(pg_server, tmp_path):
    """Like dispatch's [core]: env.py selects a schema that does not exist, so creating the version table fails
    inside Alembic (whose context functions are generated code, "<string>"): the place named is env.py's line."""
    project = copy_fixture(tmp_path / "proj", "scratch_base")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "        context.configure(", "        connection.exec_driver_sql('SET search_path TO app_core')\n"
                                    "        context.configure("))
    result = run_worker(project, _scratch(pg_server))
    assert result["fatal_kind"] == "env"
    assert ("before it ran any migration) failed at migrations/env.py:17 (env.py selects a schema that does not "
            "exist on an empty database, e.g. SET search_path or version_table_schema; create it first in env.py: "
            "CREATE SCHEMA IF NOT EXISTS …): sqlalchemy.exc.ProgrammingError: "
            "(psycopg.errors.InvalidSchemaName) no schema has been selected to create in") in result["fatal"]
    assert "CREATE TABLE alembic_version" in result["fatal"]
