"""DBA501 on the shapes real projects write (issue 12): constants the walk must see, suppressions, wrappers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.config import Config


def found(tmp_path: Path, code: str, path: str = "app/db.py") -> list[int]:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(code), encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA501"}, jobs=1, use_cache=False)
    return sorted(f.line for f in outcome.findings if f.rule_id == "DBA501")


HEAD = "from enum import Enum\nfrom sqlalchemy import text\n"

# Each case: (what it shows, code, lines expected). Lines count from 1 including HEAD (2 lines).
CASES = [
    ("a method of the file whose every return is constant", HEAD + """
class Compat:
    @property
    def now(self):
        if self.kind == "pg":
            return "now()"
        return "CURRENT_TIMESTAMP"

    def run(self, conn):
        return conn.execute(text(f"DELETE FROM t WHERE at < {self.now}"))
""", []),
    ("a module function returning a conditional alias of constants", HEAD + """
def _pk():
    pk = "CTID" if is_postgres() else "ROWID"
    return pk

def clean(conn):
    conn.execute(text(f"DELETE FROM t WHERE {_pk()} > 1"))
""", []),
    ("a helper that returns its argument is not constant", HEAD + """
def _pick(x):
    return x

def clean(conn, name):
    conn.execute(text(f"DELETE FROM t WHERE n = '{_pick(name)}'"))
""", [8]),
    ("a private function whose only callers pass literals", HEAD + """
def _assign(conn, table):
    conn.execute(text(f"UPDATE {table} SET household_id = :h"))

def upgrade(conn):
    for table in ("recipes", "tools"):
        _assign(conn, table)
    _assign(conn, "foods")
""", []),
    ("a private function one caller passes a parameter to", HEAD + """
def _assign(conn, table):
    conn.execute(text(f"UPDATE {table} SET household_id = :h"))

def upgrade(conn, user_table):
    _assign(conn, "foods")
    _assign(conn, user_table)
""", [5]),
    ("a public function may be called from elsewhere", HEAD + """
def assign(conn, table):
    conn.execute(text(f"UPDATE {table} SET household_id = :h"))

def upgrade(conn):
    assign(conn, "foods")
""", [5]),
    ("keys of a local dict literal", HEAD + """
def insert(session, group_id, name):
    data = {"id": group_id, "name": name}
    columns = ", ".join(data.keys())
    marks = ", ".join(f":{key}" for key in data.keys())
    session.execute(text(f"INSERT INTO households ({columns}) VALUES ({marks})"), data)
    session.execute(text(f"SELECT {', '.join(data)} FROM households"))
""", []),
    ("a dict whose keys come from outside is not constant", HEAD + """
def insert(session, fields):
    data = {"id": 1}
    data[fields[0]] = 2
    session.execute(text(f"INSERT INTO h ({', '.join(data.keys())}) VALUES (1)"))
""", [7]),
    ("keys of .items() of a local dict literal", HEAD + """
def insert(session, a, b):
    for column, value in {"a": a, "b": b}.items():
        session.execute(text(f"UPDATE h SET {column} = :v"), {"v": value})
    data = {"a": a, "b": b}
    for column, value in data.items():
        session.execute(text(f"UPDATE h SET {column} = '{value}'"))
""", [9]),
    ("an Enum class formatted into SQL and an Enum member's own value", HEAD + """
class Kind(int, Enum):
    internal = 1
    plugin = 2

    def sql(self):
        return text(f"'{self.value}'::int")

WHERE = text("(type = {type.internal.value} OR type = {type.plugin.value})".format(type=Kind))

def by_kind(conn):
    for kind in Kind:
        conn.execute(text(f"SELECT * FROM m WHERE type = {kind.value}"))
""", []),
    ("self.value outside an Enum is not constant", HEAD + """
class Box:
    def sql(self):
        return text(f"SELECT '{self.value}'")
""", [6]),
    ("a class attribute assigned only a literal", HEAD + """
class Search:
    _threshold = 0.5

    @classmethod
    def run(cls, session):
        session.execute(text(f"set pg_trgm.word_similarity_threshold = {cls._threshold}"))
""", []),
    ("quotes doubled by .replace", HEAD + """
def notify(session, payload):
    escaped = payload.replace("'", "''")
    session.execute(text(f"NOTIFY changes, '{escaped}'"))
