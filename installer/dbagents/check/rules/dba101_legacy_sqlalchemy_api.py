"""DBA101: 1.x APIs — legacy in 2.0 (session.query, Query.get, bulk_*), removed (string execute,
engine.execute, select([...]), MetaData(bind=)), or moved (sqlalchemy.ext.declarative)."""

from __future__ import annotations

import ast
import re
from typing import Iterable

from dbagents.check.facts.sql import KEY as SQL
from dbagents.check.facts.sql import dotted, func_name
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity
from dbagents.check.walk import of_type

SA_IMPORT = re.compile(r"^\s*(from|import)\s+(sqlalchemy|sqlmodel|flask_sqlalchemy|alembic)\b", re.MULTILINE)
SESSIONISH = re.compile(r"(^|[._])(session|sess|db_session|dbsession)$|session$", re.IGNORECASE)
CONNECTIONISH = re.compile(r"(^|[._])(conn|connection|bind|connectable|engine|db)$|(session|connection|engine)$",
                           re.IGNORECASE)
ENGINEISH = re.compile(r"(^|[._])(engine|async_engine|sync_engine)$|engine$", re.IGNORECASE)
BULK_LEGACY = {"bulk_insert_mappings", "bulk_save_objects", "bulk_update_mappings"}
CALL_NAMES = BULK_LEGACY | {"query", "get", "execute", "select", "MetaData"}  # the calls _call() looks at
DRIVER_MODULES = {"asyncpg", "psycopg", "psycopg2", "sqlite3", "aiosqlite", "duckdb", "pymysql", "MySQLdb", "aiomysql",
                  "oracledb", "cx_Oracle", "pyodbc", "snowflake", "pg8000", "databases", "clickhouse_driver"}
MOVED_NAMES = {"declarative_base", "declared_attr", "as_declarative", "DeclarativeMeta", "has_inherited_table",
               "synonym_for", "comparable_using", "instrument_declarative"}


