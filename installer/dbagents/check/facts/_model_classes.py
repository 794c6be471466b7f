"""Class facts: a class body's columns, relationships, table settings, declared_attr members and TypeDecorators."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from dbagents.check.facts._model_columns import ColumnFacts, parse_column_call
from dbagents.check.facts._model_relations import literal_dicts, parse_relationship, RelFacts
from dbagents.check.facts._model_syntax import (
    COLUMN_FUNCS, RELATIONSHIP_FUNCS, _kw, _truthy, dotted, func_name, last, literal,
)
from dbagents.check.facts._model_tables import ConstraintFacts, parse_constraint, parse_table, TableFacts
from dbagents.check.facts._model_types import parse_annotation, parse_type, _type_map, TypeRef
from dbagents.check.walk import walk


@dataclass
class ClassFacts:
    name: str
    line: int
    col: int
    end_line: int
    bases: list[str]
    keywords: dict[str, Any]
    decorators: list[str]
    tablename: str | None = None
    tablename_rule: str | None = None  # lower | snake | unknown (from a declared_attr __tablename__)
    has_table: bool = False  # __table__ = Table(...)
    table: TableFacts | None = None
    abstract: bool | None = None
    table_args: list[ConstraintFacts] = field(default_factory=list)
    columns: list[ColumnFacts] = field(default_factory=list)
    relationships: list[RelFacts] = field(default_factory=list)
    type_map: dict[str, Any] = field(default_factory=dict)  # key -> TypeRef
    has_metadata: bool = False
    metadata_naming: bool = False
    impl: TypeRef | None = None
    impl_line: int = 0
    tz_hint: bool = False
    dialect_impl: bool = False
    mapper_args: bool = False
    nested: bool = False


def _unwrap(value: ast.AST | None) -> ast.Call | None:
    """The column/relationship call, looking through deferred()/column_property() wrappers."""
    if not isinstance(value, ast.Call):
        return None
    fname = func_name(value)
    if last(fname) in ("deferred", "column_property", "synonym", "composite", "query_expression"):
        if last(fname) in ("deferred", "column_property") and value.args and isinstance(value.args[0], ast.Call):
            inner = value.args[0]
            if last(func_name(inner)) in COLUMN_FUNCS:
                return inner
        return None
    return value


def _decorators(node: ast.ClassDef | ast.FunctionDef) -> list[str]:
    out = []
    for d in node.decorator_list:
        name = dotted(d.func) if isinstance(d, ast.Call) else dotted(d)
        if name:
            out.append(name)
    return out


def _class_member(cls: ClassFacts, stmt: ast.stmt, target: str, ann_node, value,
                  dicts: dict[str, ast.Dict] | None = None) -> None:
    ann = parse_annotation(ann_node) if ann_node is not None else None
    if target == "__tablename__":
        v = literal(value)
        cls.tablename = v if isinstance(v, str) else None
        cls.tablename_rule = None if isinstance(v, str) else "unknown"
        return
    if target == "__abstract__":
        cls.abstract = _truthy(literal(value))
        return
    if target == "__mapper_args__":
        cls.mapper_args = True
        return
    if target == "__table__":
        if isinstance(value, ast.Call) and last(func_name(value)) == "Table":
            cls.table = parse_table(value, None)
        cls.has_table = True
        return
    if target == "__table_args__":
        elts = []
        if isinstance(value, (ast.Tuple, ast.List)):
            elts = value.elts
        for e in elts:
            if isinstance(e, ast.Call):
                c = parse_constraint(e)
                if c is not None:
                    cls.table_args.append(c)
        return
    if target == "type_annotation_map":
        cls.type_map.update(_type_map(value))
        return
    if target == "metadata" and value is not None and not isinstance(value, ast.Call):
        cls.has_metadata = cls.metadata_naming = True  # a shared MetaData object, checked where it is built
        return
    if target == "metadata" and isinstance(value, ast.Call):
        cls.has_metadata = True
        cls.metadata_naming = _kw(value, "naming_convention") is not None or any(
            k.arg is None for k in value.keywords)
        return
    if target == "registry" and isinstance(value, ast.Call):
        cls.type_map.update(_type_map(_kw(value, "type_annotation_map")))
        md = _kw(value, "metadata")
        if md is not None:
            cls.has_metadata = True
            cls.metadata_naming = True if not isinstance(md, ast.Call) else _kw(md, "naming_convention") is not None
        return
    if target == "impl":
        cls.impl = parse_type(value)
        cls.impl_line = stmt.lineno
        return
    if target.startswith("__") or (ann is not None and last(ann.inner) == "ClassVar"):
        return
    if isinstance(ann_node, ast.Subscript) and last(dotted(ann_node.value)) == "ClassVar":
        return
    call = _unwrap(value)
    fname = last(func_name(call)) if call is not None else ""
    if fname in RELATIONSHIP_FUNCS:
        cls.relationships.append(parse_relationship(call, target, stmt, ann, dicts))
    elif fname in COLUMN_FUNCS:
        cls.columns.append(parse_column_call(call, target, stmt, ann))
    elif value is None and ann is not None:
        kind = "annotation" if ann.mapped else "plain"
        cls.columns.append(ColumnFacts(target, target, stmt.lineno, stmt.col_offset + 1,
                                       stmt.end_lineno or stmt.lineno, kind, ann=ann))
    elif ann is not None and not ann.mapped and value is not None and not isinstance(value, (ast.Call, ast.Lambda)):
        # SQLModel `name: str = "x"` — a column with a default, if the class turns out to be a table model
        c = ColumnFacts(target, target, stmt.lineno, stmt.col_offset + 1, stmt.end_lineno or stmt.lineno, "plain",
                        ann=ann)
        c.default = True
        cls.columns.append(c)


def _declared_attr(cls: ClassFacts, fn: ast.FunctionDef, dicts: dict[str, ast.Dict] | None = None) -> None:
    decos = _decorators(fn)
    if not any(last(d) in ("declared_attr", "directive", "classproperty") or d.endswith("declared_attr.directive")
               or d.endswith("declared_attr.cascading") for d in decos):
        return
    ret = None
    for node in walk(fn):
        if isinstance(node, ast.Return) and node.value is not None:
            ret = node.value
    if fn.name == "__tablename__":
        v = literal(ret)
        if isinstance(v, str):
            cls.tablename = v
            return
        text = ast.dump(ret) if ret is not None else ""
        cls.tablename_rule = "snake" if ("sub" in text or "snake" in text.lower() or "camel" in text.lower()) else (
            "lower" if "lower" in text else "unknown")
        return
    if fn.name == "__table_args__":
        if isinstance(ret, (ast.Tuple, ast.List)):
            for e in ret.elts:
                if isinstance(e, ast.Call):
                    c = parse_constraint(e)
                    if c is not None:
                        cls.table_args.append(c)
        return
    if fn.name.startswith("__"):
        return
    ann = parse_annotation(fn.returns) if fn.returns is not None else None
    call = _unwrap(ret)
    fname = last(func_name(call)) if call is not None else ""
    if fname in RELATIONSHIP_FUNCS:
        cls.relationships.append(parse_relationship(call, fn.name, fn, ann, dicts))
    elif fname in COLUMN_FUNCS:
        col = parse_column_call(call, fn.name, fn, ann)
        col.declared_attr = True
        cls.columns.append(col)


def parse_class(node: ast.ClassDef, module_dicts: dict[str, ast.Dict] | None = None) -> ClassFacts:
    bases = []
    for b in node.bases:
        name = dotted(b) or (dotted(b.value) if isinstance(b, ast.Subscript) else None)
        if name:
            bases.append(name)
    keywords = {k.arg: literal(k.value) for k in node.keywords if k.arg}
    for k in node.keywords:
        if k.arg == "metaclass":
            keywords["metaclass"] = dotted(k.value)
    cls = ClassFacts(node.name, node.lineno, node.col_offset + 1, node.end_lineno or node.lineno, bases, keywords,
                     _decorators(node))
    dicts = {**(module_dicts or {}), **literal_dicts(node.body)}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            _class_member(cls, stmt, stmt.target.id, stmt.annotation, stmt.value, dicts)
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    _class_member(cls, stmt, t.id, None, stmt.value, dicts)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if stmt.name == "load_dialect_impl":
                cls.dialect_impl = True
            _declared_attr(cls, stmt, dicts)
    if cls.impl is not None or any(last(b) == "TypeDecorator" for b in bases):
        cls.tz_hint = any(isinstance(n, ast.keyword) and n.arg == "timezone" and literal(n.value) is True
                          for n in walk(node)) or _converts_timezones(node)
    return cls


TZ_WORDS = {"tzinfo", "astimezone", "utc", "UTC", "timezone", "localize", "pytz"}


def _converts_timezones(node: ast.ClassDef) -> bool:
    """A TypeDecorator whose bind and result hooks both handle time zones (UTCDateTime-style types store
    naive UTC on purpose and hand back aware datetimes): values are not ambiguous."""
    hooks = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)
             and s.name in ("process_bind_param", "process_result_value")}
    if len(hooks) != 2:
        return False
    return all(any((isinstance(n, ast.Attribute) and n.attr in TZ_WORDS)
                   or (isinstance(n, ast.Name) and n.id in TZ_WORDS)
                   or (isinstance(n, ast.keyword) and n.arg == "tzinfo") for n in walk(fn)) for fn in hooks.values())
