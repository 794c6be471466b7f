"""Core tables and constraints: `Table(...)`, `Index(...)`, `UniqueConstraint(...)` and the column
references in them."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from dbagents.check.facts._model_columns import ColumnFacts, parse_column_call
from dbagents.check.facts._model_syntax import CONSTRAINTS, dotted, func_name, _kw, _kwlit, last, literal, _truthy


@dataclass
class RefFacts:
    """One element of an Index/constraint: "col" string, bare attr name, Model.attr, table.c.col, or expr."""

    kind: str  # str | name | col | expr
    value: str = ""
    owner: str = ""  # dotted owner for kind == "col" (Model, Model.__table__, table_var)


@dataclass
class ConstraintFacts:
    kind: str  # index | unique | pk | fk | check
    name: str | None
    refs: list[RefFacts]
    line: int
    col: int
    end_line: int
    unique: bool = False
    targets: list[str] = field(default_factory=list)  # for fk
    ondelete: str | None = None
    table: str | None = None  # Index(..., table) / owner resolved later
    partial: bool = False  # postgresql_where= (a partial index)
    special: bool = False  # postgresql_using= other than btree, or postgresql_ops= (operator classes)
    btree: bool = True


@dataclass
class TableFacts:
    var: str | None
    name: str
    line: int
    col: int
    end_line: int
    columns: list[ColumnFacts] = field(default_factory=list)
    constraints: list[ConstraintFacts] = field(default_factory=list)
    reflected: bool = False
    schema: str | None = None
    dialect: str | None = None  # built for another database (a ClickHouse MetaData): its dialect


def parse_ref(node: ast.AST) -> RefFacts:
    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in ("desc", "asc", "nulls_last", "nulls_first", "collate")):
        node = node.func.value
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return RefFacts("str", node.value)
    if isinstance(node, ast.Name):
        return RefFacts("name", node.id)
    if isinstance(node, ast.Attribute):
        owner = dotted(node.value)
        if owner:
            for suffix in (".c", ".columns"):
                if owner.endswith(suffix):
                    owner = owner[: -len(suffix)]
                    break
            return RefFacts("col", node.attr, owner)
    if isinstance(node, ast.Subscript) and isinstance(literal(node.slice), str):
        owner = dotted(node.value)
        if owner:
            for suffix in (".c", ".columns"):
                if owner.endswith(suffix):
                    owner = owner[: -len(suffix)]
            return RefFacts("col", literal(node.slice), owner)
    return RefFacts("expr")


def parse_constraint(call: ast.Call) -> ConstraintFacts | None:
    kind = CONSTRAINTS.get(last(func_name(call)))
    if kind is None:
        return None
    args = list(call.args)
    name = None
    if kind == "index":
        if args and isinstance(literal(args[0]), str):
            name = literal(args[0])
            args = args[1:]
        elif args and literal(args[0]) is None:
            args = args[1:]
    else:
        n = _kwlit(call, "name")
        name = n if isinstance(n, str) else None
    c = ConstraintFacts(kind, name, [], call.lineno, call.col_offset + 1, call.end_lineno or call.lineno)
    if kind == "fk":
        cols = args[0] if args else _kw(call, "columns")
        refcols = args[1] if len(args) > 1 else _kw(call, "refcolumns")
        if isinstance(cols, (ast.List, ast.Tuple)):
            c.refs = [parse_ref(e) for e in cols.elts]
        if isinstance(refcols, (ast.List, ast.Tuple)):
            for e in refcols.elts:
                v = literal(e)
                c.targets.append(v if isinstance(v, str) else "@" + (dotted(e) or "?"))
        od = _kwlit(call, "ondelete")
        c.ondelete = od if isinstance(od, str) else None
        return c
    if kind == "check":
        return c
    c.refs = [parse_ref(a) for a in args]
    c.unique = kind in ("unique", "pk") or _truthy(_kwlit(call, "unique"))
    c.partial = _kw(call, "postgresql_where") is not None or _kw(call, "sqlite_where") is not None
    using = _kwlit(call, "postgresql_using")
    c.btree = using in (None, "btree")
    c.special = not c.btree or _kw(call, "postgresql_ops") is not None
    return c


def parse_table(call: ast.Call, var: str | None) -> TableFacts | None:
    if not call.args or not isinstance(literal(call.args[0]), str):
        return None
    t = TableFacts(var, literal(call.args[0]), call.lineno, call.col_offset + 1, call.end_lineno or call.lineno)
    schema = _kwlit(call, "schema")
    t.schema = schema if isinstance(schema, str) else None
    if _kw(call, "autoload_with") is not None or _truthy(_kwlit(call, "autoload")):
        t.reflected = True
    for arg in call.args[1:]:
        if not isinstance(arg, ast.Call):
            continue
        fname = last(func_name(arg))
        if fname in ("Column", "column", "mapped_column"):
            fake = _Pos(arg)
            name = literal(arg.args[0]) if arg.args else None
            col = parse_column_call(arg, name if isinstance(name, str) else "?", fake, None)
            t.columns.append(col)
        else:
            cons = parse_constraint(arg)
            if cons is not None:
                t.constraints.append(cons)
    return t


class _Pos:
    def __init__(self, node: ast.AST):
        self.lineno, self.col_offset, self.end_lineno = node.lineno, node.col_offset, node.end_lineno
