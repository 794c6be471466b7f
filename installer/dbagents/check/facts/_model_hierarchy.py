"""Class hierarchy for the model builder: which classes are mapped (declarative, Flask, SQLModel), their
abstract/mixin/concrete status, table names, type maps and the members they inherit."""

from __future__ import annotations

from dataclasses import dataclass

from dbagents.check.facts._model_extract import AssignFacts, ClassFacts, ColumnFacts, ConstraintFacts, TypeRef, last
from dbagents.check.facts._model_resolve import snake_case

DECLARATIVE_ROOTS = {"DeclarativeBase", "DeclarativeBaseNoMeta", "MappedAsDataclass"}
BASE_FACTORIES = {"declarative_base", "generate_base"}


@dataclass
class ClassInfo:
    relpath: str
    facts: ClassFacts
    family: str = ""
    root: bool = False
    assumed: bool = False
    project_bases: list[tuple[str, ClassFacts]] = None  # type: ignore[assignment]
    root_assign: tuple[str, AssignFacts] | None = None


class Hierarchy:
    """Which classes are mapped, their tables, bases and inherited members.

    A mixin of the Builder: it needs ``.files``, ``.r`` (the Resolver) and ``.info`` (the classification cache)."""

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

    def type_map(self, relpath: str, cls: ClassFacts) -> dict[str, TypeRef]:
        merged: dict[str, TypeRef] = {}
        chain = [(relpath, cls), *self.ancestors(relpath, cls)]
        for prel, pcls in reversed(chain):
            info = self.classify(prel, pcls)
            if info.root_assign is not None:
                merged.update({last(k): v for k, v in info.root_assign[1].type_map.items()})
            merged.update({last(k): v for k, v in pcls.type_map.items()})
        return merged

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
