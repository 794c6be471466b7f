"""Loops over ORM query rows, with the statement's eager-load options and the attributes touched per row.

Per function, in source order, this tracks:
- statement variables: `stmt = select(User)`, `stmt = stmt.where(...).options(selectinload(User.a))`,
  `q = session.query(User).options(...)`, Flask's `User.query`;
- result/row variables: `rows = session.scalars(stmt).all()`, `res = await session.execute(stmt)` then
  `res.scalars()`, `list(...)`;
and records each `for`/comprehension whose iterable yields ORM objects of one entity, with every `row.attr`
and `row.attr.attr2` read in its body (and `row.attr` element attributes in an inner loop over `row.attr`).
Whether an attribute is a relationship is decided later, project-wide, by DBA116 with the model index.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace

from dbagents.check.facts.sql import dotted, func_name
from dbagents.check.source import SourceFile
from dbagents.check.walk import SCOPES, of_type

KEY = "orm_loops"
TRIGGERS = ("select(", "query", "scalars(")

EAGER = {"selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager", "raiseload", "noload",
         "selectin_polymorphic"}
PATH_ONLY = {"defaultload", "lazyload", "Load"}
IGNORED_OPTIONS = {"load_only", "defer", "undefer", "undefer_group", "with_expression", "lazyload"}
PASSTHROUGH = {
    "where", "filter", "filter_by", "order_by", "limit", "offset", "join", "outerjoin", "join_from",
    "outerjoin_from", "group_by", "having", "distinct", "execution_options", "with_for_update", "correlate",
    "select_from", "params", "enable_assertions", "populate_existing", "autoflush", "slice", "reset_joinpoint",
    "prefix_with", "suffix_with", "with_hint", "order_by_clause",
    "union", "with_parent", "where_criteria", "set_label_style", "yield_per",
}
ROW_TERMINALS = {"all", "unique", "fetchall", "yield_per"}
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
SCOPE_STMTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# below a statement, what is not its own expression: nested statements (visited on their own) and lambdas
NOT_OWN = tuple(cls for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, ast.stmt)) + (
    ast.Lambda,)
QUERY_WORDS = {"select", "query", "scalars"}
SELECT_RECEIVERS = {"", "sa", "sqlalchemy", "sql", "future", "sqlalchemy.future", "sqlalchemy.sql", "expression",
                    "sqlmodel", "db"}


@dataclass(frozen=True)
class StmtInfo:
    entity: str
    line: int
    eager: frozenset = frozenset()  # tuples of attribute names
    wildcard: frozenset = frozenset()  # path prefixes under which everything is eager/unknown; () = all
    query: bool = False  # a legacy Query (iterable itself)

    def with_options(self, eager: set, wildcard: set) -> "StmtInfo":
        return replace(self, eager=self.eager | frozenset(eager), wildcard=self.wildcard | frozenset(wildcard))


@dataclass(frozen=True)
class Access:
    path: tuple[str, ...]
    line: int
    col: int
    end_line: int


@dataclass
class RowLoop:
    line: int
    col: int
    var: str
    stmt: StmtInfo
    in_async: bool
    accesses: list[Access] = field(default_factory=list)


@dataclass
class LoopFacts:
    loops: list[RowLoop] = field(default_factory=list)


def _entity(node: ast.AST) -> str | None:
    name = dotted(node)
    last = name.rsplit(".", 1)[-1] if name else ""
    if last and last[0].isupper() and "()" not in name:
        return last
    return None


def _unwrap(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Await):
        node = node.value
    return node


def parse_options(args: list[ast.AST]) -> tuple[set, set]:
    """(eager paths, wildcard prefixes) of `.options(...)` arguments; unknown options make everything eager."""
    eager: set = set()
    wildcard: set = set()
    for arg in args:
        calls = []
        node = arg
        while isinstance(node, ast.Call):
            calls.append(node)
            node = node.func.value if isinstance(node.func, ast.Attribute) else None
        if not calls or node is not None and not isinstance(node, ast.Name):
            wildcard.add(())  # a variable, *opts, or a helper: cannot see what it loads
            continue
        calls.reverse()
        path: tuple[str, ...] = ()
        known = True
        for call in calls:
            name = func_name(call)
            if name in IGNORED_OPTIONS and name != "lazyload":
                break
            if name not in EAGER and name not in PATH_ONLY:
                known = False
                break
            if name == "Load":
                continue
            for target in call.args:
                if isinstance(target, ast.Constant) and isinstance(target.value, str):
                    attr = target.value.split(".")[-1]
                elif isinstance(target, ast.Attribute):
                    attr = target.attr
                elif isinstance(target, ast.Call) and func_name(target) == "of_type" and isinstance(
                        target.func, ast.Attribute) and isinstance(target.func.value, ast.Attribute):
                    attr = target.func.value.attr
                else:
                    known = False
                    break
                if attr == "*":
                    if name in EAGER:
                        wildcard.add(path)
                    break
                path = path + (attr,)
                if name in EAGER:
                    eager.add(path)
        if not known:
            wildcard.add(())
    return eager, wildcard


class _Scope:
    def __init__(self, facts: LoopFacts, in_async: bool, parent: "_Scope | None" = None):
        self.facts = facts
        self.in_async = in_async
        self.stmts: dict[str, StmtInfo] = dict(parent.stmts) if parent else {}
        self.rows: dict[str, StmtInfo] = dict(parent.rows) if parent else {}
        self.results: dict[str, StmtInfo] = dict(parent.results) if parent else {}

    # ---- what an expression holds --------------------------------------------------------------
    def stmt_of(self, node: ast.AST) -> StmtInfo | None:
        node = _unwrap(node)
        if isinstance(node, ast.Name):
            return self.stmts.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "query":
            ent = _entity(node.value)
            return StmtInfo(ent, node.lineno, query=True) if ent else None
        if not isinstance(node, ast.Call):
            return None
        name = func_name(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            if name == "options":
                base = self.stmt_of(func.value)
                if base is None:
                    return None
                eager, wild = parse_options(list(node.args))
                return base.with_options(eager, wild)
            if name in PASSTHROUGH:
                return self.stmt_of(func.value)
            if name == "query" and len(node.args) == 1 and not node.keywords:
                ent = _entity(node.args[0])
                return StmtInfo(ent, node.lineno, query=True) if ent else None
        if name == "select" and len(node.args) == 1 and not node.keywords:
            recv = dotted(func.value) if isinstance(func, ast.Attribute) else ""
            if recv in SELECT_RECEIVERS:
                ent = _entity(node.args[0])
                return StmtInfo(ent, node.lineno) if ent else None
        return None

    def result_of(self, node: ast.AST) -> StmtInfo | None:
        """`session.execute(stmt)` (a Result of rows)."""
        node = _unwrap(node)
        if isinstance(node, ast.Name):
            return self.results.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "execute", "stream"
        ) and node.args:
            return self.stmt_of(node.args[0])
        return None

    def rows_of(self, node: ast.AST) -> StmtInfo | None:
        """The statement whose ORM objects iterating `node` yields."""
        node = _unwrap(node)
        if isinstance(node, ast.Name):
            if node.id in self.rows:
                return self.rows[node.id]
            info = self.stmts.get(node.id)
            return info if info is not None and info.query else None
        if not isinstance(node, ast.Call):
            info = self.stmt_of(node)
            return info if info is not None and info.query else None
        name = func_name(node)
        func = node.func
        if isinstance(func, ast.Name) and name in ("list", "tuple", "set", "sorted", "reversed") and node.args:
            return self.rows_of(node.args[0])
        if not isinstance(func, ast.Attribute):
            return None
        if name == "scalars":
            if node.args:
                return self.stmt_of(node.args[0])
            return self.result_of(func.value)
        if name in ROW_TERMINALS:
            inner = self.rows_of(func.value)
            if inner is not None:
                return inner
            info = self.stmt_of(func.value)
            return info if info is not None and info.query else None
        info = self.stmt_of(node)
        return info if info is not None and info.query else None

    # ---- statements --------------------------------------------------------------------------------
    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, SCOPE_STMTS) and not (self.stmts or self.rows or self.results) and not _builds_query(stmt):
            return  # a scope that neither inherits nor builds a query cannot loop over ORM rows
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _Scope(self.facts, isinstance(stmt, ast.AsyncFunctionDef), self).run(stmt.body)
            return
        if isinstance(stmt, ast.ClassDef):
            _Scope(self.facts, False, self).run(stmt.body)
            return
        self.comprehensions(stmt)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self.bind(target.id, stmt.value)
            return
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            info = self.rows_of(stmt.iter)
            if info is not None and isinstance(stmt.target, ast.Name):
                loop = RowLoop(stmt.lineno, stmt.col_offset + 1, stmt.target.id, info, self.in_async)
                loop.accesses = _accesses(stmt.target.id, stmt.body)
                if loop.accesses:
                    self.facts.loops.append(loop)
            for name in _target_names(stmt.target):
                self.forget(name)
        for field_name in ("body", "orelse", "finalbody"):
            self.run(getattr(stmt, field_name, []) or [])
        for handler in getattr(stmt, "handlers", []) or []:
            self.run(handler.body)
        for case in getattr(stmt, "cases", []) or []:
            self.run(case.body)

    def bind(self, name: str, value: ast.AST) -> None:
        stmt = self.stmt_of(value)
        rows = None if stmt is not None else self.rows_of(value)
        result = None if stmt is not None or rows is not None else self.result_of(value)
        self.forget(name)
        if stmt is not None:
            self.stmts[name] = stmt
        elif rows is not None:
            self.rows[name] = rows
        elif result is not None:
            self.results[name] = result

    def forget(self, name: str) -> None:
        self.stmts.pop(name, None)
        self.rows.pop(name, None)
        self.results.pop(name, None)

    def comprehensions(self, stmt: ast.stmt) -> None:
        """Comprehensions in the statement's own expressions (nested blocks are visited through statement())."""
        if not of_type(stmt, *COMPREHENSIONS):
            return
        for node in of_type(stmt, *COMPREHENSIONS, skip=NOT_OWN):
            self.comprehension(node)

    def comprehension(self, node) -> None:
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for i, gen in enumerate(node.generators):
            if not isinstance(gen.target, ast.Name):
                continue
            info = self.rows_of(gen.iter)
            if info is None:
                continue
            body = parts + list(gen.ifs) + [g for g in node.generators[i + 1:]]
            loop = RowLoop(node.lineno, node.col_offset + 1, gen.target.id, info, self.in_async)
            loop.accesses = _accesses(gen.target.id, body)
            if loop.accesses:
                self.facts.loops.append(loop)


