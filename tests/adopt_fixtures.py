"""A small project with models and a hash-named Alembic chain, shared by the tests/test_adopt_*.py files."""

from __future__ import annotations

import subprocess
from pathlib import Path

INI = "[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql://localhost/app\n"
ENV_PY = '''from alembic import context


def run_migrations_online():
    context.configure(connection=None, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
'''
MODELS = '''from sqlalchemy import select


def active(User):
    return select(User).where(User.deleted_at is None)
'''
CREATE = '''"""create orders"""
import sqlalchemy as sa
from alembic import op

revision = "3f2a9c1b"
down_revision = None


def upgrade():
    op.create_table("orders", sa.Column("id", sa.BigInteger(), primary_key=True), sa.Column("note", sa.Text()))


def downgrade():
    op.drop_table("orders")
'''


def index_revision(rev: str, down: str, column: str) -> str:
    return f'''"""index {column}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"


def upgrade():
    op.create_index("ix_orders_{column}", "orders", ["{column}"])


def downgrade():
    op.drop_index("ix_orders_{column}", table_name="orders")
'''


# hash-named files: the cut-off is found on the graph, not by file name
FILES = {
    "alembic.ini": INI,
    "migrations/env.py": ENV_PY,
    "migrations/versions/a1b2c3_.py": CREATE,
    "migrations/versions/d4e5f6_.py": index_revision("8c1d7e2f", "3f2a9c1b", "note"),
    "app/models.py": MODELS,
}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(root), "PATH": "/usr/bin:/bin"}).stdout


def make_project(root: Path, *, repo: bool = False, pyproject: str = "") -> Path:
    write(root, FILES)
    if pyproject:
        (root / "pyproject.toml").write_text(pyproject)
    if repo:
        git(root, "init", "-q", "-b", "main")
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", "init")
    return root
