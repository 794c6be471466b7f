"""Raw-SQL facts, the data: sink names, what a built string is (`Val`), the sinks found (`SqlSink`), and
the names under which a file reaches SQLAlchemy's `text()` (`SqlImports`)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from dbagents.check.facts._sql_module import ModuleKnowledge
from dbagents.check.names import dotted as _dotted
from dbagents.check.walk import of_type

KEY = "sql"
TRIGGERS = ("text(", "execute", "exec_driver_sql", "literal_column", "order_by", "filter(", "where(", "literal_binds",
            "having(", "group_by")

TEXT_SINKS = {"text", "TextClause", "literal_column"}
SA_MODULES = {"sqlalchemy", "sqlmodel", "flask_sqlalchemy"}
EXECUTE_SINKS = {"execute", "executemany"}
CLAUSE_SINKS = {"order_by", "filter", "where", "having", "group_by"}
SINK_NAMES = frozenset(TEXT_SINKS | EXECUTE_SINKS | CLAUSE_SINKS | {"exec_driver_sql"})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
SAFE_CALLS = {"int", "float", "len", "bool", "abs", "round", "range", "hex", "min", "max", "sum", "ord"}
PURE_CALLS = {"dumps", "str", "repr", "format", "json_dumps"}  # constant in, constant out
STRING_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "dedent", "title", "casefold", "capitalize"}
SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|create|alter|drop|truncate|grant|revoke|set|from|where|values|vacuum|analyze|"
    r"comment|copy|refresh|reindex|lock|begin|commit|call|do|with|explain|show|listen|notify)\b",
    re.IGNORECASE,
)
UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Val:
    """What we know about a string-ish value."""

    dynamic: bool
    how: str = ""  # f-string | % | .format() | + | += | literal_binds
    line: int = 0  # where the dynamic piece was built
    sql: str = ""  # constant fragments, for keyword checks
    is_str: bool = True
    spans: tuple = ()  # (first, last) lines of the expressions/statements that built the dynamic parts
    members: tuple | None = None  # when every dynamic part is `x.attr`/`x.method()`: those names (else None)


CONST = Val(False, is_str=False)


@dataclass(frozen=True)
class SqlSink:
    """A built string reaching a SQL sink."""

    sink: str  # text | execute | exec_driver_sql | literal_column | order_by | op.execute | …
    line: int
    col: int
    end_line: int
    how: str  # how the dynamic string was built
    built_line: int  # line where the dynamic piece was built
    via: str  # local variable it travelled through ("" = inline)
    receiver: str  # dotted receiver text for method sinks ("session", "op", "cursor", …)
    spans: tuple = ()  # where the SQL was built: a `# noqa: S608` / `# nosec B608` on any of these lines counts
    members: tuple | None = None  # the only dynamic parts are these attributes/methods (another file may
    #                               define them as constants: DBA501 looks project-wide), None = anything else
    marked: bool = False  # `# noqa: S608` / `# nosec B608` on the call or on every statement that built it


@dataclass(frozen=True)
class StringExecute:
    """`X.execute(<a string>)` — constant or dynamic — used for the 2.0 "plain string" check (DBA101)."""

    receiver: str
    line: int
    col: int
    end_line: int
    dynamic: bool


@dataclass
class SqlFacts:
    sinks: list[SqlSink] = field(default_factory=list)
    string_executes: list[StringExecute] = field(default_factory=list)
    const_members: list[str] = field(default_factory=list)  # argument-less methods/properties returning constants
    other_members: list[str] = field(default_factory=list)  # methods of the same kind that do not


def dotted(node: ast.AST) -> str:
    """`a.b.c` for Name/Attribute chains, `a.b()` parts shown as `a.b()`; "" when not representable."""
    return _dotted(node) or ""


def func_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _is_literal_binds_compile(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and func_name(node) == "compile"):
        return False
    for kw in node.keywords:
        if kw.arg == "compile_kwargs" and isinstance(kw.value, ast.Dict):
            for k, v in zip(kw.value.keys, kw.value.values):
                if isinstance(k, ast.Constant) and k.value == "literal_binds" and not (
                    isinstance(v, ast.Constant) and not v.value
                ):
                    return True
        if kw.arg == "compile_kwargs" and isinstance(kw.value, ast.Call) and func_name(kw.value) == "dict":
            if any(k.arg == "literal_binds" for k in kw.value.keywords):
                return True
    return False


@dataclass
class SqlImports:
    """Names under which this file reaches SQLAlchemy's `text`/`literal_column` (others are not SQL sinks)."""

    functions: dict[str, str] = field(default_factory=dict)  # local name -> sqlalchemy name (text as sql_text)
    modules: set[str] = field(default_factory=lambda: {"db"})  # import sqlalchemy as sa; Flask-SQLAlchemy's db
    known: ModuleKnowledge = field(default_factory=ModuleKnowledge)  # the file's own helpers, classes, wrappers

    @classmethod
    def of(cls, tree: ast.Module) -> "SqlImports":
        found = cls()
        for node in of_type(tree, ast.ImportFrom, ast.Import):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SA_MODULES:
                for alias in node.names:
                    if alias.name in TEXT_SINKS:
                        found.functions[alias.asname or alias.name] = alias.name
                    else:
                        found.modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in SA_MODULES:
                        found.modules.add(alias.asname or alias.name.split(".")[0])
        return found

    def is_sql_function(self, func: ast.AST) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.functions
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            return isinstance(root, ast.Name) and root.id in self.modules
        return False
