"""Migration rules beyond their examples: same-revision tables, autocommit blocks, env.py timeouts, dialect
guards, helper functions, raw SQL, and the DBA208 cross-check against the models."""

from __future__ import annotations

from pathlib import Path

from dbagents.check.engine import check_tree
from dbagents.check.facts._alembic_sql import actions
from dbagents.config import Config
from dbagents.findings import Severity

INI = "[alembic]\nscript_location = migrations\n"
ENV_PY = """from alembic import context


def run_migrations_online():
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
"""
HEAD = 'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "a1"\ndown_revision = None\n\n\n'


def run(tmp_path: Path, upgrade: str, rules, *, downgrade="    op.drop_table('x')\n", files=None, env=ENV_PY,
        head=HEAD):
    tree = {"alembic.ini": INI, "migrations/env.py": env,
            "migrations/versions/a1.py": f"{head}def upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}",
            **(files or {})}
    for rel, text in tree.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled=set(rules), jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id in rules]


def lines(findings, rule=None):
    return sorted(f.line for f in findings if rule is None or f.rule_id == rule)


LOCK_RULES = {"DBA201", "DBA202", "DBA204", "DBA205", "DBA206", "DBA207", "DBA209", "DBA211"}


def test_table_created_in_same_revision_keeps_lock_rules_quiet(tmp_path):
    upgrade = (
        '    op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),\n'
        '                    sa.Column("customer_id", sa.Integer()))\n'
        '    op.add_column("orders", sa.Column("total", sa.Integer(), nullable=False))\n'
        '    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])\n'
        '    op.create_foreign_key("fk", "orders", "customers", ["customer_id"], ["id"])\n'
        '    op.create_unique_constraint("uq", "orders", ["customer_id"])\n'
        '    op.alter_column("orders", "customer_id", nullable=False, type_=sa.BigInteger())\n'
        '    op.alter_column("orders", "ref", new_column_name="reference")  # (total was added above: not DBA209)\n'
    )
    assert run(tmp_path, upgrade, LOCK_RULES) == []


def test_same_operations_on_existing_table_are_reported(tmp_path):
    upgrade = (
        '    op.add_column("orders", sa.Column("total", sa.Integer(), nullable=False))\n'
        '    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])\n'
        '    op.create_foreign_key("fk", "orders", "customers", ["customer_id"], ["id"])\n'
        '    op.create_unique_constraint("uq", "orders", ["customer_id"])\n'
        '    op.alter_column("orders", "customer_id", nullable=False, type_=sa.BigInteger())\n'
        '    op.alter_column("orders", "ref", new_column_name="reference")  # (total was added above: not DBA209)\n'
    )
    found = run(tmp_path, upgrade, LOCK_RULES)
    assert {f.rule_id: f.line for f in found} == {
        "DBA201": 9, "DBA202": 10, "DBA204": 11, "DBA205": 12, "DBA206": 13, "DBA207": 13, "DBA209": 14,
        "DBA211": 9,
    }


def test_create_table_in_raw_sql_counts_as_new(tmp_path):
    upgrade = ('    op.execute("""CREATE TABLE IF NOT EXISTS public.audit (id bigint, at timestamptz)""")\n'
               '    op.execute("CREATE INDEX ix_audit_at ON audit (at)")\n')
    assert run(tmp_path, upgrade, {"DBA202", "DBA211"}) == []


def test_autocommit_block_and_commit_trick(tmp_path):
    upgrade = (
        "    with op.get_context().autocommit_block():\n"                                       # 9
        '        op.create_index("ix_a", "t", ["a"], postgresql_concurrently=True)\n'            # 10
        '    op.create_index("ix_b", "t", ["b"], postgresql_concurrently=True)\n'                # 11
        '    op.execute(sa.text("REINDEX INDEX CONCURRENTLY ix_c"))\n'                           # 12
        '    op.execute("COMMIT")\n'                                                             # 13
        '    op.execute("CREATE INDEX CONCURRENTLY ix_d ON t (d)")\n'                            # 14
    )
    assert lines(run(tmp_path, upgrade, {"DBA203"})) == [11, 12]


