"""Build the ModelIndex from every file's ModelFileFacts: resolve imports, inheritance, types and indexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbagents.check.facts._model_extract import (
    UNKNOWN, AssignFacts, ClassFacts, ColumnFacts, ConstraintFacts, ModelFileFacts, RefFacts, TableFacts, TypeRef, last,
)
from dbagents.check.facts._model_index import (
    TIMESTAMP_TYPES, ColumnModel, ForeignKeyModel, IndexModel, MappedClass, ModelIndex, RelationshipModel,
    TableModel,
)

MAX_DEPTH = 8
DECLARATIVE_ROOTS = {"DeclarativeBase", "DeclarativeBaseNoMeta", "MappedAsDataclass"}
BASE_FACTORIES = {"declarative_base", "generate_base"}
DEFAULT_PY_TYPES = {
    "datetime": "DateTime", "int": "Integer", "str": "String", "bool": "Boolean", "float": "Float",
    "Decimal": "Numeric", "date": "Date", "time": "Time", "timedelta": "Interval", "UUID": "Uuid",
    "bytes": "LargeBinary",
}


def snake_case(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z\d])([A-Z])", r"\1_\2", s)
    return s.lower().lstrip("_")


@dataclass
class Sym:
    kind: str  # class | assign | table | external | unknown
    relpath: str | None
    obj: object
    rest: tuple[str, ...]
    qualname: str = ""


class Resolver:
    """Names -> project objects, following each file's imports (absolute, relative, re-exports)."""

    def __init__(self, files: dict[str, ModelFileFacts]):
        self.files = files
        self.by_module: dict[str, str] = {}
        self.by_tail: dict[str, list[str]] = {}
        self.local_classes: dict[str, dict[str, ClassFacts]] = {}
        self.local_tables: dict[str, dict[str, TableFacts]] = {}
        self.class_by_name: dict[str, list[tuple[str, ClassFacts]]] = {}
        for relpath, f in files.items():
            self.by_module.setdefault(f.module, relpath)
            parts = f.module.split(".")
            for i in range(len(parts)):
                self.by_tail.setdefault(".".join(parts[i:]), []).append(relpath)
            self.local_classes[relpath] = {c.name: c for c in f.classes if not c.nested}
            self.local_tables[relpath] = {t.var: t for t in f.tables if t.var}
            for c in f.classes:
                self.class_by_name.setdefault(c.name, []).append((relpath, c))

    def module_file(self, module: str) -> str | None:
        if module in self.by_module:
            return self.by_module[module]
        found = self.by_tail.get(module)
        if found:
            return min(found, key=len)
        return None

    def absolute(self, relpath: str, module: str, level: int) -> str:
        if not level:
            return module
        f = self.files[relpath]
        parts = f.module.split(".") if f.module else []
        if not f.is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        return ".".join([*parts, module] if module else parts)

    def lookup(self, relpath: str, name: str, depth: int = 0) -> Sym:
        head, *rest = name.split(".")
        if depth > MAX_DEPTH or relpath not in self.files:
            return Sym("unknown", None, None, tuple(rest), name)
        f = self.files[relpath]
        if head in self.local_classes[relpath]:
            return Sym("class", relpath, self.local_classes[relpath][head], tuple(rest), name)
        if head in self.local_tables[relpath]:
            return Sym("table", relpath, self.local_tables[relpath][head], tuple(rest), name)
        if head in f.assigns:
            return Sym("assign", relpath, f.assigns[head], tuple(rest), name)
        if head in f.imports:
            module, member, level = f.imports[head]
            absmod = self.absolute(relpath, module, level)
            if member is None:
                rest = list(rest)
                while rest and self.module_file(f"{absmod}.{rest[0]}"):
                    absmod = f"{absmod}.{rest.pop(0)}"
                target = self.module_file(absmod) if absmod else None
                if target and rest:
                    return self.lookup(target, ".".join(rest), depth + 1)
                return Sym("external", None, None, tuple(rest), ".".join([absmod, *rest]))
            target = self.module_file(absmod) if absmod else None
            if target is not None and target != relpath:
                sym = self.lookup(target, ".".join([member, *rest]), depth + 1)
                if sym.kind != "unknown":
                    return sym
            sub = self.module_file(f"{absmod}.{member}" if absmod else member)
            if sub is not None and rest:
                return self.lookup(sub, ".".join(rest), depth + 1)
            return Sym("external", None, None, tuple(rest), ".".join(p for p in [absmod, member, *rest] if p))
        return Sym("unknown", None, None, tuple(rest), name)

    def find_class(self, relpath: str, name: str) -> tuple[str, ClassFacts] | None:
        sym = self.lookup(relpath, name)
        if sym.kind == "class" and not sym.rest:
            return sym.relpath, sym.obj
        if sym.kind == "assign" and sym.obj.kind == "name" and not sym.rest:
            inner = self.lookup(sym.relpath, sym.obj.ref.name, 1)
            if inner.kind == "class" and not inner.rest:
                return inner.relpath, inner.obj
        if sym.kind in ("unknown", "external"):
            candidates = self.class_by_name.get(last(name), [])
            if len(candidates) == 1:
                return candidates[0]
            same = [c for c in candidates if c[0] == relpath]
            if same:
                return same[0]
        return None


