"""ModelIndex across files and the model rules on harder cases than their examples."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.config import Config


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")


def run(root: Path, files: dict[str, str], enabled=frozenset()):
    write(root, files)
    out = check_tree([root], root=root, config=Config(), enabled=set(enabled), jobs=1, use_cache=False)
    return out.project.get("models"), out.findings


def lines(findings, rule, path=None):
    return sorted((f.path, f.line) for f in findings if f.rule_id == rule and (path is None or f.path == path))


CROSS_FILE = {
    "app/__init__.py": "",
    "app/db/__init__.py": "from .base import Base\n",
    "app/db/base.py": """
        from datetime import datetime
        from sqlalchemy import DateTime, MetaData
        from sqlalchemy.ext.asyncio import AsyncAttrs
        from sqlalchemy.orm import DeclarativeBase

        class Base(AsyncAttrs, DeclarativeBase):
            metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})
            type_annotation_map = {datetime: DateTime(timezone=True)}

        class Abstract(Base):
            __abstract__ = True
            id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """,
    "app/mixins.py": """
        from datetime import datetime
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import Mapped, mapped_column

        class Timestamps:
            created_at: Mapped[datetime]
            updated_at: Mapped[datetime] = mapped_column(DateTime)

        class OrgOwned:
            org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    """,
    "app/models/user.py": """
        from sqlalchemy import ForeignKey, Index
        from sqlalchemy.orm import Mapped, mapped_column, relationship
        from app.db import Base
        from app.db.base import Abstract
        from ..mixins import Timestamps, OrgOwned

        class Org(Abstract):
            __tablename__ = "orgs"
            users: Mapped[list["User"]] = relationship(back_populates="org")

        class User(Timestamps, OrgOwned, Abstract):
            __tablename__ = "users"
            __table_args__ = (Index("ix_users_org_name", "org_id", "name"),)
            name: Mapped[str]
            team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
            org: Mapped["Org"] = relationship(back_populates="users")

        class Project(OrgOwned, Abstract):
            __tablename__ = "projects"

        Index("ix_users_team", User.__table__.c.team_id)
    """,
}


def test_cross_file_hierarchy_mixins_and_locate(tmp_path):
    index, _ = run(tmp_path, CROSS_FILE)
    user = index.classes["User"]
    assert user.concrete and user.tablename == "users" and user.family == "declarative"
    assert index.classes["Abstract"].abstract and index.classes["Base"].root
    assert index.classes["Timestamps"].mixin and index.classes["OrgOwned"].mixin
    assert set(user.columns) == {"created_at", "updated_at", "org_id", "id", "name", "team_id"}
    assert user.columns["org_id"].foreign_keys == ["orgs.id"]
    assert user.columns["org_id"].sql_type == "BigInteger"  # no type given: the referenced key's (SQLAlchemy 2.x)
    assert user.relationships["org"].target == "Org" and user.relationships["org"].back_populates == "users"
    # created_at resolves through the base's type map; updated_at has an explicit naive DateTime
    assert user.columns["created_at"].timezone is True
    assert user.columns["updated_at"].timezone is False
    assert index.locate("users", "org_id") == ("app/mixins.py", 11)
    assert index.locate("users") == ("app/models/user.py", 12)
    assert index.locate("nope") is None


def test_cross_file_rules(tmp_path):
    _, findings = run(tmp_path, CROSS_FILE, {"DBA104", "DBA105", "DBA108", "DBA110"})
    # users.org_id leads ix_users_org_name and users.team_id is indexed at module level; projects.org_id is not
    assert lines(findings, "DBA104") == [("app/mixins.py", 11)]
    assert "projects" in next(f.message for f in findings if f.rule_id == "DBA104")
    assert lines(findings, "DBA105") == [("app/mixins.py", 8)]
    # the mixin's Mapped[int] foreign key gives no type: SQLAlchemy 2.x takes the referenced BigInteger key's
    assert lines(findings, "DBA108") == []
    assert lines(findings, "DBA110") == []


@pytest.mark.parametrize("table_args, covered", [
    ("(UniqueConstraint('owner_id', 'slug'),)", True),
    ("(UniqueConstraint('slug', 'owner_id'),)", False),
    ("(PrimaryKeyConstraint('owner_id', 'slug'),)", True),
    ("(Index('ix', 'slug', 'owner_id'), {'schema': 'x'})", False),
    ("(Index('ix', owner_id.desc(), 'slug'),)", True),
    ("(Index('ix', func.lower(slug), owner_id),)", False),
    ("{'schema': 'x'}", False),
])
def test_fk_coverage_by_constraints(tmp_path, table_args, covered):
    code = f"""
        from sqlalchemy.orm import DeclarativeBase
        class Base(DeclarativeBase):
            pass
        class Page(Base):
            __tablename__ = "pages"
            id: Mapped[int] = mapped_column(BigInteger, Identity())
            owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"))
            slug: Mapped[str]
            __table_args__ = {table_args}
    """
    _, findings = run(tmp_path, {"m.py": code}, {"DBA104"})
    assert (lines(findings, "DBA104") == []) is covered


def test_composite_fk_and_composite_pk(tmp_path):
    code = """
        links = Table("links", metadata,
            Column("a_id", BigInteger, primary_key=True),
            Column("b_id", BigInteger, primary_key=True),
            Column("c_id", BigInteger),
            Column("d_id", BigInteger),
            ForeignKeyConstraint(["a_id", "b_id"], ["ab.a", "ab.b"]),
            ForeignKeyConstraint(["c_id", "d_id"], ["cd.c", "cd.d"], ondelete="CASCADE"),
            ForeignKeyConstraint(["b_id"], ["bs.id"]),
            Index("ix_links_dc", "d_id", "c_id"),
        )
    """
    index, findings = run(tmp_path, {"core.py": code}, {"DBA104"})
    t = index.tables["links"]
    assert t.core and t.primary_key == ("a_id", "b_id")
    assert {fk.columns for fk in t.foreign_keys} == {("a_id", "b_id"), ("c_id", "d_id"), ("b_id",)}
    assert lines(findings, "DBA104") == [("core.py", 9)]  # only b_id alone: second column of the PK


def test_type_resolution_aliases_typedecorators_annotated(tmp_path):
    files = {
        "types.py": """
            from typing import Annotated
            from datetime import datetime
            from sqlalchemy import DateTime, TIMESTAMP
            from sqlalchemy.dialects import postgresql
            from sqlalchemy.types import TypeDecorator

            TZDateTime = DateTime(timezone=True)
            Naive = DateTime()
            class UTC(TypeDecorator):
                impl = TIMESTAMP(timezone=True)
            class LegacyUTC(TypeDecorator):
                impl = DateTime
            class SubUTC(UTC):
                pass
            tstz = Annotated[datetime, mapped_column(postgresql.TIMESTAMP(True))]
        """,
        "models.py": """
            from datetime import datetime
            from sqlalchemy.orm import DeclarativeBase
            from types import TZDateTime, Naive, UTC, LegacyUTC, SubUTC, tstz
            class Base(DeclarativeBase):
                pass
            class Ev(Base):
                __tablename__ = "ev"
                id: Mapped[int] = mapped_column(primary_key=True)
                a: Mapped[datetime] = mapped_column(TZDateTime)
                b: Mapped[datetime] = mapped_column(UTC())
                c: Mapped[datetime] = mapped_column(SubUTC)
                d: Mapped[tstz]
                e: Mapped[datetime] = mapped_column(DateTime(True))
                f: Mapped[datetime] = mapped_column(Naive)
                g: Mapped[datetime] = mapped_column(LegacyUTC())
                h: Mapped[datetime] = mapped_column(LegacyUTC())
                i: Mapped[datetime]
        """,
    }
    index, findings = run(tmp_path, files, {"DBA105"})
    cols = index.tables["ev"].columns
    assert [k for k in "abcde" if cols[k].timezone is not True] == []
    assert cols["f"].timezone is False and cols["g"].timezone is False and cols["i"].timezone is False
    assert lines(findings, "DBA105") == [("models.py", 18), ("types.py", 9), ("types.py", 13)]


def test_sqlmodel_and_flask(tmp_path):
    files = {
        "sm.py": """
            from datetime import datetime
            from typing import Optional
            from sqlmodel import Field, Relationship, SQLModel

            class HeroBase(SQLModel):
                name: str = Field(index=True)
                born: datetime

            class Hero(HeroBase, table=True):
                id: Optional[int] = Field(default=None, primary_key=True)
                team_id: Optional[int] = Field(default=None, foreign_key="team.id")
                team: Optional["Team"] = Relationship(back_populates="heroes")

            class Team(SQLModel, table=True):
                id: Optional[int] = Field(default=None, primary_key=True)
                heroes: list["Hero"] = Relationship(back_populates="team")
        """,
        "fl.py": """
            from flask_sqlalchemy import SQLAlchemy
            db = SQLAlchemy()
            class BlogPost(db.Model):
                id = db.Column(db.Integer, primary_key=True)
                author_id = db.Column(db.Integer, db.ForeignKey("user.id"), index=True)
        """,
    }
    index, findings = run(tmp_path, files, {"DBA104", "DBA105", "DBA108"})
    hero = index.classes["Hero"]
    assert hero.tablename == "hero" and index.classes["HeroBase"].abstract
    assert set(hero.columns) == {"name", "born", "id", "team_id"}
    assert hero.columns["team_id"].foreign_keys == ["team.id"]
    assert hero.relationships["team"].target == "Team"
    assert index.classes["BlogPost"].tablename == "blog_post" and index.classes["BlogPost"].family == "flask"
    assert lines(findings, "DBA104") == [("sm.py", 12)]
    assert lines(findings, "DBA105") == [("sm.py", 8)]
    assert lines(findings, "DBA108") == [("fl.py", 5), ("sm.py", 11), ("sm.py", 16)]


def test_declarative_base_registry_and_single_table(tmp_path):
    files = {
        "m.py": """
            from sqlalchemy.orm import declarative_base, registry
            reg = registry()
            Base = reg.generate_base()
            Legacy = declarative_base()

            class Employee(Base):
                __tablename__ = "employee"
                id = Column(BigInteger, primary_key=True)
                kind = Column(String(20))
                __mapper_args__ = {"polymorphic_on": kind}

            class Manager(Employee):
                team_id = Column(ForeignKey("teams.id"), index=True)
                __mapper_args__ = {"polymorphic_identity": "m"}

            class Engineer(Employee):
                __tablename__ = "engineer"
                id = Column(ForeignKey("employee.id"), primary_key=True)

            @reg.mapped
            class Note:
                __tablename__ = "notes"
                id = Column(Integer, primary_key=True)

            class Old(Legacy):
                __tablename__ = "old"
                id = Column(Integer, primary_key=True)
        """,
    }
    index, findings = run(tmp_path, files, {"DBA104", "DBA108", "DBA110"})
    assert index.classes["Manager"].single_table and index.classes["Manager"].tablename == "employee"
    assert "team_id" in index.tables["employee"].columns
    assert index.classes["Engineer"].parent == "Employee" and not index.classes["Engineer"].single_table
    assert index.classes["Note"].family == "decorator" and index.tables["notes"].primary_key == ("id",)
    assert lines(findings, "DBA104") == []  # engineer.id is its own primary key
    assert lines(findings, "DBA108") == [("m.py", 24), ("m.py", 28)]
    assert lines(findings, "DBA110") == [("m.py", 3), ("m.py", 5)]


def test_relationship_and_cascade_rules_across_files(tmp_path):
    files = {
        "base.py": "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n",
        "parent.py": """
            from base import Base
            class Parent(Base):
                __tablename__ = "parents"
                id: Mapped[int] = mapped_column(primary_key=True)
                children: Mapped[list["Child"]] = relationship(back_populates="parent")
                notes: Mapped[list["Note"]] = relationship()
                audit: Mapped[list["Child"]] = relationship(viewonly=True)
        """,
        "child.py": """
            from base import Base
            class Child(Base):
                __tablename__ = "children"
                id: Mapped[int] = mapped_column(primary_key=True)
                parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id", ondelete="CASCADE"), index=True)
                parent: Mapped["Parent"] = relationship(back_populates="children")
            class Note(Base):
                __tablename__ = "notes"
                id: Mapped[int] = mapped_column(primary_key=True)
                parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id"), index=True)
        """,
    }
    _, findings = run(tmp_path, files, {"DBA103", "DBA112"})
    assert lines(findings, "DBA103") == []  # Note maps nothing back: one-way
    assert lines(findings, "DBA112") == [("parent.py", 6)]


def test_nullable_mismatch_and_redundant_index(tmp_path):
    code = """
        from typing import Optional
        from sqlalchemy.orm import DeclarativeBase
        class Base(DeclarativeBase):
            pass
        class Acct(Base):
            __tablename__ = "accts"
            id: Mapped[int] = mapped_column(primary_key=True, index=True)
            owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
            code: Mapped[Optional[str]] = mapped_column(nullable=False, default="x")
            name: Mapped[Optional[str]] = mapped_column(nullable=False)
            email: Mapped[str] = mapped_column(unique=True, index=True)
        Index("ix_accts_owner_code", Acct.owner_id, Acct.code)
    """
    _, findings = run(tmp_path, {"m.py": code}, {"DBA107", "DBA111"})
    assert lines(findings, "DBA107") == [("m.py", 11)]
    assert lines(findings, "DBA111") == [("m.py", 8), ("m.py", 9)]


def test_migrations_are_not_models(tmp_path):
    code = """
        revision = "abc"
        down_revision = None
        t = sa.Table("t", sa.MetaData(), sa.Column("at", sa.DateTime), sa.Column("u_id", sa.ForeignKey("u.id")))
        def upgrade():
            op.bulk_insert(t, [])
    """
    index, findings = run(tmp_path, {"versions/abc.py": code}, {"DBA104", "DBA105", "DBA110", "DBA111"})
    assert index.tables == {} and findings == []
