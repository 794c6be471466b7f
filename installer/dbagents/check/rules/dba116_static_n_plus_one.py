"""DBA116: static N+1 — a loop over ORM query rows touches a relationship the statement does not eager-load."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.facts._model_relations import direction
from dbagents.check.facts.orm_loops import KEY as LOOPS
from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

# Mapping-level loader strategies under which touching the attribute per row costs no extra query per row
# (eager, raise = fails loudly instead, noload, dynamic/write_only = the attribute is a query you call yourself).
NO_PER_ROW_LOAD = {"selectin", "joined", "subquery", "immediate", "raise", "raise_on_sql", "noload", "dynamic",
                   "write_only", "False", "None", "false"}


def _find_relationship(models, cls_name: str, attr: str, backrefs: dict, seen=None):
    seen = set() if seen is None else seen
    if cls_name in seen:
        return None
    seen.add(cls_name)
    cls = models.classes.get(cls_name)
    if cls is None:
        return None
    rel = cls.relationships.get(attr)
    if rel is not None:
        return rel
    if (cls_name, attr) in backrefs:
        return backrefs[(cls_name, attr)]
    for base in list(getattr(cls, "bases", []) or []) + ([cls.parent] if getattr(cls, "parent", None) else []):
        rel = _find_relationship(models, base, attr, backrefs, seen)
        if rel is not None:
            return rel
    return None


class _Backref:
    """A relationship created on the target class by `backref="name"` (default lazy loading)."""

    def __init__(self, attr: str, target: str | None, origin=None, origin_cls=None):
        self.attr = attr
        self.target = target
        self.lazy = None
        self.origin, self.origin_cls = origin, origin_cls  # the relationship that declares the backref


def _backrefs(models) -> dict:
    found = {}
    for cls in models.classes.values():
        for rel in cls.relationships.values():
            if rel.backref and rel.target:
                found[(rel.target, rel.backref)] = _Backref(rel.backref, cls.name, rel, cls)
    return found


def _kind(models, owner: str, rel) -> str | None:
    """'many-to-one' or 'collection' (or 'one-to-one'/None) for a relationship or backref of `owner`."""
    if isinstance(rel, _Backref):
        if rel.origin is None or rel.origin_cls is None:
            return None
        back = direction(models, rel.origin_cls, rel.origin)
        return {"many-to-one": "collection", "collection": "many-to-one"}.get(back or "")
    cls = models.classes.get(owner)
    return direction(models, cls, rel) if cls is not None else None


def _no_per_row_load(rel) -> bool:
    return rel.lazy is not None and str(rel.lazy) in NO_PER_ROW_LOAD


def _covered(stmt, path: tuple[str, ...]) -> bool:
    if path in stmt.eager:
        return True
    return any(path[: len(prefix)] == prefix for prefix in stmt.wildcard)


class StaticNPlusOne(ProjectRule):
    id = "DBA116"
    name = "static-n-plus-one"
    groups = ("performance", "models")
    severity = Severity.WARNING
    summary = ("A loop over ORM query rows reads a relationship the query does not eager-load: one query per row "
               "(collections), per distinct parent (many-to-one, info).")
    hint = "add .options(selectinload(Model.rel)) (collections) or joinedload(Model.rel) (many-to-one)"
    doc = """
## What it does
Finds `for` loops and comprehensions over the rows of an ORM query — `session.scalars(stmt)`,
`session.execute(stmt).scalars()`, `.all()`, `(await session.scalars(stmt)).all()`, `session.query(Model)…`,
Flask's `Model.query…`, directly or through local variables — whose body reads a relationship attribute of
each row (`user.addresses`, `post.author.company`, or `c.author` in an inner loop over `post.comments`),
when neither the statement nor the mapping loads that relationship eagerly.

Eager loading counts when the statement (including `.options(...)` added to the statement variable later
in the function) has `selectinload`, `joinedload`, `subqueryload`, `immediateload`, `contains_eager`,
`raiseload` or `noload` for the relationship path, or a `"*"` wildcard; or when the relationship is mapped
with `lazy="selectin" | "joined" | "subquery" | "immediate" | "raise" | "raise_on_sql"` (or `dynamic` /
`write_only`, which never load implicitly). Options the checker cannot see into (a variable, `*opts`, a helper
call) are assumed to load everything. Relationships come from the project's model index (all files).

Collections (and one-to-one from the parent side) cost one query per row: a warning. A many-to-one
(`post.author`) is looked up in the session's identity map first, so it costs one query per *distinct*
parent not already loaded — often far fewer than the rows; it is reported as info, with `joinedload`.

## Why is this bad
With the default `lazy="select"`, each first access of the relationship on each row issues one more SELECT:
100 rows → 101 queries. It is invisible in tests with three rows and dominates response time in production.
Under asyncio it is worse: the implicit lazy load raises `MissingGreenlet`.

## Example
```python
users = session.scalars(select(User).where(User.active)).all()
for user in users:
    print(user.name, len(user.addresses))   # one SELECT per user
```

