"""DBA501/DBA502/DBA503/DBA506 beyond the rule examples: taint through locals, constants, ini placeholders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.config import Config
from dbagents.findings import Severity


def run(tmp_path: Path, files: dict[str, str], rule: str) -> list:
    for rel, text in files.items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={rule}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == rule]


def lines(tmp_path, code: str, rule: str = "DBA501", path: str = "app/db.py") -> list[int]:
    return [f.line for f in run(tmp_path, {path: code}, rule)]


HEADER = "from sqlalchemy import text, literal_column, select\n"


@pytest.mark.parametrize(
    "body,expected",
    [
        # f-string through a local, then used two statements later
        ("def f(s, uid):\n    q = f'SELECT * FROM t WHERE id = {uid}'\n    x = 1\n    s.execute(text(q))\n", [5]),
        # reassigned to a constant before use: nothing
        ("def f(s, uid):\n    q = f'SELECT {uid}'\n    q = 'SELECT 1'\n    s.execute(text(q))\n", []),
        # reassigned to a dynamic value after a constant: reported
        ("def f(s, uid):\n    q = 'SELECT 1'\n    q = 'SELECT ' + uid\n    s.execute(text(q))\n", [5]),
        # .format() of module constants only: constant
        ("T = 'users'\nC = 'id'\ndef f(s):\n    s.execute(text('SELECT {} FROM {}'.format(C, T)))\n", []),
        # .format() with a parameter
        ("def f(s, t):\n    s.execute(text('SELECT * FROM {}'.format(t)))\n", [3]),
        # % of a module constant / of a parameter
        ("T = 'users'\ndef f(s):\n    s.execute(text('SELECT * FROM %s' % T))\n", []),
        ("def f(s, t):\n    s.execute(text('SELECT * FROM %s' % (t,)))\n", [3]),
        # concatenation of module constants (also an f-string of them) is constant
        ("A = 'SELECT 1'\nB = A + ' UNION ' + A\nC = f'{B} UNION SELECT 2'\ndef f(s):\n    s.execute(text(C))\n", []),
        # += inside a branch taints after the merge
        ("def f(s, name):\n    q = 'SELECT * FROM t WHERE true'\n    if name:\n        q += ' AND n = ' + name\n"
         "    s.execute(text(q))\n", [6]),
        # += of constant pieces keeps it constant
        ("def f(s, name):\n    q = 'SELECT * FROM t WHERE true'\n    if name:\n        q += ' AND n = :name'\n"
         "    s.execute(text(q), {'name': name})\n", []),
        # += in a loop reaches a sink earlier in the same loop body on the next iteration
        ("def f(s, parts):\n    q = 'SELECT 1'\n    for p in parts:\n        s.execute(text(q))\n        q += p\n", [5]),
        # a plain parameter passed straight to text(): we cannot see into it
        ("def f(s, sql):\n    s.execute(text(sql))\n", []),
        # string order_by / filter
        ("def f(s, col):\n    return select(User).order_by(col + ' DESC')\n", [3]),
        ("def f(s, col):\n    return select(User).filter(f'{col} = 1')\n", [3]),
        ("def f(s):\n    return select(User).order_by('name')\n", []),
        # literal_column with a parameter
        ("def f(col):\n    return select(literal_column(f'max({col})'))\n", [3]),
        # placeholders built from range(): constant
        ("def f(s, ids):\n    ph = ', '.join(f':p{i}' for i in range(len(ids)))\n"
         "    s.execute(text(f'SELECT * FROM t WHERE id IN ({ph})'), {f'p{i}': v for i, v in enumerate(ids)})\n", []),
        # a loop over a constant list of table names: constant
        ("def f(s):\n    for t in ['a', 'b']:\n        s.execute(text(f'TRUNCATE {t}'))\n", []),
        # enum members and int() are constant / sanitised
        ("def f(s, n):\n    s.execute(text(f'SELECT * FROM t WHERE state = {State.done} LIMIT {int(n)}'))\n", []),
    ],
)
def test_taint_through_locals(tmp_path, body, expected):
    assert lines(tmp_path, HEADER + body) == expected


def test_driver_cursor_and_op_execute(tmp_path):
    code = (
        "from alembic import op\n\n"
        "def upgrade():\n"
        "    for tenant in get_tenants():\n"
        "        op.execute(f'CREATE SCHEMA {tenant}')\n"
        "def g(cur, uid):\n"
        "    cur.execute('SELECT * FROM t WHERE id = %s' % uid)\n"
        "    cur.execute('SELECT * FROM t WHERE id = %s', (uid,))\n"
        "    log.execute(f'not sql at all {uid}')\n"
    )
    assert lines(tmp_path, code, path="migrations/versions/0001.py") == [5, 7]


def test_text_from_another_library_is_not_a_sink(tmp_path):
    code = "from rich.text import Text\nfrom tagflow import text\n\ndef f(name):\n    return text(f'Hi {name}')\n"
    assert lines(tmp_path, code) == []


def test_aliased_sqlalchemy_text_is_a_sink(tmp_path):
    code = "import sqlalchemy as sa\nfrom sqlalchemy import text as sql_text\n\ndef f(s, a):\n" \
           "    s.execute(sa.text(f'SELECT {a}'))\n    s.execute(sql_text(f'SELECT {a}'))\n"
    assert lines(tmp_path, code) == [5, 6]


def test_message_names_the_variable_and_build_line(tmp_path):
    found = run(tmp_path, {"a.py": HEADER + "def f(s, u):\n    sql = f'SELECT {u}'\n    s.execute(text(sql))\n"},
                "DBA501")
    assert len(found) == 1
    assert "via `sql` (built on line 3)" in found[0].message and found[0].severity is Severity.INFO


def test_literal_binds_through_variable_is_dba506_not_dba501(tmp_path):
    code = HEADER + (
        "def f(conn, stmt):\n"
        "    compiled = stmt.compile(compile_kwargs={'literal_binds': True})\n"
        "    sql = str(compiled)\n"
        "    conn.execute(text(sql))\n"
        "    print(stmt.compile(compile_kwargs={'literal_binds': True}))\n"
    )
    assert lines(tmp_path, code, "DBA506") == [5]
    assert lines(tmp_path, code, "DBA501") == []


@pytest.mark.parametrize(
    "ini,expected",
    [
        ("sqlalchemy.url = postgresql://app:${DB_PASSWORD}@db.acme.io/app\n", []),
        ("sqlalchemy.url = postgresql://app:%(DB_PASSWORD)s@db.acme.io/app\n", []),
        ("sqlalchemy.url = postgresql+psycopg://app:$DB_PASSWORD@db.acme.io/app\n", []),
        ("sqlalchemy.url = postgresql+psycopg://app@db.acme.io/app\n", []),
        ("sqlalchemy.url = driver://user:pass@localhost/dbname\n", []),
        ("; sqlalchemy.url = postgresql://app:secret@db.acme.io/app\n", []),
        ("sqlalchemy.url = postgresql://app:s3cr%%40t@db.acme.io/app\n", [3]),
        ("sqlalchemy.url = mysql+pymysql://root:hunter2@10.0.0.5/app\n", [3]),
    ],
)
def test_dba502_alembic_ini(tmp_path, ini, expected):
    found = run(tmp_path, {"alembic.ini": "[alembic]\nscript_location = migrations\n" + ini}, "DBA502")
    assert [f.line for f in found] == expected


def test_dba502_severity_by_host_and_path(tmp_path):
    files = {
        "app/settings.py": "PROD = 'postgresql://app:pw1@db.acme.io/app'\nDEV = 'postgresql://app:pw2@localhost/app'\n",
        "tests/conftest.py": "URL = 'postgresql://app:pw3@db.acme.io/app'\n",
    }
    found = {(f.path, f.line): f.severity for f in run(tmp_path, files, "DBA502")}
    assert found == {
        ("app/settings.py", 1): Severity.ERROR,
        ("app/settings.py", 2): Severity.WARNING,
    }  # tests/conftest.py: DBA502 is off in test files (check/roles.py; the audit labels them noise)


def test_dba502_env_lookups_and_fstrings_are_fine(tmp_path):
    code = (
        "import os\n"
        "URL = os.environ.get('DATABASE_URL')\n"
        "URL2 = f\"postgresql://{os.environ['DB_USER']}:{os.environ['DB_PASSWORD']}@db.acme.io/app\"\n"
        "URL3 = 'postgresql://{user}:{password}@{host}/{db}'.format(**cfg)\n"
        "URL4 = URL.create('postgresql', username='app', password=os.environ['PW'], host='db.acme.io')\n"
    )
    assert lines(tmp_path, code, "DBA502") == []


def test_dba503_echo_and_ssl(tmp_path):
    files = {
        "app/db.py": (
            "engine = create_engine(URL, echo=True)\n"
            "REMOTE = 'postgresql://app@db.acme.io/app?sslmode=require'\n"
            "SOCKET = 'postgresql://app@/app?host=/var/run/postgresql'\n"
            "PLAIN = 'postgresql://app@10.1.2.3/app'\n"
            "HELP = 'postgresql+asyncpg://...'\n"
        ),
        "tests/test_db.py": "engine = create_engine(URL, echo=True)\nX = 'postgresql://app@db.acme.io/app'\n",
    }
    found = sorted((f.path, f.line) for f in run(tmp_path, files, "DBA503"))
    assert found == [("app/db.py", 1), ("app/db.py", 4)]
