"""Column facts: `Column(...)`, `mapped_column(...)`, SQLModel `Field(...)` and their foreign keys."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from dbagents.check.facts._model_syntax import dotted, func_name, _kw, _kwlit, last, literal, NON_TYPE_CALLS, _truthy
from dbagents.check.facts._model_types import AnnInfo, parse_type, TypeRef


@dataclass
class FKRef:
    target: str  # "table.column", "schema.table.column" or a dotted expression "User.id"
    expr: bool  # True when written as a Python expression (User.id) rather than a string
    ondelete: str | None
    line: int


@dataclass
class ColumnFacts:
    attr: str
    name: str  # db column name
    line: int
    col: int
    end_line: int
    kind: str  # mapped_column | Column | Field | annotation | plain
    type: TypeRef | None = None
    ann: AnnInfo | None = None
    nullable: bool | None = None
    primary_key: bool = False
    index: bool | None = None
    unique: bool | None = None
    fks: list[FKRef] = field(default_factory=list)
    server_default: bool = False
    default: bool = False
    identity: bool = False
    computed: bool = False
    autoincrement: Any = None
    explicit_name: bool = False
    declared_attr: bool = False
    use_existing: bool = False  # use_existing_column=True: the column another class of the table declares


def parse_fk_call(call: ast.Call) -> FKRef | None:
    target_node = call.args[0] if call.args else _kw(call, "column")
    if target_node is None:
        return None
    ondelete = _kwlit(call, "ondelete")
    ondelete = ondelete if isinstance(ondelete, str) else None
    if isinstance(target_node, ast.Constant) and isinstance(target_node.value, str):
        return FKRef(target_node.value, False, ondelete, call.lineno)
    expr = dotted(target_node)
    if expr:
        return FKRef(expr, True, ondelete, call.lineno)
    return None


def parse_column_call(call: ast.Call, attr: str, stmt: ast.stmt, ann: AnnInfo | None) -> ColumnFacts:
    fname = last(func_name(call))
    col = ColumnFacts(attr, attr, stmt.lineno, stmt.col_offset + 1, stmt.end_lineno or stmt.lineno,
                      "Field" if fname == "Field" else ("Column" if fname in ("Column", "column") else "mapped_column"),
                      ann=ann)
    if fname == "Field":
        return _parse_field(call, col)
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if not col.explicit_name:
                col.name, col.explicit_name = arg.value, True
            continue
        if isinstance(arg, ast.Call):
            an = last(func_name(arg))
            if an == "ForeignKey":
                fk = parse_fk_call(arg)
                if fk:
                    col.fks.append(fk)
                continue
            if an == "Identity":
                col.identity = True
                continue
            if an == "Computed":
                col.computed = True
                continue
            if an in ("Sequence", "FetchedValue", "DefaultClause"):
                col.server_default = True
                continue
            if an in NON_TYPE_CALLS:
                continue
        if col.type is None:
            col.type = parse_type(arg)
    _apply_column_kwargs(call, col)
    return col


def _apply_column_kwargs(call: ast.Call, col: ColumnFacts) -> None:
    for k in call.keywords:
        if k.arg is None:
            continue
        v = literal(k.value)
        if k.arg == "name" and isinstance(v, str):
            col.name, col.explicit_name = v, True
        elif k.arg in ("type_", "sa_type"):
            col.type = parse_type(k.value)
        elif k.arg == "nullable":
            col.nullable = v if isinstance(v, bool) else col.nullable
        elif k.arg == "primary_key":
            col.primary_key = _truthy(v)
        elif k.arg == "index":
            col.index = v if isinstance(v, bool) else col.index
        elif k.arg == "unique":
            col.unique = v if isinstance(v, bool) else col.unique
        elif k.arg in ("server_default", "server_onupdate"):
            col.server_default = col.server_default or v is not None
        elif k.arg in ("default", "insert_default", "default_factory"):
            col.default = col.default or v is not None
        elif k.arg == "autoincrement":
            col.autoincrement = v
        elif k.arg == "use_existing_column":
            col.use_existing = _truthy(v)


def _parse_field(call: ast.Call, col: ColumnFacts) -> ColumnFacts:
    """SQLModel Field(...): primary_key, nullable, index, unique, foreign_key, sa_type, sa_column."""
    sa_column = _kw(call, "sa_column")
    if isinstance(sa_column, ast.Call) and last(func_name(sa_column)) in ("Column", "mapped_column"):
        inner = parse_column_call(sa_column, col.attr, _FakeStmt(col), col.ann)
        inner.kind = "Field"
        return inner
    _apply_column_kwargs(call, col)
    if call.args and not (isinstance(call.args[0], ast.Constant) and call.args[0].value is Ellipsis):
        col.default = True
    fk = _kwlit(call, "foreign_key")
    if isinstance(fk, str):
        ondelete = _kwlit(call, "ondelete")
        col.fks.append(FKRef(fk, False, ondelete if isinstance(ondelete, str) else None, call.lineno))
    kwargs = _kw(call, "sa_column_kwargs")
    if isinstance(kwargs, ast.Dict):
        for key, value in zip(kwargs.keys, kwargs.values):
            k = literal(key)
            v = literal(value)
            if k == "server_default" and value is not None:
                col.server_default = True
            elif k == "nullable" and isinstance(v, bool):
                col.nullable = v
            elif k == "name" and isinstance(v, str):
                col.name, col.explicit_name = v, True
    return col


class _FakeStmt:
    def __init__(self, col: ColumnFacts):
        self.lineno, self.col_offset, self.end_lineno = col.line, col.col - 1, col.end_line
