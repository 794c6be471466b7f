"""Dialect guards inside a revision: `if bind.dialect.name == "sqlite":`, `if url.startswith("mysql"):`,
`if "postgresql" in str(bind.engine.url):` — which database each branch runs on."""

from __future__ import annotations

import ast

from dbagents.check.facts._alembic_values import _unparse


_DIALECT_WORDS = ("dialect", "engine", "url", "driver", "backend", "db_type", "database_type")


def _about_dialect(node: ast.AST) -> bool:
    text = _unparse(node).lower()
    return any(word in text for word in _DIALECT_WORDS)


def _guard(names: list[str], positive: bool) -> tuple[str | None, str | None]:
    names = [n.lower() for n in names]
    is_pg = any(n.startswith("postgres") for n in names)
    match = "postgresql" if is_pg else "other"
    miss = "other" if is_pg else None
    return (match, miss) if positive else (miss, match)


def _returned(func: ast.FunctionDef) -> ast.AST | None:
    """The expression a helper returns when its body is a single `return …` (after an optional docstring)."""
    body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return body[0].value
    return None


def _dialect_of_test(test: ast.AST, helpers: dict | None = None, depth: int = 0) -> tuple[str | None, str | None]:
    """(dialect when true, dialect when false) for guards such as `if bind.dialect.name == "sqlite":`,
    `if url.startswith("mysql"):`, `if "postgresql" in str(bind.engine.url):`, or a call to a module helper
    returning such a comparison (`def is_postgres(): return op.get_context().dialect.name == "postgresql"`)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        when_true, when_false = _dialect_of_test(test.operand, helpers, depth)
        return when_false, when_true
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and helpers and depth < 3
            and test.func.id in helpers and not test.args and not test.keywords):
        returned = _returned(helpers[test.func.id])
        return _dialect_of_test(returned, helpers, depth + 1) if returned is not None else (None, None)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith":
        if test.args and _about_dialect(test.func.value):
            arg = test.args[0]
            names = [arg.value] if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else [
                e.value for e in getattr(arg, "elts", []) if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if names:
                return _guard(names, True)
        return None, None
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None, None
    left, right, op = test.left, test.comparators[0], test.ops[0]
    if isinstance(left, ast.Constant) and isinstance(left.value, str) and isinstance(op, (ast.In, ast.NotIn)):
        if _about_dialect(right):
            return _guard([left.value], isinstance(op, ast.In))
        return None, None
    if not _about_dialect(left):
        return None, None
    names: list[str] = []
    if isinstance(right, ast.Constant) and isinstance(right.value, str):
        names = [right.value]
    elif isinstance(right, (ast.Tuple, ast.List, ast.Set)):
        names = [e.value for e in right.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if not names:
        return None, None
    if isinstance(op, (ast.Eq, ast.In, ast.Is)):
        return _guard(names, True)
    if isinstance(op, (ast.NotEq, ast.NotIn, ast.IsNot)):
        return _guard(names, False)
    return None, None
