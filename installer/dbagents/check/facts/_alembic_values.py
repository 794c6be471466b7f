"""Expressions of a revision script as plain data: literal values, Call/Ref/Expr, and the SQL text a node spells
(constants, f-strings, `%` / `.format` templates, `text(…)`), with names bound to one string followed."""

from __future__ import annotations

import ast
from typing import Any

from dbagents.check.facts._alembic_model import Call, Expr, Ref
from dbagents.check.facts._alembic_sql import HOLE
from dbagents.check.names import dotted
from dbagents.check.walk import walk

SQL_WRAPPERS = {"text", "DDL", "literal_column"}


def to_value(node: ast.AST, strings: dict[str, str] | None = None) -> Any:
    """An expression as plain data: literals, lists, Call, Ref, or Expr (source-ish text)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [to_value(e, strings) for e in node.elts]
    if isinstance(node, ast.Call):
        func = dotted(node.func) or "?"
        args = [to_value(a, strings) for a in node.args if not isinstance(a, ast.Starred)]
        kwargs = {k.arg: to_value(k.value, strings) for k in node.keywords if k.arg}
        return Call(func, args, kwargs)
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted(node)
        if name and strings and name in strings:
            return strings[name]
        return Ref(name) if name else Expr(_unparse(node))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value if isinstance(node.operand.value, (int, float)) else Expr(_unparse(node))
    return Expr(_unparse(node))


def _unparse(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse is total on parsed trees
        text = type(node).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def sql_text(node: ast.AST, strings: dict[str, str]) -> str | None:
    """The SQL a node spells, when it can be read: constants, f-strings / % / .format templates, text(...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            else:
                inner = sql_text(part.value, strings) if isinstance(part, ast.FormattedValue) else None
                out.append(inner if inner is not None and "\n" not in inner and len(inner) < 64 else HOLE)
        return "".join(out)
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            return sql_text(node.left, strings)
        if isinstance(node.op, ast.Add):
            left, right = sql_text(node.left, strings), sql_text(node.right, strings)
            if left is None and right is None:
                return None
            return (left if left is not None else HOLE) + (right if right is not None else HOLE)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in SQL_WRAPPERS and node.args:
            return sql_text(node.args[0], strings)
        if name == "format" and isinstance(func, ast.Attribute):
            return sql_text(func.value, strings)
        if name in ("dedent", "strip") :
            if node.args:
                return sql_text(node.args[0], strings)
            if isinstance(func, ast.Attribute):
                return sql_text(func.value, strings)
        if name in ("execution_options", "bindparams", "columns") and isinstance(func, ast.Attribute):
            return sql_text(func.value, strings)
    return None


def _is_update_expression(node: ast.AST) -> bool:
    """`sa.update(t)…`, `t.update().where(…)…`, `session.query(X)…update({...})` inside an execute argument."""
    for sub in walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        if isinstance(func, ast.Name) and func.id == "update":
            return True
        if isinstance(func, ast.Attribute) and func.attr == "update":
            base = dotted(func.value) or ""
            if base in ("sa", "sqlalchemy", "sqlalchemy.sql", "sa.sql", "sqlalchemy.sql.expression"):
                return True
            if not sub.args and not sub.keywords:
                return True
    return False


def _string_constants(body: list[ast.stmt]) -> dict[str, str]:
    """Names assigned exactly one string (or f-string template) in `body`'s own statements."""
    found: dict[str, str] = {}
    clashes = set()
    for stmt in body:
        targets, value = [], None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for t in targets:
            if isinstance(t, ast.Name):
                text = sql_text(value, found) if value is not None else None
                if text is None or t.id in found:
                    clashes.add(t.id)
                else:
                    found[t.id] = text
    for name in clashes:
        found.pop(name, None)
    return found
