"""DBA114: Python `is`/`and`/`or`/`not`/`in` inside filter()/where() build a constant, not SQL."""

from __future__ import annotations

import ast
from typing import Iterable

from dbagents.check.rule import Example, ModuleContext, ModuleRule
from dbagents.findings import Finding, Severity

FILTER_METHODS = {"filter", "where", "having"}
SQL_COMBINATORS = {"and_", "or_", "not_"}


def _python_operators(node: ast.AST) -> Iterable[tuple[ast.AST, str]]:
    """Python-level boolean operators in a filter argument, not looking into comprehensions or lambdas."""
    if isinstance(node, ast.BoolOp):
        yield node, "and" if isinstance(node.op, ast.And) else "or"
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, "not"
        return
    if isinstance(node, ast.Compare):
        for op in node.ops:
            name = {ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}.get(type(op))
            if name:
                yield node, name
                return
        return
    if isinstance(node, ast.Call):
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if fname in SQL_COMBINATORS:
            for arg in node.args:
                yield from _python_operators(arg)
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        yield from _python_operators(node.left)
        yield from _python_operators(node.right)


FIXES = {
    "is": "col.is_(None)",
    "is not": "col.is_not(None)",
    "and": "and_(a, b) or a & b",
    "or": "or_(a, b) or a | b",
    "not": "not_(x) or ~x",
    "in": "col.in_(values)",
    "not in": "col.not_in(values)",
}


class PythonOperatorInFilter(ModuleRule):
    id = "DBA114"
    name = "python-operator-in-filter"
    groups = ("models", "performance")
    severity = Severity.ERROR
    summary = "Python `is`, `and`, `or`, `not` or `in` inside filter()/where() is evaluated by Python, not SQL."
    hint = "use SQL operators: is_(None)/is_not(None), and_()/&, or_()/|, not_()/~, in_()/not_in()"
    triggers = ("filter(", "where(", "having(")
    doc = """
## What it does
Finds Python's own `is`, `is not`, `and`, `or`, `not`, `in` and `not in` operators used inside the arguments
of `.filter()`, `.where()` or `.having()`.

## Why is this bad
SQLAlchemy overloads `==`, `&`, `|` and `~`, but Python does not let a library overload `is`, `and`, `or`,
`not` or `in`. Python evaluates them immediately: `User.deleted_at is None` is simply `False`, and
`User.active and User.admin` is just `User.admin`. The query then filters on a constant or on the wrong
column, silently returning no rows, all rows, or the wrong rows.

## Example
```python
stmt = select(User).where(User.deleted_at is None)
stmt = select(User).where(User.active and User.admin)
```

## Fix
```python
stmt = select(User).where(User.deleted_at.is_(None))
stmt = select(User).where(and_(User.active, User.admin))  # or (User.active) & (User.admin)
```
"""
    valid = [
        Example("stmt = select(User).where(User.deleted_at.is_(None), User.active)\n"),
        Example("stmt = select(User).where(User.id.in_([i for i in ids if i is not None]))\n"),
        Example("q = session.query(User).filter(and_(User.a == 1, or_(User.b == 2, ~User.c)))\n"),
        Example("items = filter(lambda x: x is not None and x > 1, values)\n"),
    ]
    invalid = [
        Example("stmt = select(User).where(User.deleted_at is None)\n", lines=(1,)),
        Example("q = session.query(User).filter(User.active and User.admin)\n", lines=(1,)),
        Example("stmt = select(User).where(\n    User.id == 1,\n    and_(User.a == 1, User.name in names),\n)\n",
                lines=(3,)),
        Example("stmt = select(User.role, func.count()).group_by(User.role).having(not User.active)\n", lines=(1,)),
    ]

    def check(self, ctx: ModuleContext) -> Iterable[Finding]:
        for node in ctx.src.nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in FILTER_METHODS:
                continue
            for arg in node.args:
                for bad, op in _python_operators(arg):
                    yield ctx.report(
                        self, bad, f"Python `{op}` inside .{node.func.attr}() is evaluated by Python, not SQL",
                        hint=f"use {FIXES[op]}",
                    )
