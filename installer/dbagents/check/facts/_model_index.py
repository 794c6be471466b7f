"""Project-wide model facts: the ModelIndex every model rule (and the N+1 rule) reads.

PROJECT FACTS CONTRACT (see the common brief): ``.classes``, ``.tables``, ``.locate()``, ``MappedClass``,
``ColumnModel``, ``RelationshipModel``, ``TableModel``. Extra fields are free to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dbagents.check.facts._model_extract import ColumnFacts, MetaDataCall, TypeRef

TIMESTAMP_TYPES = {"DateTime", "TIMESTAMP", "DATETIME", "TIMESTAMPTZ"}


@dataclass
class ColumnModel:
    attr: str
    name: str  # db column name
    relpath: str
    line: int
    col: int
    end_line: int
    nullable: bool | None  # as written (nullable=...), None = not given
    primary_key: bool
    foreign_keys: list[str]  # "table.column" targets
    index: bool | None = None
    unique: bool | None = None
    ondelete: dict[str, str | None] = field(default_factory=dict)  # fk target -> ondelete
    kind: str = ""  # mapped_column | Column | Field | annotation | plain | core
    mapped: bool = False  # annotated with Mapped[...]
    optional: bool | None = None  # Mapped[Optional[X]] / X | None; None when there is no annotation
    python_type: str | None = None  # "datetime", "int", … from the annotation
    type: TypeRef | None = None  # the SQL type as resolved (explicit, Annotated alias, type map or default)
    type_source: str = ""  # explicit | annotated | type_map | default | ""
    sql_type: str | None = None  # last name of the final type after aliases/TypeDecorators: "DateTime"
    timezone: bool | None = None  # for timestamp types: True/False; None = not a timestamp / unknown
    type_origin: tuple[str, int] | None = None  # where an alias/TypeDecorator fixing the type is defined
    type_via: str | None = None  # alias or TypeDecorator name the type came through
    server_default: bool = False
    default: bool = False
    identity: bool = False
    computed: bool = False
    autoincrement: Any = None
    owner: str = ""  # class or table var that declares it
    table: str | None = None
    use_existing: bool = False  # use_existing_column=True
    type_from_fk: bool = False  # no type given: SQLAlchemy takes the referenced column's type

    @property
    def location(self) -> tuple[str, int]:
        return self.relpath, self.line


@dataclass
class RelationshipModel:
    attr: str
    target: str | None
    lazy: str | None
    back_populates: str | None
    relpath: str
    line: int
    col: int = 1
    end_line: int = 0
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
    owner: str = ""
    fk_names: tuple = ()  # names given to foreign_keys=
    join_text: str = ""  # primaryjoin= as written
    hidden_kwargs: bool = False  # a **kwargs the checker cannot read
    backref_cascade: Any = None  # cascade= of backref(...); None = the default (no delete)


@dataclass
class IndexModel:
    name: str | None
    columns: tuple[str | None, ...]  # db column names; None = expression
    unique: bool
    kind: str  # index | unique | pk
    relpath: str
    line: int
    col: int = 1
    source: str = ""  # column | table_args | module | core
    partial: bool = False
    special: bool = False  # non-btree method or explicit operator classes
    btree: bool = True
    attr: str | None = None  # for source == "column": the column attribute with index=True / unique=True

    def leads_with(self, cols: set[str]) -> bool:
        head = self.columns[: len(cols)]
        return len(head) == len(cols) and None not in head and set(head) == cols


@dataclass
class ForeignKeyModel:
    columns: tuple[str, ...]
    targets: tuple[str, ...]
    ondelete: str | None
    relpath: str
    line: int
    col: int = 1
    end_line: int = 0
    from_column: bool = True  # declared on the column (ForeignKey) vs ForeignKeyConstraint


@dataclass
class TableModel:
    name: str
    relpath: str
    line: int
    columns: dict[str, ColumnModel] = field(default_factory=dict)
    indexes: list[IndexModel] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    foreign_keys: list[ForeignKeyModel] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    core: bool = False
    reflected: bool = False
    col: int = 1
    end_line: int = 0
    schema: str | None = None
    var: str | None = None
    dialect: str | None = None  # built for another database (e.g. a ClickHouse MetaData)

    def covered(self, cols: tuple[str, ...] | list[str]) -> bool:
        """True when `cols` lead some index, unique constraint or the primary key (in any order)."""
        wanted = set(cols)
        if not wanted:
            return True
        if self.primary_key and set(self.primary_key[: len(wanted)]) == wanted:
            return True
        return any(ix.btree and ix.leads_with(wanted) for ix in self.indexes)

    def column(self, key: str) -> ColumnModel | None:
        if key in self.columns:
            return self.columns[key]
        for c in self.columns.values():
            if c.attr == key:
                return c
        return None


@dataclass
class MappedClass:
    name: str
    relpath: str
    line: int
    tablename: str | None
    columns: dict[str, ColumnModel] = field(default_factory=dict)
    relationships: dict[str, RelationshipModel] = field(default_factory=dict)
    abstract: bool = False
    mixin: bool = False
    root: bool = False  # the declarative base itself
    family: str = ""  # declarative | flask | sqlmodel | decorator
    col: int = 1
    end_line: int = 0
    bases: list[str] = field(default_factory=list)  # project classes it inherits from
    parent: str | None = None  # mapped (concrete) superclass, for joined/single-table inheritance
    single_table: bool = False
    type_map: dict[str, TypeRef] = field(default_factory=dict)
    own_columns: list[str] = field(default_factory=list)  # attrs declared in this class body
    has_metadata: bool = False
    metadata_naming: bool = False
    assumed: bool = False  # base could not be resolved; mapped because of __tablename__

    @property
    def concrete(self) -> bool:
        return not self.abstract and not self.mixin and self.tablename is not None


@dataclass
class ModelIndex:
    classes: dict[str, MappedClass] = field(default_factory=dict)
    tables: dict[str, TableModel] = field(default_factory=dict)
    all_classes: list[MappedClass] = field(default_factory=list)  # duplicates by name included
    metadata_calls: list[tuple[str, MetaDataCall]] = field(default_factory=list)
    roots: list[MappedClass] = field(default_factory=list)
    implicit_bases: list[tuple[str, int, int, str]] = field(default_factory=list)  # relpath, line, col, what
    sets_naming: bool = False
    legacy: list[tuple[str, Any]] = field(default_factory=list)  # (relpath, LegacyUse)
    unannotated: dict[str, list[ColumnFacts]] = field(default_factory=dict)

    def locate(self, table: str, column: str | None = None) -> tuple[str, int] | None:
        """Where a table (or one of its columns) is declared: (relpath, line), or None if unknown."""
        t = self.tables.get(table)
        if t is None and "." in table:
            t = self.tables.get(table.rsplit(".", 1)[-1])
        if t is None:
            lowered = table.lower()
            t = next((v for k, v in self.tables.items() if k.lower() == lowered), None)
        if t is None:
            return None
        if column is None:
            return t.relpath, t.line
        c = t.column(column)
        return (c.relpath, c.line) if c is not None else None

    def class_for_table(self, table: str) -> MappedClass | None:
        t = self.tables.get(table)
        if t is None or not t.classes:
            return None
        return self.classes.get(t.classes[0])

    def unique_columns(self):
        """(table, column) over every table, each declared column once (mixin columns are shared)."""
        seen = set()
        for t in self.tables.values():
            for c in t.columns.values():
                key = (c.relpath, c.line, c.attr)
                if key not in seen:
                    seen.add(key)
                    yield t, c

    def concrete_classes(self) -> list[MappedClass]:
        return [c for c in self.all_classes if c.concrete]
