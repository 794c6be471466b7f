"""DBA101/DBA113/DBA115/DBA116 beyond the rule examples: cross-file models, eager options, async, severities."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.config import Config
from dbagents.findings import Severity

MODELS = '''
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class OwnedMixin:
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    books: Mapped[list["Book"]] = relationship(back_populates="author")
    awards: Mapped[list["Award"]] = relationship(lazy="selectin")
    notes: Mapped[list["Note"]] = relationship(lazy="raise")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    author: Mapped[Author] = relationship(back_populates="books")
    reviews: Mapped[list["Review"]] = relationship(backref="book")


class Review(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"), index=True)


class Award(Base):
    __tablename__ = "awards"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)


class Ebook(Book):
    __tablename__ = "ebooks"
    id: Mapped[int] = mapped_column(ForeignKey("books.id"), primary_key=True)
'''


def run(tmp_path: Path, code: str, rule: str, path: str = "app/service.py", models: bool = True) -> list:
    files = {path: code}
    if models:
        files["app/models.py"] = MODELS
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={rule}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == rule]


def n1_lines(tmp_path, code: str) -> list[int]:
    return [f.line for f in run(tmp_path, "from sqlalchemy import select\n" + code, "DBA116")]


@pytest.mark.parametrize(
    "code,expected",
    [
        # plain loop over scalars(): reported at the access
        ("def f(s):\n    for a in s.scalars(select(Author)):\n        print(a.books)\n", [4]),
        # eager option added to the statement variable later, after a where()
        ("def f(s, x):\n    stmt = select(Author)\n    if x:\n        stmt = stmt.where(Author.id > x)\n"
         "    stmt = stmt.options(selectinload(Author.books))\n"
         "    for a in s.scalars(stmt).all():\n        print(a.books)\n", []),
        # option for another relationship does not cover this one
        ("def f(s):\n    stmt = select(Author).options(joinedload(Author.awards))\n"
         "    return [len(a.books) for a in s.scalars(stmt)]\n", [4]),
        # mapping-level lazy="selectin" and lazy="raise"
        ("def f(s):\n    return [(a.awards, a.notes) for a in s.scalars(select(Author))]\n", []),
        # wildcard and unknown options count as eager
        ("def f(s):\n    for a in s.scalars(select(Author).options(selectinload('*'))):\n        print(a.books)\n", []),
        ("def f(s, opts):\n    for a in s.scalars(select(Author).options(*opts)):\n        print(a.books)\n", []),
        # dict comprehension over execute().scalars() stored in a variable first
        ("def f(s):\n    res = s.execute(select(Book))\n    return {b.id: b.author.name for b in res.scalars()}\n", [4]),
        # async: (await session.scalars(...)).all() and result variable
        ("async def f(s):\n    rows = (await s.scalars(select(Book))).all()\n    for b in rows:\n"
         "        print(b.author)\n", [5]),
        ("async def f(s):\n    result = await s.execute(select(Book).options(joinedload(Book.author)))\n"
         "    for b in result.scalars():\n        print(b.author)\n", []),
        # legacy Query, iterated directly, and Flask's Model.query
        ("def f(s):\n    for b in s.query(Book).filter(Book.id > 1):\n        print(b.author)\n", [4]),
        ("def f():\n    for b in Book.query.options(joinedload(Book.author)).all():\n        print(b.author)\n", []),
        # relationship created by backref= on the other side
        ("def f(s):\n    for r in s.scalars(select(Review)):\n        print(r.book)\n", [4]),
        # relationship inherited from a mapped parent class
        ("def f(s):\n    for e in s.scalars(select(Ebook)):\n        print(e.author)\n", [4]),
        # second level: the chained option covers books but not books.reviews
        ("def f(s):\n    stmt = select(Author).options(selectinload(Author.books))\n"
         "    for a in s.scalars(stmt):\n        for b in a.books:\n            print(b.reviews)\n", [6]),
        ("def f(s):\n    stmt = select(Author).options(selectinload(Author.books).selectinload(Book.reviews))\n"
         "    for a in s.scalars(stmt):\n        for b in a.books:\n            print(b.reviews)\n", []),
        # a single row is not a loop; columns are not relationships
        ("def f(s):\n    a = s.scalars(select(Author)).first()\n    return a.books\n", []),
        ("def f(s):\n    return [a.name for a in s.scalars(select(Author))]\n", []),
        # the statement variable is rebound to another entity before the loop
        ("def f(s):\n    stmt = select(Book)\n    stmt = select(Author).options(selectinload(Author.books))\n"
         "    for a in s.scalars(stmt):\n        print(a.books)\n", []),
    ],
)
def test_static_n_plus_one(tmp_path, code, expected):
    assert n1_lines(tmp_path, code) == expected


def test_n_plus_one_reported_once_per_relationship_per_loop(tmp_path):
    code = "def f(s):\n    for a in s.scalars(select(Author)):\n        print(a.books)\n        print(len(a.books))\n"
    found = run(tmp_path, "from sqlalchemy import select\n" + code, "DBA116")
    assert [f.line for f in found] == [4]
    assert "Author.books" in found[0].message and "selectinload(Author.books)" in found[0].hint


def test_n_plus_one_needs_the_model_index(tmp_path):
    code = "from sqlalchemy import select\ndef f(s):\n    for a in s.scalars(select(Author)):\n        print(a.books)\n"
    assert run(tmp_path, code, "DBA116", models=False) == []


def test_dba101_severity_per_finding(tmp_path):
    code = (
        "from sqlalchemy import select, MetaData\n"
        "from sqlalchemy.ext.declarative import declarative_base\n"
        "users = session.query(User).all()\n"
        "conn.execute('SELECT 1')\n"
        "stmt = select([User.id])\n"
    )
    found = {f.line: f.severity for f in run(tmp_path, code, "DBA101", models=False)}
    assert found == {2: Severity.WARNING, 3: Severity.INFO, 4: Severity.ERROR, 5: Severity.ERROR}


def test_dba101_string_through_variable_and_engine_execute(tmp_path):
    code = (
        "import sqlalchemy as sa\n"
        "def f(connection):\n"
        "    sql = 'DELETE FROM t'\n"
        "    connection.execute(sql)\n"
        "    connection.execute(sa.text(sql))\n"
        "    engine.execute(sa.text(sql))\n"
    )
    assert sorted(f.line for f in run(tmp_path, code, "DBA101", models=False)) == [4, 6]


def test_dba113_gather_shares_session_only_when_two_tasks_use_it(tmp_path):
    code = (
        "import asyncio\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def ok(session: AsyncSession):\n"
        "    await asyncio.gather(load(session), fetch_http())\n"
        "async def bad(db: AsyncSession):\n"
        "    await asyncio.gather(db.execute(a), db.execute(b))\n"
    )
    assert [f.line for f in run(tmp_path, code, "DBA113", models=False)] == [6]


def test_dba113_sync_engine_from_module_in_async_def(tmp_path):
    code = (
        "from sqlalchemy import create_engine\n"
        "engine = create_engine(URL)\n"
        "async def handler():\n"
        "    with engine.connect() as conn:\n"
        "        return conn.execute(q)\n"
        "def sync_handler():\n"
        "    with engine.connect() as conn:\n"
        "        return conn.execute(q)\n"
    )
    assert [f.line for f in run(tmp_path, code, "DBA113", models=False)] == [4]


def test_dba115_unused_statement_variable_and_tests_skipped(tmp_path):
    code = (
        "from sqlalchemy import update, select\n"
        "def f(session):\n"
        "    stmt = update(User).where(User.id == 1).values(name='x')\n"
        "    n = len(session.scalars(select(User)).all())\n"
        "    return n\n"
    )
    assert sorted(f.line for f in run(tmp_path, code, "DBA115", models=False)) == [3, 4]
    assert [f.line for f in run(tmp_path / "t", code, "DBA115", path="tests/test_users.py", models=False)] == []
