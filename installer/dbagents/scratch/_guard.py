"""The scratch worker's connection guard: no code in the worker process reaches any database but the scratch one.

Loaded by path from `_worker.py` (same constraints: stdlib + SQLAlchemy only, no dbagents imports, runs under
the project's interpreter with SQLAlchemy 1.3-2.x).

Two layers, both checking every attempt against the scratch URL (host, port, database and, when both name one,
the user) before a connection exists, so no statement can run:
- SQLAlchemy's `do_connect` event on every Engine, for every dialect and driver (async engines included: their
  sync Engine fires it too);
- the DBAPI connect functions themselves (sqlite3, psycopg, psycopg2, asyncpg, pg8000, PyMySQL, MySQLdb,
  mysql-connector, aiosqlite, aiomysql, asyncmy, oracledb/cx_Oracle, pyodbc, pymssql), for code that bypasses
  SQLAlchemy or gives an engine its own `creator`. Drivers already imported are wrapped at once; the others are
  wrapped right after their first import (a meta path hook), so no driver is imported just to guard it.

Decisions: any non-PostgreSQL target is refused, and every SQLite database backed by a file (any path, URI
filenames included) is refused. SQLite in-memory databases (":memory:", "file::memory:", "mode=memory") and the
anonymous temporary database ("") are allowed: they cannot hold or reach user data, and some libraries use them.

A refused attempt raises ScratchGuardError, a BaseException so that `except Exception` in user code does not
swallow it, and is recorded in `attempts`; the worker checks the record after every step, so a phase also ends
when user code catches the error and carries on.
"""

from __future__ import annotations

import functools
import importlib.abc
import os
import re
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
SQLITE_MEMORY = re.compile(r"^(?::memory:|file::memory:.*|file:[^?]*\?(?:.*&)?mode=memory(?:&.*)?)?$")


class ScratchGuardError(BaseException):
    """User code tried to connect somewhere but the scratch database."""


class Target:
    """Where a connection attempt goes, normalised across drivers."""

    def __init__(self, family: str, driver: str, *, host=None, port=None, database=None, user=None,
                 password=None):
        self.family, self.driver = family, driver
        self.host = str(host) if host not in (None, "") else None
        self.port = int(port) if str(port or "").isdigit() else None
        self.database = str(database) if database not in (None, "") else None
        self.user = str(user) if user not in (None, "") else None
        self.password = password

    def describe(self) -> str:
        """What was attempted, password masked."""
        if self.family == "sqlite":
            return f"{self.family}+{self.driver} file {self.database!r}"
        where = self.host or "(default host)"
        if self.port:
            where += f":{self.port}"
        parts = [f"{self.family}+{self.driver} database {self.database!r} on {where}"]
        if self.user:
            parts.append(f"as user {self.user!r}")
        if self.password:
            parts.append("(password ***)")
        return " ".join(parts)


def _host_key(host: str | None) -> str:
    host = (host or "").split(",")[0].strip()
    if host.startswith("/"):
        return os.path.realpath(host)
    return "local" if host.lower() in LOCAL_HOSTS else host.lower()


def _conninfo(dsn: str) -> dict:
    """libpq connection string (URI or key=value) -> dict."""
    dsn = dsn.strip()
    if re.match(r"^postgres(?:ql)?(?:\+\w+)?://", dsn):
        parts = urlsplit(dsn)
        values = {"host": unquote(parts.hostname or "") if parts.hostname else None,
                  "port": parts.port, "dbname": unquote(parts.path.lstrip("/")) or None,
                  "user": unquote(parts.username) if parts.username else None,
                  "password": unquote(parts.password) if parts.password else None}
        if parts.netloc.rsplit("@", 1)[-1].startswith("["):
            values["host"] = parts.hostname
        for key, value in parse_qsl(parts.query):
            values[key] = value
        return values
    values = {}
    for match in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", dsn):
        value = match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[match.group(1)] = value
    return values


