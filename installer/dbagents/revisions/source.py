"""Python source for generated revisions, built from data: literals, calls, SQL strings and type expressions.

Nothing here pastes text it was handed into code: names and SQL become string literals, and a type expression
is accepted only as `[module.]TypeName(<literals>)`, parsed and written out again.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from dbagents.check.names import dotted
from dbagents.errors import InputError

WIDTH = 110
# SQLAlchemy's text() reads `:name` as a bind parameter; `\:` keeps a literal colon (casts `::` are left alone).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # SQLAlchemy's own pattern
POSTGRESQL_MODULES = {"postgresql", "pg", "postgres", "sqlalchemy.dialects.postgresql", "sa.dialects.postgresql"}
SA_MODULES = {"sa", "sqlalchemy", "db", "sqlalchemy.types", "sa.types"}


@dataclass(frozen=True)
class TypeExpr:
    """A column type as data: `sa.DateTime(timezone=True)` is TypeExpr("sa", "DateTime", (), (("timezone", True),))."""

    module: str  # "sa" or "postgresql"
    name: str
    args: tuple = ()
    kwargs: tuple = ()

    @property
    def source(self) -> str:
        parts = [literal(a) for a in self.args] + [f"{k}={literal(v)}" for k, v in self.kwargs]
        return f"{self.module}.{self.name}({', '.join(parts)})"

    @property
    def label(self) -> str:
        """Short spelling for comments and messages: `DateTime(timezone=True)`."""
        return self.source.split(".", 1)[1]


def _constant(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    raise ValueError("not a literal")


def parse_type(text: str, where: str = "") -> TypeExpr:
    """`sa.BigInteger()`, `DateTime(timezone=True)`, `postgresql.JSONB` → TypeExpr; anything else is an InputError."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        node = None
    call = node if isinstance(node, ast.Call) else None
    name = dotted(call.func if call is not None else node, calls=False) if node is not None else None
    parts = name.split(".") if name else []
    ok = bool(parts) and parts[-1][:1].isupper()
    module = ".".join(parts[:-1])
    if ok and module and module not in POSTGRESQL_MODULES | SA_MODULES:
        ok = False
    try:
        args = tuple(_constant(a) for a in call.args) if call is not None else ()
        kwargs = tuple((k.arg, _constant(k.value)) for k in call.keywords) if call is not None else ()
        if any(k is None for k, _ in kwargs):
            raise ValueError("**kwargs")
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"column type {text!r} is not a SQLAlchemy type with literal arguments; "
                         "write the revision step by hand", path=where or None)
    return TypeExpr("postgresql" if module in POSTGRESQL_MODULES else "sa", parts[-1], args, kwargs)


def literal(value) -> str:
    """A Python literal for str / int / float / bool / None and lists or tuples of them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, TypeExpr):
        return value.source
    raise TypeError(f"no literal for {type(value).__name__}")


def call(func: str, *args, indent: str = "    ", **kwargs) -> list[str]:
    """`func(arg, ..., key=value)` as source lines (wrapped one argument per line when too wide)."""
    parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in kwargs.items() if v is not None]
    one = f"{indent}{func}({', '.join(parts)})"
    if len(one) <= WIDTH:
        return [one]
    return [f"{indent}{func}("] + [f"{indent}    {p}," for p in parts] + [f"{indent})"]


def sql_literal(sql: str) -> str:
    """A SQL statement for op.execute(): colons that text() would bind are escaped."""
    return _BIND.sub(lambda m: "\\" + m.group(0), sql)


def quote_ident(name: str) -> str:
    """An identifier for SQL text, quoted when PostgreSQL needs it."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", name or ""):
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_name(*parts: str | None) -> str:
    return ".".join(quote_ident(p) for p in parts if p)
