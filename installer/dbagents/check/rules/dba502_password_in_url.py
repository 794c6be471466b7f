"""DBA502: a literal password inside a database URL (Python source or alembic.ini)."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts.dburls import KEY as URLS
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
f-string values, `<password>`, `***`. Severity is **error** for a non-local host, **warning** when the host
is local (`localhost`, `127.0.0.1`, a unix socket, a single-label service name such as `db`), which is usually
a development credential, and **info** in test files (`tests/`, `test_*.py`, `*_test.py`, `conftest.py`),
whose URLs are nearly always fixtures. Docstrings are not checked.

## Why is this bad
Anything committed is readable by everyone with access to the repository, its forks, CI logs and backups —
forever, since history keeps it after a later "fix". Database passwords in URLs are also printed by careless
logging of the engine URL.

## Example
```python
engine = create_engine("postgresql+psycopg://app:s3cret@db.prod.example.com/app")
```
```ini
[alembic]
sqlalchemy.url = postgresql://app:s3cret@db.prod.example.com/app
```

## Fix
```python
engine = create_engine(os.environ["DATABASE_URL"])
```
```ini
[alembic]
# set in env.py: config.set_main_option("sqlalchemy.url", os.environ["DATABASE_URL"])
sqlalchemy.url = postgresql://app:${DB_PASSWORD}@db.prod.example.com/app
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
    ]
    invalid = [
        Example('engine = create_engine("postgresql+psycopg://app:s3cret@db.prod.example.com/app")\n', lines=(1,)),
        Example("[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql://app:s3cret@db.example.com/app\n",
                path="alembic.ini", lines=(3,)),
        Example('DATABASE_URL = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost:5432/app")\n',
                lines=(1,)),
        Example('url = URL.create("postgresql+psycopg", username="app", password="s3cret", host="db.example.com")\n',
                lines=(1,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        facts = ctx.facts.get(URLS)
        if facts is None:
            return
        in_tests = is_test_path(ctx.relpath)
        for url in facts.urls:
            if not url.has_password:
                continue
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
