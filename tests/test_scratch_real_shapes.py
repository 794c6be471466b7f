"""Shapes met when `--scratch` ran on real projects (checkmate, mealie, CTFd, redash, dispatch, the FastAPI
template), each reduced to a small project: through the real CLI, or the worker, on a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from test_scratch_worker_support import (FIXTURES, copy_fixture, messages, project_python, run_both, run_worker,
                                         sa_url)

pytest.importorskip("alembic")
pytest.importorskip("psycopg")

NO_VENV = {"VIRTUAL_ENV": ""}  # the interpreter running the tests, not a developer's active virtualenv


def _report(done) -> list[dict]:
    return json.loads(done.stdout)["findings"]


# ---------------------------------------------------------------------------------------------- through the CLI


@pytest.mark.slow
def test_ini_one_folder_down_with_a_root_relative_script_location(run_cli, tmp_path):
    """checkmate: conf/alembic.ini says script_location = shop/migrations (meant from the project root); env.py
    reads DATABASE_URL and writes a file into the project. The run works without settings, DBA214 findings sit on
    the models' lines (a missing table with its unique index is one finding, an FK on its column), and the file
    the project's code wrote is named."""
    project = copy_fixture(tmp_path / "proj", "scratch_conf_layout")
    done = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project, env=NO_VENV)
    assert done.returncode == 1, done.stderr
    found = {(f["path"], f["line"], f["message"]) for f in _report(done) if f["rule"] == "DBA214"}
    assert found == {
        ("shop/models.py", 23, "model table public.custom_rule does not exist after the migrations (missing "
                               "migration); with it: unique index ix_custom_rule_hash"),
        ("shop/models.py", 20, "foreign key (unnamed) on public.notes (author_id) -> public.authors (id) exists in "
                               "the models but not in the migrated schema"),
    }
    assert "dbagents: --scratch: Alembic config conf/alembic.ini\n" in done.stderr
    assert ("dbagents: note: the project's code created .scratch_secret_key in the project while it ran"
            in done.stderr)
    assert (project / ".scratch_secret_key").is_file()  # left as the project's code made it


@pytest.mark.slow
def test_notes_of_the_worker_reach_stderr(run_cli, tmp_path):
    """CTFd: an app factory that migrates the database itself; the worker's notes are printed as notes."""
    from test_scratch_worker_setups import MIGRATING_FACTORY

    project = copy_fixture(tmp_path / "proj", "scratch_setup_flask")
    init = project / "shop" / "__init__.py"
    init.write_text(init.read_text().replace("    return app", MIGRATING_FACTORY.strip("\n")))
    done = run_cli("check", "migrations", "--scratch", "--no-cache", cwd=project, env=NO_VENV)
    notes = [ln for ln in done.stderr.splitlines() if ln.startswith("dbagents: note: ")]
    assert notes[0].startswith("dbagents: note: creating the app shop:create_app built 3 objects in the empty "
                               "scratch database (public.alembic_version, public.customers, public.orders)")
    assert any(n.startswith("dbagents: note: creating the app shop:create_app changed the schema (public.orders)")
               for n in notes)


@pytest.mark.slow
def test_async_env_with_an_asyncpg_url_runs_end_to_end(run_cli, tmp_path):
    """The FastAPI template's env.py (async_engine_from_config + run_sync) with a postgresql+asyncpg URL: env.py
    gets asyncpg, the worker's snapshots a sync driver, and every phase runs."""
    python = project_python("sa2drivers")
    project = copy_fixture(tmp_path / "proj", "scratch_base", "scratch_async",
                           files={"pyproject.toml": f'[tool.dbagents.scratch]\npython = "{python}"\n'})
    done = run_cli("check", "--scratch", "--no-cache", "--format", "json", "--fail-on", "warning", cwd=project,
                   env=NO_VENV)
    assert done.returncode == 1, done.stderr
    assert ", driver asyncpg (" in done.stderr
    assert ("dbagents: --scratch ran: upgrade walk over 2 revisions (DBA213), model comparison (DBA214), live "
            "checks on the migrated schema") in done.stderr
    assert "downgrade walk (DBA215)" in done.stderr
    rules = {f["rule"] for f in _report(done)}
    assert "DBA301" in rules  # notes.author_id has no index: a live finding on the migrated schema
    assert not rules & {"DBA213", "DBA214", "DBA215"}