def postgres_target(driver: str, args: tuple, kwargs: dict) -> Target:
    """Target of a PostgreSQL connect call (psycopg, psycopg2, asyncpg, pg8000 argument conventions)."""
    values: dict = {}
    dsn = args[0] if args and isinstance(args[0], str) else kwargs.get("dsn") or kwargs.get("conninfo")
    if isinstance(dsn, str) and dsn:
        values.update(_conninfo(dsn))
    for key, value in kwargs.items():
        if key not in ("dsn", "conninfo") and value is not None:
            values[key] = value
    host = values.get("host") or values.get("unix_sock") or values.get("hostaddr")
    if isinstance(host, (list, tuple)):
        host = host[0] if host else None
    if host and values.get("unix_sock") and str(host).endswith(f".s.PGSQL.{values.get('port') or 5432}"):
        host = os.path.dirname(str(host))
    port = values.get("port")
    if isinstance(port, (list, tuple)):
        port = port[0] if port else None
    return Target("postgresql", driver, host=host, port=port or 5432,
                  database=values.get("dbname") or values.get("database") or values.get("db"),
                  user=values.get("user") or values.get("username"), password=values.get("password"))


def sqlite_target(driver: str, args: tuple, kwargs: dict) -> Target:
    database = args[0] if args else kwargs.get("database", "")
    database = os.fspath(database) if database is not None else ""
    if isinstance(database, bytes):
        database = database.decode(errors="replace")
    if not SQLITE_MEMORY.match(database):
        path = database[5:].split("?", 1)[0] if database.startswith("file:") else database
        database = os.path.abspath(path)
        return Target("sqlite", driver, database=database)
    return Target("sqlite", driver, database=database or ":memory:")


def generic_target(family: str, driver: str, args: tuple, kwargs: dict) -> Target:
    host = kwargs.get("host") or kwargs.get("server") or kwargs.get("dsn") or (args[0] if args else None)
    return Target(family, driver, host=host if isinstance(host, str) else None, port=kwargs.get("port"),
                  database=kwargs.get("database") or kwargs.get("db") or kwargs.get("dbname"),
                  user=kwargs.get("user") or kwargs.get("username"),
                  password=kwargs.get("password") or kwargs.get("passwd"))