def test_env_py_without_transactional_ddl_allows_concurrently(tmp_path):
    env = ENV_PY.replace("target_metadata=None", "target_metadata=None, transactional_ddl=False")
    upgrade = '    op.create_index("ix_b", "t", ["b"], postgresql_concurrently=True)\n'
    assert run(tmp_path, upgrade, {"DBA203"}, env=env) == []


def test_lock_timeout_in_revision_env_py_or_ini(tmp_path):
    upgrade = '    op.add_column("t", sa.Column("c", sa.Text()))\n'
    assert lines(run(tmp_path / "none", upgrade, {"DBA211"})) == [9]
    in_rev = "    op.execute(\"SET LOCAL lock_timeout = '4s'\")\n" + upgrade
    assert run(tmp_path / "rev", in_rev, {"DBA211"}) == []
    env = ENV_PY.replace("with engine.connect() as connection:",
                         'with create_engine(url, connect_args={"options": "-c statement_timeout=10s"}).connect()'
                         " as connection:")
    assert run(tmp_path / "env", upgrade, {"DBA211"}, env=env) == []


def test_lock_timeout_only_counts_in_the_env_it_belongs_to(tmp_path):
    env_timeout = ENV_PY.replace("with context.begin_transaction():",
                                 "connection.exec_driver_sql(\"SET lock_timeout TO '3s'\")\n"
                                 "        with context.begin_transaction():")
    upgrade = '    op.drop_column("t", "c")\n'
    found = run(tmp_path, upgrade, {"DBA211"}, files={
        "other/migrations/env.py": env_timeout,
        "other/migrations/versions/b.py": HEAD.replace('"a1"', '"b1"') + f"def upgrade():\n{upgrade}\n",
    })
    assert [(f.path, f.line) for f in found] == [("migrations/versions/a1.py", 9)]


def test_dialect_guards_and_sqlite_envs(tmp_path):
    upgrade = (
        '    if op.get_bind().dialect.name == "postgresql":\n'
        '        op.create_index("ix_a", "t", ["a"])\n'                     # 10: reported
        "    else:\n"
        '        op.create_index("ix_b", "t", ["b"])\n'                     # 12: other database
        '    if str(op.get_bind().engine.url).startswith("sqlite"):\n'
        '        op.create_index("ix_c", "t", ["c"])\n'                     # 14: sqlite only
    )
    assert lines(run(tmp_path / "guards", upgrade, {"DBA202"})) == [10]
    sqlite_tree = {"migrations/versions/sqlite/s1.py":
                   HEAD.replace('"a1"', '"s1"') + 'def upgrade():\n    op.create_index("ix", "t", ["a"])\n'}
    found = run(tmp_path / "sqlite", "    pass\n", {"DBA202"}, files=sqlite_tree)
    assert found == []


def test_module_helper_functions_and_loops_are_followed(tmp_path):
    head = HEAD + ('TABLES = ["a", "b"]\n\n\ndef _index(table):\n'
                   '    op.create_index(f"ix_{table}_org", table, ["org_id"])\n\n\n')
    upgrade = "    for table in TABLES:\n        _index(table)\n"
    found = run(tmp_path, upgrade, {"DBA202"}, head=head)
    assert lines(found) == [12]


def test_raw_sql_through_local_variable_and_text(tmp_path):
    upgrade = (
        '    sql = """\n'
        "        ALTER TABLE orders\n"
        "            ADD CONSTRAINT fk_c FOREIGN KEY (customer_id) REFERENCES customers (id),\n"
        "            ALTER COLUMN total SET NOT NULL;\n"
        '    """\n'
        "    op.execute(sa.text(sql))\n"
    )
    found = run(tmp_path, upgrade, {"DBA204", "DBA206"})
    assert {(f.rule_id, f.line) for f in found} == {("DBA204", 14), ("DBA206", 14)}


def test_backfill_update_recognised_in_sql():
    kinds = [a.kind for a in actions("UPDATE users SET plan = 'free' WHERE plan IS NULL; "
                                     "ALTER TABLE users ALTER COLUMN plan TYPE varchar(20) USING plan::varchar")]
    assert kinds == ["update", "alter_type"]
    assert actions("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON ONLY s.t USING gin (x)")[0].concurrently
    assert actions("select 1") == ()