# ---------------------------------------------------------------------------------------------- the worker


UNNAMED_FK = '''"""notes.editor_id with a foreign key created without a name (autogenerate's None)"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("notes", sa.Column("editor_id", sa.Integer()))
    op.create_foreign_key(None, "notes", "authors", ["editor_id"], ["id"])


def downgrade():
    op.drop_constraint(None, "notes", type_="foreignkey")
    op.drop_column("notes", "editor_id")
'''


@pytest.mark.slow
def test_unnamed_constraint_downgrade_names_what_postgresql_called_it(pg_server, tmp_path):
    """mealie feecc8ffb956, CTFd 336b8c601b94: op.drop_constraint(None, …) in downgrade()."""
    project = copy_fixture(tmp_path / "proj", "scratch_base",
                           files={"migrations/versions/0003_editor.py": UNNAMED_FK})
    up, down = run_both(project, sa_url(pg_server.createdb("unnamed")), compare=False)
    (finding,) = down["findings"]
    assert (finding["rule"], finding["path"], finding["line"]) == ("DBA215", "migrations/versions/0003_editor.py", 15)
    assert finding["message"] == ("downgrade of revision 0003 fails: CompileError: Can't emit DROP CONSTRAINT for "
                                  "constraint ForeignKeyConstraint(..., None, table=Table('notes', MetaData(), "
                                  "schema=None)); it has no name")
    assert finding["hint"].startswith("op.drop_constraint(None, 'notes', ...) cannot run: a constraint is dropped by "
                                      "name; the upgrade of this revision created notes_editor_id_fkey on notes")


BASE_NEEDS_TABLES = '''"""the first revision alters a table no revision creates (create_all + stamp projects)"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.add_column("queries", sa.Column("is_draft", sa.Boolean()))


def downgrade():
    op.drop_column("queries", "is_draft")
'''


@pytest.mark.slow
def test_chain_that_needs_tables_from_create_all_says_so(pg_server, tmp_path):
    """redash, h, dispatch: the schema comes from create_all() + stamp; the chain cannot start from empty."""
    project = copy_fixture(tmp_path / "proj", "scratch_base",
                           files={"migrations/versions/0001_authors.py": BASE_NEEDS_TABLES})
    up = run_worker(project, sa_url(pg_server.createdb("needs")))
    (finding,) = up["findings"]
    assert finding["message"] == ('upgrade to revision 0001 fails: UndefinedTable: relation "queries" does not '
                                  'exist; statement: ALTER TABLE queries ADD COLUMN is_draft BOOLEAN')
    assert finding["hint"].startswith("no earlier revision creates 'queries': the chain does not build the schema "
                                      "from an empty database")


@pytest.mark.slow
def test_a_table_a_later_revision_dropped_gets_the_plain_hint(pg_server, tmp_path):
    """A table an earlier revision created is not a create_all chain: the usual hint."""
    broken = UNNAMED_FK.replace('op.add_column("notes"', 'op.add_column("note"').replace("op.create_foreign_key(None, "
                                                                                       '"notes"', "pass  #")
    project = copy_fixture(tmp_path / "proj", "scratch_base", files={"migrations/versions/0003_editor.py": broken})
    up = run_worker(project, sa_url(pg_server.createdb("typo")))
    (finding,) = [f for f in up["findings"] if f["rule"] == "DBA213"]
    assert 'relation "note" does not exist' in finding["message"]
    assert finding["hint"].startswith("no earlier revision creates 'note'")
    project_2 = copy_fixture(tmp_path / "proj2", "scratch_base", files={
        "migrations/versions/0003_editor.py": broken.replace('op.add_column("note"', 'op.drop_table("notes")\n    '
                                                             'op.add_column("notes"')})
    up = run_worker(project_2, sa_url(pg_server.createdb("dropped")))
    (finding,) = [f for f in up["findings"] if f["rule"] == "DBA213"]
    assert finding["hint"] == "fix the upgrade() of this revision; later revisions were not run"