""", []),
]


@pytest.mark.parametrize("what,code,expected", CASES, ids=[c[0] for c in CASES])
def test_constant_shapes(tmp_path, what, code, expected):
    assert found(tmp_path, code) == expected, what


def test_noqa_s608_on_the_closing_line_of_the_string(tmp_path):
    code = HEAD + '''
def count(conn, name):
    sql = f"""
        SELECT count(*) FROM routines WHERE name = '{name}'
    """  # noqa: S608
    return conn.execute(text(sql)).scalar()

async def purge(conn, when):
    await conn.execute(
        f"""
        DELETE FROM audit WHERE at < {when}
        """,  # noqa: S608
        {"x": 1},
    )
'''
    assert found(tmp_path, code) == []


def test_nosec_b608_and_every_branch_needs_its_own(tmp_path):
    code = HEAD + '''
def count(conn, table, clause, query):
    if table:
        q = f"SELECT COUNT(*) FROM {table} {clause}"  # nosec B608
    else:
        q = f"SELECT COUNT(*) FROM ({query}) {clause}"
    return conn.execute(text(q))

def count2(conn, table, clause, query):
    if table:
        q = f"SELECT COUNT(*) FROM {table} {clause}"  # nosec B608
    else:
        q = f"SELECT COUNT(*) FROM ({query}) {clause}"  # noqa: S608
    return conn.execute(text(q))
'''
    assert found(tmp_path, code) == [9]


def test_an_unrelated_noqa_does_not_silence(tmp_path):
    code = HEAD + '''
def count(conn, name):
    sql = f"SELECT * FROM t WHERE n = '{name}'"  # noqa: E501
    return conn.execute(text(sql))
'''
    assert found(tmp_path, code) == [6]


def test_a_wrapper_of_the_file_is_a_sink(tmp_path):
    code = HEAD + '''
class Connection:
    def __init__(self, conn):
        self.conn = conn

    async def fetchall(self, query, values=None):
        result = await self.conn.execute(text(self.rewrite(query)), values or {})
        return result.mappings().all()

    async def fetch_page(self, clause, table):
        rows = await self.fetchall(f"SELECT * FROM {table} {clause}")
        total = await self.fetchall("SELECT count(*) FROM t")
        return rows, total

async def fetch(db: Connection, name):
    return await db.fetchall(f"SELECT * FROM t WHERE name = '{name}'")
'''
    assert found(tmp_path, code) == [13]


def test_constant_members_another_file_defines(tmp_path):
    compat = '''
from sqlalchemy import text

class Compat:
    type = "postgres"

    @property
    def timestamp_now(self) -> str:
        if self.type == "postgres":
            return "now()"
        return "(strftime('%s', 'now'))"

    @property
    def references_schema(self) -> str:
        return f"{self.schema}."

    def execute(self, query):
        return self.conn.execute(text(query))
'''
    migrations = '''
async def m001(db):
    await db.execute(f"ALTER TABLE a ADD COLUMN at TIMESTAMP DEFAULT {db.timestamp_now}")
    await db.execute(f"CREATE TABLE {db.references_schema}b (id int)")
    await db.execute(f"DELETE FROM a WHERE at < {db.timestamp_now} AND n = '{db.name}'")
'''
    for rel, text in {"app/db.py": compat, "app/migrations.py": migrations}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA501"}, jobs=1, use_cache=False)
    assert sorted((f.path, f.line) for f in outcome.findings) == [("app/migrations.py", 4), ("app/migrations.py", 5)]


def test_parameters_typed_with_a_project_enum_or_a_scalar(tmp_path):
    models = ("from enum import StrEnum\nfrom sqlalchemy.orm import Mapped, mapped_column\n\n"
              "class WebhookEventType(StrEnum):\n    created = 'created'\n")
    service = '''
from typing import Sequence
from uuid import UUID
from sqlalchemy import text, literal_column

def endpoints(session, *, event: WebhookEventType, name: Label):
    session.execute(text(f"SELECT * FROM w WHERE events @> '[\\"{event}\\"]'"))
    session.execute(text(f"SELECT * FROM w WHERE kind = '{event.value}'"))
    session.execute(text(f"SELECT * FROM w WHERE label = '{name}'"))

def descendants(ids: Sequence[UUID], limit: int | None, who: str):
    joined = ", ".join(f"'{i!s}'" for i in ids)
    literal_column(f"[{joined}]")
    text(f"SELECT * FROM t LIMIT {limit}")
    text(f"SELECT * FROM t WHERE who = '{who}'")
'''
    for rel, text in {"app/models.py": models, "app/service.py": service}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={"DBA501"}, jobs=1, use_cache=False)
    assert sorted(f.line for f in outcome.findings) == [9, 15]


def test_records_built_from_literals_through_two_private_functions(tmp_path):
    code = HEAD + '''
class TableMeta:
    def __init__(self, tablename, pk_1, pk_2):
        self.tablename, self.pk_1, self.pk_2 = tablename, pk_1, pk_2

def _dedupe_table(session, meta):
    session.execute(text(f"DELETE FROM {meta.tablename} WHERE {meta.pk_1} = {meta.pk_2}"))

def _dedupe_tables(session, metas):
    for meta in metas:
        _dedupe_table(session, meta)

def upgrade(session):
    _dedupe_tables(session, [TableMeta("a_to_b", "a_id", "b_id"), TableMeta("a_to_c", "a_id", "c_id")])

def _drop(session, meta):
    session.execute(text(f"DROP TABLE {meta.tablename}"))

def downgrade(session, name):
    _drop(session, TableMeta(name, "x", "y"))
'''
    assert found(tmp_path, code) == [19]


def test_a_zoneinfo_key(tmp_path):
    code = HEAD + '''
async def metrics(session, timezone: ZoneInfo, label: str):
    await session.execute(text(f"SET LOCAL TIME ZONE '{timezone.key}'"))
    await session.execute(text(f"SET LOCAL application_name = '{label}'"))
'''
    assert found(tmp_path, code) == [6]


def test_keys_of_a_dict_filled_from_a_literal_dict_or_aliased_to_it(tmp_path):
    code = HEAD + '''
def copy(session, row, household_id):
    defaults = {"a": 1, "b": True}
    if row:
        data: dict = {}
        for i, (field, default) in enumerate(defaults.items()):
            data[field] = row[i] if row[i] is not None else default
    else:
        data = defaults
    data["household_id"] = household_id
    columns = ", ".join(data.keys())
    session.execute(text(f"INSERT INTO prefs ({columns}) VALUES (:a, :b, :household_id)"), data)
    data[row[0]] = 1
    session.execute(text(f"INSERT INTO prefs ({', '.join(data.keys())}) VALUES (1)"))
'''
    assert found(tmp_path, code) == [16]
