"""DBA113: sync Session/engine inside `async def`; AsyncSession without expire_on_commit=False; one
AsyncSession shared by concurrent tasks in asyncio.gather()."""

from __future__ import annotations

import ast
from typing import Iterable

from dbagents.check.facts.sql import dotted, func_name
from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity
from dbagents.check.walk import SCOPES, of_type, walk

SYNC_FACTORIES = {"sessionmaker", "scoped_session"}
ASYNC_FACTORIES = {"async_sessionmaker", "async_scoped_session"}
SYNC_ENGINE_IO = {"connect", "begin", "execute", "raw_connection"}
FACTORY_NAMES = {"async_sessionmaker", "AsyncSession", "sessionmaker"}  # may be built without expire_on_commit


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in of_type(node, ast.Name)}


class SyncSessionInAsync(ModuleRule):
    id = "DBA113"
    name = "sync-session-in-async"
    groups = ("models", "performance")
    severity = Severity.WARNING
    summary = "Sync Session/engine used in `async def`, AsyncSession without `expire_on_commit=False`, or one " \
              "AsyncSession shared across `asyncio.gather()` tasks."
    hint = "use AsyncSession/create_async_engine in async code, expire_on_commit=False, and one session per task"
    triggers = ("async def", "AsyncSession", "async_sessionmaker")
    fixable = "sometimes"
    doc = """
## What it does
Reports three asyncio mistakes:

1. inside an `async def`: `create_engine(...)`, `Session(...)`, `sessionmaker(...)`, a call to a module-level
   sync session factory (`SessionLocal = sessionmaker(...)` then `SessionLocal()`), or `engine.connect()` /
   `engine.begin()` on a module-level sync engine (lambdas and nested `def`s — e.g. passed to `run_sync` or
   `run_in_executor` — are not reported);
2. `async_sessionmaker(...)`, `AsyncSession(...)` or `sessionmaker(class_=AsyncSession)` without
   `expire_on_commit=False` (calls with `**kwargs` are skipped);
3. `asyncio.gather(...)` whose tasks use the same session variable (`gather(load_a(session), load_b(session))`,
   `gather(*(f(session, x) for x in xs))`).

## Why is this bad
A sync driver call blocks the event loop: every other request on that worker waits for the database.
With the default `expire_on_commit=True`, every attribute access after `await session.commit()` would need a
lazy refresh, which asyncio cannot do implicitly — it raises `MissingGreenlet`. An `AsyncSession` is not safe
for concurrent use: two tasks sharing it interleave on one connection and fail with "This session is provisioning
a new connection; concurrent operations are not permitted" or corrupt its state.

## Example
```python
SessionLocal = async_sessionmaker(engine)

async def handler():
    with Session(sync_engine) as s:
        ...
    async with SessionLocal() as session:
        a, b = await asyncio.gather(load_users(session), load_orders(session))
```

## Fix
```python
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)

async def handler():
    async with SessionLocal() as s1, SessionLocal() as s2:
        a, b = await asyncio.gather(load_users(s1), load_orders(s2))
```
`dbagents check --fix` adds `expire_on_commit=False` to the factory (mistake 2); the other two need a person.
"""
    valid = [
        Example("SessionLocal = async_sessionmaker(engine, expire_on_commit=False)\n\nasync def f():\n"
                "    async with SessionLocal() as session:\n        return await session.scalars(select(User))\n"),
        Example("def f():\n    with Session(engine) as session:\n        return session.scalars(select(User)).all()\n"),
        Example("async def f(engine):\n    async with engine.connect() as conn:\n"
                "        await conn.run_sync(lambda c: Session(c).execute(select(User)))\n"),
        Example("factory = async_sessionmaker(engine, **options)\n"),
        Example("async def f(request):\n    async_sessionmaker = request.state.async_sessionmaker\n"
                "    async with async_sessionmaker() as session:\n        await session.execute(q)\n",
                note="a factory instance named like the class"),
        Example("async def f(sessionmaker, orgs):\n    await asyncio.gather(*(sync(o, sessionmaker=sessionmaker) for o in orgs))\n",
                note="each task opens its own session from the factory"),
        Example("import requests\n\nasync def f():\n    s = requests.Session()\n", note="not SQLAlchemy's Session"),
        Example("from sqlalchemy import create_engine\n\n\nasync def f(reports=create_engine(REPORTS_URL)):\n"
                "    return await to_thread(export, reports)\n",
                note="a default is evaluated when the module loads, not inside the coroutine"),
        Example("async def f(factory):\n    async with factory() as s1, factory() as s2:\n"
                "        await asyncio.gather(load(s1), load(s2))\n"),
    ]
    invalid = [
        Example("from sqlalchemy import create_engine\nfrom sqlalchemy.orm import Session\n\n"
                "async def handler():\n    engine = create_engine(URL)\n    with Session(engine) as s:\n"
                "        return s.scalars(select(User)).all()\n", lines=(5, 6)),
        Example("SessionLocal = sessionmaker(bind=engine)\n\nasync def handler():\n    db = SessionLocal()\n",
                lines=(4,)),
        Example("from sqlalchemy.ext.asyncio import async_sessionmaker\n\nSessionLocal = async_sessionmaker(engine)\n",
                lines=(3,),
                fixed="from sqlalchemy.ext.asyncio import async_sessionmaker\n\n"
                      "SessionLocal = async_sessionmaker(engine, expire_on_commit=False)\n"),
        Example("from sqlalchemy.orm import sessionmaker\n\nfactory = sessionmaker(\n    engine,\n"
                "    class_=AsyncSession,\n    expire_on_commit=True,\n)\n",
                lines=(3,),
                fixed="from sqlalchemy.orm import sessionmaker\n\nfactory = sessionmaker(\n    engine,\n"
                      "    class_=AsyncSession,\n    expire_on_commit=False,\n)\n"),
        Example("async def f(session: AsyncSession):\n"
                "    users, orders = await asyncio.gather(load_users(session), load_orders(session))\n",
                lines=(2,)),
        Example("async def f(session: AsyncSession, ids):\n"
                "    await asyncio.gather(*[session.get(User, i) for i in ids])\n", lines=(2,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        sync_factories, sync_engines = self._module_sync_objects(ctx.tree)
        self._sa_names = {
            alias.asname or alias.name
            for node in of_type(ctx.tree, ast.ImportFrom) if (node.module or "").startswith(("sqlalchemy", "sqlmodel"))
            for alias in node.names
        }
        for node in of_type(ctx.tree, ast.Call):
            if func_name(node) in FACTORY_NAMES:
                yield from self._expire_on_commit(ctx, node)
        for node in of_type(ctx.tree, ast.AsyncFunctionDef):
            yield from self._async_body(ctx, node, sync_factories, sync_engines)

    @staticmethod
    def _module_sync_objects(tree: ast.Module) -> tuple[set[str], set[str]]:
        factories, engines = set(), set()
        for stmt in tree.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Call):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                name = func_name(stmt.value)
                is_async = any(kw.arg == "class_" and "Async" in dotted(kw.value) for kw in stmt.value.keywords)
                if name in SYNC_FACTORIES and not is_async and not any(
                    isinstance(a, ast.Call) and func_name(a) in ASYNC_FACTORIES for a in stmt.value.args
                ):
                    factories.update(names)
                elif name == "create_engine":
                    engines.update(names)
        return factories, engines

    def _expire_on_commit(self, ctx, node: ast.Call) -> Iterable[Finding]:
        name = func_name(node)
        kws = {kw.arg for kw in node.keywords}
        if None in kws:  # **options
            return
        if not (node.args or node.keywords) or not self._from_sqlalchemy(node.func):
            return  # calling a factory instance (`async with async_sessionmaker() as s`), or not SQLAlchemy's
        is_async_factory = name in ("async_sessionmaker", "AsyncSession") or (
            name == "sessionmaker" and any(kw.arg == "class_" and "AsyncSession" in dotted(kw.value)
                                           for kw in node.keywords)
        )
        if not is_async_factory:
            return
        for kw in node.keywords:
            if kw.arg == "expire_on_commit":
                if isinstance(kw.value, ast.Constant) and kw.value.value is True:
                    break
                return
        yield ctx.report(
            self, node, f"{name}() keeps expire_on_commit=True: attribute access after commit raises MissingGreenlet",
            hint="pass expire_on_commit=False",
        )

    def _async_body(self, ctx, fn: ast.AsyncFunctionDef, factories: set[str], engines: set[str]) -> Iterable[Finding]:
        session_params: set[str] | None = None
        inside_reported: set[int] = set()
        # the calls of this function itself: nested defs, lambdas and classes (run_sync/run_in_executor
        # callbacks) are judged on their own
        calls = [call for top in fn.body if not isinstance(top, SCOPES) for call in of_type(top, ast.Call, skip=SCOPES)]
        for node in calls:  # the body only: decorators and defaults run outside the coroutine
            if id(node) in inside_reported:
                continue
            name = func_name(node)
            func = node.func
            if name in ("create_engine", "Session", "sessionmaker", "scoped_session") and not (
                name == "sessionmaker" and any(kw.arg == "class_" for kw in node.keywords)
            ) and self._from_sqlalchemy(func):
                inside_reported.update(id(n) for n in walk(node) if n is not node)
                yield ctx.report(self, node, f"sync {name}() inside `async def {fn.name}` blocks the event loop",
                                 hint="use create_async_engine / AsyncSession / async_sessionmaker")
            elif isinstance(func, ast.Name) and func.id in factories:
                yield ctx.report(self, node, f"sync session factory {func.id}() used inside `async def {fn.name}`",
                                 hint="use an async_sessionmaker and `async with factory() as session`")
            elif (isinstance(func, ast.Attribute) and func.attr in SYNC_ENGINE_IO
                  and isinstance(func.value, ast.Name) and func.value.id in engines):
                yield ctx.report(self, node, f"sync engine {func.value.id}.{func.attr}() inside `async def {fn.name}`",
                                 hint="use create_async_engine and `async with engine.connect()`")
            elif name == "gather":
                if session_params is None:
                    session_params = {
                        a.arg for a in fn.args.args + fn.args.kwonlyargs
                        if a.annotation is not None and "AsyncSession" in ast.dump(a.annotation)
                    }
                yield from self._gather(ctx, node, session_params)

    def _gather(self, ctx, node: ast.Call, session_params: set[str]) -> Iterable[Finding]:
        users: dict[str, int] = {}
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                inner = arg.value
                if isinstance(inner, (ast.ListComp, ast.GeneratorExp)):
                    loop_vars = {n for g in inner.generators for n in _names_in(g.target)}
                    for name in _names_in(inner.elt) - loop_vars:
                        if self._sessionish(name, session_params):
                            users[name] = users.get(name, 0) + 2
                continue
            for name in _names_in(arg):
                if self._sessionish(name, session_params):
                    users[name] = users.get(name, 0) + 1
        shared = sorted(n for n, count in users.items() if count >= 2)
        if shared:
            yield ctx.report(
                self, node, f"one AsyncSession `{shared[0]}` is shared by concurrent tasks in gather()",
                hint="give each task its own session (async with factory() as s: ...), or await them in sequence",
            )

    def _from_sqlalchemy(self, func: ast.AST) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self._sa_names
        if not isinstance(func, ast.Attribute):
            return False
        return dotted(func.value) in ("orm", "sa", "sqlalchemy", "sa.orm", "sqlalchemy.orm", "sqlmodel")

    @staticmethod
    def _sessionish(name: str, params: set[str]) -> bool:
        lowered = name.lower()
        if "maker" in lowered or "factory" in lowered:
            return False  # a session factory: each task opens its own session
        return name in params or "session" in lowered

    def fix(self, site):
        """expire_on_commit=False on an async session factory; the other findings need a person."""
        import libcst as cst

        from dbagents.check.fix.site import with_keyword

        call = site.node(cst.Call)
        if call is None or "expire_on_commit" not in site.finding.message:
            return None
        return site.edit(call, with_keyword(call, "expire_on_commit", "False"))