class Guard:
    """Refuses and records every connection attempt that does not go to the scratch database."""

    def __init__(self, url: str):
        try:
            from sqlalchemy.engine.url import make_url
        except ImportError:  # pragma: no cover - very old SQLAlchemy
            from sqlalchemy.engine import make_url
        expected = make_url(url)
        query = dict(expected.query)
        host, port = query.get("host") or expected.host, expected.port or query.get("port") or 5432
        if isinstance(host, (list, tuple)):
            host = host[0] if host else None
        if isinstance(port, (list, tuple)):
            port = port[0] if port else 5432
        self.expected = Target("postgresql", expected.drivername.partition("+")[2] or "default", host=host,
                               port=port, database=expected.database, user=expected.username)
        self.attempts: list[str] = []

    # -- the decision
    def allowed(self, target: Target) -> bool:
        if target.family == "sqlite":
            return bool(SQLITE_MEMORY.match(target.database or ""))
        if target.family != "postgresql":
            return False
        want = self.expected
        if target.database != want.database or (target.port or 5432) != (want.port or 5432):
            return False
        if _host_key(target.host) != _host_key(want.host):
            return False
        return not (target.user and want.user and target.user != want.user)

    def check(self, target: Target) -> None:
        if self.allowed(target):
            return
        attempt = target.describe()
        self.attempts.append(attempt)
        raise ScratchGuardError(f"connection to {attempt} refused: it is not the scratch database")

    # -- layer 1: SQLAlchemy
    def install_sqlalchemy(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def only_scratch(dialect, conn_rec, cargs, cparams):  # noqa: ANN001
            name, driver = dialect.name, getattr(dialect, "driver", "") or "default"
            if name == "sqlite":
                self.check(sqlite_target(driver, tuple(cargs), dict(cparams)))
            elif name == "postgresql":
                self.check(postgres_target(driver, tuple(cargs), dict(cparams)))
            else:
                self.check(generic_target(name, driver, tuple(cargs), dict(cparams)))

        event.listen(Engine, "do_connect", only_scratch)

    # -- layer 2: DBAPI connect functions
    def install_dbapi(self) -> None:
        for module_name in list(DRIVERS):
            module = sys.modules.get(module_name)
            if module is not None:
                self.wrap_module(module_name, module)
        if "sqlite3" not in sys.modules:
            import sqlite3  # noqa: F401 - stdlib and cheap: wrapped now so nothing can hold the original

            self.wrap_module("sqlite3", sys.modules["sqlite3"])
            self.wrap_module("sqlite3.dbapi2", sys.modules["sqlite3.dbapi2"])
        sys.meta_path.insert(0, _WrapOnImport(self))

    def wrap_module(self, module_name: str, module) -> None:  # noqa: ANN001
        family, driver, attributes = DRIVERS[module_name]
        for dotted in attributes:
            owner_path, _, attr = dotted.rpartition(".")
            owner = module
            for part in filter(None, owner_path.split(".")):
                owner = getattr(owner, part, None)
            original = getattr(owner, attr, None) if owner is not None else None
            if original is None or getattr(original, "__scratch_guarded__", False):
                continue
            bound_to_class = isinstance(owner, type) and getattr(original, "__self__", None) is owner
            setattr(owner, attr, self._wrapped(original, family, driver, bound_to_class))

    def _wrapped(self, original, family: str, driver: str, bound_to_class: bool):  # noqa: ANN001
        guard = self

        def target_of(args, kwargs):
            if family == "postgresql":
                return postgres_target(driver, args, kwargs)
            if family == "sqlite":
                return sqlite_target(driver, args, kwargs)
            return generic_target(family, driver, args, kwargs)

        if bound_to_class:  # a classmethod such as psycopg.Connection.connect: stay one, for subclasses
            function = original.__func__

            @functools.wraps(function)
            def guarded_classmethod(cls, *args, **kwargs):
                guard.check(target_of(args, kwargs))
                return function(cls, *args, **kwargs)

            guarded_classmethod.__scratch_guarded__ = True
            return classmethod(guarded_classmethod)

        @functools.wraps(original)
        def guarded(*args, **kwargs):
            guard.check(target_of(args, kwargs))
            return original(*args, **kwargs)

        guarded.__scratch_guarded__ = True
        return guarded


# module -> (family, driver, attributes holding a connect function)
DRIVERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sqlite3": ("sqlite", "sqlite3", ("connect",)),
    "sqlite3.dbapi2": ("sqlite", "sqlite3", ("connect",)),
    "aiosqlite": ("sqlite", "aiosqlite", ("connect",)),
    "psycopg": ("postgresql", "psycopg", ("connect", "Connection.connect", "AsyncConnection.connect")),
    "psycopg2": ("postgresql", "psycopg2", ("connect",)),
    "asyncpg": ("postgresql", "asyncpg", ("connect",)),
    "asyncpg.connection": ("postgresql", "asyncpg", ("connect",)),
    "pg8000": ("postgresql", "pg8000", ("connect",)),
    "pg8000.dbapi": ("postgresql", "pg8000", ("connect",)),
    "pymysql": ("mysql", "pymysql", ("connect", "Connect")),
    "MySQLdb": ("mysql", "mysqldb", ("connect", "Connect")),
    "mysql.connector": ("mysql", "mysqlconnector", ("connect",)),
    "aiomysql": ("mysql", "aiomysql", ("connect",)),
    "asyncmy": ("mysql", "asyncmy", ("connect",)),
    "oracledb": ("oracle", "oracledb", ("connect",)),
    "cx_Oracle": ("oracle", "cx_oracle", ("connect",)),
    "pyodbc": ("mssql", "pyodbc", ("connect",)),
    "pymssql": ("mssql", "pymssql", ("connect",)),
}


class _LoaderAfter(importlib.abc.Loader):
    """Runs the real loader, then wraps the module's connect functions."""

    def __init__(self, loader, guard: Guard, name: str):  # noqa: ANN001
        self.loader, self.guard, self.name = loader, guard, name

    def create_module(self, spec):  # noqa: ANN001
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:  # noqa: ANN001
        self.loader.exec_module(module)
        self.guard.wrap_module(self.name, module)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


class _WrapOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, guard: Guard):
        self.guard = guard

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001
        if fullname not in DRIVERS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _LoaderAfter(spec.loader, self.guard, fullname)
                return spec
        return None
