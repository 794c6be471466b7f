"""Per-file model facts: classes, columns, relationships, Core tables, indexes, type aliases (AST only).

Everything here is a plain, picklable dataclass. Nothing is resolved across files yet; names stay the dotted
source text (``sa.DateTime``, ``User.id``) and ``_model_build`` resolves them with the file's imports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from dbagents.check.facts._model_dialect import foreign_dialect
from dbagents.check.facts._model_relations import expanded_keywords, join_text, key_names, literal_dicts
from dbagents.check.names import dotted as _dotted
from dbagents.check.walk import of_type, walk

COLUMN_FUNCS = {"mapped_column", "Column", "Field", "column"}
WRAPPERS = {"deferred", "column_property", "orm.deferred"}
RELATIONSHIP_FUNCS = {"relationship", "Relationship", "relation"}
NON_TYPE_CALLS = {
    "ForeignKey", "Sequence", "Identity", "Computed", "CheckConstraint", "FetchedValue", "DefaultClause",
    "UniqueConstraint", "text", "func", "literal", "literal_column", "server_default",
}
CONSTRAINTS = {"Index": "index", "UniqueConstraint": "unique", "PrimaryKeyConstraint": "pk",
               "ForeignKeyConstraint": "fk", "CheckConstraint": "check"}
COLLECTIONS = {"list", "List", "set", "Set", "tuple", "Tuple", "Sequence", "Collection", "Iterable",
               "dict", "Dict", "Mapping", "MutableSequence", "MutableSet", "AbstractSet", "InstrumentedList",
               "DynamicMapped", "WriteOnlyMapped", "AppenderQuery", "Query", "WriteOnlyCollection"}
MAPPED = {"Mapped", "WriteOnlyMapped", "DynamicMapped"}


class _Unknown:
    """A value the AST does not give us (a variable, a call); pickles as the module singleton."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self):
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


def dotted(node: ast.AST | None) -> str | None:
    """`a.b.c` for Name/Attribute chains (no calls), else None."""
    return _dotted(node, calls=False)


def last(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1]


