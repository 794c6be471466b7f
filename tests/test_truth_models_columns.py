"""Model rules on shapes real projects use: a project's own DB wrapper (DBA101), columns whose NULL-ness the
annotation does not decide (DBA107), key types taken from the referenced column (DBA108) and tables built for
another database (DBA105/DBA110/DBA111)."""

from __future__ import annotations

from pathlib import Path

from models_support import check_project


def run(root: Path, files: dict[str, str], rules: set[str]):
    return sorted((f.rule_id, f.path, f.line) for f in check_project(root, files, rules))


WRAPPER = """
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.sql import text

    class Connection:
        def __init__(self, conn: AsyncConnection):
            self.conn = conn

        async def execute(self, query: str, values: dict | None = None):
            return await self.conn.execute(text(query), values or {})
"""


def test_dba101_project_connection_wrapper_is_not_sqlalchemy(tmp_path):
    migrations = """
        from sqlalchemy.exc import OperationalError
        from app.db import Connection

        async def m001_initial(db: Connection):
            await db.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY)")

            async def backfill(key: str):
                await db.execute(f"UPDATE accounts SET id = '{key}'")

        async def m002(db: "Connection | None"):
            await db.execute("DROP TABLE accounts")
    """
    real = """
        from sqlalchemy import create_engine
        from sqlalchemy.engine import Connection

        engine = create_engine("postgresql://localhost/app")

        def purge(conn: Connection):
            conn.execute("DELETE FROM audit")

        def vacuum():
            with engine.connect() as connection:
                connection.execute("VACUUM")

        def unknown(conn):
            conn.execute("ANALYZE")
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/db.py": WRAPPER, "app/schema_steps.py": migrations,
                           "app/real.py": real}, {"DBA101"})
    assert found == [("DBA101", "app/real.py", 8), ("DBA101", "app/real.py", 12), ("DBA101", "app/real.py", 15)]


def test_dba107_open_annotations_existing_columns_and_single_table_subclasses(tmp_path):
    models = """
        from typing import Any
        from sqlalchemy import String
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Price(Base):
            __tablename__ = "prices"
            id: Mapped[int] = mapped_column(primary_key=True)
            type: Mapped[Any] = mapped_column(String, nullable=True)
            amount: Mapped[int] = mapped_column(nullable=True)
            __mapper_args__ = {"polymorphic_on": "type"}

        class Legacy:
            type: Mapped[str] = mapped_column(use_existing_column=True, nullable=True)

        class FixedPrice(Price):
            price_amount: Mapped[int] = mapped_column(nullable=True)
            __mapper_args__ = {"polymorphic_identity": "fixed"}

        class OldPrice(Legacy, Price):
            __mapper_args__ = {"polymorphic_identity": "old"}
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": models}, {"DBA107"})
    # only the base table's own Mapped[int] column with nullable=True is a mismatch
    assert found == [("DBA107", "app/models.py", 13)]


def test_dba108_foreign_key_without_type_takes_the_referenced_type(tmp_path):
    models = """
        from sqlalchemy import BigInteger, ForeignKey, Integer
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

        class Base(DeclarativeBase):
            pass

        class Account(Base):
            __tablename__ = "accounts"
            id: Mapped[int] = mapped_column(BigInteger, primary_key=True)

        class Entry(Base):
            __tablename__ = "entries"
            id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
            account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
            old_account_id: Mapped[int] = mapped_column(Integer, ForeignKey("accounts.id"), index=True)
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": models}, {"DBA108"})
    assert found == [("DBA108", "app/models.py", 16)]  # only the explicit Integer key


def test_clickhouse_metadata_is_not_judged_by_postgres_rules(tmp_path):
    analytics = """
        from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect
        from sqlalchemy import Column, DateTime, MetaData, String, Table

        metadata = MetaData()

        events = Table(
            "events_by_timestamp",
            metadata,
            Column("id", String),
            Column("timestamp", DateTime),
        )
    """
    postgres = """
        from sqlalchemy import Column, DateTime, MetaData, String, Table

        metadata = MetaData()

        events = Table("events", metadata, Column("id", String), Column("at", DateTime))
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/analytics.py": analytics, "app/tables.py": postgres},
                {"DBA105", "DBA110", "DBA111"})
    assert found == [("DBA105", "app/tables.py", 6), ("DBA110", "app/tables.py", 4), ("DBA111", "app/tables.py", 6)]


UTC_TYPE = """
    import pytz
    from sqlalchemy.types import DateTime, TypeDecorator

    class UTCDateTime(TypeDecorator):
        impl = DateTime
        cache_ok = True

        def process_bind_param(self, value, dialect):
            return value.astimezone(pytz.utc).replace(tzinfo=None) if value else value

        def process_result_value(self, value, dialect):
            return value.replace(tzinfo=pytz.utc) if value else value
"""


def _tables(uses: int) -> str:
    aware = "".join(f"    Column('at{n}', UTCDateTime()),\n" for n in range(uses))
    return ("from sqlalchemy import Column, DateTime, Integer, MetaData, Table\n"
            "from app.types import UTCDateTime\n"
            "metadata = MetaData()\n"
            f"events = Table('events', metadata, Column('id', Integer, primary_key=True),\n{aware})\n"
            "slots = Table('slots', metadata, Column('id', Integer, primary_key=True),\n"
            "    Column('start_dt', DateTime, nullable=False))\n")


def test_dba105_plain_datetime_beside_the_projects_own_aware_type_is_info(tmp_path):
    """indico stores timestamps as its own UTCDateTime and writes plain DateTime only for room-booking slots
    (local wall-clock time on purpose): where a project has that convention, a plain column is info, naming it."""
    found = check_project(tmp_path / "three", {"app/types.py": UTC_TYPE, "app/tables.py": _tables(3)}, {"DBA105"})
    assert [(f.path, f.line, f.severity.label) for f in found] == [("app/tables.py", 10, "info")]
    assert "stores its timestamps as UTCDateTime" in found[0].message and "UTCDateTime" in found[0].hint
    found = check_project(tmp_path / "two", {"app/types.py": UTC_TYPE, "app/tables.py": _tables(2)}, {"DBA105"})
    assert [(f.path, f.line, f.severity.label) for f in found] == [("app/tables.py", 9, "warning")]
