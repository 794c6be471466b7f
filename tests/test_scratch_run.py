"""End to end: the Alembic fixture projects through `run_scratch` on a real throwaway PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest

from dbagents.errors import InputError
from dbagents.scratch import SCRATCH_RULES, run_scratch
from dbagents.scratch.server import find_local_bindir

pytest.importorskip("alembic")
psycopg = pytest.importorskip("psycopg")

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = FIXTURES / "alembic_project"
EXTENSION_PROJECT = FIXTURES / "alembic_project_extension"
REAL_URL = "postgresql+psycopg://app:real-secret@db.invalid:5432/real"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def scratch(project: Path, **kwargs):
    """run_scratch with a poisoned DATABASE_URL; returns (findings, stderr text)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        findings = run_scratch(project, **kwargs)
    return findings, err.getvalue()


@pytest.fixture(scope="module")
def project_run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("DATABASE_URL", REAL_URL)
    private_tmp = tmp_path_factory.mktemp("scratch-tmp")
    mp.setattr(tempfile, "tempdir", str(private_tmp))  # the server's data directory lands here
    before_tree = _tree(PROJECT)
    try:
        findings, err = scratch(PROJECT)
    finally:
        mp.undo()
    yield findings, err, private_tmp, before_tree


def _by_rule(findings, rule):
    return [f for f in findings if f.rule_id == rule]


@pytest.mark.slow
def test_two_heads_are_reported_on_a_head_revision(project_run):
    findings = project_run[0]
    (heads,) = _by_rule(findings, "DBA213")
    assert heads.path == "migrations/versions/0004_tags.py" and heads.line == 5
    assert "2 migration heads" in heads.message and "0005_email_index.py" in heads.message
    assert "alembic merge heads" in heads.hint


@pytest.mark.slow
def test_model_drift_is_the_missing_invoices_table(project_run):
    drift = _by_rule(project_run[0], "DBA214")
    assert [(f.obj, f.path) for f in drift] == [("public.invoices", "")]
    assert "missing migration" in drift[0].message


@pytest.mark.slow
def test_downgrade_problems_point_at_the_revision_lines(project_run):
    down = {f.path: f for f in _by_rule(project_run[0], "DBA215")}
    assert set(down) == {"migrations/versions/0003_user_note.py", "migrations/versions/0004_tags.py"}
    broken = down["migrations/versions/0003_user_note.py"]
    assert broken.line == 16 and 'column "notes" of relation "users" does not exist' in broken.message
    leak = down["migrations/versions/0004_tags.py"]
    assert leak.line == 20  # def downgrade()
    assert "column public.users.tag_count is left behind" in leak.message
    assert all(f.severity == SCRATCH_RULES["DBA215"].severity for f in down.values())


@pytest.mark.slow
def test_live_checks_run_on_the_migrated_schema(project_run):
    live = {(f.rule_id, f.obj) for f in project_run[0] if f.rule_id.startswith("DBA3")}
    assert live == {("DBA301", "public.orders.user_id"), ("DBA307", "public.orders.created_at")}


@pytest.mark.slow
def test_run_is_announced_and_leaves_nothing_behind(project_run):
    findings, err, private_tmp, before_tree = project_run
    assert "executes alembic.ini's env.py and migrations" in err and "DATABASE_URL is not used" in err
    assert "real-secret" not in err and all("secret" not in f.message for f in findings)
    assert list(private_tmp.iterdir()) == []  # server data directory and run files removed
    assert _tree(PROJECT) == before_tree  # no __pycache__, nothing written into the project


@pytest.mark.slow
def test_pgserver_without_contrib_names_the_extension():
    pytest.importorskip("pgserver")
    findings, _ = scratch(EXTENSION_PROJECT, settings={"server": "pgserver"})
    (failure,) = findings
    assert (failure.rule_id, failure.path, failure.line) == ("DBA213", "migrations/versions/a1_uuid.py", 12)
    assert "upgrade to revision a1 fails" in failure.message and '"uuid-ossp" is not available' in failure.message
    assert "'uuid-ossp'" in failure.hint and "postgresql-contrib" in failure.hint and 'server = "local"' in failure.hint


@pytest.mark.slow
def test_auto_picks_local_binaries_for_contrib_extensions():
    if find_local_bindir() is None:
        pytest.skip("no local PostgreSQL binaries")
    findings, err = scratch(EXTENSION_PROJECT)
    assert "(local, removed afterwards)" in err
    assert [(f.rule_id, f.path) for f in findings] == [("DBA214", "migrations/env.py")]  # no target_metadata
    assert "no target_metadata" in findings[0].message


@pytest.mark.slow
def test_own_empty_database_is_used_and_emptied_again(pg_server, project_run):
    url = pg_server.createdb("own")
    findings, err = scratch(PROJECT, scratch_url=url)
    assert "your empty database" in err
    key = lambda fs: sorted((f.rule_id, f.path, f.line, f.obj) for f in fs)  # noqa: E731
    assert key(findings) == key(project_run[0])
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchone()[0]
    assert left == 0


def test_non_empty_database_is_refused(pg_server):
    url = pg_server.createdb("busy")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int)")
    with pytest.raises(InputError, match=r"is not empty \(relation public.customers\)"):
        run_scratch(PROJECT, scratch_url=url)


def test_database_url_is_refused_as_scratch(pg_server, monkeypatch):
    url = pg_server.createdb("real")
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(InputError, match="same as DATABASE_URL"):
        run_scratch(PROJECT, scratch_url=url)


def _copy_project(tmp_path: Path, env_py: str) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(PROJECT, target)
    (target / "migrations" / "env.py").write_text(env_py, encoding="utf-8")
    return target


@pytest.mark.slow
def test_env_connecting_elsewhere_is_stopped(pg_server, tmp_path):
    env_py = (
        "from alembic import context\nfrom sqlalchemy import create_engine\n"
        "engine = create_engine('postgresql+psycopg://app:hardcoded-pw@127.0.0.1:1/prod')\n"
        "with engine.connect() as connection:\n"
        "    context.configure(connection=connection)\n"
        "    with context.begin_transaction():\n        context.run_migrations()\n"
    )
    project = _copy_project(tmp_path, env_py)
    with pytest.raises(InputError) as err:
        run_scratch(project, scratch_url=pg_server.createdb("guard"))
    text = str(err.value)
    assert text.startswith("--scratch refused a connection to something other than the scratch database")
    assert "prod" in text and "127.0.0.1" in text and "hardcoded-pw" not in text
    assert "config.get_main_option" in text and "[tool.dbagents.scratch] env" in text


@pytest.mark.slow
def test_crashing_env_is_one_line_error(pg_server, tmp_path):
    project = _copy_project(tmp_path, "import os\nprint('env.py is dying')\nos._exit(3)\n")
    with pytest.raises(InputError, match="crashed \\(up phase\\): env.py is dying"):
        run_scratch(project, scratch_url=pg_server.createdb("crash"))


def test_missing_alembic_ini(tmp_path):
    with pytest.raises(InputError, match="no alembic.ini in .* or one or two folders below it; pass its path"):
        run_scratch(tmp_path)


def test_bad_scratch_settings(tmp_path):
    with pytest.raises(InputError, match="unknown key 'serve'"):
        run_scratch(PROJECT, settings={"serve": "local"})
