"""Writing a revision without a database: where it goes (head, folder, file_template), refusals (several heads, no
Alembic, another dialect, an existing file), what each operation looks like, and that our own migration rules find
nothing in what we write."""

from __future__ import annotations

import ast
import datetime as dt
import os
from pathlib import Path

import pytest
from dbagents.check.engine import check_tree
from dbagents.check.registry import selected_ids
from dbagents.config import Config
from dbagents.errors import InputError
from dbagents.revisions import NothingToWrite, plan, plan_for_changes, write_revision
from dbagents.revisions.naming import MAX_IDENTIFIER, file_name, identifier, slugify
from dbagents.revisions.ops import (
    AlterType,
    CreateIndex,
    DropIndex,
    RebuildIndex,
    SetNullable,
    ValidateConstraint,
    concurrent_definition,
)
from dbagents.revisions.source import parse_type, sql_literal
from revisions_support import revision_text, write_project


class Change:  # what the fix engine hands over (read by attribute, like check.fix.changes.SchemaChange)
    def __init__(self, kind, table, column="", **kw):
        self.kind, self.table, self.column = kind, table, column
        self.schema, self.new_type, self.old_type = kw.get("schema"), kw.get("new_type", ""), kw.get("old_type", "")
        self.nullable, self.name = kw.get("nullable"), kw.get("name", "")
        self.path, self.line = kw.get("path", "app/models.py"), kw.get("line", 7)


BASE = revision_text("0001", None, '    op.create_table("orders", sa.Column("id", sa.Integer()))\n',
                     '    op.drop_table("orders")\n')


def migration_findings(root: Path, relpath: str) -> list:
    enabled = selected_ids(["migrations"], [], [])
    outcome = check_tree([root], root=root, config=Config(), enabled=enabled, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.path == relpath]


ALL_OPS = [
    CreateIndex("ix_orders_customer_id", "orders", ("customer_id",), "public", why="DBA301: index it"),
    DropIndex("ix_orders_kind", "orders", "CREATE INDEX ix_orders_kind ON public.orders USING btree (kind)", "public"),
    RebuildIndex("ix_orders_at", "orders", "CREATE INDEX ix_orders_at ON public.orders USING btree (at)", "public"),
    ValidateConstraint("orders", "ck_orders_total", "public", review=("fails if a row violates it",)),
    AlterType("orders", "id", parse_type("sa.BigInteger()"), parse_type("sa.Integer()"), review=("rewrites",)),
    SetNullable("orders", "note", False),
    SetNullable("orders", "memo", True),
]


def test_revision_on_the_head_passes_our_migration_rules(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE,
                             "0002_more.py": revision_text("0002", "0001", '    op.add_column("orders", sa.Column('
                                                           '"note", sa.Text()))\n', '    op.drop_column("orders", '
                                                           '"note")\n')})
    planned = plan(tmp_path, ALL_OPS, origin="a test", message="everything at once")
    assert planned.down_revision == "0002" and len(planned.revision) == 12
    assert planned.path.parent == tmp_path / "migrations" / "versions"
    assert planned.path.name == f"{planned.revision}_everything_at_once.py"
    path = write_revision(planned)
    text = path.read_text()
    module = ast.parse(text)
    names = {n.name for n in module.body if isinstance(n, ast.FunctionDef)}
    assert names == {"upgrade", "downgrade"}
    assert 'down_revision = "0002"' in text and "SET lock_timeout = '5s'" in text
    assert "# noqa: DBA207" in text and "REVIEW: rewrites" in text
    assert migration_findings(tmp_path, path.relative_to(tmp_path).as_posix()) == []
    up, down = text.split("def downgrade")
    # each concurrent step sits in an autocommit block; the downgrade reverses the order of the steps
    assert up.count("autocommit_block()") == 2 and "postgresql_not_valid=True" in up
    assert down.index("drop_index(\"ix_orders_customer_id\"") > down.index("CREATE INDEX CONCURRENTLY ix_orders_kind")
    assert "type_=sa.Integer(), existing_type=sa.BigInteger()" in down
    assert not list(path.parent.glob(".dbagents-*"))  # no temporary file left behind


def test_validate_only_revision_makes_the_constraint_not_valid_again_on_downgrade(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE})
    planned = plan_for_changes(tmp_path, [Change("validate_constraint", "orders", name="fk_orders_customer")])
    path = write_revision(planned)
    text = path.read_text()
    assert "with op.get_context().autocommit_block():" in text
    assert 'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")' in text
    down = text.split("def downgrade")[1]
    assert "DROP CONSTRAINT fk_orders_customer, ADD CONSTRAINT fk_orders_customer ' || def || ' NOT VALID" in down
    assert migration_findings(tmp_path, path.relative_to(tmp_path).as_posix()) == []


