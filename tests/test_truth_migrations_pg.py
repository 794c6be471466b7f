"""DBA207 and DBA218 held to what PostgreSQL and SQLAlchemy really do: each case runs the migration operation
through Alembic on a real server, and the rule must report exactly the cases that rewrite the table (relfilenode
changes) or that SQLAlchemy refuses / PostgreSQL truncates."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.exc import IdentifierError

from dbagents.check.engine import check_tree
from dbagents.config import Config
from dbagents.findings import Severity
from test_check_migrations_rules import ENV_PY, HEAD, INI

def findings(tmp_path: Path, upgrade: str, downgrade: str, rule: str):
    tree = {"alembic.ini": INI, "migrations/env.py": ENV_PY,
            "migrations/versions/a1.py":
                f"{HEAD}def upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    {downgrade}\n"}
    for rel, text in tree.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={rule}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == rule]


@pytest.fixture(scope="module")
def engine(pg_server):
    eng = sa.create_engine(pg_server.createdb("truth").replace("postgresql://", "postgresql+psycopg://"))
    yield eng
    eng.dispose()


def _run(engine, setup: str, upgrade: str):
    """Create the table, run the operation through Alembic's `op`; (relfilenode before, after)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS orders")
        conn.exec_driver_sql(f"CREATE TABLE orders (id integer PRIMARY KEY, c {setup})")
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, NULL)")
        before = conn.exec_driver_sql("SELECT relfilenode FROM pg_class WHERE relname = 'orders'").scalar()
        op = Operations(MigrationContext.configure(conn))
        exec(upgrade, {"op": op, "sa": sa})  # the operation exactly as the revision file spells it
        after = conn.exec_driver_sql("SELECT relfilenode FROM pg_class WHERE relname = 'orders'").scalar()
    return before, after


TYPE_CASES = [
    # (column type before, upgrade(), downgrade(), rewrites?)
    ("numeric(10,2)", 'op.alter_column("orders", "c", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))',
     "pass", False),
    ("numeric(10,2)", 'op.alter_column("orders", "c", type_=sa.Numeric(12, 2))',
     'op.alter_column("orders", "c", type_=sa.Numeric(10, 2))', False),
    ("numeric(10,2)", 'op.alter_column("orders", "c", type_=sa.Numeric(), existing_type=sa.Numeric(10, 2))',
     "pass", False),
    ("numeric(10,2)", 'op.alter_column("orders", "c", type_=sa.Numeric(12, 3), existing_type=sa.Numeric(10, 2))',
     "pass", True),
    ("numeric(10,2)", 'op.alter_column("orders", "c", type_=sa.Numeric(8, 2), existing_type=sa.Numeric(10, 2))',
     "pass", True),
    ("numeric", 'op.alter_column("orders", "c", type_=sa.Numeric(12, 2), existing_type=sa.Numeric())', "pass", True),
    ("varchar", 'op.alter_column("orders", "c", type_=sa.Text())', 'op.alter_column("orders", "c", type_=sa.String())',
     False),
    ("varchar(10)", 'op.alter_column("orders", "c", type_=sa.String(20))',
     'op.alter_column("orders", "c", type_=sa.String(10))', False),
    ("varchar", 'op.alter_column("orders", "c", type_=sa.String(255), existing_type=sa.String())', "pass", True),
    ("integer", 'op.alter_column("orders", "c", type_=sa.BigInteger(), existing_type=sa.Integer())', "pass", True),
    ("json", 'op.alter_column("orders", "c", type_=sa.dialects.postgresql.JSONB(), existing_type=sa.JSON(),'
     ' postgresql_using="c::jsonb")', "pass", True),
    ("numeric(8,2)",
     'op.execute("ALTER TABLE orders ALTER COLUMN c SET DATA TYPE numeric(11,2) USING c::numeric(11,2)")',
     'op.execute("ALTER TABLE orders ALTER COLUMN c SET DATA TYPE numeric(8,2) USING c::numeric(8,2)")', False),
    ("numeric(8,2)", 'op.execute("ALTER TABLE orders ALTER COLUMN c TYPE numeric(11,3)")',
     'op.execute("ALTER TABLE orders ALTER COLUMN c TYPE numeric(8,2)")', True),
]


@pytest.mark.parametrize("setup,upgrade,downgrade,rewrites", TYPE_CASES, ids=[c[1][:60] for c in TYPE_CASES])
def test_dba207_reports_exactly_the_type_changes_that_rewrite(engine, tmp_path, setup, upgrade, downgrade, rewrites):
    before, after = _run(engine, setup, upgrade)
    assert (before != after) == rewrites, "the case's expectation disagrees with PostgreSQL"
    assert bool(findings(tmp_path, upgrade, downgrade, "DBA207")) == rewrites


LONG = "ix_orders_" + "customer_reference_and_fulfilment_" * 2  # 78 bytes


def test_dba218_literal_index_name_is_an_error_because_sqlalchemy_raises(engine, tmp_path):
    with pytest.raises(IdentifierError):
        _run(engine, "integer", f'op.create_index("{LONG}", "orders", ["c"])')
    found = findings(tmp_path, f'op.create_index("{LONG}", "orders", ["c"])', "pass", "DBA218")
    assert [f.severity for f in found] == [Severity.ERROR]
    assert "SQLAlchemy raises IdentifierError" in found[0].message


def test_dba218_op_f_name_is_shortened_by_sqlalchemy_and_not_reported(engine, tmp_path):
    _run(engine, "integer", f'op.create_index(op.f("{LONG}"), "orders", ["c"])')
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'").scalars().all()
    shortened = [n for n in names if n.startswith("ix_orders_customer")]
    assert len(shortened) == 1 and len(shortened[0]) <= 63 and shortened[0] != LONG[:63]  # md5 suffix
    assert findings(tmp_path, f'op.create_index(op.f("{LONG}"), "orders", ["c"])', "pass", "DBA218") == []


def test_dba218_raw_sql_name_is_truncated_by_postgresql(engine, tmp_path):
    upgrade = f'op.execute("CREATE INDEX {LONG} ON orders (c)")'
    _run(engine, "integer", upgrade)
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'").scalars().all()
    assert LONG[:63] in names
    found = findings(tmp_path, upgrade, "pass", "DBA218")
    assert [f.severity for f in found] == [Severity.WARNING] and "PostgreSQL truncates" in found[0].message
