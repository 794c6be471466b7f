"""`dbagents check schema --database-url URL --emit-revision` on a real PostgreSQL: a foreign key without an index, a
redundant index, an invalid index (a CREATE INDEX CONCURRENTLY cancelled by lock_timeout) and a NOT VALID
constraint become one revision; `check migrations` finds nothing in it; real Alembic applies it to a copy of the
database (the catalog changes as intended, the live checks are clean) and rolls it back (the catalog is back)."""

from __future__ import annotations

import json

import pytest
from revisions_support import alembic, new_files, revision_text, write_project

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("alembic")

UPGRADE = '''    op.create_table("customers", sa.Column("id", sa.BigInteger(), primary_key=True))
    op.create_table("orders", sa.Column("id", sa.BigInteger(), primary_key=True),
                    sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id")))
    op.create_table("events", sa.Column("id", sa.BigInteger(), primary_key=True), sa.Column("kind", sa.Text()),
                    sa.Column("created_at", sa.DateTime(timezone=True)))
    op.create_index("ix_events_kind", "events", ["kind"])
    op.create_index("ix_events_kind_created", "events", ["kind", "created_at"])
    op.create_table("accounts", sa.Column("id", sa.BigInteger(), primary_key=True),
                    sa.Column("balance", sa.Numeric()))
    op.execute("ALTER TABLE accounts ADD CONSTRAINT balance_not_negative CHECK (balance >= 0) NOT VALID")
'''
DOWNGRADE = '''    op.drop_table("accounts")
    op.drop_table("events")
    op.drop_table("orders")
    op.drop_table("customers")
'''
CATALOG = """
SELECT 'index', c.relname, i.indisvalid::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
UNION ALL
SELECT 'constraint', conname, convalidated::text, pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def catalog(url: str) -> dict[str, tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return {name: (valid, definition) for _kind, name, valid, definition in conn.execute(CATALOG).fetchall()}


def invalid_index(url: str) -> None:
    """CREATE INDEX CONCURRENTLY stopped by lock_timeout behind a writer's lock: the index stays, INVALID."""
    holder = psycopg.connect(url)
    holder.execute("LOCK TABLE events IN ROW EXCLUSIVE MODE")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                conn.execute("CREATE INDEX CONCURRENTLY ix_events_created ON events (created_at)")
    finally:
        holder.rollback()
        holder.close()


def copy_database(pg_server, url: str, name: str) -> str:
    with psycopg.connect(pg_server.uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.split("?")[0].rsplit("/", 1)[1]}"')
    return pg_server.uri(name)


@pytest.mark.slow
def test_live_findings_become_a_revision_that_applies_and_rolls_back(tmp_path, pg_server, run_cli):
    from dbagents.live import run_live_checks

    url = pg_server.createdb("rev_live")
    project = write_project(tmp_path / "proj", {"0001_base.py": revision_text("0001", None, UPGRADE, DOWNGRADE)})
    alembic(project, url, "upgrade", "head")
    invalid_index(url)
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    original = catalog(url)
    assert original["ix_events_created"][0] == "false" and original["balance_not_negative"][0] == "false"

    result = run_cli("check", "schema", "--database-url", url, "--emit-revision", "--no-cache", "--format", "json", "--fail-on", "warning",
                     cwd=project)
    assert result.returncode == 1, result.stderr
    reported = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert {"DBA301", "DBA302", "DBA303"} <= reported
    assert "Traceback" not in result.stderr
    (written,) = new_files(versions, before)
    assert f"dbagents: wrote revision {written.name[:12]} (revises 0001, 4 steps)" in result.stderr
    assert f"{written.name}:" in result.stderr and "review: fails if an existing row violates it" in result.stderr
    assert catalog(url) == original  # the live check itself never writes
    text = written.read_text()
    assert '"ix_orders_customer_id"' in text and text.count("postgresql_concurrently=True") == 4
    assert "CREATE INDEX CONCURRENTLY ix_events_kind ON public.events USING btree (kind)" in text  # downgrade
    assert "ALTER TABLE public.accounts VALIDATE CONSTRAINT balance_not_negative" in text

    check = run_cli("check", "migrations", "--no-cache", "--format", "json", cwd=project)
    rel = written.relative_to(project).as_posix()
    assert [f for f in json.loads(check.stdout)["findings"] if f["path"] == rel] == [], check.stdout

    copy = copy_database(pg_server, url, "rev_live_copy")
    alembic(project, copy, "upgrade", "head")
    after = catalog(copy)
    assert after["ix_orders_customer_id"] == ("true", "CREATE INDEX ix_orders_customer_id ON public.orders USING "
                                                      "btree (customer_id)")
    assert "ix_events_kind" not in after and "ix_events_kind_created" in after
    assert after["ix_events_created"] == ("true", original["ix_events_created"][1])
    assert after["balance_not_negative"][0] == "true"
    assert run_live_checks(copy, select={"DBA301", "DBA302", "DBA303"}) == []

    alembic(project, copy, "downgrade", "-1")
    back = catalog(copy)
    assert "ix_orders_customer_id" not in back
    assert back["ix_events_kind"] == original["ix_events_kind"]
    # the constraint is NOT VALID again; an invalid index cannot be made invalid again: it stays rebuilt
    assert back["balance_not_negative"] == original["balance_not_negative"]
    assert back["ix_events_created"][0] == "true"
    assert set(back) == set(original)
    alembic(project, copy, "upgrade", "head")  # and up again
    assert set(catalog(copy)) == set(after)