def literal(node: ast.AST | None) -> Any:
    """Python literal for constants (incl. negative numbers), UNKNOWN otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value if isinstance(node.operand.value, (int, float)) else UNKNOWN
    return UNKNOWN


def func_name(call: ast.Call) -> str:
    return dotted(call.func) or ""


@dataclass(frozen=True)
class TypeRef:
    """A SQL type as written: `DateTime`, `sa.DateTime(timezone=True)`, `TIMESTAMP(True)`, `MyType()`."""

    name: str
    called: bool
    args: tuple = ()
    kwargs: tuple = ()  # ((key, literal), ...)
    line: int = 0
    col: int = 0
    inner: "TypeRef | None" = None  # ARRAY(DateTime) / with_variant receiver is resolved by the parser

    def kw(self, key: str, default: Any = None) -> Any:
        for k, v in self.kwargs:
            if k == key:
                return v
        return default


def parse_type(node: ast.AST | None) -> TypeRef | None:
    if node is None:
        return None
    name = dotted(node)
    if name:
        return TypeRef(name, False, line=node.lineno, col=node.col_offset + 1)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call) and not dotted(node.func):
            # DateTime(timezone=True).with_variant(...), String().evaluates_none()
            return parse_type(node.func.value)
        fname = func_name(node)
        if not fname:
            return None
        args = tuple(literal(a) if isinstance(a, (ast.Constant, ast.UnaryOp)) else UNKNOWN for a in node.args)
        kwargs = tuple((k.arg, literal(k.value)) for k in node.keywords if k.arg)
        inner = parse_type(node.args[0]) if node.args and not isinstance(node.args[0], ast.Constant) else None
        return TypeRef(fname, True, args, kwargs, node.lineno, node.col_offset + 1, inner)
    return None


@dataclass
class AnnInfo:
    """What a class-attribute annotation says: `Mapped[Optional[datetime]]`, `Mapped[list["Child"]]`."""

    mapped: bool  # wrapped in Mapped[] / WriteOnlyMapped[] / DynamicMapped[]
    inner: str | None  # dotted name of the Python type (or alias) inside, e.g. "datetime", "intpk"
    optional: bool
    collection: bool
    target: str | None  # class named inside a collection / string annotation (for relationships)


def _unparse_string(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            return node
    return node


def _strip_optional(node: ast.AST) -> tuple[ast.AST, bool]:
    node = _unparse_string(node)
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Optional":
        return _unparse_string(node.slice), True
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Union":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        rest = [e for e in elts if not (isinstance(e, ast.Constant) and e.value is None) and dotted(e) != "None"]
        if len(rest) < len(elts):
            return (_unparse_string(rest[0]) if len(rest) == 1 else node), True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        rest = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        if len(rest) == 1:
            inner, _ = _strip_optional(rest[0])
            return inner, True
    return node, False


def parse_annotation(node: ast.AST | None) -> AnnInfo | None:
    if node is None:
        return None
    node = _unparse_string(node)
    mapped = False
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) in MAPPED:
        mapped = True
        collection = last(dotted(node.value)) != "Mapped"
        node = node.slice
    else:
        collection = False
    node, optional = _strip_optional(node)
    target = None
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) in COLLECTIONS:
        collection = True
        sl = node.slice
        if isinstance(sl, ast.Tuple) and sl.elts:
            sl = sl.elts[-1]
        sl = _unparse_string(sl)
        target = dotted(sl)
        return AnnInfo(mapped, None, optional, collection, target)
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Annotated":
        sl = node.slice
        first = sl.elts[0] if isinstance(sl, ast.Tuple) and sl.elts else sl
        first, opt2 = _strip_optional(first)
        return AnnInfo(mapped, dotted(first), optional or opt2, collection, dotted(first))
    name = dotted(node)
    return AnnInfo(mapped, name, optional, collection, name)


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


@dataclass
class RelFacts:
    attr: str
    line: int
    col: int
    end_line: int
    target: str | None
    lazy: str | None = None
    back_populates: str | None = None
    backref: str | None = None
    backref_line: int = 0
    backref_passive_deletes: bool = False
    viewonly: bool = False
    passive_deletes: Any = None
    secondary: bool = False
    uselist: Any = None
    cascade: str | None = None
    foreign_keys: bool = False
    primaryjoin: bool = False
    collection: bool | None = None
    annotated: bool = False
    backref_cascade: Any = None  # cascade= inside backref(...); None = SQLAlchemy's default (no delete)
    fk_names: tuple = ()  # names given to foreign_keys= ("user_id", "Child.parent_id")
    join_text: str = ""  # primaryjoin= as written
    hidden_kwargs: bool = False  # a **kwargs we cannot read may set back_populates/passive_deletes/...


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


# ---------------------------------------------------------------- calls


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _kwlit(call: ast.Call, name: str, default: Any = None) -> Any:
    node = _kw(call, name)
    return default if node is None else literal(node)


def _truthy(value: Any) -> bool:
    return value is True or value == 1 and value is not UNKNOWN and not isinstance(value, str)


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


def parse_relationship(call: ast.Call, attr: str, stmt, ann: AnnInfo | None,
                       dicts: dict[str, ast.Dict] | None = None) -> RelFacts:
    target = None
    if call.args:
        t = call.args[0]
        if isinstance(t, ast.Lambda):
            t = t.body
        if isinstance(t, ast.Constant) and isinstance(t.value, str):
            target = last(t.value.strip())
        else:
            target = last(dotted(t)) or None
    if target is None:
        arg = _kw(call, "argument")
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            target = last(arg.value)
    if target is None and ann is not None and ann.target:
        target = last(ann.target)
    rel = RelFacts(attr, stmt.lineno, stmt.col_offset + 1, stmt.end_lineno or stmt.lineno, target,
                   annotated=ann is not None and ann.mapped)
    if ann is not None and ann.mapped:
        rel.collection = ann.collection
    keywords, rel.hidden_kwargs = expanded_keywords(call, dicts)
    for k in keywords:
        v = literal(k.value)
        if k.arg == "lazy":
            rel.lazy = v if isinstance(v, str) else (str(v) if v in (True, False, None) else None)
        elif k.arg == "back_populates" and isinstance(v, str):
            rel.back_populates = v
        elif k.arg == "backref":
            rel.backref_line = k.value.lineno
            if isinstance(v, str):
                rel.backref = v
            elif isinstance(k.value, ast.Call) and k.value.args:
                rel.backref = literal(k.value.args[0]) if isinstance(literal(k.value.args[0]), str) else "?"
                rel.backref_passive_deletes = _truthy(_kwlit(k.value, "passive_deletes"))
                rel.backref_cascade = _kwlit(k.value, "cascade")
        elif k.arg == "viewonly":
            rel.viewonly = _truthy(v)
        elif k.arg == "passive_deletes":
            rel.passive_deletes = v
        elif k.arg == "secondary":
            rel.secondary = True
        elif k.arg == "uselist":
            rel.uselist = v
        elif k.arg == "cascade" and isinstance(v, str):
            rel.cascade = v
        elif k.arg == "foreign_keys":
            rel.foreign_keys = True
            rel.fk_names = key_names(k.value)
        elif k.arg in ("primaryjoin", "secondaryjoin"):
            rel.primaryjoin = True
            if k.arg == "primaryjoin":
                rel.join_text = join_text(k.value)
        elif k.arg == "sa_relationship_kwargs" and isinstance(k.value, ast.Dict):
            for key, value in zip(k.value.keys, k.value.values):
                if literal(key) == "passive_deletes":
                    rel.passive_deletes = literal(value)
                elif literal(key) == "viewonly":
                    rel.viewonly = _truthy(literal(value))
                elif literal(key) == "lazy" and isinstance(literal(value), str):
                    rel.lazy = literal(value)
    if rel.uselist is False:
        rel.collection = False
    return rel


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


def _type_map(node: ast.AST | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            name = dotted(key) if key is not None else None
            if name is None and isinstance(key, ast.Subscript):
                name = dotted(key.value)
            ref = parse_type(value)
            if name and ref:
                out[name] = ref
    return out


# ---------------------------------------------------------------- class bodies


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
    return all(any((isinstance(n, ast.Attribute) and n.attr in TZ_WORDS) or (isinstance(n, ast.Name) and n.id in TZ_WORDS)
                   or (isinstance(n, ast.keyword) and n.arg == "tzinfo") for n in walk(fn)) for fn in hooks.values())


# ---------------------------------------------------------------- module


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


def _scan_calls(facts: ModelFileFacts, tree: ast.Module, assigned: dict[int, str]) -> None:
    """One walk over the whole file: MetaData()/declarative_base() calls, legacy API uses, naming assignments."""
    at_top = {id(n) for n in of_type(tree, ast.Call, skip=(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))}
    flask = any(v[0].startswith("flask_sqlalchemy") for v in facts.imports.values())
    for node in of_type(tree, ast.Call, ast.Assign, ast.ClassDef, ast.Attribute):
        if isinstance(node, ast.Call):
            fname = func_name(node)
            lname = last(fname)
            end = node.end_lineno or node.lineno
            if lname in ("MetaData", "declarative_base", "registry", "SQLAlchemy"):
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
            elif lname in ("relationship", "relation"):
                for k in node.keywords:
                    if k.arg == "backref":
                        facts.legacy.append(LegacyUse(k.value.lineno, k.value.col_offset + 1,
                                                      k.value.end_lineno or k.value.lineno, "backref"))
                    elif k.arg == "lazy" and literal(k.value) in ("dynamic", "noload"):
                        facts.legacy.append(LegacyUse(k.value.lineno, k.value.col_offset + 1,
                                                      k.value.end_lineno or k.value.lineno, f"lazy={literal(k.value)}"))
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Attribute) and t.attr == "naming_convention":
                    facts.sets_naming = True
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                name = dotted(d.func) if isinstance(d, ast.Call) else dotted(d)
                if last(name) == "declarative_mixin":
                    facts.legacy.append(LegacyUse(d.lineno, d.col_offset + 1, d.end_lineno or d.lineno,
                                                  "declarative_mixin"))
        elif isinstance(node, ast.Attribute) and node.attr == "update" and isinstance(node.value, ast.Attribute):
            if node.value.attr == "naming_convention":
                facts.sets_naming = True


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
