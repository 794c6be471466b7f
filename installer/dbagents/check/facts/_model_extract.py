"""Per-file model facts: classes, columns, relationships, Core tables, indexes, type aliases (AST only).

Everything here is a plain, picklable dataclass. Nothing is resolved across files yet; names stay the dotted
source text (``sa.DateTime``, ``User.id``) and ``_model_build`` resolves them with the file's imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from dbagents.check.facts._model_classes import ClassFacts, parse_class
from dbagents.check.facts._model_columns import ColumnFacts, parse_column_call
from dbagents.check.facts._model_dialect import foreign_dialect
from dbagents.check.facts._model_relations import literal_dicts
from dbagents.check.facts._model_syntax import CONSTRAINTS, _kw, dotted, func_name, last, literal
from dbagents.check.facts._model_tables import ConstraintFacts, parse_constraint, parse_table
from dbagents.check.facts._model_types import AnnInfo, TypeRef, _type_map, parse_annotation, parse_type
# the per-file facts live in the modules above; these names stay importable from here for the builder and codec
from dbagents.check.facts._model_columns import FKRef  # noqa: F401,E402
from dbagents.check.facts._model_relations import RelFacts  # noqa: F401,E402
from dbagents.check.facts._model_syntax import UNKNOWN  # noqa: F401,E402
from dbagents.check.facts._model_tables import RefFacts, TableFacts  # noqa: F401,E402
from dbagents.check.walk import of_type


@dataclass
class AssignFacts:
    """A module-level `NAME = <expr>` the model builder may need to resolve."""

    name: str
    line: int
    col: int
    kind: str  # call | name | annotated
    ref: TypeRef | None = None  # the call / name as a TypeRef (declarative_base(), DateTime(True), db.Model)
    column: ColumnFacts | None = None  # mapped_column(...) inside Annotated[...]
    ann: AnnInfo | None = None
    type_map: dict[str, Any] = field(default_factory=dict)
    has_metadata: bool = False


@dataclass
class MetaDataCall:
    line: int
    col: int
    end_line: int
    naming: bool  # naming_convention= given (or **kwargs we cannot see)
    var: str | None
    func: str  # MetaData | declarative_base | registry | SQLAlchemy
    top: bool = True  # at module/class level, not inside a function
    flask: bool = False  # the file imports flask_sqlalchemy
    dialect: str | None = None  # built for another database (the file imports only that dialect)


@dataclass
class LegacyUse:
    line: int
    col: int
    end_line: int
    what: str


@dataclass
class ModelFileFacts:
    module: str
    is_package: bool
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    classes: list[ClassFacts] = field(default_factory=list)
    assigns: dict[str, AssignFacts] = field(default_factory=dict)
    tables: list[TableFacts] = field(default_factory=list)
    indexes: list[ConstraintFacts] = field(default_factory=list)
    metadata_calls: list[MetaDataCall] = field(default_factory=list)
    sets_naming: bool = False
    legacy: list[LegacyUse] = field(default_factory=list)
    migration: bool = False
    dialect: str | None = None  # the file's tables/MetaData target this non-PostgreSQL dialect


def module_name(relpath: str) -> tuple[str, bool]:
    path = relpath[:-3] if relpath.endswith(".py") else relpath
    parts = [p for p in path.split("/") if p]
    is_package = bool(parts) and parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _is_migration(tree: ast.Module) -> bool:
    names = set()
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
        for t in targets:
            if isinstance(t, ast.Name):
                names.add(t.id)
    return "revision" in names and "down_revision" in names


def _module_assign(facts: ModelFileFacts, stmt: ast.stmt, name: str, value: ast.AST, ann_node) -> None:
    line, col = stmt.lineno, stmt.col_offset + 1
    if isinstance(value, ast.Call):
        fname = func_name(value)
        lname = last(fname)
        if lname == "Table":
            t = parse_table(value, name)
            if t is not None:
                facts.tables.append(t)
            return
        if lname in CONSTRAINTS:
            c = parse_constraint(value)
            if c is not None and c.kind == "index":
                facts.indexes.append(c)
            return
        a = AssignFacts(name, line, col, "call", parse_type(value))
        if lname in ("declarative_base", "registry", "generate_base", "SQLAlchemy", "as_declarative"):
            a.type_map = _type_map(_kw(value, "type_annotation_map"))
            a.has_metadata = _kw(value, "metadata") is not None
        if lname in ("mapped_column", "Column"):
            a.column = parse_column_call(value, name, stmt, None)
        facts.assigns[name] = a
        return
    if isinstance(value, ast.Subscript) and last(dotted(value.value)) == "Annotated":
        ann = parse_annotation(value)
        a = AssignFacts(name, line, col, "annotated", ann=ann)
        sl = value.slice
        for extra in (sl.elts[1:] if isinstance(sl, ast.Tuple) else []):
            if isinstance(extra, ast.Call) and last(func_name(extra)) in ("mapped_column", "Column"):
                a.column = parse_column_call(extra, name, stmt, ann)
            elif a.ref is None:
                a.ref = parse_type(extra) if dotted(extra) or isinstance(extra, ast.Call) else None
        facts.assigns[name] = a
        return
    if isinstance(value, ast.Subscript) and last(dotted(value.value)) in ("Optional", "Union"):
        facts.assigns[name] = AssignFacts(name, line, col, "annotated", ann=parse_annotation(value))
        return
    ref = dotted(value)
    if ref:
        facts.assigns[name] = AssignFacts(name, line, col, "name", TypeRef(ref, False, line=line, col=col))


def _imports(facts: ModelFileFacts, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                facts.imports[alias.asname] = (alias.name, None, 0)
            else:
                head = alias.name.split(".")[0]
                facts.imports[head] = (head, None, 0)
    elif isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            if alias.name == "*":
                continue
            facts.imports[alias.asname or alias.name] = (stmt.module or "", alias.name, stmt.level or 0)


METADATA_FACTORIES = ("MetaData", "declarative_base", "registry", "SQLAlchemy")
RELATIONSHIP_CALLS = ("relationship", "relation")
# the calls _scan_calls records something for (by a dotted name's last part)
_SCANNED_CALLEES = frozenset({*METADATA_FACTORIES, *RELATIONSHIP_CALLS, "noload"})


def _scan_calls(facts: ModelFileFacts, tree: ast.Module, assigned: dict[int, str]) -> None:
    """One walk over the whole file: MetaData()/declarative_base() calls, legacy API uses, naming assignments."""
    at_top = {id(n) for n in of_type(tree, ast.Call, skip=(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))}
    flask = any(v[0].startswith("flask_sqlalchemy") for v in facts.imports.values())
    for node in of_type(tree, ast.Call, ast.ClassDef):
        if node.__class__ is ast.Call:
            func = node.func
            if (func.attr if func.__class__ is ast.Attribute else getattr(func, "id", "")) not in _SCANNED_CALLEES:
                continue  # a dotted callee's last part, looked at before the whole name is built
            fname = func_name(node)
            lname = last(fname)
            end = node.end_lineno or node.lineno
            if lname in METADATA_FACTORIES:
                if lname == "registry" and not fname.endswith("registry"):
                    continue
                star = any(k.arg is None for k in node.keywords)
                if lname == "MetaData":
                    naming = star or _kw(node, "naming_convention") is not None
                else:
                    md = _kw(node, "metadata")
                    naming = star or md is not None
                    if lname in ("SQLAlchemy",):
                        naming = naming or _kw(node, "model_class") is not None
                facts.metadata_calls.append(MetaDataCall(node.lineno, node.col_offset + 1, end, naming,
                                                         assigned.get(id(node)), lname, id(node) in at_top,
                                                         flask))
            if lname == "declarative_base":
                facts.legacy.append(LegacyUse(node.lineno, node.col_offset + 1, end, "declarative_base"))
            elif lname == "noload" and fname in ("noload", "orm.noload", "sa.orm.noload", "sqlalchemy.orm.noload"):
                facts.legacy.append(LegacyUse(node.lineno, node.col_offset + 1, end, "noload"))
            elif lname in RELATIONSHIP_CALLS:
                for k in node.keywords:
                    if k.arg == "backref":
                        facts.legacy.append(LegacyUse(k.value.lineno, k.value.col_offset + 1,
                                                      k.value.end_lineno or k.value.lineno, "backref"))
                    elif k.arg == "lazy" and literal(k.value) in ("dynamic", "noload"):
                        facts.legacy.append(LegacyUse(k.value.lineno, k.value.col_offset + 1,
                                                      k.value.end_lineno or k.value.lineno, f"lazy={literal(k.value)}"))
        else:  # a class: its decorators
            for d in node.decorator_list:
                name = dotted(d.func) if isinstance(d, ast.Call) else dotted(d)
                if last(name) == "declarative_mixin":
                    facts.legacy.append(LegacyUse(d.lineno, d.col_offset + 1, d.end_lineno or d.lineno,
                                                  "declarative_mixin"))
    if any(t.__class__ is ast.Attribute and t.attr == "naming_convention"
           for node in of_type(tree, ast.Assign) for t in node.targets):
        facts.sets_naming = True  # `metadata.naming_convention = {...}`
    if any(node.attr == "update" and node.value.__class__ is ast.Attribute and node.value.attr == "naming_convention"
           for node in of_type(tree, ast.Attribute)):
        facts.sets_naming = True  # `metadata.naming_convention.update(...)`


def extract_models(tree: ast.Module, relpath: str, scan: bool = True) -> ModelFileFacts:
    mod, is_package = module_name(relpath)
    facts = ModelFileFacts(mod, is_package)
    facts.migration = _is_migration(tree)
    assigned: dict[int, str] = {}
    module_dicts = literal_dicts(tree.body)

    def visit(body, nested: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                _imports(facts, stmt)
            elif isinstance(stmt, ast.ClassDef):
                cls = parse_class(stmt, module_dicts)
                cls.nested = nested
                facts.classes.append(cls)
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                assigned[id(stmt.value)] = stmt.targets[0].id
                if not facts.migration:
                    _module_assign(facts, stmt, stmt.targets[0].id, stmt.value, None)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                assigned[id(stmt.value)] = stmt.target.id
                if not facts.migration:
                    _module_assign(facts, stmt, stmt.target.id, stmt.value, stmt.annotation)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and not facts.migration:
                lname = last(func_name(stmt.value))
                if lname == "Index":
                    c = parse_constraint(stmt.value)
                    if c is not None:
                        facts.indexes.append(c)
                elif lname == "Table":
                    t = parse_table(stmt.value, None)
                    if t is not None:
                        facts.tables.append(t)
            elif isinstance(stmt, (ast.If, ast.Try)) and not nested:
                visit(stmt.body, nested)
                visit(getattr(stmt, "orelse", []), nested)
                for h in getattr(stmt, "handlers", []):
                    visit(h.body, nested)

    visit(tree.body, False)
    if facts.migration:
        facts.classes = []
    if scan:
        _scan_calls(facts, tree, assigned)
    facts.dialect = foreign_dialect(facts.imports)
    if facts.dialect:
        for t in facts.tables:
            t.dialect = facts.dialect
        for m in facts.metadata_calls:
            if m.func == "MetaData":
                m.dialect = facts.dialect
    return facts