def emit_on(tmp_path, pg_server, run_cli, sql: str, revisions: dict | None = None, *options: str):
    """A database made by `sql`, a project with `revisions`; run check schema --emit-revision: (result, new files)."""
    url = pg_server.createdb("rev")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)
    project = write_project(tmp_path / "proj", revisions or {"0001_base.py": revision_text("0001", None, "    pass\n")})
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    result = run_cli("check", "schema", "--database-url", url, "--emit-revision", "--fail-on", "warning",
                     "--no-cache", *options, cwd=project)
    return result, new_files(versions, before)


FK = """CREATE TABLE owner (id int PRIMARY KEY);
CREATE TABLE things (id int PRIMARY KEY, owner_id int REFERENCES owner (id));
"""


@pytest.mark.slow
def test_nothing_to_emit_and_what_is_left_out(tmp_path, pg_server, run_cli):
    result, written = emit_on(tmp_path, pg_server, run_cli, """
        CREATE TABLE owner (id int PRIMARY KEY);
        CREATE TABLE child (id int, owner_id int REFERENCES owner (id)) PARTITION BY RANGE (id);""")
    assert result.returncode == 1, result.stderr
    assert "DBA301 public.child(owner_id): partitioned table" in result.stderr
    assert "--emit-revision: nothing to write" in result.stderr
    assert written == []


@pytest.mark.slow
def test_taken_index_names_get_a_number(tmp_path, pg_server, run_cli):
    # the obvious name is taken (by a table)
    result, written = emit_on(tmp_path, pg_server, run_cli, FK + "CREATE TABLE ix_things_owner_id (id int);")
    assert result.returncode == 1, result.stderr
    (path,) = written
    assert '"ix_things_owner_id_2"' in path.read_text()


def test_emit_revision_needs_a_source(tmp_path, run_cli):
    write_project(tmp_path, {"0001_base.py": revision_text("0001", None, "    pass\n")})
    result = run_cli("check", "--emit-revision", "--no-cache", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("dbagents: error: --emit-revision needs live findings")


@pytest.mark.slow
def test_several_heads_stop_before_anything_is_written(tmp_path, pg_server, run_cli):
    result, written = emit_on(tmp_path, pg_server, run_cli, FK, {
        "0001_base.py": revision_text("0001", None, "    pass\n"),
        "0002_a.py": revision_text("0002", "0001", "    pass\n"),
        "0003_b.py": revision_text("0003", "0001", "    pass\n")})
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dbagents: error: ") and "2 heads (0002, 0003); run `alembic merge heads` first" in last
    assert written == []