@pytest.mark.slow
def test_compare_false_skips_the_comparison(pg_server):
    """The runner sends compare=false when DBA214 is deselected: the comparison does not run at all."""
    drift = FIXTURES / "scratch_drift"
    env_py = drift / "migrations" / "env.py"
    assert "target_metadata" in env_py.read_text()
    up = run_worker(drift, sa_url(pg_server.createdb("nocompare")), compare=False)
    assert (up["fatal"], up["applied"], up["findings"]) == (None, ["0001"], [])
    compared = run_worker(drift, sa_url(pg_server.createdb("compare")))
    assert len(messages(compared, "DBA214")) > 10


@pytest.mark.slow
def test_compare_false_does_not_run_env_for_a_comparison(pg_server, tmp_path):
    """A comparison that would break (a buggy include_object) is not even started with compare=false."""
    project = copy_fixture(tmp_path / "proj", "scratch_drift")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "compare_server_default=True)", "compare_server_default=True,\n                          "
        "include_object=lambda *a: a[99])"))
    assert run_worker(project, sa_url(pg_server.createdb("cmp_off")), compare=False)["findings"] == []
    assert run_worker(project, sa_url(pg_server.createdb("cmp_on")))["findings"][0]["message"].startswith(
        "comparing the models with the migrated schema failed")


def test_fixture_folders_stay_clean():
    """The fixtures are copied before a run; nothing a run writes may end up beside them."""
    leftovers = [p for p in (FIXTURES / "scratch_conf_layout").rglob("*") if p.name in (".scratch_secret_key",
                                                                                      "__pycache__")]
    assert leftovers == []


def test_package_folders_never_go_on_the_worker_path(tmp_path):
    """dispatch: src/dispatch/alembic.ini lives inside the package, which has a types.py; that folder on
    PYTHONPATH shadows the standard library's types module."""
    from dbagents.scratch.runner import worker_env
    from dbagents.scratch.setup import read_setup

    package = tmp_path / "src" / "app"
    (package / "revisions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "types.py").write_text("raise ImportError('shadowed the standard library')\n")
    ini = package / "alembic.ini"
    ini.write_text("[core]\nscript_location = app:revisions\n")
    setup = read_setup(tmp_path, ini, "core")
    assert setup.run_dir == tmp_path  # a pkg:path location is found by import, not from the ini's folder
    env = worker_env(tmp_path, package, "postgresql+psycopg2://u@h/db", {})
    assert str(package) not in env["PYTHONPATH"].split(":") and str(tmp_path) in env["PYTHONPATH"].split(":")


def test_created_files_note_names_top_level_additions(tmp_path):
    from dbagents.scratch.runner import created_note, project_entries

    (tmp_path / "pkg").mkdir()
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    before = project_entries(tmp_path)
    (tmp_path / ".data" / "cache").mkdir(parents=True)
    (tmp_path / ".data" / "cache" / "x").write_text("")
    (tmp_path / "pkg" / "logs").mkdir()
    (tmp_path / ".venv" / "lib" / "new.py").write_text("")  # virtualenvs are not the project's files
    note = created_note(before, project_entries(tmp_path))
    assert note.startswith("the project's code created .data/, pkg/logs/ in the project while it ran")
    assert created_note(before, before) is None


def test_live_findings_on_an_index_or_constraint_sit_on_their_table(tmp_path):
    """obj = schema.table.<index name>: placed on the table's model, not left without a file."""
    from dbagents.check.engine import check_tree
    from dbagents.check.external import locate
    from dbagents.config import Config
    from dbagents.findings import Finding, Severity

    project = copy_fixture(tmp_path / "proj", "scratch_conf_layout")
    outcome = check_tree([project], root=project, config=Config(), enabled={"DBA104"}, jobs=1, use_cache=False)
    placed = locate(outcome.project, Finding("", 0, 0, "DBA214", "m", Severity.ERROR, "", "public.custom_rule.ix_x"))
    assert (placed.path, placed.line) == ("shop/models.py", 23)
    column = locate(outcome.project, Finding("", 0, 0, "DBA214", "m", Severity.ERROR, "", "public.notes.author_id"))
    assert (column.path, column.line) == ("shop/models.py", 20)

