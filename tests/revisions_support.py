"""Small Alembic projects on disk and helpers to run real Alembic against a PostgreSQL URL (revision tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ALEMBIC_INI = """[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
{extra}"""

ENV_PY = '''import os

from alembic import context
from sqlalchemy import create_engine, pool

{metadata}


def _url():
    url = os.environ["DATABASE_URL"]
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def run_migrations_offline():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

# a models project before its fixes (DBA108 Integer key, DBA104 unindexed FK, DBA105 naive DateTime) and the
# revision that created exactly that schema
MODELS_BEFORE = '''from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    note: Mapped[str | None] = mapped_column(Text)
'''
BASE_UP = '''    op.create_table("customers", sa.Column("id", sa.BigInteger(), primary_key=True))
    op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id"), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False), sa.Column("note", sa.Text()))
'''
METADATA = "from app.models import Base\n\ntarget_metadata = Base.metadata"
BASE_DOWN = '''    op.drop_table("orders")
    op.drop_table("customers")
'''


def write_project(root: Path, revisions: dict[str, str], *, metadata: str = "target_metadata = None",
                  files: dict[str, str] | None = None, ini_extra: str = "") -> Path:
    """An Alembic project: alembic.ini, migrations/env.py reading $DATABASE_URL, the given revision files."""
    (root / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI.format(extra=ini_extra))
    (root / "migrations" / "env.py").write_text(ENV_PY.format(metadata=metadata))
    for name, text in revisions.items():
        (root / "migrations" / "versions" / name).write_text(text)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def revision_text(rev: str, down: str | None, upgrade: str, downgrade: str = "    pass\n") -> str:
    return (f'"""{rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{rev}"\n'
            f"down_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}")


def alembic(project: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    """Run the real `alembic` CLI in `project` against `url`; fails the test with its output when it fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["DATABASE_URL"] = url
    result = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"alembic {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def new_files(folder: Path, before: set[str]) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if p.name not in before)
