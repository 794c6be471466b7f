"""DBA502: a literal password inside a database URL (Python source or alembic.ini)."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts.dburls import KEY as URLS, is_reserved_host
from dbagents.check.rules.dba503_insecure_engine_settings import is_test_path
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity


class PasswordInDatabaseUrl(ModuleRule):
    id = "DBA502"
    name = "password-in-database-url"
    groups = ("security",)
    severity = Severity.ERROR
    summary = "A database URL in source control carries a literal password."
    hint = "read the URL or the password from the environment or a secret store (os.environ, ${VAR} in alembic.ini)"
    triggers = ("://", "password")
    kinds = ("python", "ini")
    doc = """
## What it does
Finds database URLs (`postgresql://`, `postgresql+psycopg://`, `mysql://`, …) written as literals in Python
strings — `create_engine("postgresql://app:s3cret@db.example.com/app")`, settings defaults, f-strings whose
password part is literal — in `sqlalchemy.url` and other values of alembic `.ini` files, and
`URL.create(..., password="…")` with a literal password.

Placeholders are fine: `${DB_PASSWORD}`, `$DB_PASSWORD`, `%(DB_PASSWORD)s`, `{password}` templates,
f-string values, `<password>`, `***`, and the words documentation uses for "put yours here" (`pass`,
`password`, `secret`, `changeme`, `yourTopSecretPassword`, `your_password` …). Not reported either: URLs whose
host is an RFC 2606 example name (`db.example.com`, `*.test`, `*.invalid`), and text written for people —
`help=`, `prompt=`, `description=`, `metavar=`, `example=` arguments and prose such as "e.g. postgresql://…".
A password may hold `@`, `#`, `?` or `/` (left unencoded, as people write them): the host is what follows
the last `@`. Severity is **error** for a non-local host, **warning** when the host
is local (`localhost`, `127.0.0.1`, a unix socket, a single-label service name such as `db`), which is usually
a development credential, and **info** in test files (`tests/`, `test_*.py`, `*_test.py`, `conftest.py`),
whose URLs are nearly always fixtures. Docstrings are not checked.

## Why is this bad
Anything committed is readable by everyone with access to the repository, its forks, CI logs and backups —
forever, since history keeps it after a later "fix". Database passwords in URLs are also printed by careless
logging of the engine URL.

## Example
```python
engine = create_engine("postgresql+psycopg://app:s3cret@db.prod.acme.io/app")
```
```ini
[alembic]
sqlalchemy.url = postgresql://app:s3cret@db.prod.acme.io/app
```

## Fix
```python
engine = create_engine(os.environ["DATABASE_URL"])
```
```ini
[alembic]
# set in env.py: config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"])
sqlalchemy.url = postgresql://app:${DB_PASSWORD}@db.prod.acme.io/app
```
Rotate any password that was ever committed.
"""
    valid = [
        Example('import os\nengine = create_engine(os.environ["DATABASE_URL"])\n'),
        Example('engine = create_engine(f"postgresql://app:{password}@db.example.com/app?sslmode=require")\n'),
        Example("[alembic]\nsqlalchemy.url = postgresql://app:${DB_PASSWORD}@db.example.com/app\n",
                path="alembic.ini"),
        Example("[alembic]\nsqlalchemy.url = postgresql://app:%(DB_PASSWORD)s@db.example.com/app\n",
                path="alembic.ini"),
        Example("[alembic]\n# sqlalchemy.url = driver://user:pass@localhost/dbname\n"
                "sqlalchemy.url = driver://user:pass@localhost/dbname\n", path="alembic.ini",
                note="alembic's template placeholder uses no real dialect"),
        Example('def f():\n    """Connect, e.g. postgresql://app:secret@db.example.com/app."""\n'),
        Example('DEFAULT = "postgresql://user:pass@host/indico"\nLOCAL = "postgresql://postgres:changeme@localhost/app"\n'
                'DOCS = "postgresql://postgres:yourTopSecretPassword@localhost:5432/prefect"\n',
                note="placeholder passwords"),
        Example('click.option("--url", help="Database URL, e.g. postgresql+asyncpg://bench:b3nch@db.acme.io/bench")\n'
                'prompt("PostgreSQL URI", default=d, help="For a remote database, use postgresql://u:pw@host/db")\n',
                note="help and prompt text"),
        Example('url = "postgresql+asyncpg://polar:s3cret@primary.example.com:6432/polar"\n', note="RFC 2606 host"),
    ]
    invalid = [
        Example('engine = create_engine("postgresql+psycopg://app:s3cret@db.prod.acme.io/app")\n', lines=(1,)),
        Example("[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql://app:s3cret@db.acme.io/app\n",
                path="alembic.ini", lines=(3,)),
        Example('DATABASE_URL = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost:5432/app")\n',
                lines=(1,)),
        Example('A = "postgresql://app:p#ss@db.acme.io/app"\nB = "postgresql://app:p@ss@db.acme.io/app"\n', lines=(1, 2),
                note="`#` and `@` inside the password"),
        Example('url = URL.create("postgresql+psycopg", username="app", password="s3cret", host="db.acme.io")\n',
                lines=(1,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        facts = ctx.facts.get(URLS)
        if facts is None:
            return
        in_tests = is_test_path(ctx.relpath)
        for url in facts.urls:
            if not url.has_password or (url.host and is_reserved_host(url.host)):
                continue  # a password for db.example.com is an illustration, not a credential
            where = "alembic ini value" if url.kind == "ini" else "database URL"
            if url.kind == "url.create":
                where = "URL.create()"
            local = url.host_is_local
            host = url.host or "a local socket"
            msg = f"{where} for {url.scheme} on {host} carries a literal password"
            f = self.finding(ctx.relpath, url.line, url.col, msg)
            if in_tests:
                f = f.with_severity(Severity.INFO)
            elif local:
                f = f.with_severity(Severity.WARNING)
            yield f
