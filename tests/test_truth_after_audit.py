"""Defect classes found by the after-audit of 2026-12-03 (seed 2026), each on a small project of its own.

DBA112: a one-to-one child with the delete cascade is one row for the ORM to load (nothing to gain from
passive_deletes); a relationship that names its key (primaryjoin=/foreign_keys=) is judged on that key only.
DBA116: a per-row lazy load in the data migration of a recent Alembic revision runs once per database: info.
"""

from __future__ import annotations

import textwrap

from dbagents.findings import Severity
from models_support import check_project

TASKS = """
    from sqlalchemy import ForeignKey, Integer, Column
    from sqlalchemy.orm import DeclarativeBase, relationship

    class Base(DeclarativeBase):
        pass

    class Person(Base):
        __tablename__ = "person"
        id = Column(Integer, primary_key=True)
        created = relationship("Task", primaryjoin="Person.id == Task.creator_id")
        owned = relationship("Task", primaryjoin="Person.id==Task.owner_id")
        reviewed = relationship("Task", foreign_keys="Task.reviewer_id")
        ticket = relationship("Ticket", uselist=False, cascade="all, delete-orphan")
        badge = relationship("Badge", uselist=False)

    class Task(Base):
        __tablename__ = "task"
        id = Column(Integer, primary_key=True)
        creator_id = Column(Integer, ForeignKey("person.id"), index=True)
        owner_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
        reviewer_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)

    class Ticket(Base):
        __tablename__ = "ticket"
        id = Column(Integer, primary_key=True)
        person_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)

    class Badge(Base):
        __tablename__ = "badge"
        id = Column(Integer, primary_key=True)
        person_id = Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), index=True)
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(textwrap.dedent(text).splitlines(), 1) if needle in line)


def test_dba112_judges_the_key_a_relationship_joins_on(tmp_path):
    found = check_project(tmp_path, {"app/__init__.py": "", "app/models.py": TASKS}, {"DBA112"})
    by_line = {f.line: f.message for f in found}
    # creator_id has no ON DELETE CASCADE: the relationship over it is not this rule's business
    assert line_of(TASKS, "created = relationship") not in by_line
    owned = by_line[line_of(TASKS, "owned = relationship")]
    assert "set task.owner_id to NULL" in owned and "creator_id" not in owned and "reviewer_id" not in owned
    reviewed = by_line[line_of(TASKS, "reviewed = relationship")]
    assert "set task.reviewer_id to NULL" in reviewed and "owner_id" not in reviewed


def test_dba112_one_to_one_child_with_delete_cascade_is_one_row(tmp_path):
    found = check_project(tmp_path, {"app/__init__.py": "", "app/models.py": TASKS}, {"DBA112"})
    by_line = {f.line: f.message for f in found}
    assert line_of(TASKS, "ticket = relationship") not in by_line  # one SELECT of one row: nothing to gain
    # without the delete cascade the ORM still nulls the one child's key instead of deleting it
    assert "no delete cascade" in by_line[line_of(TASKS, "badge = relationship")]
    assert len(found) == 3


DATA_MIGRATION = """
    from alembic import op
    from sqlalchemy import orm
    from app.models import Person

    revision = "{rev}"
    down_revision = {down}


    def upgrade():
        session = orm.Session(bind=op.get_bind())
        for person in session.query(Person).all():
            for task in person.owned:
                task.owner_id = None
        session.commit()


    def downgrade():
        pass
"""
LOOP = """
    from app.models import Person

    def owners(session):
        for person in session.query(Person).all():
            print(len(person.owned))
"""


def test_dba116_in_a_recent_revisions_data_migration_is_info(tmp_path):
    files = {"app/__init__.py": "", "app/models.py": TASKS, "app/report.py": LOOP,
             "alembic.ini": "[alembic]\nscript_location = migrations\n"}
    for n in (1, 2, 3):
        down = f'"r{n - 1}"' if n > 1 else None
        files[f"migrations/versions/r{n}.py"] = DATA_MIGRATION.format(rev=f"r{n}", down=down)
    seen = [(f.path, f.severity) for f in check_project(tmp_path, files, {"DBA116"})]
    # r3 is the head and r2 right below it (recent: info); r1 has shipped (not reported); app code warns
    assert seen == [("app/report.py", Severity.WARNING), ("migrations/versions/r2.py", Severity.INFO),
                    ("migrations/versions/r3.py", Severity.INFO)]



OLD_STYLE = """
    from sqlalchemy import Column, ForeignKey, Integer
    from sqlalchemy.ext.declarative import declarative_base
    from sqlalchemy.orm import relationship

    Base = declarative_base()

    class Team(Base):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)

    class Member(Base):
        __tablename__ = "members"
        id = Column(Integer, primary_key=True)
        team_id = Column(Integer, ForeignKey("teams.id"), index=True)
        team = relationship("Team", backref="members")
"""


def test_dba102_on_a_1x_pin_keeps_only_what_1x_can_do(tmp_path):
    files = {"app/__init__.py": "", "app/models.py": OLD_STYLE}
    on_2 = check_project(tmp_path / "two", {**files, "requirements.txt": "sqlalchemy==2.0.36\n"}, {"DBA102"})
    assert len(on_2) == 4  # declarative_base(), two classes without Mapped[], backref=
    on_1 = check_project(tmp_path / "one", {**files, "requirements.txt": "sqlalchemy==1.4.54\n"}, {"DBA102"})
    assert [(f.line, f.message.split(";")[0]) for f in on_1] == [
        (line_of(OLD_STYLE, "backref="), "relationship(backref=...) is legacy")]