def _builds_query(node: ast.AST) -> bool:
    """Whether `select`, `query` or `scalars` appears as a name or attribute anywhere below `node`."""
    return any(n.attr in QUERY_WORDS for n in of_type(node, ast.Attribute)) or any(
        n.id in QUERY_WORDS for n in of_type(node, ast.Name))


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _target_names(e)]
    return []


def _accesses(var: str, body: list) -> list[Access]:
    """First read of each `var.a` / `var.a.b` path in `body`, plus `x.b` for inner loops `for x in var.a`."""
    found: dict[tuple[str, ...], Access] = {}

    def add(path, node):
        acc = Access(path, node.lineno, node.col_offset + 1, node.end_lineno or node.lineno)
        if path not in found or (acc.line, acc.col) < (found[path].line, found[path].col):
            found[path] = acc

    inner: list[tuple[str, str, list]] = []
    body = [top for top in body if not isinstance(top, SCOPES)]  # nested scopes run later, not per row
    for top in body:
        for node in of_type(top, ast.For, ast.AsyncFor, *COMPREHENSIONS, skip=SCOPES):
            if isinstance(node, (ast.For, ast.AsyncFor)):
                if isinstance(node.target, ast.Name):
                    it = _unwrap(node.iter)
                    if isinstance(it, ast.Attribute) and isinstance(it.value, ast.Name) and it.value.id == var:
                        inner.append((it.attr, node.target.id, node.body))
                continue
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for gen in node.generators:
                it = _unwrap(gen.iter)
                if isinstance(gen.target, ast.Name) and isinstance(it, ast.Attribute) and isinstance(
                        it.value, ast.Name) and it.value.id == var:
                    inner.append((it.attr, gen.target.id, parts + list(gen.ifs)))
    for node in (n for top in body for n in of_type(top, ast.Attribute, skip=SCOPES)):
        if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id == var:
            add((node.attr,), node)
        elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and base.value.id == var:
            if base.attr == "awaitable_attrs":
                add((node.attr,), node)
            else:
                add((base.attr, node.attr), node)
    for rel, elem, inner_body in inner:
        for acc in _accesses(elem, inner_body):
            key = (rel,) + acc.path
            if len(acc.path) == 1 and (key not in found or (acc.line, acc.col) < (found[key].line, found[key].col)):
                found[key] = Access(key, acc.line, acc.col, acc.end_line)
    return sorted(found.values(), key=lambda a: (a.line, a.col, a.path))


def extract(src: SourceFile) -> LoopFacts | None:
    facts = LoopFacts()
    _Scope(facts, False).run(src.tree.body)
    return facts if facts.loops else None
