"""DBA115: `len(q.all())`, DML statements built but never executed, `session.add()` row by row."""

from __future__ import annotations

import ast
import re
from typing import Iterable

from dbagents.check.facts.sql import dotted, func_name
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.check.rules.dba503_insecure_engine_settings import is_test_path
from dbagents.findings import Finding, Severity
from dbagents.check.walk import of_type

SA_IMPORT = re.compile(r"^\s*(from|import)\s+(sqlalchemy|sqlmodel|flask_sqlalchemy)\b", re.MULTILINE)
QUERYISH = {"query", "scalars", "execute", "filter", "filter_by", "where", "select", "order_by", "join", "options",
            "limit", "unique", "distinct"}
DML = {"delete", "update", "insert"}
DML_CHAIN = {"where", "values", "returning", "filter", "on_conflict_do_update", "on_conflict_do_nothing",
             "execution_options", "ordered_values", "with_dialect_options", "inline", "prefix_with",
             "from_select", "filter_by"}
EXECUTORS = {"execute", "exec_driver_sql", "scalars", "scalar", "executemany", "add_all"}
FILE_READERS = {"reader", "DictReader", "readlines", "load", "loads", "iterrows", "itertuples", "read_csv"}
PER_ROW_SYNC = {"commit", "flush"}


def _chain(node: ast.AST) -> list[ast.Call]:
    """Calls of a method chain, outermost first: a().b().c() -> [c(), b(), a()]."""
    calls = []
    while True:
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return calls


def _dml_root(node: ast.AST) -> str | None:
    """'delete'/'update'/'insert' when `node` is a Core DML statement with at least one clause chained."""
    calls = _chain(node)
    if len(calls) < 2 or func_name(calls[0]) not in DML_CHAIN:
        return None
    for i, call in enumerate(calls[1:], start=1):
        name = func_name(call)
        if name in DML:
            if isinstance(call.func, ast.Name):
                return name
            # table.delete().where(...) — Query.delete()/update() run at once and return a row count
            return name if i == len(calls) - 1 or func_name(calls[i + 1]) not in QUERYISH else None
        if name not in DML_CHAIN:
            return None
    return None


OWN_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.For, ast.AsyncFor, ast.While)

