"""Build the ModelIndex from every file's ModelFileFacts: types, columns, tables and indexes (names are resolved
by ``_model_resolve``, classes classified by ``_model_hierarchy``)."""

from __future__ import annotations

from dbagents.check.facts._model_extract import (
    UNKNOWN, AssignFacts, ClassFacts, ColumnFacts, ConstraintFacts, ModelFileFacts, RefFacts, TableFacts, TypeRef, last,
)
from dbagents.check.facts._model_hierarchy import BASE_FACTORIES, ClassInfo, Hierarchy
from dbagents.check.facts._model_resolve import MAX_DEPTH, Resolver, snake_case  # noqa: F401 - re-exported
from dbagents.check.facts._model_index import (
    TIMESTAMP_TYPES, ColumnModel, ForeignKeyModel, IndexModel, MappedClass, ModelIndex, RelationshipModel,
    TableModel,
)

DEFAULT_PY_TYPES = {
    "datetime": "DateTime", "int": "Integer", "str": "String", "bool": "Boolean", "float": "Float",
    "Decimal": "Numeric", "date": "Date", "time": "Time", "timedelta": "Interval", "UUID": "Uuid",
    "bytes": "LargeBinary",
}


class Builder(Hierarchy):
    def __init__(self, files: dict[str, ModelFileFacts]):
        self.files = files
        self.r = Resolver(files)
        self.info: dict[tuple[str, str, int], ClassInfo] = {}
        self.index = ModelIndex()

    # ------------------------------------------------------------ types (classification: _model_hierarchy)

    def resolve_type(self, relpath: str, ref: TypeRef) -> tuple[TypeRef, tuple[str, int] | None, str | None, bool]:
        """Follow aliases and TypeDecorators: (final ref, origin, via name, tz_hint)."""
        origin, via = None, None
        for _ in range(MAX_DEPTH):
            sym = self.r.lookup(relpath, ref.name)
            if sym.kind == "class" and not sym.rest:
                cls: ClassFacts = sym.obj
                if cls.dialect_impl:
                    return TypeRef("?", False), origin, cls.name, False
                if cls.tz_hint:
                    return ref, (sym.relpath, cls.line), cls.name, True
                if cls.impl is not None:
                    relpath, ref = sym.relpath, cls.impl
                    origin, via = (sym.relpath, cls.impl_line), cls.name
                    continue
                parent = next((b for b in cls.bases if last(b) not in ("TypeDecorator", "UserDefinedType")), None)
                if parent is None:
                    return ref, origin, via, False
                relpath, ref = sym.relpath, TypeRef(parent, ref.called, ref.args, ref.kwargs, ref.line, ref.col)
                continue
            if sym.kind == "assign" and not sym.rest and sym.obj.ref is not None and sym.obj.kind in ("call", "name"):
                a: AssignFacts = sym.obj
                if last(a.ref.name) in BASE_FACTORIES or last(a.ref.name) == "SQLAlchemy":
                    return ref, origin, via, False
                relpath, ref = sym.relpath, a.ref
                origin, via = (sym.relpath, a.line), a.name
                continue
            return ref, origin, via, False
        return ref, origin, via, False

    def apply_type(self, cm: ColumnModel, relpath: str, ref: TypeRef | None, source: str) -> None:
        if ref is None:
            return
        final, origin, via, tz_hint = self.resolve_type(relpath, ref)
        cm.type, cm.type_source = ref, source
        cm.sql_type = last(final.name)
        cm.type_origin, cm.type_via = origin, via
        if tz_hint:
            cm.sql_type, cm.timezone = "DateTime", True
        elif cm.sql_type in TIMESTAMP_TYPES:
            tz = final.kw("timezone")
            if tz is None and final.args and isinstance(final.args[0], bool):
                tz = final.args[0]
            cm.timezone = None if tz is UNKNOWN else bool(tz)
            if cm.sql_type == "TIMESTAMPTZ":
                cm.timezone = True

    # ------------------------------------------------------------ columns

    def column_model(self, relpath: str, c: ColumnFacts, tmap: dict[str, TypeRef], owner: str,
                     table: str | None) -> ColumnModel:
        cm = ColumnModel(c.attr, c.name, relpath, c.line, c.col, c.end_line, c.nullable, c.primary_key, [],
                         index=c.index, unique=c.unique, kind=c.kind, server_default=c.server_default,
                         default=c.default, identity=c.identity, computed=c.computed, autoincrement=c.autoincrement,
                         owner=owner, table=table, use_existing=c.use_existing)
        fks = list(c.fks)
        type_ref, type_rel, source = c.type, relpath, "explicit" if c.type is not None else ""
        if c.ann is not None:
            cm.mapped = c.ann.mapped
            cm.optional = c.ann.optional
            cm.python_type = last(c.ann.inner) if c.ann.inner else None
            alias = self.r.lookup(relpath, c.ann.inner) if c.ann.inner else None
            if alias is not None and alias.kind == "assign" and alias.obj.kind == "annotated" and not alias.rest:
                a: AssignFacts = alias.obj
                if a.ann is not None:
                    cm.optional = cm.optional or a.ann.optional
                    cm.python_type = last(a.ann.inner) if a.ann.inner else cm.python_type
                ac = a.column
                if ac is not None:
                    cm.nullable = cm.nullable if cm.nullable is not None else ac.nullable
                    cm.primary_key = cm.primary_key or ac.primary_key
                    cm.index = cm.index if cm.index is not None else ac.index
                    cm.unique = cm.unique if cm.unique is not None else ac.unique
                    cm.server_default = cm.server_default or ac.server_default
                    cm.default = cm.default or ac.default
                    cm.identity = cm.identity or ac.identity
                    fks = fks or list(ac.fks)
                    if type_ref is None and ac.type is not None:
                        type_ref, type_rel, source = ac.type, alias.relpath, "annotated"
                if type_ref is None and last(c.ann.inner) in tmap:
                    type_ref, type_rel, source = tmap[last(c.ann.inner)], relpath, "type_map"
            if type_ref is None and c.kind in ("mapped_column", "annotation", "Field", "plain") and cm.python_type:
                if cm.python_type in tmap:
                    type_ref, source = tmap[cm.python_type], "type_map"
                    type_rel = self._type_map_origin(relpath, cm.python_type, tmap)
                elif cm.python_type in DEFAULT_PY_TYPES and not fks:
                    type_ref = TypeRef(DEFAULT_PY_TYPES[cm.python_type], False, line=c.line, col=c.col)
                    source, type_rel = "default", "sqlalchemy"
                elif cm.python_type in DEFAULT_PY_TYPES and fks:
                    cm.type_from_fk = True  # SQLAlchemy 2.x: the type comes from the referenced column
        if type_rel == "sqlalchemy":
            cm.type, cm.type_source, cm.sql_type = type_ref, source, type_ref.name
            if type_ref.name == "DateTime":
                cm.timezone = False
        else:
            self.apply_type(cm, type_rel, type_ref, source)
        for fk in fks:
            target = self.fk_target(relpath, fk.target, fk.expr)
            cm.foreign_keys.append(target)
            cm.ondelete[target] = fk.ondelete
        return cm

    def _type_map_origin(self, relpath: str, key: str, tmap) -> str:
        return relpath  # type map values use names imported where the map is written; close enough

    def fk_target(self, relpath: str, target: str, expr: bool) -> str:
        if not expr:
            parts = target.split(".")
            return ".".join(parts[-2:]) if len(parts) >= 2 else target
        owner, _, attr = target.rpartition(".")
        for suffix in (".c", ".columns"):
            if owner.endswith(suffix):
                owner = owner[: -len(suffix)]
        owner = owner.removesuffix(".__table__")
        found = self.r.find_class(relpath, owner)
        if found is not None:
            tname = self.tablename(*found)
            colname = next((c.name for c in self.all_columns(*found) if c.attr == attr), attr)
            return f"{tname or owner}.{colname}"
        sym = self.r.lookup(relpath, owner)
        if sym.kind == "table" and not sym.rest:
            return f"{sym.obj.name}.{attr}"
        return target

    # ------------------------------------------------------------ tables

    def table(self, name: str, relpath: str, line: int, col: int = 1, end_line: int = 0) -> TableModel:
        t = self.index.tables.get(name)
        if t is None:
            t = TableModel(name, relpath, line, col=col, end_line=end_line)
            self.index.tables[name] = t
        return t

    def add_column(self, t: TableModel, cm: ColumnModel) -> None:
        if cm.name in t.columns:
            return
        t.columns[cm.name] = cm
        if cm.primary_key and cm.name not in t.primary_key:
            t.primary_key = (*t.primary_key, cm.name)
        if cm.index or cm.unique:
            t.indexes.append(IndexModel(None, (cm.name,), bool(cm.unique), "unique" if cm.unique else "index",
                                        cm.relpath, cm.line, cm.col, "column", attr=cm.attr))
        if cm.foreign_keys:
            t.foreign_keys.append(ForeignKeyModel((cm.name,), tuple(cm.foreign_keys),
                                                  next(iter(cm.ondelete.values()), None), cm.relpath, cm.line,
                                                  cm.col, cm.end_line))

    def ref_column(self, ref: RefFacts, relpath: str, t: TableModel | None, cls: ClassFacts | None) -> tuple[
            str | None, str | None]:
        """(table name, column name) an index element points at; table None = the enclosing one."""
        if ref.kind == "str":
            if t is not None:
                c = t.column(ref.value)
                return None, c.name if c is not None else ref.value
            return None, ref.value
        if ref.kind == "name":
            if t is not None:
                c = t.column(ref.value)
                return None, c.name if c is not None else ref.value
            return None, ref.value
        if ref.kind == "col":
            owner = ref.owner.removesuffix(".__table__")
            if cls is not None and owner in (cls.name, "cls", "self"):
                c = t.column(ref.value) if t is not None else None
                return None, c.name if c is not None else ref.value
            found = self.r.find_class(relpath, owner)
            if found is not None:
                tname = self.tablename(*found)
                colname = next((c.name for c in self.all_columns(*found) if c.attr == ref.value), ref.value)
                return tname, colname
            sym = self.r.lookup(relpath, owner)
            if sym.kind == "table" and not sym.rest:
                return sym.obj.name, ref.value
        return None, None

    def add_constraint(self, t: TableModel, cons: ConstraintFacts, relpath: str, cls: ClassFacts | None,
                       source: str) -> None:
        cols = []
        for ref in cons.refs:
            _, colname = self.ref_column(ref, relpath, t, cls)
            cols.append(colname)
        if cons.kind == "fk":
            if None in cols:
                return
            targets = tuple(self.fk_target(relpath, x.lstrip("@"), x.startswith("@")) for x in cons.targets)
            t.foreign_keys.append(ForeignKeyModel(tuple(cols), targets, cons.ondelete, relpath, cons.line,
                                                  cons.col, cons.end_line, from_column=False))
            return
        if cons.kind == "check":
            return
        if cons.kind == "pk":
            if None not in cols:
                t.primary_key = tuple(cols)
        t.indexes.append(IndexModel(cons.name, tuple(cols), cons.unique, cons.kind, relpath, cons.line, cons.col,
                                    source, cons.partial, cons.special, cons.btree))

    # ------------------------------------------------------------ build

    def build(self) -> ModelIndex:
        idx = self.index
        for relpath, f in self.files.items():
            idx.metadata_calls.extend((relpath, m) for m in f.metadata_calls)
            idx.sets_naming = idx.sets_naming or f.sets_naming
            idx.legacy.extend((relpath, u) for u in f.legacy)
        mixin_keys = set()
        for relpath, f in self.files.items():
            for cls in f.classes:
                info = self.classify(relpath, cls)
                if info.family:
                    for prel, pcls in self.ancestors(relpath, cls):
                        if not self.classify(prel, pcls).family:
                            mixin_keys.add((prel, pcls.name, pcls.line))
        for relpath, f in self.files.items():
            for cls in f.classes:
                info = self.classify(relpath, cls)
                mixin = (relpath, cls.name, cls.line) in mixin_keys
                if not info.family and not mixin:
                    continue
                self._add_class(relpath, cls, info, mixin)
        for relpath, f in self.files.items():
            for tf in f.tables:
                self._add_core_table(relpath, tf)
        for relpath, f in self.files.items():
            for cons in f.indexes:
                self._add_module_index(relpath, cons)
        self._types_from_foreign_keys()
        return idx

    def _types_from_foreign_keys(self) -> None:
        """`mapped_column(ForeignKey("t.id"))` without a type: the referenced column's type (2.0 and 2.1)."""
        tables = self.index.tables
        for _ in range(3):  # a key that references a key that references a key
            for t in tables.values():
                for c in t.columns.values():
                    if not c.type_from_fk or c.sql_type is not None or len(c.foreign_keys) != 1:
                        continue
                    tname, _, cname = c.foreign_keys[0].rpartition(".")
                    parent = tables.get(tname) or tables.get(tname.rsplit(".", 1)[-1])
                    pcol = parent.column(cname) if parent is not None else None
                    if pcol is not None and pcol.sql_type is not None:
                        c.type, c.type_source, c.sql_type = pcol.type, "foreign_key", pcol.sql_type
                        c.type_origin, c.type_via = pcol.type_origin, pcol.type_via  # timezone: judged there

    def _add_class(self, relpath: str, cls: ClassFacts, info: ClassInfo, mixin: bool) -> None:
        idx = self.index
        abstract = (not mixin) and self.is_abstract(relpath, cls)
        tablename = None if (mixin or abstract) else self.tablename(relpath, cls)
        if not mixin and not abstract and tablename is None:
            abstract = True  # an intermediate class without a table of its own
        parent = self.concrete_parent(relpath, cls) if info.family else None
        single = bool(parent) and tablename is not None and tablename == self.tablename(*parent)
        tmap = self.type_map(relpath, cls) if info.family else {}
        mc = MappedClass(cls.name, relpath, cls.line, tablename, abstract=abstract, mixin=mixin, root=info.root,
                         family=info.family, col=cls.col, end_line=cls.end_line,
                         bases=[p.name for _, p in info.project_bases], parent=parent[1].name if parent else None,
                         single_table=single, type_map=tmap, own_columns=[c.attr for c in cls.columns],
                         has_metadata=cls.has_metadata, metadata_naming=cls.metadata_naming, assumed=info.assumed)
        if info.root_assign is not None:
            mc.has_metadata = mc.has_metadata or info.root_assign[1].has_metadata
        owners = self.column_owners(relpath, cls)
        family = info.family or "declarative"
        for c in self.all_columns(relpath, cls):
            if not self._is_column(c, family, relpath):
                continue
            cm = self.column_model(owners.get(c.attr, relpath), c, tmap, cls.name, tablename)
            mc.columns[c.attr] = cm
        for rrel, r in self.all_relationships(relpath, cls):
            mc.relationships[r.attr] = RelationshipModel(
                r.attr, r.target, r.lazy, r.back_populates, rrel, r.line, r.col, r.end_line, r.backref,
                r.backref_line, r.backref_passive_deletes, r.viewonly, r.passive_deletes, r.secondary, r.uselist,
                r.cascade, r.foreign_keys, r.primaryjoin, r.collection, cls.name, r.fk_names, r.join_text,
                r.hidden_kwargs, r.backref_cascade)
        if mc.name not in idx.classes or (mc.concrete and not idx.classes[mc.name].concrete):
            idx.classes[mc.name] = mc
        idx.all_classes.append(mc)
        if info.root:
            idx.roots.append(mc)
        if tablename is None:
            return
        t = self.table(tablename, relpath, cls.line, cls.col, cls.end_line)
        if cls.name not in t.classes:
            t.classes.append(cls.name)
        for cm in mc.columns.values():
            self.add_column(t, cm)
        if cls.table is not None:
            self._fill_core(t, relpath, cls.table)
        arel, args = self.table_args(relpath, cls)
        for cons in args:
            self.add_constraint(t, cons, arel, cls, "table_args")

    def _is_column(self, c: ColumnFacts, family: str, relpath: str) -> bool:
        if family == "sqlmodel":
            if c.kind == "mapped_column":
                return False
            if c.ann is not None and (c.ann.collection or self._names_class(relpath, c.ann.inner)):
                return False
            return True
        if c.kind in ("Field", "plain"):
            return False
        if c.kind == "annotation" and c.ann is not None and (
                c.ann.collection or self._names_class(relpath, c.ann.inner)):
            return False
        return True

    def _names_class(self, relpath: str, name: str | None) -> bool:
        if not name:
            return False
        found = self.r.find_class(relpath, name)
        return found is not None and bool(self.classify(*found).family)

    def _fill_core(self, t: TableModel, relpath: str, tf: TableFacts) -> None:
        for c in tf.columns:
            cm = self.column_model(relpath, c, {}, tf.var or tf.name, tf.name)
            cm.kind = "core"
            self.add_column(t, cm)
        for cons in tf.constraints:
            self.add_constraint(t, cons, relpath, None, "core")

    def _add_core_table(self, relpath: str, tf: TableFacts) -> None:
        existing = self.index.tables.get(tf.name)
        t = self.table(tf.name, relpath, tf.line, tf.col, tf.end_line)
        if existing is None:
            t.core, t.reflected, t.schema, t.var = True, tf.reflected, tf.schema, tf.var
            t.dialect = tf.dialect
        self._fill_core(t, relpath, tf)

    def _add_module_index(self, relpath: str, cons: ConstraintFacts) -> None:
        table_name = None
        cols = []
        for ref in cons.refs:
            tname, colname = self.ref_column(ref, relpath, None, None)
            if ref.kind != "col" or tname is None:
                cols.append(colname if ref.kind == "str" else None)
            else:
                table_name = table_name or tname
                cols.append(colname)
        if table_name is None or table_name not in self.index.tables:
            return
        t = self.index.tables[table_name]
        resolved = []
        for c in cols:
            col = t.column(c) if c else None
            resolved.append(col.name if col else c)
        t.indexes.append(IndexModel(cons.name, tuple(resolved), cons.unique, "unique" if cons.unique else "index",
                                    relpath, cons.line, cons.col, "module", cons.partial, cons.special,
                                    cons.btree))


def build_index(files: dict[str, ModelFileFacts]) -> ModelIndex:
    return Builder(files).build()