def test_varchar_widening_is_not_a_type_change(tmp_path):
    upgrade = (
        '    op.alter_column("t", "a", type_=sa.String(length=255), existing_type=sa.VARCHAR(length=100))\n'
        '    op.alter_column("t", "b", type_=sa.Text(), existing_type=sa.String(40))\n'
        '    op.alter_column("t", "c", type_=sa.String(), existing_type=sa.String(40))\n'
        '    op.alter_column("t", "d", type_=sa.String(10), existing_type=sa.Text())\n'       # 12: narrowing
        '    op.alter_column("t", "e", type_=sa.Integer(), existing_type=sa.String(10))\n'    # 13
    )
    assert lines(run(tmp_path, upgrade, {"DBA207"})) == [12, 13]


def test_downgrade_kinds(tmp_path):
    upgrade = '    op.add_column("t", sa.Column("c", sa.Text()))\n'
    assert lines(run(tmp_path / "a", upgrade, {"DBA212"}, downgrade="    ...\n")) == [12]
    assert lines(run(tmp_path / "b", upgrade, {"DBA212"},
                     downgrade='    raise RuntimeError("irreversible")\n')) == [12]
    assert run(tmp_path / "c", upgrade, {"DBA212"}, downgrade='    op.drop_column("t", "c")\n') == []


MODELS = '''from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str] = mapped_column(String(50))


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
'''


def test_drop_is_error_while_a_model_still_maps_it(tmp_path):
    upgrade = (
        '    op.drop_column("users", "nickname")\n'                 # 9: still mapped -> error
        '    op.drop_column("users", "legacy_flag")\n'              # 10: not mapped -> warning
        '    op.drop_table("users_old")\n'                          # 11: warning
        '    op.execute("DROP TABLE public.audit")\n'               # 12: mapped (default schema) -> error
        '    op.drop_table("audit", schema="logs")\n'               # 13: logs.audit is not the mapped table
    )
    found = run(tmp_path, upgrade, {"DBA208"}, files={"app/models.py": MODELS})
    by_line = {f.line: f for f in found}
    assert sorted(by_line) == [9, 10, 11, 12, 13]
    assert by_line[9].severity == Severity.ERROR and "app/models.py:12" in by_line[9].message
    assert by_line[12].severity == Severity.ERROR
    assert {by_line[n].severity for n in (10, 11, 13)} == {Severity.WARNING}


def test_noqa_on_last_line_of_a_multiline_operation(tmp_path):
    upgrade = '    op.create_index(\n        "ix_a", "t", ["a"]\n    )  # noqa: DBA202\n'
    assert run(tmp_path, upgrade, {"DBA202"}) == []


def test_drop_then_readd_under_same_name_is_not_an_error(tmp_path):
    upgrade = (
        '    op.drop_column("users", "nickname")\n'                                              # 9
        '    op.alter_column("users", "nickname_v2", new_column_name="nickname")\n'
        '    op.drop_table("audit")\n'                                                           # 11
    )
    later = HEAD.replace('"a1"', '"b2"').replace("down_revision = None", 'down_revision = "a1"') + (
        'def upgrade():\n    op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))\n')
    found = run(tmp_path, upgrade, {"DBA208"}, files={"app/models.py": MODELS,
                                                      "migrations/versions/b2.py": later})
    assert sorted((f.path, f.line, f.severity) for f in found) == [
        ("migrations/versions/a1.py", 9, Severity.WARNING), ("migrations/versions/a1.py", 11, Severity.WARNING)]


def test_column_readded_in_a_later_revision_is_not_an_error(tmp_path):
    later = HEAD.replace('"a1"', '"b2"').replace("down_revision = None", 'down_revision = "a1"') + (
        'def upgrade():\n    op.add_column("users", sa.Column("nickname", sa.Text()))\n')
    found = run(tmp_path, '    op.drop_column("users", "nickname")\n', {"DBA208"},
                files={"app/models.py": MODELS, "migrations/versions/b2.py": later})
    assert [(f.line, f.severity) for f in found] == [(9, Severity.WARNING)]
