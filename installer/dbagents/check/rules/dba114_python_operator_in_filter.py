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
    fixable = "sometimes"
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
`dbagents check --fix` writes these: `X is None` -> `X.is_(None)` (`is not` -> `is_not`), `X in values` ->
`X.in_(values)` (`not in` -> `not_in`) where X is a mapped or table column (`User.name`, `users.c.name`), and
`a and b` / `a or b` / `not a` -> `and_(a, b)` / `or_(a, b)` / `not_(a)` (importing them from sqlalchemy) when no
operand is a plain Python variable (`flag and User.active` may be meant as Python) and no comment sits inside.
"""
    valid = [
        Example("stmt = select(User).where(User.deleted_at.is_(None), User.active)\n"),
        Example("stmt = select(User).where(User.id.in_([i for i in ids if i is not None]))\n"),
        Example("q = session.query(User).filter(and_(User.a == 1, or_(User.b == 2, ~User.c)))\n"),
        Example("items = filter(lambda x: x is not None and x > 1, values)\n"),
    ]
    invalid = [
        Example("stmt = select(User).where(User.deleted_at is None)\n", lines=(1,),
                fixed="stmt = select(User).where(User.deleted_at.is_(None))\n"),
        Example("from sqlalchemy import select\n\nq = session.query(User).filter(User.active and User.admin)\n",
                lines=(3,),
                fixed="from sqlalchemy import and_, select\n\nq = session.query(User).filter(and_(User.active, "
                      "User.admin))\n"),
        Example("stmt = select(User).where(\n    User.id == 1,\n    and_(User.a == 1, User.name in names),\n)\n",
                lines=(3,),
                fixed="stmt = select(User).where(\n    User.id == 1,\n    and_(User.a == 1, User.name.in_(names)),\n)\n"),
        Example("import sqlalchemy as sa\n\n\ndef not_(x):\n    return x\n\n\n"
                "stmt = sa.select(User.role).group_by(User.role).having(not User.active)\n", lines=(8,),
                fixed="import sqlalchemy as sa\n\n\ndef not_(x):\n    return x\n\n\n"
                      "stmt = sa.select(User.role).group_by(User.role).having(sa.not_(User.active))\n",
                note="not_ is taken in this file: sa.not_"),
        Example("stmt = select(User).where(User.deleted_at is not None or User.id in (1, 2) or User.x is None)\n",
                lines=(1,),
                fixed="from sqlalchemy import or_\n\nstmt = select(User).where(or_(User.deleted_at.is_not(None), "
                      "User.id.in_((1, 2)), User.x.is_(None)))\n",
                note="fixes compose: or_() first, then the operators inside it"),
        Example("q = session.query(User).filter(include_all or User.active)\n", lines=(1,),
                note="a Python flag as an operand: maybe meant as Python, no fix"),
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

    def fix(self, site):
        """`is`/`in` -> is_()/in_() on a column; and/or/not -> and_()/or_()/not_() over SQL operands."""
        import libcst as cst

        node = site.node(cst.BooleanOperation, cst.UnaryOperation, cst.Comparison)
        if node is None or site.has_comment(node):
            return None
        if isinstance(node, cst.Comparison):
            return _fix_comparison(site, node, cst)
        if isinstance(node, cst.UnaryOperation):
            operands, name = [node.expression], "not_"
        else:
            operands = _chain(node, type(node.operator), cst)
            name = "and_" if isinstance(node.operator, cst.And) else "or_"
        if any(isinstance(o, cst.Name) for o in operands):
            return None  # a Python variable among the operands may be meant as Python
        spelled = site.sqlalchemy_name(name, ("sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression"))
        if spelled is None:
            return None
        func, imports = spelled
        call = cst.Call(func=cst.parse_expression(func),
                        args=[cst.Arg(o.with_changes(lpar=[], rpar=[]) if _bare_parens(o) else o) for o in operands])
        return site.edit(node, call.with_changes(lpar=node.lpar, rpar=node.rpar), imports=imports)


def _chain(node, op_type, cst) -> list:
    """The operands of `a and b and c` (one operator, no parentheses in between) in order."""
    out = []
    for side in (node.left, node.right):
        if isinstance(side, cst.BooleanOperation) and isinstance(side.operator, op_type) and not side.lpar:
            out.extend(_chain(side, op_type, cst))
        else:
            out.append(side)
    return out


def _bare_parens(node) -> bool:
    """Parentheses that only grouped an operand (an argument needs none); a tuple keeps its own."""
    return bool(getattr(node, "lpar", None)) and type(node).__name__ != "Tuple"


def _column(node, cst) -> bool:
    """`User.name`, `users.c.name`: a mapped or table column, spelled so that a method call on it is SQL."""
    from dbagents.check.fix.site import dotted

    name = dotted(node)
    return isinstance(node, cst.Attribute) and bool(name) and (name[:1].isupper() or ".c." in name)


def _fix_comparison(site, node, cst):
    if len(node.comparisons) != 1 or not _column(node.left, cst):
        return None
    target = node.comparisons[0]
    operator, right = target.operator, target.comparator
    if isinstance(operator, (cst.Is, cst.IsNot)):
        if not (isinstance(right, cst.Name) and right.value in ("None", "True", "False")):
            return None
        method = "is_" if isinstance(operator, cst.Is) else "is_not"
    elif isinstance(operator, (cst.In, cst.NotIn)):
        if _column(right, cst):
            return None  # `x in Model.tags`: a relationship or array, not a list of values
        method = "in_" if isinstance(operator, cst.In) else "not_in"
    else:
        return None
    call = cst.Call(func=cst.Attribute(value=node.left, attr=cst.Name(method)), args=[cst.Arg(right)],
                    lpar=node.lpar, rpar=node.rpar)
    return site.edit(node, call)