class WastefulOrmUsage(ModuleRule):
    id = "DBA115"
    name = "wasteful-orm-usage"
    groups = ("performance",)
    severity = Severity.WARNING
    summary = "`len(q.all())` to count, a delete/update/insert built but never executed, or `session.add()` row " \
              "by row with a commit per row or over a large input."
    hint = "count in SQL with func.count(); execute DML statements; insert many rows with one executemany"
    triggers = (".all()", "delete(", "update(", "insert(", ".add(")
    doc = """
## What it does
- `len(<query>.all())` — loading every row only to count them (also `len(session.scalars(...).all())`);
- a Core `delete(...)`/`update(...)`/`insert(...)` (or `table.delete().where(...)`) statement written as a bare
  expression statement, or assigned to a local variable that is never used afterwards — it is built and
  thrown away (**warning**);
- `session.add(obj)` inside a `for` loop that also commits (**warning**) or flushes (**info**) on every
  iteration, or that iterates a large input — a CSV/JSON reader, `readlines()`, `range(n)` with n ≥ 1000
  (**info**).

Only files that import SQLAlchemy, SQLModel or Flask-SQLAlchemy are checked. In test files only the
never-executed statement is reported: counting or seeding a few fixture rows there is fine.

## Why is this bad
`len(q.all())` transfers and materialises every row (and every ORM object, with identity-map bookkeeping) to
produce one integer that the database computes from an index. A statement object does nothing until it is
executed: `delete(User).where(...)` alone deletes nothing, which is a silent bug. Committing per added row
costs one round trip and one fsync per row. Without a per-row commit or flush, `add()` in a loop is *not* one
INSERT per row — the flush batches the INSERTs (insertmanyvalues: 2,500 adds are 3 executions on
PostgreSQL) — but every row still becomes an ORM object the session builds, tracks and keeps in memory until
the flush; `session.execute(insert(Model), list_of_dicts)` skips that work, and `COPY` is faster still for
very large loads.

## Example
```python
total = len(session.scalars(select(Order).where(Order.open)).all())
delete(Session_).where(Session_.expires_at < now)
for row in csv.DictReader(fh):
    session.add(Product(**row))
    session.commit()
```

## Fix
```python
total = session.scalar(select(func.count()).select_from(Order).where(Order.open))
session.execute(delete(Session_).where(Session_.expires_at < now))
session.execute(insert(Product), list(csv.DictReader(fh)))
session.commit()
```
"""
    valid = [
        Example("from sqlalchemy import func, select, delete\n\n"
                "n = session.scalar(select(func.count()).select_from(User))\n"
                "session.execute(delete(User).where(User.id == 1))\n"),
        Example("from sqlalchemy import delete\n\ndef f(session):\n    stmt = delete(User).where(User.id == 1)\n"
                "    session.execute(stmt)\n"),
        Example("from sqlalchemy.orm import Session\n\nfor user in users[:3]:\n    session.add(user)\nsession.commit()\n"),
        Example("from sqlalchemy.orm import Session\n\nsession.query(User).filter(User.id == 1).delete()\n"),
        Example("n = len(items.all())\n", note="no SQLAlchemy import"),
        Example("from sqlalchemy.orm import Session\n\nfor case in cases:\n    try:\n        case.cost = compute(case)\n"
                "        session.add(case)\n        session.commit()\n    except Exception:\n"
                "        session.rollback()\n        log.exception('skipped %s', case.id)\n",
                note="a commit per row on purpose: one failing row must not undo the others"),
        Example("from sqlalchemy.orm import Session\n\nfor data in rows:\n    org = Org(**data)\n    session.add(org)\n"
                "    session.flush()\n    links.append(Link(org_id=org.id))\n",
                note="the flush is there to get the generated id"),
    ]
    invalid = [
        Example("from sqlalchemy import select\n\nn = len(session.scalars(select(User)).all())\n", lines=(3,)),
        Example("from sqlalchemy.orm import Session\n\nn = len(session.query(User).filter(User.active).all())\n",
                lines=(3,)),
        Example("from sqlalchemy import delete\n\ndef purge(session):\n    delete(User).where(User.active.is_(False))\n",
                lines=(4,)),
        Example("import sqlalchemy as sa\n\ndef purge(conn):\n    stmt = users_table.delete().where(users_table.c.id == 1)\n"
                "    return None\n", lines=(4,)),
        Example("from sqlalchemy.orm import Session\n\nfor row in rows:\n    session.add(User(**row))\n"
                "    session.commit()\n", lines=(4,)),
        Example("import csv\nfrom sqlalchemy.orm import Session\n\nfor row in csv.DictReader(fh):\n"
                "    session.add(Product(**row))\n", lines=(5,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        if not SA_IMPORT.search(ctx.src.text):
            return
        in_tests = is_test_path(ctx.relpath)
        for node in of_type(ctx.tree, ast.Call, ast.Expr, ast.FunctionDef, ast.AsyncFunctionDef, ast.For, ast.AsyncFor):
            if in_tests and not isinstance(node, ast.Expr):
                continue  # counting a handful of fixture rows or seeding them one by one is fine in tests
            if isinstance(node, ast.Call) and func_name(node) == "len" and len(node.args) == 1:
                yield from self._len_all(ctx, node)
            elif isinstance(node, ast.Expr):
                kind = _dml_root(node.value)
                if kind:
                    yield ctx.report(self, node, f"{kind} statement is built but never executed",
                                     hint="pass it to session.execute() / conn.execute()")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from self._unused_dml(ctx, node)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                yield from self._add_in_loop(ctx, node)

    def _len_all(self, ctx, node: ast.Call) -> Iterable[Finding]:
        arg = node.args[0]
        if not (isinstance(arg, ast.Call) and func_name(arg) == "all" and not arg.args):
            return
        if any(func_name(c) in QUERYISH for c in _chain(arg)[1:]):
            yield ctx.report(self, node, "len(....all()) loads every row just to count them",
                             hint="select(func.count()).select_from(...) with session.scalar(), or Query.count()")

    def _unused_dml(self, ctx, fn) -> Iterable[Finding]:
        assigned: dict[str, ast.Assign] = {}
        for stmt in of_type(fn, ast.Assign):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                if _dml_root(stmt.value):
                    assigned.setdefault(stmt.targets[0].id, stmt)
        if not assigned:
            return
        loads = {n.id for n in of_type(fn, ast.Name) if isinstance(n.ctx, ast.Load)}
        for name, stmt in assigned.items():
            if name not in loads and not _is_global(fn, name):
                yield ctx.report(self, stmt, f"`{name}` holds a {_dml_root(stmt.value)} statement that is never "
                                 "executed", hint="pass it to session.execute() / conn.execute(), or remove it")

    def _add_in_loop(self, ctx, loop) -> Iterable[Finding]:
        adds, syncs = [], []
        calls = [call for top in loop.body if not isinstance(top, OWN_SCOPES)
                 for call in of_type(top, ast.Call, skip=OWN_SCOPES)]  # inner loops are judged on their own
        for node in calls:
            if isinstance(node.func, ast.Attribute):
                recv = dotted(node.func.value).lower()
                if "session" not in recv and recv not in ("db", "s", "sess"):
                    continue
                if node.func.attr == "add" and len(node.args) == 1:
                    adds.append(node)
                elif node.func.attr in PER_ROW_SYNC:
                    syncs.append(node)
        if not adds:
            return
        add = min(adds, key=lambda n: (n.lineno, n.col_offset))
        if syncs and (_isolated_commits(loop, syncs) or _flush_for_key(loop, add, syncs)):
            return  # a commit per row on purpose (one failure must not undo the others) / a flush for the new id
        if syncs:
            sync = func_name(syncs[0])
            f = ctx.report(self, add, f"session.add() with a {sync}() on every loop iteration: one round trip per row",
                           hint="add all rows (or one insert() with a list of dicts), then commit once")
            yield f if sync == "commit" else f.with_severity(Severity.INFO)
        elif self._large_input(loop.iter):
            f = ctx.report(self, add, "session.add() row by row over a large input builds and tracks one ORM object "
                                      "per row (the flush batches the INSERTs, the objects are the cost)",
                           hint="session.execute(insert(Model), list_of_dicts) inserts without ORM objects; "
                                "COPY for very large loads")
            yield f.with_severity(Severity.INFO)

    @staticmethod
    def _large_input(it: ast.AST) -> bool:
        for node in of_type(it, ast.Call):
            if isinstance(node, ast.Call):
                name = func_name(node)
                if name in FILE_READERS:
                    return True
                if name == "range" and node.args:
                    last = node.args[-1] if len(node.args) < 3 else node.args[1]
                    if isinstance(last, ast.Constant) and isinstance(last.value, int) and last.value >= 1000:
                        return True
        return False


def _isolated_commits(loop, syncs) -> bool:
    """Every commit sits in a `try` of the loop body whose handlers do not re-raise: per-row isolation."""
    commits = [s for s in syncs if func_name(s) == "commit"]
    if not commits or len(commits) != len(syncs):
        return False
    tries = [t for t in of_type(loop, ast.Try) if isinstance(t, ast.Try) and t.handlers]
    for call in commits:
        guard = next((t for t in tries if any(call in set(of_type(stmt, ast.Call)) for stmt in t.body)), None)
        if guard is None or any(any(isinstance(n, ast.Raise) for n in of_type(h, ast.Raise)) for h in guard.handlers):
            return False
    return True


def _flush_for_key(loop, add: ast.Call, syncs) -> bool:
    """Only flushes, and the loop reads the added object's generated `.id` afterwards: the flush is the point."""
    if any(func_name(s) != "flush" for s in syncs) or not isinstance(add.args[0], ast.Name):
        return False
    name, after = add.args[0].id, max(s.lineno for s in syncs)
    return any(isinstance(n, ast.Attribute) and n.attr == "id" and isinstance(n.value, ast.Name)
               and n.value.id == name and n.lineno >= after for n in of_type(loop, ast.Attribute))


def _is_global(fn, name: str) -> bool:
    return any(name in n.names for n in of_type(fn, ast.Global, ast.Nonlocal))
