"""Relationship rules say what really happens: DBA112 (delete cascades), DBA116 (lazy loads in loops), DBA103.

Each case is a small project of its own, checked through the engine like a user's tree.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from dbagents.findings import Severity
from models_support import check_project

MODELS = """
    from sqlalchemy import ForeignKey, Integer
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(primary_key=True)
        books = relationship("Book", back_populates="author")
        drafts = relationship("Draft", cascade="all, delete-orphan")
        notes = relationship("Note", lazy="selectin")
        pinned_id = mapped_column(Integer)
        pinned = relationship("Note", primaryjoin="Note.id == Author.pinned_id", viewonly=False)

    class Book(Base):
        __tablename__ = "books"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
        author = relationship("Author", back_populates="books")
        pages = relationship("Page")

    class Draft(Base):
        __tablename__ = "drafts"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), nullable=True, index=True)

    class Note(Base):
        __tablename__ = "notes"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)

    class Page(Base):
        __tablename__ = "pages"
        id: Mapped[int] = mapped_column(primary_key=True)
        book_id: Mapped[int] = mapped_column(ForeignKey("books.id"), index=True)
"""

LOOPS = """
    from sqlalchemy import select
    from app.models import Book

    def titles(session):
        for book in session.scalars(select(Book)):
            print(book.author.id)

    def page_counts(session):
        for book in session.scalars(select(Book)):
            print(len(book.pages))
"""


def run(root: Path, files: dict[str, str], rules: set[str]):
    return check_project(root, files, rules)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def test_dba112_says_what_a_missing_delete_cascade_does(tmp_path):
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS}, {"DBA112"})
    by_line = {f.line: f for f in found}
    # books: no delete cascade, NOT NULL key -> the ORM's UPDATE ... SET author_id = NULL fails
    books = by_line[line_of(MODELS, "books = relationship")]
    assert "no delete cascade" in books.message and "books.author_id to NULL" in books.message
    assert "NOT NULL, so the delete fails" in books.message
    # drafts: delete cascade, lazy default -> the ORM loads them first (the passive_deletes finding)
    drafts = by_line[line_of(MODELS, "drafts = relationship")]
    assert "without passive_deletes=True the ORM loads them first" in drafts.message
    # notes: eager-loaded but no delete cascade -> still nulls the key
    notes = by_line[line_of(MODELS, "notes = relationship")]
    assert "no delete cascade" in notes.message
    # pinned: many-to-one through our own column (primaryjoin to the target's key) -> nothing to delete
    assert line_of(MODELS, "pinned = relationship") not in by_line
    assert len(found) == 3


def test_dba112_eager_collection_with_delete_cascade_is_fine(tmp_path):
    models = MODELS.replace('notes = relationship("Note", lazy="selectin")',
                            'notes = relationship("Note", lazy="selectin", cascade="all, delete-orphan")')
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": models}, {"DBA112"})
    assert line_of(models, "notes = relationship") not in {f.line for f in found}


def test_dba116_many_to_one_is_per_distinct_parent_and_info(tmp_path):
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/report.py": LOOPS}, {"DBA116"})
    many_to_one = next(f for f in found if f.line == line_of(LOOPS, "book.author.id"))
    assert many_to_one.severity == Severity.INFO
    assert "many-to-one Book.author" in many_to_one.message
    assert "one query per distinct Author not already in the session" in many_to_one.message
    assert "joinedload(Book.author)" in many_to_one.hint
    collection = next(f for f in found if f.line == line_of(LOOPS, "book.pages"))
    assert collection.severity == Severity.WARNING
    assert "once per Book row" in collection.message and "selectinload(Book.pages)" in collection.hint


def test_dba116_backref_direction_is_the_reverse_of_its_relationship(tmp_path):
    models = MODELS.replace('pages = relationship("Page")', 'pages = relationship("Page", backref="book")')
    loops = LOOPS + """
    def books_of_pages(session):
        for page in session.scalars(select(Page)):
            print(page.book.id)
"""
    loops = loops.replace("from app.models import Book", "from app.models import Book, Page")
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": models, "app/report.py": loops}, {"DBA116"})
    backref = next(f for f in found if f.line == line_of(loops, "page.book.id"))
    assert backref.severity == Severity.INFO and "many-to-one Page.book" in backref.message


def test_dba116_backref_of_a_collection_keyed_by_foreign_keys_is_many_to_one(tmp_path):
    # teams and users point at each other (captain_id / team_id): only foreign_keys= tells the direction
    models = """
        from sqlalchemy import ForeignKey, Integer, Column
        from sqlalchemy.orm import DeclarativeBase, relationship

        class Base(DeclarativeBase):
            pass

        class Users(Base):
            __tablename__ = "users"
            id = Column(Integer, primary_key=True)
            team_id = Column(Integer, ForeignKey("teams.id"))

        class Teams(Base):
            __tablename__ = "teams"
            id = Column(Integer, primary_key=True)
            captain_id = Column(Integer, ForeignKey("users.id"))
            members = relationship("Users", backref="team", foreign_keys="Users.team_id")
    """
    loops = """
        from sqlalchemy import select
        from app.models import Teams, Users

        def names(session):
            for user in session.scalars(select(Users)):
                print(user.team.id)

        def sizes(session):
            for team in session.scalars(select(Teams)):
                print(len(team.members))
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/models.py": models, "app/report.py": loops}, {"DBA116"})
    by_line = {f.line: f for f in found}
    assert by_line[line_of(loops, "user.team.id")].severity == Severity.INFO
    assert by_line[line_of(loops, "team.members")].severity == Severity.WARNING


def test_dba103_star_kwargs_from_a_module_dict_and_an_unreadable_one(tmp_path):
    models = """
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
        from app.helpers import rel_args

        OWNED = {"back_populates": "user", "cascade": "all, delete-orphan"}

        class Base(DeclarativeBase):
            pass

        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            tokens: Mapped[list["Token"]] = relationship(**OWNED)
            keys: Mapped[list["Key"]] = relationship(**rel_args("user"))

        class Token(Base):
            __tablename__ = "tokens"
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
            user: Mapped["User"] = relationship()

        class Key(Base):
            __tablename__ = "keys"
            id: Mapped[int] = mapped_column(primary_key=True)
            user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
            user: Mapped["User"] = relationship(back_populates="keys")
    """
    found = run(tmp_path, {"app/__init__.py": "", "app/helpers.py": "", "app/models.py": models}, {"DBA103"})
    # Token.user is the side that lacks back_populates; User.keys' **call cannot be read, so nothing on it
    assert [(f.line, f.message) for f in found] == [
        (line_of(models, "user: Mapped[\"User\"] = relationship()"),
         "Token.user lacks back_populates='tokens' although User.tokens names it")]
