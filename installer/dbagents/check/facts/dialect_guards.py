"""Lines that only run on a database other than PostgreSQL: branches guarded by a dialect check.

A guard is an `if` whose test can be evaluated for PostgreSQL: a comparison of a dialect name
(`bind.dialect.name == "sqlite"`, `op.get_bind().dialect.name != "postgresql"`, `dialect_name in (...)`),
a call of a dialect helper (`is_postgres()`, `is_sqlite()`, `using_mysql()`, or a function of this file whose
body returns such a comparison), combined with not/and/or. When the test is false on PostgreSQL the body is
another dialect's; when it is true the `else` is; when the body of a true-on-PostgreSQL guard ends in
return/raise, the rest of the block runs on the other dialects only. Facts: a list of (first, last) lines.
"""

from __future__ import annotations

import ast
import re

from dbagents.check.walk import of_type

KEY = "dialect_guards"
TRIGGERS = ("dialect", "is_postgres", "is_pg", "is_sqlite", "is_mysql", "using_sqlite", "using_postgres", "drivername",
            "get_backend_name", "startswith(")
POSTGRES_NAMES = frozenset({"postgresql", "postgres", "pg", "psycopg", "psycopg2", "asyncpg"})
DIALECT_NAMES = POSTGRES_NAMES | {"sqlite", "mysql", "mariadb", "mssql", "oracle", "duckdb", "clickhouse",
                                  "cockroachdb", "snowflake", "redshift"}
HELPER = re.compile(r"^_?(is|using|uses|on|running_on)_?(postgres|postgresql|pg|sqlite|mysql|mariadb|mssql|"
                    r"oracle)$", re.IGNORECASE)


def _is_dialect_name(node: ast.AST) -> bool:
    """`x.dialect.name`, `x.dialect_name`, `dialect_name`, `dialect`, `x.name` of a `.dialect`, `url.drivername`,
    `url.get_backend_name()`."""
    if isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute):
        return node.func.attr == "get_backend_name"
    if isinstance(node, ast.Attribute):
        if node.attr in ("dialect_name", "dialect", "drivername"):
            return True
        return node.attr == "name" and isinstance(node.value, (ast.Attribute, ast.Name)) and (
            getattr(node.value, "attr", None) == "dialect" or getattr(node.value, "id", None) == "dialect")
    return isinstance(node, ast.Name) and node.id in ("dialect_name", "dialect")


def _name(value: str) -> str:
    """"postgresql+psycopg2" and "postgres://" name the dialect before the driver or the URL's rest."""
    return value.lower().split("://")[0].split("+")[0]


def _names(node: ast.AST) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [_name(node.value)]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        out = [_name(e.value) for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return out if len(out) == len(node.elts) else None
    return None


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


class _Evaluator:
    """Value of a test when the dialect is PostgreSQL: True, False or None (cannot tell)."""

    def __init__(self, helpers: dict[str, bool]):
        self.helpers = helpers

    def value(self, node: ast.AST) -> bool | None:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.value(node.operand)
            return None if inner is None else not inner
        if isinstance(node, ast.BoolOp):
            values = [self.value(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return False if False in values else (True if all(v is True for v in values) else None)
            return True if True in values else (False if all(v is False for v in values) else None)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and isinstance(right.value, bool):  # `url.startswith("x") is False`
                inner = self.value(node.left)
                if inner is None or not isinstance(node.ops[0], (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)):
                    return None
                same = (inner is right.value)
                return same if isinstance(node.ops[0], (ast.Is, ast.Eq)) else not same
            return self._compare(node.left, node.ops[0], right)
        prefix = _url_prefix(node)
        if prefix is not None:
            return any(full.startswith(prefix) for full in ("postgresql", "postgres")) if prefix else None
        name = _call_name(node)
        if name is not None:
            if name in self.helpers:
                return self.helpers[name]
            m = HELPER.match(name)
            if m:
                return m.group(2).lower() in POSTGRES_NAMES
        return None

    @staticmethod
    def _compare(left, op, right) -> bool | None:
        if not _is_dialect_name(left):
            left, right = right, left
            if isinstance(op, (ast.In, ast.NotIn)) or not _is_dialect_name(left):
                return None
        names = _names(right)
        if not names or not set(names) <= DIALECT_NAMES:
            return None
        hit = bool(POSTGRES_NAMES.intersection(names))
        if isinstance(op, (ast.Eq, ast.Is, ast.In)):
            return hit
        if isinstance(op, (ast.NotEq, ast.IsNot, ast.NotIn)):
            return not hit
        return None


URLISH = re.compile(r"url|uri|driver|dsn|backend|dialect", re.IGNORECASE)


def _url_prefix(node: ast.AST) -> str | None:
    """`url.startswith("postgres")` on a URL-ish value (its name says url, uri, driver, dsn, backend, dialect):
    the dialect name it tests ("" = a prefix that names no dialect), None = not such a test."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return None
    if not URLISH.search(ast.unparse(node.func.value)):
        return None
    prefix = _name(node.args[0].value)
    return prefix if prefix and any(d.startswith(prefix) for d in DIALECT_NAMES) else ""


def _helpers(tree: ast.Module) -> dict[str, bool]:
    """Functions of this file whose whole body is `return <dialect test>`: name -> value on PostgreSQL."""
    found: dict[str, bool] = {}
    probe = _Evaluator({})
    for fn in of_type(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
            value = probe.value(body[0].value)
            if value is not None:
                found[fn.name] = value
    return found


def _span(stmts: list[ast.stmt]) -> tuple[int, int]:
    return stmts[0].lineno, max(s.end_lineno or s.lineno for s in stmts)


def _exits(stmts: list[ast.stmt]) -> bool:
    return bool(stmts) and isinstance(stmts[-1], (ast.Return, ast.Raise))


def extract(src) -> list[tuple[int, int]] | None:
    if src.tree is None:
        return None
    evaluator = _Evaluator(_helpers(src.tree))
    ranges: list[tuple[int, int]] = []
    blocks = [src.tree.body] + [n.body for n in of_type(src.tree, ast.FunctionDef, ast.AsyncFunctionDef)]
    for node in of_type(src.tree, ast.If):
        on_pg = evaluator.value(node.test)
        if on_pg is False:
            ranges.append(_span(node.body))
        elif on_pg is True and node.orelse:
            ranges.append(_span(node.orelse))
    for block in blocks:  # `if <true on PostgreSQL>: ...; return` — what follows is for the others
        for i, stmt in enumerate(block):
            if (isinstance(stmt, ast.If) and not stmt.orelse and _exits(stmt.body) and i + 1 < len(block)
                    and evaluator.value(stmt.test) is True):
                ranges.append(_span(block[i + 1:]))
                break
    return sorted(set(ranges)) or None


def in_guarded(ranges, line: int) -> bool:
    return any(first <= line <= last for first, last in ranges or ())
