"""DBA502/DBA503 on the shapes real projects write (issue 12): placeholders, help text, hosts, asyncpg."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dbagents.check.engine import check_tree
from dbagents.config import Config
from dbagents.findings import Severity


def found(tmp_path: Path, code: str, rule: str, path: str = "app/settings.py") -> list:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(code), encoding="utf-8")
    outcome = check_tree([tmp_path], root=tmp_path, config=Config(), enabled={rule}, jobs=1, use_cache=False)
    return [f for f in outcome.findings if f.rule_id == rule]


@pytest.mark.parametrize("password", ["pass", "password", "changeme", "change_me", "yourTopSecretPassword",
                                      "your_password", "secret", "${DB_PASSWORD}", "the-$password", "mypassword", "p"])
def test_placeholder_passwords(tmp_path, password):
    assert found(tmp_path, f'URL = "postgresql://app:{password}@db.acme.io/app"\n', "DBA502") == []


@pytest.mark.parametrize("password", ["s3cret", "Tr0ub4dor&3", "hunter2", "passage"])
def test_real_looking_passwords_still_reported(tmp_path, password):
    got = found(tmp_path, f'URL = "postgresql://app:{password}@db.acme.io/app"\n', "DBA502")
    assert [f.line for f in got] == [1]


def test_help_and_prompt_text(tmp_path):
    code = '''
    import click
    @click.option("--db", metavar="URL", help=(
        "Async URL. PostgreSQL example: postgresql+asyncpg://bench:b3nch@db.acme.io/bench"))
    def main(db): ...
    uri = prompt("PostgreSQL URI", help="For a remote database, use postgresql://u:pw@h.acme.io/dbname")
    print("connect with e.g. postgresql://app:hunter2@db.acme.io/app")
    REAL = "postgresql://app:hunter2@db.acme.io/app"
    '''
    assert [f.line for f in found(tmp_path, code, "DBA502")] == [8]


@pytest.mark.parametrize("host", ["primary.example.com", "db.example", "the-database-server.example.org", "pg.test",
                                  "db.invalid"])
def test_rfc2606_hosts(tmp_path, host):
    assert found(tmp_path, f'URL = "postgresql://app:hunter2@{host}:5432/app"\n', "DBA502") == []


@pytest.mark.parametrize("url,host", [
    ("postgresql://app:p#ss@db.acme.io/app", "db.acme.io"),
    ("postgresql://app:p@ss@db.acme.io/app", "db.acme.io"),
    ("postgresql://app:p?ss@db.acme.io:5432/app?sslmode=require", "db.acme.io"),
    ("postgresql://app:P@ss!#$%^&*()+;'<>?@db.acme.io:5432/app", "db.acme.io"),
])
def test_hash_and_at_inside_the_password(tmp_path, url, host):
    got = found(tmp_path, f'URL = "{url}"\n', "DBA502")
    assert len(got) == 1 and f"on {host} " in got[0].message and got[0].severity is Severity.ERROR


def test_an_at_in_the_query_is_not_a_password(tmp_path):
    assert found(tmp_path, 'URL = "postgresql://db.acme.io/app?user=x@y&password=z"\n', "DBA502") == []


def test_asyncpg_urls_are_asked_for_ssl_not_sslmode(tmp_path):
    code = '''
    A = "postgresql+asyncpg://app@db.acme.io/app"
    B = "postgresql+asyncpg://app@db.acme.io/app?sslmode=require"
    C = "postgresql+asyncpg://app@db.acme.io/app?ssl=require"
    D = "postgresql+psycopg://app@db.acme.io/app"
    '''
    got = {f.line: f for f in found(tmp_path, code, "DBA503")}
    assert sorted(got) == [2, 3, 5]
    assert "ssl=" in got[2].hint and "sslmode" not in got[2].hint
    assert "asyncpg does not take" in got[3].message and "sslmode" not in got[3].hint
    assert "sslmode=verify-full" in got[5].hint
