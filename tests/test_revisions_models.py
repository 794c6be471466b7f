"""Schema changes of model fixes become a revision that our migration rules find clean and that `check migrations
--scratch` upgrades and downgrades on a throwaway PostgreSQL, with the models matching the migrated schema (DBA214)
and each downgrade restoring it (DBA215)."""

from __future__ import annotations

import json

import pytest

from dbagents.check.fix.changes import SchemaChange
from dbagents.revisions import plan_for_changes, write_revision
from revisions_support import BASE_DOWN, BASE_UP, METADATA, MODELS_BEFORE, new_files, revision_text, write_project

pytest.importorskip("alembic")
pytest.importorskip("psycopg")

# what --fix --unsafe-fixes makes of it (DBA108, DBA104, DBA105) plus a NOT NULL the model now states
MODELS_AFTER = (MODELS_BEFORE
                .replace('mapped_column(Integer, primary_key=True)', 'mapped_column(BigInteger, primary_key=True)')
                .replace('mapped_column(ForeignKey("customers.id"))', 'mapped_column(ForeignKey("customers.id"), '
                                                                       'index=True)')
                .replace("mapped_column(DateTime())", "mapped_column(DateTime(timezone=True))")
                .replace("note: Mapped[str | None] = mapped_column(Text)",
                         "note: Mapped[str] = mapped_column(Text, nullable=False)"))
CHANGES = [
    SchemaChange("alter_type", "orders", "id", new_type="sa.BigInteger()", old_type="sa.Integer()",
                 path="app/models.py", line=18),
    SchemaChange("add_index", "orders", "customer_id", path="app/models.py", line=19),
    SchemaChange("alter_type", "orders", "created_at", new_type="sa.DateTime(timezone=True)",
                 old_type="sa.DateTime()", path="app/models.py", line=20),
    SchemaChange("alter_nullable", "orders", "note", nullable=False, path="app/models.py", line=21),
]


@pytest.mark.slow
def test_model_changes_revision_is_clean_and_round_trips_on_scratch(tmp_path, run_cli):
    project = write_project(tmp_path / "proj", {"0001_base.py": revision_text("0001", None, BASE_UP, BASE_DOWN)},
                            metadata=METADATA,
                            files={"app/__init__.py": "", "app/models.py": MODELS_AFTER})
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    planned = plan_for_changes(project, CHANGES)
    assert planned.notes == []
    write_revision(planned)
    (written,) = new_files(versions, before)
    text = written.read_text()
    assert "ALTER SEQUENCE ' || seq || ' AS bigint" in text and "ALTER SEQUENCE ' || seq || ' AS integer" in text
    assert text.count("# REVIEW:") == 4  # two type changes (one with the time zone note) and the NOT NULL

    check = run_cli("check", "migrations", "--no-cache", "--format", "json", cwd=project)
    rel = written.relative_to(project).as_posix()
    assert [f for f in json.loads(check.stdout)["findings"] if f["path"] == rel] == [], check.stdout

    scratch = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    assert scratch.returncode == 0, scratch.stdout + scratch.stderr
    found = json.loads(scratch.stdout)["findings"]
    assert [f for f in found if f["rule"] in ("DBA213", "DBA214", "DBA215")] == [], found

    # without the revision the same scratch run sees the models ahead of the migrations (the test can fail)
    written.unlink()
    drift = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    drifted = [f["line"] for f in json.loads(drift.stdout)["findings"] if f["rule"] == "DBA214"]
    assert sorted(drifted) == [16, 18, 20, 21], drift.stdout + drift.stderr  # index (on the class), id, created_at, note


@pytest.mark.slow
def test_dba204_follow_up_validates_and_round_trips_on_scratch(tmp_path, run_cli):
    """After DBA204's fix (the foreign key added NOT VALID), the follow-up revision validates it in its own
    transaction; downgrade makes it NOT VALID again, as the scratch run's downgrade walk checks."""
    up = ('    op.create_foreign_key("fk_orders_customer", "orders", "customers", ["customer_id"], ["id"],\n'
          '                          postgresql_not_valid=True)\n')
    down = '    op.drop_constraint("fk_orders_customer", "orders", type_="foreignkey")\n'
    project = write_project(tmp_path / "proj", {
        "0001_base.py": revision_text("0001", None, BASE_UP.replace(', sa.ForeignKey("customers.id")', ""),
                                      BASE_DOWN),
        "0002_fk.py": revision_text("0002", "0001", up, down)},
        metadata=METADATA,
        files={"app/__init__.py": "", "app/models.py": MODELS_BEFORE})
    versions = project / "migrations" / "versions"
    before = {p.name for p in versions.iterdir()}
    follow_up = SchemaChange("validate_constraint", "orders", "", name="fk_orders_customer",
                             path="migrations/versions/0002_fk.py", line=12)
    write_revision(plan_for_changes(project, [follow_up]))
    (written,) = new_files(versions, before)
    assert 'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")' in written.read_text()

    check = run_cli("check", "migrations", "--no-cache", "--format", "json", cwd=project)
    found = json.loads(check.stdout)["findings"]
    rel = written.relative_to(project).as_posix()
    # DBA219 is quiet too: the VALIDATE has its own commit (0002 itself sets no lock_timeout: DBA211, not ours)
    assert [f for f in found if f["path"] == rel or f["rule"] == "DBA219"] == [], check.stdout
    scratch = run_cli("check", "migrations", "--scratch", "--no-cache", "--format", "json", cwd=project)
    assert scratch.returncode == 0, scratch.stdout + scratch.stderr
    assert [f for f in json.loads(scratch.stdout)["findings"] if f["rule"] in ("DBA213", "DBA214", "DBA215")] == []
