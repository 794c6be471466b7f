"""`dbagents check schema --database-url`: live findings through the CLI, placed on the model's file:line."""

from __future__ import annotations

import json
import textwrap

import pytest

psycopg = pytest.importorskip("psycopg")

MODELS = textwrap.dedent(
    """
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(primary_key=True)


    class Post(Base):
        __tablename__ = "posts"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    """
)


@pytest.fixture
def live_db(pg_server):
    url = pg_server.createdb("cli")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE authors (id bigint PRIMARY KEY)")
        conn.execute("CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES authors(id))")
    return url


def test_live_finding_lands_on_model_source(tmp_path, run_cli, live_db):
    (tmp_path / "models.py").write_text(MODELS)
    proc = run_cli("check", "schema", "--no-cache", "--database-url", live_db, "--format", "json", ".")
    assert proc.returncode in (0, 1), proc.stderr
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "DBA301"]
    assert findings, proc.stdout
    fk = findings[0]
    assert fk["object"].startswith("public.posts")
    assert fk["path"] == "models.py"
    lines = MODELS.splitlines()
    column_line = next(i for i, text in enumerate(lines, start=1) if text.strip().startswith("author_id:"))
    assert fk["line"] == column_line, (fk, column_line)


def test_database_url_from_environment_for_schema_group(tmp_path, run_cli, live_db):
    (tmp_path / "models.py").write_text(MODELS)
    proc = run_cli("check", "schema", "--no-cache", "--select", "DBA301", "--format", "json", ".",
                   env={"DATABASE_URL": live_db})
    assert [f["rule"] for f in json.loads(proc.stdout)["findings"]] == ["DBA301"], proc.stderr
    # the static-only default run does not go live
    proc = run_cli("check", "--no-cache", "--select", "DBA301", "--format", "json", ".", env={"DATABASE_URL": live_db})
    assert json.loads(proc.stdout)["findings"] == []


def test_connection_error_is_one_masked_line(tmp_path, run_cli):
    proc = run_cli("check", "schema", "--database-url", "postgresql://app:s3cret-pw@127.0.0.1:1/prod", ".")
    assert proc.returncode == 2
    assert "s3cret-pw" not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