class LegacySqlalchemyApi(ModuleRule):
    id = "DBA101"
    name = "legacy-sqlalchemy-api"
    groups = ("models",)
    severity = Severity.WARNING
    summary = "SQLAlchemy 1.x API: legacy in 2.0 (info), moved (warning) or removed in 2.0 (error)."
    hint = "use the 2.0 style: select() + session.execute()/scalars(), session.get(), text() for raw SQL"
    triggers = ("query(", ".get(", "bulk_", "execute(", "select([", "MetaData(", "ext.declarative")
    fixable = "sometimes"
    doc = """
## What it does
Finds SQLAlchemy 1.x APIs, with a severity per finding:

| Finding | Severity | 2.0 replacement |
|---|---|---|
| `session.query(Model)` | info (legacy, still runs) | `session.scalars(select(Model))` |
| `Query.get(pk)` / `Model.query.get(pk)` | info (legacy) | `session.get(Model, pk)` |
| `bulk_insert_mappings` / `bulk_update_mappings` / `bulk_save_objects` | info (legacy) | `session.execute(insert(Model), rows)` / `update(Model)` with a list of dicts |
| `from sqlalchemy.ext.declarative import declarative_base` (and other moved names) | warning (moved, deprecated) | `sqlalchemy.orm` |
| `session.execute("SELECT …")` / `conn.execute("…")` with a plain string | error (removed) | `execute(text("…"))` |
| `engine.execute(...)` | error (removed) | `with engine.begin() as conn: conn.execute(...)` |
| `select([a, b])` | error (removed) | `select(a, b)` |
| `MetaData(bind=engine)` | error (removed) | pass the engine/connection to `create_all()` / `execute()` |

Only files that import SQLAlchemy, SQLModel, Flask-SQLAlchemy or Alembic are checked. DB-API cursors
(`cursor.execute("…")`) and Alembic's `op.execute("…")` accept plain strings and are not reported.
A string `execute` is reported only when the receiver is a SQLAlchemy engine, connection or session — by its
parameter annotation or assignment (`conn: Connection` imported from SQLAlchemy, `op.get_bind()`,
`engine.connect()`), looked up through enclosing functions — or, when nothing says what it is, when its name
reads like one (`conn`, `session`, `db`) and the file imports SQLAlchemy for more than its exceptions. A
project's own wrapper (`db: Connection` imported from the project, an instance of a class of the file) is not
SQLAlchemy and is left alone.

## Why is this bad
Removed APIs raise on SQLAlchemy 2.x (`ObjectNotExecutableError`, `AttributeError`, `ArgumentError`), usually
only on the code path that is rarely tested. Legacy APIs still work but are not where new features, typing and
documentation go; moved names emit `MovedIn20Warning` and will disappear.

## Example
```python
users = session.query(User).filter(User.active).all()
user = session.query(User).get(user_id)
session.execute("DELETE FROM audit WHERE ts < now() - interval '1 year'")
stmt = select([User.id, User.name])
```

## Fix
```python
users = session.scalars(select(User).where(User.active)).all()
user = session.get(User, user_id)
session.execute(text("DELETE FROM audit WHERE ts < now() - interval '1 year'"))
stmt = select(User.id, User.name)
```
`dbagents check --fix` makes the mechanical ones: moved imports from `sqlalchemy.orm` (when every imported name
moved), `select([a, b])` -> `select(a, b)`, `session.query(Model).get(pk)` -> `session.get(Model, pk)` (not on a
project pinned below SQLAlchemy 1.4), and a literal SQL string without bind-parameter-like `:name` or `%` ->
`text("…")`. Rewriting `query()` chains, `engine.execute()`, bulk APIs and `MetaData(bind=)` needs a person.
"""
    valid = [
        Example("from sqlalchemy import select, text\n\nusers = session.scalars(select(User)).all()\n"
                "user = session.get(User, 1)\nsession.execute(text('SELECT 1'))\n"),
        Example("import sqlite3\n\ncur = conn.cursor()\ncur.execute('SELECT 1')\n"),
        Example("from alembic import op\n\ndef upgrade():\n    op.execute('UPDATE t SET x = 1')\n",
                path="versions/0001_x.py"),
        Example("from sqlalchemy.ext.declarative import DeferredReflection, AbstractConcreteBase\n"),
        Example("d = {}\nvalue = d.get('x')\nrows = api.query('x')\n", note="no SQLAlchemy import"),
        Example("import asyncpg\nimport sqlalchemy\n\nasync def f(url):\n    connection = await asyncpg.connect(url)\n"
                "    await connection.execute('CREATE DATABASE x')\n", note="an asyncpg connection takes strings"),
        Example("from sqlalchemy.exc import OperationalError\n\nfrom app.db import Connection\n\n\n"
                "async def m001_initial(db: Connection):\n    await db.execute('CREATE TABLE t (id INT)')\n\n"
                "    async def add(key: str):\n        await db.execute(f'INSERT INTO t VALUES ({key})')\n",
                note="the project's own Connection wraps text() itself (annotation resolved through the import)"),
        Example("import sqlalchemy as sa\n\n\nclass Database:\n    def execute(self, query: str):\n"
                "        with self.engine.begin() as conn:\n            return conn.execute(sa.text(query))\n\n\n"
                "db = Database()\n\n\ndef setup():\n    db.execute('CREATE TABLE t (id INT)')\n",
                note="an instance of a class defined in the same file"),
        Example("from sqlalchemy.exc import IntegrityError\n\n\ndef run(conn):\n    conn.execute('VACUUM')\n",
                note="an unknown receiver in a file that imports only SQLAlchemy's exceptions"),
        Example("import sqlalchemy as sa\nfrom alembic import op\n\n\ndef downgrade():\n"
                "    with op.batch_alter_table('flow_run') as batch_op:\n        batch_op.execute('DROP INDEX ix_x')\n",
                path="versions/0002_x.py", note="Alembic batch operations take SQL strings"),
    ]
    invalid = [
        Example("from sqlalchemy.orm import Session\n\nusers = session.query(User).all()\n", lines=(3,)),
        Example("from sqlalchemy.orm import Session\n\nuser = db.session.query(User).get(5)\n", lines=(3,),
                fixed="from sqlalchemy.orm import Session\n\nuser = db.session.get(User, 5)\n"),
        Example("from flask_sqlalchemy import SQLAlchemy\n\nuser = User.query.get(5)\n", lines=(3,)),
        Example("import sqlalchemy as sa\n\nwith engine.connect() as conn:\n    conn.execute('SELECT 1')\n",
                lines=(4,),
                fixed="import sqlalchemy as sa\n\nwith engine.connect() as conn:\n    conn.execute(sa.text('SELECT 1'))\n"),
        Example("import sqlalchemy as sa\n\nengine.execute(sa.text('SELECT 1'))\n", lines=(3,)),
        Example("from sqlalchemy.exc import OperationalError\nfrom app.models import db\n\n\n"
                "def version():\n    return db.session.execute('SELECT version()').scalar()\n", lines=(6,),
                fixed="from sqlalchemy.exc import OperationalError\nfrom app.models import db\nfrom sqlalchemy import "
                      "text\n\n\ndef version():\n    return db.session.execute(text('SELECT version()')).scalar()\n",
                note="a Flask-SQLAlchemy session, even where the file imports only SQLAlchemy's exceptions"),
        Example("from sqlalchemy.exc import OperationalError\nfrom sqlalchemy.engine import Connection\n\n\n"
                "def migrate(db: Connection):\n    def step():\n        db.execute('UPDATE t SET x = 1')\n"
                "    step()\n", lines=(7,),
                fixed="from sqlalchemy.exc import OperationalError\nfrom sqlalchemy.engine import Connection\n"
                      "from sqlalchemy import text\n\n\ndef migrate(db: Connection):\n    def step():\n"
                      "        db.execute(text('UPDATE t SET x = 1'))\n    step()\n", note="a SQLAlchemy Connection by annotation, used in a nested function"),
        Example("from sqlalchemy import select\n\nstmt = select([User.id, User.name])\n", lines=(3,),
                fixed="from sqlalchemy import select\n\nstmt = select(User.id, User.name)\n"),
        Example("from sqlalchemy import MetaData\n\nmetadata = MetaData(bind=engine)\n", lines=(3,)),
        Example("from sqlalchemy.ext.declarative import declarative_base\n", lines=(1,),
                fixed="from sqlalchemy.orm import declarative_base\n"),
        Example("from sqlalchemy.orm import Session\n\n\ndef purge(session: Session):\n"
                "    session.execute(\"DELETE FROM audit WHERE at < '2020-01-01 12:30'\")\n", lines=(5,),
                fixed="from sqlalchemy.orm import Session\nfrom sqlalchemy import text\n\n\n"
                      "def purge(session: Session):\n"
                      "    session.execute(text(\"DELETE FROM audit WHERE at < '2020-01-01 12:30'\"))\n"),
        Example("from sqlalchemy.orm import Session\n\n\ndef rename(session: Session):\n"
                "    session.execute(\"UPDATE t SET name = :name\")\n", lines=(5,),
                note="text() would read `:name` as a bind parameter: left alone"),
        Example("from sqlalchemy.orm import Session\n\nsession.bulk_insert_mappings(User, rows)\n", lines=(3,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        if not SA_IMPORT.search(ctx.src.text):
            return
        facts = ctx.facts.get(SQL)
        string_exec_lines = set()
        scopes = _non_sqlalchemy_scopes(ctx.tree) if facts is not None and facts.string_executes else []
        resolver = ReceiverKinds(ctx.tree) if facts is not None and facts.string_executes else None
        if facts is not None:
            for ex in facts.string_executes:
                recv = ex.receiver
                if not recv or recv == "op" or "cursor" in recv.lower() or recv.lower() in ("cur", "c", "self"):
                    continue
                bare = "." not in recv
                kind = resolver.kind(recv.replace("()", ""), ex.line) if bare else "unknown"
                if kind == "other" or (kind == "unknown" and not (
                        CONNECTIONISH.search(recv.replace("()", "")) and (resolver.sqlalchemy_evidence or not bare))):
                    continue  # dotted receivers (db.session, self.engine) keep the name test alone
                if kind == "unknown" and recv in _innermost(scopes, ex.line):
                    continue
                string_exec_lines.add(ex.line)
                yield self._f(ctx, ex.line, ex.col, Severity.ERROR,
                              f"{recv}.execute() with a plain SQL string was removed in SQLAlchemy 2.0",
                              "wrap the SQL in text(): execute(text(\"…\"), {\"param\": value})", ex.end_line)
        calls = of_type(ctx.tree, ast.Call)
        # `session.query(M).get(x)` is reported once, as Query.get()
        self._get_receivers = {
            id(n.func.value) for n in calls
            if isinstance(n.func, ast.Attribute) and n.func.attr == "get" and len(n.args) == 1
        }
        for node in of_type(ctx.tree, ast.ImportFrom, ast.Call):
            if isinstance(node, ast.ImportFrom):
                yield from self._import(ctx, node)
            elif isinstance(node, ast.Call):
                yield from self._call(ctx, node, string_exec_lines)

    def _f(self, ctx, line, col, severity, msg, hint, end_line=0) -> Finding:
        return self.finding(ctx.relpath, line, col, msg, hint=hint, end_line=end_line).with_severity(severity)

    def _import(self, ctx, node: ast.ImportFrom) -> Iterable[Finding]:
        if node.module != "sqlalchemy.ext.declarative":
            return
        moved = [a.name for a in node.names if a.name in MOVED_NAMES]
        if moved:
            yield self._f(ctx, node.lineno, node.col_offset + 1, Severity.WARNING,
                          f"sqlalchemy.ext.declarative.{moved[0]} moved to sqlalchemy.orm in 2.0 (MovedIn20Warning)",
                          f"from sqlalchemy.orm import {', '.join(moved)}", node.end_lineno or 0)

    def _call(self, ctx, node: ast.Call, string_exec_lines: set[int]) -> Iterable[Finding]:
        name = func_name(node)
        if name not in CALL_NAMES:
            return
        func = node.func
        line, col, end = node.lineno, node.col_offset + 1, node.end_lineno or 0
        recv = dotted(func.value) if isinstance(func, ast.Attribute) else ""
        if name == "query" and isinstance(func, ast.Attribute) and node.args and SESSIONISH.search(recv):
            if id(node) not in self._get_receivers:
                yield self._f(ctx, line, col, Severity.INFO, f"{recv}.query() is the legacy Query API",
                              "use session.scalars(select(Model).where(...)) / session.execute(select(...))", end)
        elif name == "get" and isinstance(func, ast.Attribute) and len(node.args) == 1 and not node.keywords:
            base = func.value
            is_query = (isinstance(base, ast.Call) and func_name(base) == "query" and isinstance(base.func, ast.Attribute)
                        and SESSIONISH.search(dotted(base.func.value)))
            is_model_query = isinstance(base, ast.Attribute) and base.attr == "query" and isinstance(
                base.value, ast.Name) and base.value.id[:1].isupper()
            if is_query or is_model_query:
                target = dotted(base.args[0]) if is_query and base.args else dotted(base.value)
                yield self._f(ctx, line, col, Severity.INFO, "Query.get() is legacy",
                              f"use session.get({target or 'Model'}, pk)", end)
        elif name in BULK_LEGACY and isinstance(func, ast.Attribute):
            yield self._f(ctx, line, col, Severity.INFO, f"Session.{name}() is a legacy bulk API",
                          "use session.execute(insert(Model), list_of_dicts) or update(Model) with a list of dicts",
                          end)
        elif name == "execute" and isinstance(func, ast.Attribute) and ENGINEISH.search(recv) and line not in string_exec_lines:
            if not recv.endswith("()"):
                yield self._f(ctx, line, col, Severity.ERROR, f"{recv}.execute() (Engine.execute) was removed in 2.0",
                              "with engine.begin() as conn: conn.execute(stmt)", end)
        elif name == "select" and node.args and isinstance(node.args[0], (ast.List, ast.ListComp)) and (
            isinstance(func, ast.Name) or recv in ("sa", "sqlalchemy", "sql", "expression", "sqlalchemy.sql")
        ):
            yield self._f(ctx, line, col, Severity.ERROR, "select([...]) with a list was removed in 2.0",
                          "pass the columns positionally: select(a, b)", end)
        elif name == "MetaData" and (
            any(kw.arg == "bind" for kw in node.keywords)
            or (node.args and isinstance(node.args[0], ast.Name) and "engine" in node.args[0].id.lower())
        ):
            yield self._f(ctx, line, col, Severity.ERROR, "MetaData(bind=...) was removed in 2.0",
                          "pass the engine/connection where it is used: metadata.create_all(engine)", end)


    def fix(self, site):
        """The mechanical rewrites: moved imports, select([...]), query(M).get(pk), a literal string in text()."""
        import libcst as cst

        message = site.finding.message
        if "moved to sqlalchemy.orm" in message:
            return _fix_moved_import(site, cst)
        from dbagents.check.fix.site import call_name

        wanted = "execute" if "with a plain SQL string" in message else ("get" if "get()" in message else "select")
        call = next((c for c in site.nodes(cst.Call) if call_name(c) == wanted), None)
        if call is None or site.has_comment(call):
            return None
        if message.startswith("select([...])"):
            return _fix_select_list(site, call, cst)
        if message.startswith("Query.get()"):
            return _fix_query_get(site, call, cst)
        if "with a plain SQL string" in message:
            return _fix_string_execute(site, call, cst)
        return None


MOVED_TO_ORM = MOVED_NAMES - {"comparable_using", "instrument_declarative"}  # both gone from 2.0 altogether
BIND_LIKE = re.compile(r"(?<![:\w\\]):\w|%")  # text() would read `:name` as a parameter; `%` is paramstyle


def _fix_moved_import(site, cst):
    node = site.node(cst.ImportFrom)
    if node is None or isinstance(node.names, cst.ImportStar) or node.relative:
        return None
    from dbagents.check.fix.site import dotted

    if not all(dotted(alias.name) in MOVED_TO_ORM for alias in node.names):
        return None  # DeferredReflection and friends stay in ext.declarative: a person splits the import
    return site.edit(node, node.with_changes(module=cst.parse_expression("sqlalchemy.orm")))


def _fix_select_list(site, call, cst):
    if len(call.args) != 1 or call.args[0].keyword is not None or not isinstance(call.args[0].value, cst.List):
        return None
    elements = call.args[0].value.elements
    if not elements or any(isinstance(e, cst.StarredElement) for e in elements):
        return None
    return site.edit(call, call.with_changes(args=[cst.Arg(e.value, comma=e.comma) for e in elements]))


def _fix_query_get(site, call, cst):
    from dbagents.check.roles import project_pin

    func = call.func
    query = func.value if isinstance(func, cst.Attribute) else None
    if not (isinstance(query, cst.Call) and isinstance(query.func, cst.Attribute) and query.func.attr.value == "query"
            and len(query.args) == 1 and query.args[0].keyword is None and query.args[0].star == ""
            and len(call.args) == 1 and call.args[0].keyword is None and call.args[0].star == ""):
        return None  # Model.query.get(pk) (Flask-SQLAlchemy) does not say which session to use
    pin = project_pin(site.project)
    if pin is not None and pin.version != "1.4" and pin.major < 2:
        return None  # Session.get() arrived in 1.4 (a pin below 2 that does not say 1.4 may be older)
    model = query.args[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    new = cst.Call(func=query.func.with_changes(attr=cst.Name("get")), args=[model, call.args[0]],
                   lpar=call.lpar, rpar=call.rpar)
    return site.edit(call, new)


def _fix_string_execute(site, call, cst):
    from dbagents.check.fix.site import dotted

    if not call.args or call.args[0].keyword is not None or len(call.args) != 1:
        return None
    if isinstance(call.func, cst.Attribute) and ENGINEISH.search(dotted(call.func.value)):
        return None  # engine.execute() itself is gone in 2.0: text() alone would not make it run
    sql = call.args[0].value
    parts = sql.strings if isinstance(sql, cst.ConcatenatedString) else [sql]
    if not all(isinstance(p, cst.SimpleString) for p in _flat(parts, cst)):
        return None
    value = sql.evaluated_value
    if not isinstance(value, str) or BIND_LIKE.search(value):
        return None
    spelled = site.sqlalchemy_name("text", ("sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression"))
    if spelled is None:
        return None
    func, imports = spelled
    wrapped = cst.Call(func=cst.parse_expression(func), args=[cst.Arg(sql)])
    return site.edit(call.args[0], call.args[0].with_changes(value=wrapped), imports=imports)


def _flat(parts, cst):
    for p in parts:
        if isinstance(p, cst.ConcatenatedString):
            yield from _flat([p.left, p.right], cst)
        else:
            yield p


def _bound_kind(value: ast.AST) -> str:
    """'driver' for a DB-API/driver connection or an unknown non-SQLAlchemy object, 'sa' otherwise."""
    while isinstance(value, ast.Await):
        value = value.value
    if not isinstance(value, ast.Call):
        return "sa"
    name = dotted(value.func)
    root = name.split(".")[0]
    if root in DRIVER_MODULES:
        return "driver"
    last = name.rsplit(".", 1)[-1]
    if last in ("connect", "begin", "connection", "get_bind", "engine_connect", "Session", "sessionmaker"):
        return "sa"
    if last[:1].isupper() and root not in ("sa", "sqlalchemy", "orm"):
        return "driver"  # SqlAlchemyConnector(...), DuckDBPyConnection(...): not a SQLAlchemy Connection
    return "sa"


def _non_sqlalchemy_scopes(tree: ast.Module) -> list[tuple[int, int, set[str]]]:
    """(first line, last line, names) per function: names only bound to non-SQLAlchemy objects there."""
    scopes = [(1, 10**9, _non_sqlalchemy_names(tree))]
    for node in of_type(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scopes.append((node.lineno, node.end_lineno or node.lineno, _non_sqlalchemy_names(node)))
    return scopes


def _innermost(scopes, line: int) -> set[str]:
    best = min((s for s in scopes if s[0] <= line <= s[1]), key=lambda s: s[1] - s[0])
    return best[2]


def _non_sqlalchemy_names(tree: ast.AST) -> set[str]:
    """Names only ever bound to driver connections or other non-SQLAlchemy objects in this scope."""
    kinds: dict[str, set[str]] = {}
    for node in of_type(tree, ast.Assign, ast.With, ast.AsyncWith):
        pairs = []
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            pairs.append((node.targets[0].id, node.value))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            pairs.extend((i.optional_vars.id, i.context_expr) for i in node.items if isinstance(i.optional_vars, ast.Name))
        for name, value in pairs:
            kinds.setdefault(name, set()).add(_bound_kind(value))
    return {name for name, found in kinds.items() if found == {"driver"}}


SA_MODULES = ("sqlalchemy", "sqlmodel", "flask_sqlalchemy", "alembic")
SA_BINDERS = {"connect", "begin", "connection", "get_bind", "Session", "AsyncSession", "sessionmaker",
              "scoped_session", "async_sessionmaker", "create_engine", "create_async_engine", "engine_from_config"}
ALEMBIC_BATCH = {"batch_alter_table"}
NEUTRAL_NAMES = {"Optional", "Union", "None", "Any", "typing", "Annotated"}


def _is_sa_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in SA_MODULES)


class ReceiverKinds:
    """What the bare name before `.execute("…")` holds at a line: 'sa' (a SQLAlchemy engine, connection or
    session), 'other' (the project's own wrapper, a driver connection) or 'unknown', from parameter
    annotations, assignments and `with ... as` in the enclosing functions, then the module."""

    def __init__(self, tree: ast.Module):
        self.imports: dict[str, str] = {}
        self.sqlalchemy_evidence = False
        for node in of_type(tree, ast.Import, ast.ImportFrom):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.imports[a.asname or a.name.split(".")[0]] = a.name
                    self._evidence(a.name)
            elif isinstance(node, ast.ImportFrom):
                module = "." * (node.level or 0) + (node.module or "")
                for a in node.names:
                    self.imports[a.asname or a.name] = f"{module}.{a.name}"
                    self._evidence(module)
        self.classes = {n.name for n in of_type(tree, ast.ClassDef) if isinstance(n, ast.ClassDef)}
        self.functions = [n for n in of_type(tree, ast.FunctionDef, ast.AsyncFunctionDef)
                          if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.tree = tree

    def _evidence(self, module: str) -> None:
        """Importing SQLAlchemy for more than its exception classes counts as evidence for unknown receivers."""
        if _is_sa_module(module) and not (module == "sqlalchemy.exc" or module.startswith("sqlalchemy.exc.")):
            self.sqlalchemy_evidence = True

    def kind(self, name: str, line: int) -> str:
        enclosing = sorted((f for f in self.functions if f.lineno <= line <= (f.end_lineno or f.lineno)),
                           key=lambda f: -f.lineno)
        for scope in [*enclosing, self.tree]:
            found = self._bindings(scope, name)
            if found:
                if "sa" in found:
                    return "sa"
                return "other" if found == {"other"} else "unknown"
        return "unknown"

    def _bindings(self, scope: ast.AST, name: str) -> set[str]:
        kinds: set[str] = set()
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = scope.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                if arg.arg == name:
                    kinds.add(self._annotation(arg.annotation) if arg.annotation is not None else "unknown")
        for node in of_type(scope, ast.Assign, ast.AnnAssign, ast.With, ast.AsyncWith):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                kinds.add(self._value(node.value))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                kinds.add(self._annotation(node.annotation))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == name:
                        kinds.add(self._value(item.context_expr))
        return kinds

    def _value(self, value: ast.AST) -> str:
        if _bound_kind(value) == "driver":
            return "other"
        while isinstance(value, ast.Await):
            value = value.value
        if isinstance(value, ast.Call):
            func = dotted(value.func) or ""
            last = func.rsplit(".", 1)[-1]
            if last in ALEMBIC_BATCH:
                return "other"  # Alembic's batch operations take SQL strings, like op.execute()
            if last in SA_BINDERS:
                return "sa"
            return self._class_kind(func) if last[:1].isupper() else "unknown"
        return "unknown"

    def _class_kind(self, dotted_name: str) -> str:
        root = dotted_name.split(".")[0]
        if not root or root in NEUTRAL_NAMES:
            return "unknown"
        if root in self.imports:
            return "sa" if _is_sa_module(self.imports[root]) else (
                "other" if dotted_name.split(".")[-1][:1].isupper() else "unknown")
        if root in self.classes:
            return "other"
        return "unknown"

    def _annotation(self, node: ast.AST) -> str:
        names: list[str] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                try:
                    stack.append(ast.parse(n.value, mode="eval").body)
                except SyntaxError:
                    pass
            elif isinstance(n, (ast.Name, ast.Attribute)):
                names.append(dotted(n) or "")
            elif isinstance(n, ast.Subscript):
                stack.extend([n.value, n.slice])
            elif isinstance(n, ast.BinOp):
                stack.extend([n.left, n.right])
            elif isinstance(n, ast.Tuple):
                stack.extend(n.elts)
        kinds = {self._class_kind(x) for x in names}
        if "sa" in kinds:
            return "sa"
        return "other" if "other" in kinds else "unknown"