def test_model_changes_become_steps_and_notes(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE})
    changes = [Change("add_index", "orders", "customer_id"),
               Change("add_index", "orders", "customer_id"),  # the same change twice: one step
               Change("alter_type", "orders", "created", new_type="sa.DateTime(timezone=True)",
                      old_type="DateTime()"),
               Change("alter_type", "orders", "total", new_type="sa.BigInteger()"),  # old type unknown
               Change("alter_type", "orders", "x", new_type="__import__('os').system('id')", old_type="sa.Integer()"),
               Change("alter_nullable", "orders", "note", nullable=False)]
    planned = plan_for_changes(tmp_path, changes)
    kinds = [type(op).__name__ for op in planned.operations]
    assert kinds == ["CreateIndex", "AlterType", "SetNullable"]
    assert any("old type is unknown" in n for n in planned.notes)
    assert any("not a SQLAlchemy type" in n for n in planned.notes)
    assert "__import__" not in planned.text
    assert "AT TIME ZONE 'UTC'" in planned.text  # naive -> aware: the TimeZone warning
    assert "app/models.py:7: orders.created becomes DateTime(timezone=True)" in planned.text
    with pytest.raises(NothingToWrite) as caught:
        plan_for_changes(tmp_path, [Change("alter_type", "orders", "total", new_type="sa.BigInteger()")])
    assert caught.value.notes


def test_several_heads_are_refused(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE,
                             "0002_a.py": revision_text("0002", "0001", "    pass\n"),
                             "0003_b.py": revision_text("0003", "0001", "    pass\n")})
    with pytest.raises(InputError, match=r"2 heads \(0002, 0003\); run `alembic merge heads` first"):
        plan(tmp_path, ALL_OPS[:1], origin="t")
    assert sorted(p.name for p in (tmp_path / "migrations" / "versions").iterdir()) == \
        ["0001_base.py", "0002_a.py", "0003_b.py"]


def test_no_alembic_setup_is_refused(tmp_path):
    (tmp_path / "app.py").write_text("x = 1\n")
    with pytest.raises(InputError, match=r"no Alembic setup found .* run `alembic init migrations`"):
        plan(tmp_path, ALL_OPS[:1], origin="t")


def test_other_dialect_is_refused(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE}, ini_extra="sqlalchemy.url = sqlite:///app.db\n")
    with pytest.raises(InputError, match="targets sqlite"):
        plan(tmp_path, ALL_OPS[:1], origin="t")


def test_first_revision_of_an_empty_versions_folder(tmp_path):
    write_project(tmp_path, {})
    planned = plan(tmp_path, ALL_OPS[:1], origin="t", message="first")
    assert planned.down_revision is None and "down_revision = None" in planned.text


def test_file_template_of_alembic_ini_is_followed(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE}, ini_extra=(
        "file_template = %%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s\n"
        "truncate_slug_length = 10\n"))
    planned = plan(tmp_path, ALL_OPS[:1], origin="t", message="index the customer key")
    today = dt.date.today()
    assert planned.path.name.startswith(f"{today.year}_{today.month:02d}_{today.day:02d}_")
    assert planned.path.name.endswith(f"-{planned.revision}_index_the_.py")


def test_unknown_template_tokens_fall_back_to_the_default():
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert file_name("%(rev)s_%(nonsense)s", "abc", "slug", when) == "abc_slug.py"
    assert file_name("%(year)d/%(rev)s", "abc", "slug", when) == "abc_slug.py"
    assert file_name("%%(epoch)s_%%(rev)s", "abc", "s", when) == f"{int(when.timestamp())}_abc.py"
    assert slugify("Drop 1 redundant index, validate 2 constraints", 20) == "drop_1_redundant_"


def test_an_existing_file_is_never_overwritten(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE})
    planned = plan(tmp_path, ALL_OPS[:1], origin="t", message="x")
    planned.path.write_text("mine\n")
    with pytest.raises(InputError, match="already exists; nothing written"):
        write_revision(planned)
    assert planned.path.read_text() == "mine\n"
    assert [p.name for p in planned.path.parent.iterdir() if p.name.startswith(".")] == []


def test_written_file_has_the_usual_permissions(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE})
    path = write_revision(plan(tmp_path, ALL_OPS[:1], origin="t", message="x"))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_identifiers_fit_postgresql():
    assert identifier("ix", "orders", "customer_id") == "ix_orders_customer_id"
    long = identifier("ix", "a" * 40, "b" * 30, "c" * 10)
    assert len(long.encode()) <= MAX_IDENTIFIER and long != identifier("ix", "a" * 40, "b" * 30, "c" * 11)
    assert len(identifier("ix", "ü" * 40, "ß" * 10).encode()) <= MAX_IDENTIFIER


def test_sql_and_types_are_data_not_code():
    with pytest.raises(InputError):
        parse_type("sa.Integer(foo())")
    with pytest.raises(InputError):
        parse_type("os.system")
    assert parse_type("postgresql.TIMESTAMP(timezone=True)").source == "postgresql.TIMESTAMP(timezone=True)"
    assert sql_literal("SELECT ':x', a::int") == "SELECT '\\:x', a::int"
    assert concurrent_definition("CREATE UNIQUE INDEX u ON public.t USING btree (a)") == \
        "CREATE UNIQUE INDEX CONCURRENTLY u ON public.t USING btree (a)"


def test_recursive_version_locations_find_the_head_in_a_sub_folder(tmp_path):
    write_project(tmp_path, {"0001_base.py": BASE}, ini_extra="recursive_version_locations = true\n",
                  files={"migrations/versions/2026/0002_later.py": revision_text("0002", "0001", "    pass\n")})
    planned = plan(tmp_path, ALL_OPS[:1], origin="t", message="x")
    assert planned.down_revision == "0002"
    assert planned.path.parent == tmp_path / "migrations" / "versions" / "2026"
