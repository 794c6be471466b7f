"""`dbagents check --fix [--unsafe-fixes] --emit-revision` end to end: the real CLI fixes the models (or DBA204's
revision), writes one revision for what that changes in the database, `check migrations` finds nothing in it, and
`check migrations --scratch` upgrades it, finds the models matching the migrated schema and downgrades it."""

from __future__ import annotations

import json

import pytest

from revisions_support import BASE_DOWN, BASE_UP, METADATA, MODELS_BEFORE, new_files, revision_text, write_project

pytest.importorskip("alembic")
pytest.importorskip("psycopg")
pytest.importorskip("libcst")

def models_project(tmp_path):
    return write_project(tmp_path / "proj", {"0001_base.py": revision_text("0001", None, BASE_UP, BASE_DOWN)},
                         metadata=METADATA, files={"app/__init__.py": "", "app/models.py": MODELS_BEFORE})


def findings_in(result, path: str | None = None) -> list[dict]:
    found = json.loads(result.stdout)["findings"]
    return [f for f in found if path is None or f["path"] == path]


@pytest.mark.slow
def test_unsafe_model_fixes_come_with_a_revision_that_round_trips(tmp_path, run_cli):
    project = models_project(tmp_path)
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    result = run_cli("check", "--fix", "--unsafe-fixes", "--emit-revision", "--no-cache", cwd=project)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    (written,) = new_files(versions, before)
    rel = written.relative_to(project).as_posix()
    assert f"dbagents: wrote revision {written.name[:12]} (revises 0001, 3 steps): {rel}" in result.stderr
    assert f"{rel}:" in result.stderr and ": review: Integer() -> BigInteger() rewrites the table" in result.stderr
    models = (project / "app" / "models.py").read_text()
    assert "DateTime(timezone=True)" in models and "index=True" in models and "BigInteger, primary_key" in models
    text = written.read_text()
    assert 'op.create_index("ix_orders_customer_id", "orders", ["customer_id"], postgresql_concurrently=True)' in text
    assert "type_=sa.DateTime(timezone=True), existing_type=sa.DateTime()" in text

    check = run_cli("check", "migrations", "--no-cache", "--format", "json", cwd=project)
    assert findings_in(check, rel) == [], check.stdout
    scratch = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    assert scratch.returncode == 0, scratch.stdout + scratch.stderr
    assert [f for f in findings_in(scratch) if f["rule"] in ("DBA213", "DBA214", "DBA215")] == [], scratch.stdout

    again = run_cli("check", "--fix", "--unsafe-fixes", "--emit-revision", "--no-cache", cwd=project)
    assert "nothing to write" in again.stderr and len(new_files(versions, before)) == 1  # nothing left to fix


@pytest.mark.slow
def test_diff_shows_the_revision_and_writes_nothing(tmp_path, run_cli):
    project = models_project(tmp_path)
    files = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = run_cli("check", "--diff", "--unsafe-fixes", "--emit-revision", "--no-cache", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "--- /dev/null\n+++ migrations/versions/" in result.stdout
    assert '+down_revision = "0001"' in result.stdout
    assert '+        op.create_index("ix_orders_customer_id"' in result.stdout
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and "__pycache__" not in p.parts} == \
        {p: b for p, b in files.items() if "__pycache__" not in p.parts}


@pytest.mark.slow
def test_dba204_fix_and_its_follow_up_revision(tmp_path, run_cli):
    up = '    op.create_foreign_key("fk_orders_customer", "orders", "customers", ["customer_id"], ["id"])\n'
    down = '    op.drop_constraint("fk_orders_customer", "orders", type_="foreignkey")\n'
    project = write_project(tmp_path / "proj", {
        "0001_base.py": revision_text("0001", None, BASE_UP.replace(', sa.ForeignKey("customers.id")', ""), BASE_DOWN),
        "0002_fk.py": revision_text("0002", "0001", '    op.execute("SET lock_timeout = \'5s\'")\n' + up, down)},
        metadata=METADATA, files={"app/__init__.py": "", "app/models.py": MODELS_BEFORE})
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    result = run_cli("check", "migrations", "--fix", "--emit-revision", "--select", "DBA204", "--no-cache",
                     cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "postgresql_not_valid=True" in (versions / "0002_fk.py").read_text()
    (written,) = new_files(versions, before)
    assert 'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")' in written.read_text()
    assert "(revises 0002, 1 step)" in result.stderr

    check = run_cli("check", "migrations", "--no-cache", "--format", "json", cwd=project)
    rel = written.relative_to(project).as_posix()
    assert [f for f in findings_in(check) if f["path"] == rel or f["rule"] in ("DBA204", "DBA219")] == []
    scratch = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    assert scratch.returncode == 0, scratch.stdout + scratch.stderr
    assert [f for f in findings_in(scratch) if f["rule"] in ("DBA213", "DBA214", "DBA215")] == [], scratch.stdout
