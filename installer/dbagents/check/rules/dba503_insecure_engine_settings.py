"""DBA503: `echo=True` outside tests; database URLs to remote hosts without TLS (`sslmode=require`)."""

from __future__ import annotations

import re
from typing import Iterable

from dbagents.check.facts.dburls import KEY as URLS
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity

TEST_PATH = re.compile(r"(^|/)(tests?|testing|test_utils|fixtures)(/|$)|(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")
STRONG_SSL = {"require", "verify-ca", "verify-full", "verify_ca", "verify_full", "true", "1"}
TLS_SCHEMES = {"postgresql", "postgres", "pgsql", "cockroachdb", "redshift", "timescaledb", "yugabytedb"}


def is_test_path(relpath: str) -> bool:
    return bool(TEST_PATH.search(relpath))


class InsecureEngineSettings(ModuleRule):
    id = "DBA503"
    name = "insecure-engine-settings"
    groups = ("security",)
    severity = Severity.WARNING
    summary = "Engine created with `echo=True` outside tests, or a PostgreSQL URL to a remote host without TLS."
    hint = "drop echo=True (configure the sqlalchemy.engine logger instead); add ?sslmode=verify-full to remote URLs"
    triggers = ("echo", "://")
    kinds = ("python", "ini")
    doc = """
## What it does
- `create_engine(..., echo=True)` / `create_async_engine(..., echo=True)` (or `"debug"`) and
  `sqlalchemy.echo = true` in an .ini, in files that are not tests (`tests/`, `test_*.py`, `*_test.py`,
  `conftest.py` are skipped);
- a PostgreSQL URL literal (Python string or .ini value) whose host is not local and whose query has no
  `sslmode=require`, `verify-ca` or `verify-full`. For `postgresql+asyncpg://` URLs only `ssl=` counts:
  SQLAlchemy hands the query to `asyncpg.connect()`, whose argument is `ssl` (an asyncpg URL with `sslmode=`
  is reported, and the advice for it is `?ssl=verify-full`). Local hosts — `localhost`,
  `127.0.0.1`, `::1`, unix sockets, single-label names such as a compose service `db` — placeholder hosts
  (`${DB_HOST}`, f-string values), RFC 2606 example domains (`db.example.com`) and test files are not reported.

## Why is this bad
`echo=True` logs every statement *with its bound parameters* — passwords, tokens and personal data end up in
application logs, and the logging itself slows every query. A connection without `sslmode=require` falls back to
plaintext when the server allows it (libpq's default is `prefer`), so credentials and rows travel unencrypted,
and without `verify-full` nothing checks that the server is the one you meant.

## Example
```python
engine = create_engine(settings.DATABASE_URL, echo=True)
REPLICA = "postgresql+psycopg://reader@replica.db.acme.io/app"
```

## Fix
```python
engine = create_engine(settings.DATABASE_URL, echo=settings.SQL_ECHO)  # off unless asked for
REPLICA = "postgresql+psycopg://reader@replica.db.acme.io/app?sslmode=verify-full"
```
"""
    valid = [
        Example("engine = create_engine(url, echo=True)\n", path="tests/conftest.py"),
        Example("engine = create_engine(url, echo=settings.DEBUG)\n"),
        Example('engine = create_engine("postgresql://reader@replica.acme.io/app?sslmode=verify-full")\n'),
        Example('engine = create_engine("postgresql://app@localhost:5432/app")\n'),
        Example('engine = create_engine(f"postgresql://app@{host}/app")\n'),
        Example('engine = create_async_engine("postgresql+asyncpg://app@db.acme.io/app?ssl=verify-full")\n',
                note="asyncpg takes ssl="),
    ]
    invalid = [
        Example("engine = create_engine(url, echo=True)\n", path="app/db.py", lines=(1,)),
        Example('REPLICA = "postgresql+psycopg://reader@replica.db.acme.io/app"\n', lines=(1,)),
        Example("[alembic]\nsqlalchemy.url = postgresql://app@db.acme.io/app?sslmode=prefer\n",
                path="alembic.ini", lines=(2,)),
        Example('engine = create_async_engine(DB_URL, echo="debug")\n', path="app/db.py", lines=(1,)),
        Example('engine = create_async_engine("postgresql+asyncpg://app@db.acme.io/app?sslmode=require")\n',
                lines=(1,), note="asyncpg.connect() has no sslmode argument"),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        facts = ctx.facts.get(URLS)
        if facts is None:
            return
        if not is_test_path(ctx.relpath):
            for echo in facts.echoes:
                yield self.finding(
                    ctx.relpath, echo.line, echo.col,
                    f"{echo.call} echoes every statement with its bound parameters into the logs",
                    hint="remove echo=True or tie it to a debug setting; use logging for the sqlalchemy.engine logger",
                )
        if is_test_path(ctx.relpath):
            return  # test fixtures describe databases; they do not connect to production ones
        for url in facts.urls:
            if url.scheme not in TLS_SCHEMES or url.host_is_local or url.host_is_placeholder or url.kind == "url.create":
                continue
            if url.ssl in STRONG_SSL:
                continue
            if url.driver == "asyncpg":  # SQLAlchemy hands the query to asyncpg.connect(), which takes `ssl=`
                mode = f"ssl={url.ssl}" if url.ssl else "no ssl"
                if url.sslmode and not url.ssl:
                    mode = "`sslmode=`, which asyncpg does not take (its argument is `ssl=`)"
                hint = "add ?ssl=verify-full (or ssl=require) to asyncpg URLs of remote database hosts"
            else:
                mode = f"sslmode={url.ssl}" if url.ssl else "no sslmode"
                hint = "add ?sslmode=verify-full (or require) to URLs of remote database hosts"
            yield self.finding(
                ctx.relpath, url.line, url.col,
                f"PostgreSQL URL to {url.host} has {mode}; the connection may fall back to plaintext", hint=hint,
            )
