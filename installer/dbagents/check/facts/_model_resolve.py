"""Name resolution across the project's model files: which file a module is, what a dotted name points to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbagents.check.facts._model_extract import ClassFacts, ModelFileFacts, TableFacts, last

MAX_DEPTH = 8


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