## Fix
```python
stmt = select(User).where(User.active).options(selectinload(User.addresses))
for user in session.scalars(stmt):
    print(user.name, len(user.addresses))   # two queries in total
```
Use `joinedload` for many-to-one, `selectinload` for collections, and `raiseload("*")` in code paths that
must never lazy-load.
"""
    _models = ("from sqlalchemy import ForeignKey\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, "
               "mapped_column, relationship\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\n"
               "class User(Base):\n    __tablename__ = 'users'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
               "    name: Mapped[str]\n    addresses: Mapped[list['Address']] = relationship(back_populates='user')\n"
               "    orders: Mapped[list['Order']] = relationship(lazy='selectin')\n\n\n"
               "class Address(Base):\n    __tablename__ = 'addresses'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
               "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'), index=True)\n"
               "    user: Mapped[User] = relationship(back_populates='addresses')\n\n\n"
               "class Order(Base):\n    __tablename__ = 'orders'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
               "    user_id: Mapped[int] = mapped_column(ForeignKey('users.id'), index=True)\n")
    valid = [
        Example("def report(session):\n    stmt = select(User).options(selectinload(User.addresses))\n"
                "    for user in session.scalars(stmt):\n        print(user.name, len(user.addresses))\n",
                path="app/report.py", files={"app/models.py": _models}),
        Example("def report(session):\n    stmt = select(User)\n    stmt = stmt.where(User.id > 5)\n"
                "    stmt = stmt.options(selectinload(User.addresses))\n"
                "    return [len(u.addresses) for u in session.scalars(stmt).all()]\n",
                path="app/report.py", files={"app/models.py": _models}, note="options added later"),
        Example("def report(session):\n    for user in session.scalars(select(User)):\n        print(user.orders)\n",
                path="app/report.py", files={"app/models.py": _models}, note="lazy='selectin' on the mapping"),
        Example("def report(session):\n    for user in session.scalars(select(User)):\n        print(user.name)\n",
                path="app/report.py", files={"app/models.py": _models}, note="a column, not a relationship"),
    ]
    invalid = [
        Example("def report(session):\n    users = session.scalars(select(User).where(User.name != '')).all()\n"
                "    for user in users:\n        print(user.name, len(user.addresses))\n",
                path="app/report.py", files={"app/models.py": _models}, lines=(4,)),
        Example("async def report(session):\n    result = await session.execute(select(Address))\n"
                "    return {a.id: a.user.name for a in result.scalars()}\n",
                path="app/report.py", files={"app/models.py": _models}, lines=(3,)),
        Example("def report(session):\n    for user in session.query(User).filter(User.id > 1).all():\n"
                "        for address in user.addresses:\n            print(address.id)\n",
                path="app/report.py", files={"app/models.py": _models}, lines=(3,)),
        Example("def report(session):\n    stmt = select(User).options(selectinload(User.addresses))\n"
                "    for user in session.scalars(stmt):\n        for address in user.addresses:\n"
                "            print(address.user.name)\n",
                path="app/report.py", files={"app/models.py": _models}, lines=(5,),
                note="second level not loaded"),
    ]

    def check(self, project) -> Iterable[Finding]:
        loops = list(project.module_facts(LOOPS))
        if not loops:
            return
        models = project.get("models")
        backrefs = _backrefs(models)
        for relpath, facts in loops:
            for loop in facts.loops:
                entity = loop.stmt.entity
                if entity not in models.classes:
                    continue
                reported: set[tuple[str, ...]] = set()
                for acc in loop.accesses:
                    yield from self._access(relpath, loop, acc, models, backrefs, reported)

    def _access(self, relpath, loop, acc, models, backrefs, reported) -> Iterable[Finding]:
        entity = loop.stmt.entity
        first = acc.path[0]
        rel = _find_relationship(models, entity, first, backrefs)
        if rel is None:
            return
        level1_eager = _covered(loop.stmt, (first,)) or _no_per_row_load(rel)
        if not level1_eager:
            if (first,) not in reported:
                reported.add((first,))
                yield self._report(relpath, loop, acc, entity, first, (first,), _kind(models, entity, rel),
                                   rel.target)
            return
        if len(acc.path) < 2 or not rel.target:
            return
        rel2 = _find_relationship(models, rel.target, acc.path[1], backrefs)
        if rel2 is None or _covered(loop.stmt, acc.path[:2]) or _no_per_row_load(rel2):
            return
        if rel.lazy is not None and str(rel.lazy) in ("raise", "raise_on_sql", "noload", "None", "dynamic", "write_only"):
            return
        if acc.path[:2] not in reported:
            reported.add(acc.path[:2])
            yield self._report(relpath, loop, acc, rel.target, acc.path[1], acc.path[:2],
                               _kind(models, rel.target, rel2), rel2.target)

    def _report(self, relpath, loop, acc, owner, attr, path, kind=None, target=None) -> Finding:
        entity = loop.stmt.entity
        shown = ".".join((loop.var,) + path)
        where = "comprehension" if loop.line == acc.line else f"loop on line {loop.line}"
        loader = "joinedload" if kind == "many-to-one" else "selectinload"
        option = f"{loader}({entity}.{path[0]})"
        if len(path) == 2:
            option = f"selectinload({entity}.{path[0]}).{loader}({owner}.{attr})"
        extra = " (and raises MissingGreenlet under asyncio)" if loop.in_async else ""
        if kind == "many-to-one":
            # the lazy loader looks the key up in the identity map first: one query per distinct parent not
            # yet in the session, not one per row
            msg = (f"`{shown}` lazy-loads the many-to-one {owner}.{attr} in the {where} (query on line "
                   f"{loop.stmt.line}): one query per distinct {target or 'parent'} not already in the session{extra}")
            return self.finding(relpath, acc.line, acc.col, msg, hint=f"add .options({option}) to the query",
                                end_line=acc.end_line).with_severity(Severity.INFO)
        msg = (f"`{shown}` lazy-loads {owner}.{attr} once per {entity} row of the {where} "
               f"(query on line {loop.stmt.line}){extra}")
        return self.finding(relpath, acc.line, acc.col, msg, hint=f"add .options({option}) to the query",
                            end_line=acc.end_line)