@dataclass
class ClassInfo:
    relpath: str
    facts: ClassFacts
    family: str = ""
    root: bool = False
    assumed: bool = False
    project_bases: list[tuple[str, ClassFacts]] = None  # type: ignore[assignment]
    root_assign: tuple[str, AssignFacts] | None = None


class Builder:
    def __init__(self, files: dict[str, ModelFileFacts]):
        self.files = files
        self.r = Resolver(files)
        self.info: dict[tuple[str, str, int], ClassInfo] = {}
        self.index = ModelIndex()

    # ------------------------------------------------------------ classification

    def classify(self, relpath: str, cls: ClassFacts, stack: tuple = ()) -> ClassInfo:
        key = (relpath, cls.name, cls.line)
        if key in self.info:
            return self.info[key]
        info = ClassInfo(relpath, cls, project_bases=[])
        if key in stack or len(stack) > 30:
            return info
        self.info[key] = info
        for deco in cls.decorators:
            if last(deco) in ("mapped", "mapped_as_dataclass"):
                info.family = "decorator"
            elif last(deco) == "as_declarative":
                info.family, info.root = "declarative", True
        for base in cls.bases:
            self._classify_base(info, relpath, base, stack + (key,))
        if not info.family and cls.tablename and any(
            self.r.lookup(relpath, b).kind in ("unknown", "external") and last(b) not in ("object", "Generic")
            for b in cls.bases
        ):
            info.family, info.assumed = "declarative", True
        return info

    def _classify_base(self, info: ClassInfo, relpath: str, base: str, stack: tuple) -> None:
        sym = self.r.lookup(relpath, base)
        for _ in range(4):  # follow `Model = db.Model` style aliases
            if sym.kind == "assign" and sym.obj.kind == "name" and not sym.rest:
                sym = self.r.lookup(sym.relpath, sym.obj.ref.name, 1)
            else:
                break
        if sym.kind == "class" and not sym.rest:
            parent = self.classify(sym.relpath, sym.obj, stack)
            info.project_bases.append((sym.relpath, sym.obj))
            if parent.family and not info.family:
                info.family = parent.family
            return
        if sym.kind == "assign" and sym.obj.ref is not None:
            fname = last(sym.obj.ref.name)
            if fname in BASE_FACTORIES and not sym.rest:
                info.family = info.family or "declarative"
                info.root_assign = (sym.relpath, sym.obj)
                return
            if sym.rest == ("Model",) and self._is_flask_db(sym.relpath, sym.obj):
                info.family = info.family or "flask"
                info.root_assign = (sym.relpath, sym.obj)
                return
        name = sym.qualname or base
        lname = last(name)
        if sym.kind in ("external", "unknown"):
            if lname in DECLARATIVE_ROOTS:
                if lname != "MappedAsDataclass":
                    info.family, info.root = info.family or "declarative", True
                return
            if lname == "SQLModel":
                info.family = info.family or "sqlmodel"
                return
            if lname == "Model" and (base.split(".")[0] in ("db", "database") or "flask_sqlalchemy" in name):
                info.family = info.family or "flask"
                return
            if sym.kind == "unknown":
                found = self.r.find_class(relpath, base)
                if found is not None:
                    parent = self.classify(found[0], found[1], stack)
                    info.project_bases.append(found)
                    if parent.family and not info.family:
                        info.family = parent.family

    def _is_flask_db(self, relpath: str, a: AssignFacts) -> bool:
        """`db = SQLAlchemy()`, or an instance of a project subclass of it (`db = RedashSQLAlchemy()`)."""
        fname = a.ref.name
        if last(fname) == "SQLAlchemy" or a.name in ("db", "database"):
            return True
        found = self.r.find_class(relpath, fname)
        return found is not None and any(last(b).endswith("SQLAlchemy") for b in found[1].bases)

    def ancestors(self, relpath: str, cls: ClassFacts, seen=None) -> list[tuple[str, ClassFacts]]:
        """Project ancestors, nearest first (depth-first, left to right)."""
        seen = seen if seen is not None else set()
        out = []
        for prel, pcls in self.classify(relpath, cls).project_bases:
            key = (prel, pcls.name, pcls.line)
            if key in seen:
                continue
            seen.add(key)
            out.append((prel, pcls))
            out.extend(self.ancestors(prel, pcls, seen))
        return out

    def is_abstract(self, relpath: str, cls: ClassFacts) -> bool:
        info = self.classify(relpath, cls)
        if info.root or cls.abstract:
            return True
        if info.family == "sqlmodel":
            return cls.keywords.get("table") is not True
        return False

    def concrete_parent(self, relpath: str, cls: ClassFacts) -> tuple[str, ClassFacts] | None:
        for prel, pcls in self.classify(relpath, cls).project_bases:
            pinfo = self.classify(prel, pcls)
            if pinfo.family and not self.is_abstract(prel, pcls) and self.tablename(prel, pcls) is not None:
                return prel, pcls
            deeper = self.concrete_parent(prel, pcls) if pinfo.family else None
            if deeper:
                return deeper
        return None

    def tablename(self, relpath: str, cls: ClassFacts, depth: int = 0) -> str | None:
        if cls.tablename:
            return cls.tablename
        if cls.table is not None:
            return cls.table.name
        info = self.classify(relpath, cls)
        if not info.family or self.is_abstract(relpath, cls) or depth > 20:
            return None
        parent = self.concrete_parent(relpath, cls)
        chain = [(relpath, cls), *self.ancestors(relpath, cls)]
        rule = next((a.tablename_rule for _, a in chain if a.tablename_rule), None)
        if rule in ("lower", "snake", "unknown"):
            return cls.name.lower() if rule == "lower" else snake_case(cls.name)
        if info.family == "sqlmodel":
            return cls.name.lower()
        if info.family == "flask":
            own_pk = any(c.primary_key for c in cls.columns)
            if parent is None or own_pk:
                return snake_case(cls.name)
        if parent is not None:
            return self.tablename(parent[0], parent[1], depth + 1)
        return None

    # ------------------------------------------------------------ types

    def type_map(self, relpath: str, cls: ClassFacts) -> dict[str, TypeRef]:
        merged: dict[str, TypeRef] = {}
        chain = [(relpath, cls), *self.ancestors(relpath, cls)]
        for prel, pcls in reversed(chain):
            info = self.classify(prel, pcls)
            if info.root_assign is not None:
                merged.update({last(k): v for k, v in info.root_assign[1].type_map.items()})
            merged.update({last(k): v for k, v in pcls.type_map.items()})
        return merged

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

    def all_columns(self, relpath: str, cls: ClassFacts, seen=None) -> list[ColumnFacts]:
        """Columns this class maps on its own table: own + from mixins/abstract bases (not from mapped parents),
        in the order declarative builds the table: the class's own columns, then each base's in MRO order."""
        inherited = []
        for prel, pcls in self.classify(relpath, cls).project_bases:
            pinfo = self.classify(prel, pcls)
            if pinfo.family and not self.is_abstract(prel, pcls) and self.tablename(prel, pcls) is not None:
                continue  # mapped parent: its columns live on its own table
            inherited.append(self.all_columns(prel, pcls))
        merged: dict[str, ColumnFacts] = {}
        for cols in reversed(inherited):  # the leftmost base wins, the class itself over all
            merged.update((c.attr, c) for c in cols)
        merged.update((c.attr, c) for c in cls.columns)
        order = [c.attr for c in cls.columns] + [c.attr for cols in inherited for c in cols]
        return [merged[a] for a in dict.fromkeys(order)]

    def column_owners(self, relpath: str, cls: ClassFacts) -> dict[str, str]:
        """attr -> relpath of the class that declares that column."""
        out: dict[str, str] = {}
        for prel, pcls in reversed(self.classify(relpath, cls).project_bases):
            pinfo = self.classify(prel, pcls)
            if pinfo.family and not self.is_abstract(prel, pcls) and self.tablename(prel, pcls) is not None:
                continue
            out.update(self.column_owners(prel, pcls))
        for c in cls.columns:
            out[c.attr] = relpath
        return out

    def all_relationships(self, relpath: str, cls: ClassFacts) -> list[tuple[str, object]]:
        merged: dict[str, tuple[str, object]] = {}
        for prel, pcls in reversed(self.classify(relpath, cls).project_bases):
            pinfo = self.classify(prel, pcls)
            if pinfo.family and not self.is_abstract(prel, pcls) and self.tablename(prel, pcls) is not None:
                continue
            for r in self.all_relationships(prel, pcls):
                merged[r[1].attr] = r
        for r in cls.relationships:
            merged[r.attr] = (relpath, r)
        return list(merged.values())

    def table_args(self, relpath: str, cls: ClassFacts) -> tuple[str, list[ConstraintFacts]]:
        if cls.table_args:
            return relpath, cls.table_args
        for prel, pcls in self.ancestors(relpath, cls):
            pinfo = self.classify(prel, pcls)
            if pinfo.family and not self.is_abstract(prel, pcls) and self.tablename(prel, pcls) is not None:
                continue
            if pcls.table_args:
                return prel, pcls.table_args
        return relpath, []

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
