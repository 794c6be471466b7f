"""Raw-SQL facts: which strings reach SQL sinks, and how they were built (taint through local variables).

A value is *constant* when it is built only from literals, module-level string constants, UPPER_CASE names,
loop variables over constant collections, and sanitisers (`int()`, `len()`, `quote…()`); it is *dynamic*
when an f-string, `%`, `.format()`, `+` or `+=` mixes in anything else. A plain unknown name (a parameter,
a call result) is neither: passing it to `text()` is not reported, since we cannot see what it holds.

Sinks: `text()`, `.execute()`/`.executemany()` (Session, Connection, cursor, `op.execute`),
`.exec_driver_sql()`, `literal_column()`, and string arguments of `.order_by()`/`.filter()`/`.where()`/
`.having()`/`.group_by()`. Output of `.compile(compile_kwargs={"literal_binds": True})` is tracked too, so
that executing it can be reported (DBA506).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from dbagents.check.facts._sql_module import ModuleKnowledge, annotation_kind, const_params, record_call, survey
from dbagents.check.names import dotted as _dotted
from dbagents.check.source import SourceFile, Suppressions, scan_suppressions
from dbagents.check.walk import of_type, span

KEY = "sql"
TRIGGERS = ("text(", "execute", "exec_driver_sql", "literal_column", "order_by", "filter(", "where(", "literal_binds",
            "having(", "group_by")

TEXT_SINKS = {"text", "TextClause", "literal_column"}
SA_MODULES = {"sqlalchemy", "sqlmodel", "flask_sqlalchemy"}
EXECUTE_SINKS = {"execute", "executemany"}
CLAUSE_SINKS = {"order_by", "filter", "where", "having", "group_by"}
SINK_NAMES = frozenset(TEXT_SINKS | EXECUTE_SINKS | CLAUSE_SINKS | {"exec_driver_sql"})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
SAFE_CALLS = {"int", "float", "len", "bool", "abs", "round", "range", "hex", "min", "max", "sum", "ord"}
PURE_CALLS = {"dumps", "str", "repr", "format", "json_dumps"}  # constant in, constant out
STRING_METHODS = {"strip", "lstrip", "rstrip", "lower", "upper", "dedent", "title", "casefold", "capitalize"}
SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|create|alter|drop|truncate|grant|revoke|set|from|where|values|vacuum|analyze|"
    r"comment|copy|refresh|reindex|lock|begin|commit|call|do|with|explain|show|listen|notify)\b",
    re.IGNORECASE,
)
UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Val:
    """What we know about a string-ish value."""

    dynamic: bool
    how: str = ""  # f-string | % | .format() | + | += | literal_binds
    line: int = 0  # where the dynamic piece was built
    sql: str = ""  # constant fragments, for keyword checks
    is_str: bool = True
    spans: tuple = ()  # (first, last) lines of the expressions/statements that built the dynamic parts
    members: tuple | None = None  # when every dynamic part is `x.attr`/`x.method()`: those names (else None)


CONST = Val(False, is_str=False)


@dataclass(frozen=True)
class SqlSink:
    """A built string reaching a SQL sink."""

    sink: str  # text | execute | exec_driver_sql | literal_column | order_by | op.execute | …
    line: int
    col: int
    end_line: int
    how: str  # how the dynamic string was built
    built_line: int  # line where the dynamic piece was built
    via: str  # local variable it travelled through ("" = inline)
    receiver: str  # dotted receiver text for method sinks ("session", "op", "cursor", …)
    spans: tuple = ()  # where the SQL was built: a `# noqa: S608` / `# nosec B608` on any of these lines counts
    members: tuple | None = None  # the only dynamic parts are these attributes/methods (another file may
    #                               define them as constants: DBA501 looks project-wide), None = anything else
    marked: bool = False  # `# noqa: S608` / `# nosec B608` on the call or on every statement that built it


@dataclass(frozen=True)
class StringExecute:
    """`X.execute(<a string>)` — constant or dynamic — used for the 2.0 "plain string" check (DBA101)."""

    receiver: str
    line: int
    col: int
    end_line: int
    dynamic: bool


@dataclass
class SqlFacts:
    sinks: list[SqlSink] = field(default_factory=list)
    string_executes: list[StringExecute] = field(default_factory=list)
    const_members: list[str] = field(default_factory=list)  # argument-less methods/properties returning constants
    other_members: list[str] = field(default_factory=list)  # methods of the same kind that do not


def dotted(node: ast.AST) -> str:
    """`a.b.c` for Name/Attribute chains, `a.b()` parts shown as `a.b()`; "" when not representable."""
    return _dotted(node) or ""


def func_name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _is_literal_binds_compile(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and func_name(node) == "compile"):
        return False
    for kw in node.keywords:
        if kw.arg == "compile_kwargs" and isinstance(kw.value, ast.Dict):
            for k, v in zip(kw.value.keys, kw.value.values):
                if isinstance(k, ast.Constant) and k.value == "literal_binds" and not (
                    isinstance(v, ast.Constant) and not v.value
                ):
                    return True
        if kw.arg == "compile_kwargs" and isinstance(kw.value, ast.Call) and func_name(kw.value) == "dict":
            if any(k.arg == "literal_binds" for k in kw.value.keywords):
                return True
    return False


@dataclass
class SqlImports:
    """Names under which this file reaches SQLAlchemy's `text`/`literal_column` (others are not SQL sinks)."""

    functions: dict[str, str] = field(default_factory=dict)  # local name -> sqlalchemy name (text as sql_text)
    modules: set[str] = field(default_factory=lambda: {"db"})  # import sqlalchemy as sa; Flask-SQLAlchemy's db
    known: ModuleKnowledge = field(default_factory=ModuleKnowledge)  # the file's own helpers, classes, wrappers

    @classmethod
    def of(cls, tree: ast.Module) -> "SqlImports":
        found = cls()
        for node in of_type(tree, ast.ImportFrom, ast.Import):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in SA_MODULES:
                for alias in node.names:
                    if alias.name in TEXT_SINKS:
                        found.functions[alias.asname or alias.name] = alias.name
                    else:
                        found.modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in SA_MODULES:
                        found.modules.add(alias.asname or alias.name.split(".")[0])
        return found

    def is_sql_function(self, func: ast.AST) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.functions
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            return isinstance(root, ast.Name) and root.id in self.modules
        return False


class _Scope:
    """Order-aware walk of one function (or module) body, tracking what local names hold."""

    def __init__(self, facts: SqlFacts, consts: dict[str, Val], collections: set[str],
                 imports: SqlImports | None = None):
        self.facts = facts
        self.imports = imports or SqlImports()
        self.env: dict[str, Val | None] = dict(consts)
        self.collections = set(collections)  # names bound to constant lists/tuples/sets/dicts
        self.keyed: set[str] = set()  # names bound to dict literals whose keys (not values) are constants
        self.returns: list | None = None  # when set, what each `return` gives (constant-helper survey)
        self.typed: dict[str, str] = {}  # parameter -> the CapWords class it is annotated with

    # ---- value classification -------------------------------------------------------------
    def classify(self, node: ast.AST | None) -> Val | None:
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return Val(False, sql=node.value)
            return CONST
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            if UPPER_NAME.match(node.id) or node.id in self.imports.known.classes:
                return CONST  # a class (an Enum) formatted into SQL is code
            return None
        if isinstance(node, ast.Attribute):
            known = self.imports.known
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                if node.attr in known.const_funcs or node.attr in known.const_attrs:
                    return CONST  # a constant property or class attribute of this file
                if node.attr in ("value", "name") and known.in_enum(node.lineno):
                    return CONST  # an Enum member's own value
            if isinstance(node.value, ast.Name) and self.env.get(node.value.id) is CONST:
                return CONST  # `kind.value` of a loop over an Enum class or a constant list
            if UPPER_NAME.match(node.attr) or node.attr in ("__tablename__", "fullname"):
                return CONST
            parts = dotted(node).split(".")
            if "__table__" in parts:
                return CONST
            # Enum members and class attributes (`Status.active`, `_State.done.value`) are defined in code
            if parts[0] and parts[0].lstrip("_")[:1].isupper() and "()" not in parts[0] and len(parts) <= 3:
                return CONST
            return None
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.IfExp):
            return self.merge(self.classify(node.body), self.classify(node.orelse))
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            base = self.classify(node.value)
            if base is not None and not base.dynamic:
                return CONST
            if isinstance(node.value, ast.Name) and node.value.id in self.collections:
                return CONST
            return None
        return None

    @staticmethod
    def merge(a: Val | None, b: Val | None) -> Val | None:
        if a is not None and a.dynamic and b is not None and b.dynamic:
            return _join(a, b)
        if a is not None and a.dynamic:
            return a
        if b is not None and b.dynamic:
            return b
        if a is None or b is None:
            return None
        return Val(False, sql=a.sql + b.sql, is_str=a.is_str or b.is_str)

    def safe(self, node: ast.AST) -> bool:
        """True when interpolating `node` into SQL cannot inject anything."""
        val = self.classify(node)
        if val is not None and not val.dynamic:
            return True
        if isinstance(node, ast.Call):
            name = func_name(node)
            if name in SAFE_CALLS or "quote" in name.lower() or "escape" in name.lower():
                return True
            if name == "join" and isinstance(node.func, ast.Attribute):
                return self._safe_join(node)
        return False

    def passes_constant(self, node: ast.AST) -> bool:
        return self.safe(node) or _const_collection(node)

    def _safe_join(self, node: ast.Call) -> bool:
        sep = self.classify(node.func.value)
        if sep is None or sep.dynamic or len(node.args) != 1:
            return False
        arg = node.args[0]
        if self._const_iter(arg):
            return True
        if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
            return all(self.safe(e) for e in arg.elts)
        if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
            # ", ".join(f":p{i}" for i in range(n)) — placeholders built from safe loop variables
            inner = _Scope(self.facts, dict(self.env), self.collections, self.imports)
            for gen in arg.generators:
                if self._const_iter(gen.iter) or (isinstance(gen.iter, ast.Call) and func_name(gen.iter) == "range"):
                    for name in _target_names(gen.target):
                        inner.env[name] = CONST
            return inner.safe(arg.elt)
        return False

    def _fstring(self, node: ast.JoinedStr) -> Val:
        text = []
        first: Val | None = None
        members: tuple | None = ()
        for part in node.values:
            if isinstance(part, ast.Constant):
                text.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                val = self.classify(part.value)
                if val is not None and val.dynamic:
                    first = first or val
                    members = None if members is None or val.members is None else members + val.members
                elif not self.safe(part.value):
                    first = first or Val(True, "f-string", node.lineno, "".join(text) + _const_tail(node),
                                         spans=_span(node))
                    member = self._member(part.value)
                    members = None if members is None or member is None else members + (member,)
                elif val is not None:
                    text.append(val.sql)
        if first is None:
            return Val(False, sql="".join(text))
        return _with_members(first, members)

    def _member(self, node: ast.AST) -> str | None:
        """`x.attr` or `x.method(<constants>)`: the name another file may define as a constant."""
        if isinstance(node, ast.Call) and all(self.safe(a) for a in node.args) and not node.keywords:
            node = node.func
        if isinstance(node, ast.Attribute) and node.attr in ("value", "name"):
            node = node.value  # `event.value` of an Enum-typed parameter
        if isinstance(node, ast.Name) and node.id in self.typed and self.env.get(node.id) is None:
            return "@" + self.typed[node.id]  # constant when that class is an Enum somewhere in the project
        return node.attr if isinstance(node, ast.Attribute) else None

    def _binop(self, node: ast.BinOp) -> Val | None:
        left = self.classify(node.left)
        if isinstance(node.op, ast.Mod):
            if left is None or not left.is_str:
                return None
            if left.dynamic:
                return _with_members(left, None)
            args = node.right.elts if isinstance(node.right, ast.Tuple) else (
                node.right.values if isinstance(node.right, ast.Dict) else [node.right]
            )
            if all(self.safe(a) for a in args):
                return Val(False, sql=left.sql)
            return Val(True, "%", node.lineno, left.sql, spans=_span(node))
        if isinstance(node.op, ast.Add):
            right = self.classify(node.right)
            if left is not None and left.dynamic and right is not None and right.dynamic:
                return _join(left, right)
            for side, other in ((left, node.right), (right, node.left)):
                if side is not None and side.dynamic:
                    return side if self.safe(other) else _with_members(side, None)
            if left is not None and right is not None:
                return Val(False, sql=left.sql + right.sql, is_str=left.is_str or right.is_str)
            known = left if left is not None else right
            other = node.right if left is not None else node.left
            if known is not None and known.is_str and not self.safe(other):
                return Val(True, "+", node.lineno, known.sql, spans=_span(node))
            return None
        if left is not None and not left.dynamic and self.classify(node.right) is not None:
            return CONST
        return None

    def _call(self, node: ast.Call) -> Val | None:
        name = func_name(node)
        if _is_literal_binds_compile(node):
            return Val(True, "literal_binds", node.lineno)
        if isinstance(node.func, ast.Attribute):
            recv = self.classify(node.func.value)
            if name == "format" and recv is not None and recv.is_str:
                if recv.dynamic:
                    return _with_members(recv, None)
                args = list(node.args) + [k.value for k in node.keywords]
                if all(self.safe(a) for a in args):
                    return Val(False, sql=recv.sql)
                return Val(True, ".format()", node.lineno, recv.sql, spans=_span(node))
            if name in STRING_METHODS and recv is not None:
                return recv
            if name == "join" and recv is not None and recv.is_str:
                return Val(False, sql=recv.sql) if self._safe_join(node) else None
            if name in ("compile",) or (name == "__str__"):
                return None
            if name == "replace" and _quote_escape(node):
                return CONST  # `.replace("'", "''")`: quotes doubled, the value cannot leave its literal
        known = self.imports.known
        if name in known.const_funcs and (isinstance(node.func, ast.Name) or (
            isinstance(node.func.value, ast.Name) and (node.func.value.id in ("self", "cls")
                                                       or node.func.value.id in known.classes))):
            return CONST  # a helper of this file whose every return is constant
        if name == "str" and len(node.args) == 1:
            inner = self.classify(node.args[0])
            if inner is not None and inner.dynamic and inner.how == "literal_binds":
                return inner
            return inner
        if name == "dedent" and node.args:
            return self.classify(node.args[0])
        if name in SAFE_CALLS:
            return CONST
        if name in PURE_CALLS and node.args and all(self.safe(a) for a in node.args):
            return CONST
        return None

    def _const_iter(self, node: ast.AST) -> bool:
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return all(self.safe(e) for e in node.elts)
        if isinstance(node, ast.Name):
            return node.id in self.collections or node.id in self.keyed or node.id in self.imports.known.classes
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys" and (
            isinstance(node.func.value, ast.Name) and node.func.value.id in self.keyed
        ):
            return True  # the keys of a local dict literal
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
            "items", "keys", "values"
        ):
            base = node.func.value
            return (isinstance(base, ast.Name) and base.id in self.collections) or (
                isinstance(base, ast.Dict) and _const_collection(base)
            )
        if isinstance(node, ast.Call) and func_name(node) in ("zip", "enumerate", "sorted", "reversed"):
            return all(self._const_iter(a) or (isinstance(a, ast.Call) and func_name(a) == "range")
                       for a in node.args)
        return False

    # ---- statements ------------------------------------------------------------------------
    def run(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def reaches_sink(self, node: ast.AST) -> bool:
        """Whether `node`'s subtree calls anything named like a sink (else nothing in it can be recorded)."""
        aliases = self.imports.functions
        known = self.imports.known
        for call in of_type(node, ast.Call):
            func = call.func
            name = func.attr if func.__class__ is ast.Attribute else (func.id if func.__class__ is ast.Name else "")
            if name in SINK_NAMES or name in aliases or name in known.wrappers or name in known.private:
                return True  # a private callee's calls are walked too: its parameters may be constants
        return False

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, _DEFS) and not self.reaches_sink(stmt):
            return  # its own scope: what it binds does not leak out, and it has no sink to reach
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in stmt.decorator_list:
                self.scan(dec)
            inner = _Scope(self.facts, dict(self.env), self.collections, self.imports)
            constant = self.imports.known.const_params.get(stmt.name, ())
            for arg in _all_args(stmt.args):
                inner.env[arg] = CONST if arg in constant else None  # every caller in the file passes a constant
                if arg in constant:
                    inner.collections.add(arg)  # … a constant value or a literal collection of them
                else:
                    inner.collections.discard(arg)
            for a in stmt.args.posonlyargs + stmt.args.args + stmt.args.kwonlyargs:
                kind = annotation_kind(a.annotation)
                if kind == "scalar":
                    inner.env[a.arg] = CONST  # `uid: int`, `ids: UUID`: printed, they cannot inject
                elif kind == "scalars":
                    inner.collections.add(a.arg)  # `ids: Sequence[UUID]`
                elif kind is not None and a.arg not in constant:
                    inner.typed[a.arg] = kind[len("class:"):]  # maybe an Enum defined elsewhere
            inner.run(stmt.body)
            return
        if isinstance(stmt, ast.ClassDef):
            _Scope(self.facts, dict(self.env), self.collections, self.imports).run(stmt.body)
            return
        if isinstance(stmt, ast.Assign):
            self.scan(stmt.value)
            val = _built_in(self.classify(stmt.value), stmt)
            for target in stmt.targets:
                self.bind(target, val, stmt.value)
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.scan(stmt.value)
                self.bind(stmt.target, _built_in(self.classify(stmt.value), stmt), stmt.value)
            return
        if isinstance(stmt, ast.Return) and self.returns is not None:
            self.scan(stmt)
            self.returns.append(self.classify(stmt.value) if stmt.value is not None else None)
            return
        if isinstance(stmt, ast.AugAssign):
            self.scan(stmt.value)
            if isinstance(stmt.target, ast.Name) and isinstance(stmt.op, (ast.Add, ast.Mod)):
                old = self.env.get(stmt.target.id)
                new = self.classify(stmt.value)
                if old is not None and old.is_str:
                    if old.dynamic:
                        pass
                    elif new is not None and new.dynamic:
                        self.env[stmt.target.id] = _built_in(new, stmt)
                    elif new is None and not self.safe(stmt.value):
                        self.env[stmt.target.id] = Val(True, "+=", stmt.lineno, old.sql, spans=_span(stmt))
                    elif new is not None:
                        self.env[stmt.target.id] = Val(False, sql=old.sql + new.sql)
                elif new is not None and new.dynamic and stmt.target.id in self.env:
                    self.env[stmt.target.id] = new
            return
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.scan(stmt.iter)
            const = self._const_iter(stmt.iter)
            for name in _target_names(stmt.target):
                self.env[name] = CONST if const else None
            if _items_of(stmt.iter, self.keyed) and isinstance(stmt.target, ast.Tuple) and stmt.target.elts:
                for name in _target_names(stmt.target.elts[0]):
                    self.env[name] = CONST  # `for key, value in local_dict.items()`: the key is one of its literals
            self.branches([stmt.body, stmt.orelse], loop=True)
            return
        if isinstance(stmt, ast.While):
            self.scan(stmt.test)
            self.branches([stmt.body, stmt.orelse], loop=True)
            return
        if isinstance(stmt, ast.If):
            self.scan(stmt.test)
            self.branches([stmt.body, stmt.orelse])
            return
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                self.scan(item.context_expr)
                if item.optional_vars is not None:
                    for name in _target_names(item.optional_vars):
                        self.env[name] = None
            self.run(stmt.body)
            return
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.branches([stmt.body + stmt.orelse] + [h.body for h in stmt.handlers], loop=False)
            self.run(stmt.finalbody)
            return
        if isinstance(stmt, ast.Match):
            self.scan(stmt.subject)
            self.branches([c.body for c in stmt.cases] + [[]])
            return
        self.scan(stmt)

    def branches(self, bodies: list[list[ast.stmt]], loop: bool = False) -> None:
        """Run each branch from the current state; afterwards a name is dynamic if any branch made it so."""
        start = dict(self.env)
        results = []
        for body in bodies:
            self.env = dict(start)
            self.run(body)
            if loop:  # a second pass lets `sql += f"…"` later in the body reach a sink earlier in it
                self.run(body)
            results.append(self.env)
        merged: dict[str, Val | None] = {}
        for env in results:
            for name, val in env.items():
                if name in merged:
                    merged[name] = self.merge_names(merged[name], val)
                else:
                    merged[name] = val
        self.env = merged

    @staticmethod
    def merge_names(a: Val | None, b: Val | None) -> Val | None:
        if a is not None and a.dynamic and b is not None and b.dynamic:
            return _join(a, b)
        if a is not None and a.dynamic:
            return a
        if b is not None and b.dynamic:
            return b
        if a is None or b is None:
            return None
        return a

    def bind(self, target: ast.AST, val: Val | None, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.typed.pop(target.id, None)
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and not self.safe(target.slice):
            self.keyed.discard(target.value.id)
            self.collections.discard(target.value.id)
        if isinstance(target, ast.Name):
            self.env[target.id] = val
            if isinstance(value, ast.Dict) and all(k is not None and self.safe(k) for k in value.keys):
                self.keyed.add(target.id)
            elif isinstance(value, ast.Name) and (value.id in self.keyed or value.id in self.collections):
                self.keyed.add(target.id)  # an alias of a dict whose keys are literals
            else:
                self.keyed.discard(target.id)
            if isinstance(value, (ast.List, ast.Tuple, ast.Set, ast.Dict)) and _const_collection(value):
                self.collections.add(target.id)
            else:
                self.collections.discard(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts):
                    self.bind(t, self.classify(v), v)
            else:
                for name in _target_names(target):
                    self.env[name] = None
                    self.collections.discard(name)

    # ---- sinks -----------------------------------------------------------------------------
    def scan(self, node: ast.AST) -> None:
        """Look for sink calls inside one statement/expression (nested defs are run as statements)."""
        nodes, end, j, stop = span(node)
        aliases = self.imports.functions
        known = self.imports.known
        while j < stop:
            cur = nodes[j]
            cls = cur.__class__
            if cls in _DEFS:
                self.statement(cur)
                j = end[j]
                continue
            if cls is ast.Call:
                func = cur.func
                name = func.attr if func.__class__ is ast.Attribute else (
                    func.id if func.__class__ is ast.Name else "")
                if name in SINK_NAMES or name in aliases or name in known.wrappers:
                    self.sink(cur)
                if name in known.private:
                    record_call(known, cur, self.passes_constant)
                elif name in ("update", "setdefault") and func.__class__ is ast.Attribute and (
                    func.value.__class__ is ast.Name
                ):
                    self.keyed.discard(func.value.id)
            elif cls is ast.NamedExpr:
                self.env[cur.target.id] = self.classify(cur.value)
            j += 1

    def sink(self, call: ast.Call) -> None:
        name = func_name(call)
        if isinstance(call.func, ast.Name):
            name = self.imports.functions.get(name, name)
        receiver = dotted(call.func.value) if isinstance(call.func, ast.Attribute) else ""
        if name in TEXT_SINKS and not self.imports.is_sql_function(call.func):
            return
        wrapped = self.imports.known.wrappers.get(name)
        if wrapped is not None and name not in SINK_NAMES and isinstance(call.func, ast.Attribute) and (
            isinstance(call.func.value, ast.Name) and call.func.value.id in ("self", "cls")
        ) or wrapped is not None and isinstance(call.func, ast.Name):
            arg = call.args[wrapped] if len(call.args) > wrapped else None
            val = self.classify(arg)
            if val is not None and val.dynamic and (val.how == "literal_binds" or SQL_WORDS.search(val.sql)):
                self.record(call, name, val, arg, receiver)  # this file's own wrapper passes it to a sink
            return
        if name in TEXT_SINKS or name in EXECUTE_SINKS or name == "exec_driver_sql":
            arg = call.args[0] if call.args else _kw(call, "statement", "sql", "text", "operation", "sqltext")
            if arg is None:
                return
            if isinstance(arg, ast.Call) and self.imports.is_sql_function(arg.func) and (
                self.imports.functions.get(func_name(arg), func_name(arg)) in TEXT_SINKS
            ):
                return  # the inner text() reports
            val = self.classify(arg)
            if name in EXECUTE_SINKS and val is not None and val.is_str and isinstance(call.func, ast.Attribute):
                self.facts.string_executes.append(
                    StringExecute(receiver, call.lineno, call.col_offset + 1, call.end_lineno or 0, val.dynamic)
                )
            if val is None or not val.dynamic:
                return
            if name in EXECUTE_SINKS:
                if not isinstance(call.func, ast.Attribute):
                    return
                if receiver != "op" and val.how != "literal_binds" and not SQL_WORDS.search(val.sql):
                    return
            sink = "op.execute" if receiver == "op" and name == "execute" else name
            self.record(call, sink, val, arg, receiver)
            return
        if name in CLAUSE_SINKS and isinstance(call.func, ast.Attribute):
            for arg in call.args:
                val = self.classify(arg)
                if val is not None and val.dynamic and val.is_str:
                    self.record(call, name, val, arg, receiver)
                    return

    def record(self, call: ast.Call, sink: str, val: Val, arg: ast.AST, receiver: str) -> None:
        via = arg.id if isinstance(arg, ast.Name) else ""
        self.facts.sinks.append(
            SqlSink(sink, call.lineno, call.col_offset + 1, call.end_lineno or 0, val.how, val.line, via, receiver,
                    val.spans, tuple(sorted(set(val.members))) if val.members is not None else None)
        )


def _kw(call: ast.Call, *names: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    return None


def _span(node: ast.AST) -> tuple:
    return ((node.lineno, node.end_lineno or node.lineno),)


def _built_in(val: Val | None, stmt: ast.stmt) -> Val | None:
    """A dynamic value assigned by `stmt`: the whole statement counts as where it was built."""
    if val is None or not val.dynamic:
        return val
    first, last = _span(stmt)[0]
    outside = tuple(s for s in val.spans if not (first <= s[0] and s[1] <= last))
    return Val(True, val.how, val.line, val.sql, val.is_str, outside + ((first, last),), val.members)


def _with_members(val: Val, members: tuple | None) -> Val:
    return Val(val.dynamic, val.how, val.line, val.sql, val.is_str, val.spans, members)


def _join(a: Val, b: Val) -> Val:
    """Both dynamic: built at the sites of both, member-only if both are."""
    members = None if a.members is None or b.members is None else a.members + b.members
    return Val(True, a.how, a.line, a.sql, a.is_str, a.spans + tuple(s for s in b.spans if s not in a.spans), members)


def _quote_escape(call: ast.Call) -> bool:
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    return len(call.args) == 2 and args == ["'", "''"]


def _items_of(node: ast.AST, keyed: set[str]) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "items"):
        return False
    base = node.func.value
    if isinstance(base, ast.Dict):
        return all(isinstance(k, ast.Constant) for k in base.keys)
    return isinstance(base, ast.Name) and base.id in keyed


def _const_tail(node: ast.JoinedStr) -> str:
    return "".join(str(p.value) for p in node.values if isinstance(p, ast.Constant))


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _target_names(e)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _all_args(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if args.vararg:
        names.append(args.vararg.arg)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _const_collection(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id[:1].isupper():
        return all(_const_collection(a) for a in node.args) and all(_const_collection(k.value) for k in node.keywords)
        # `TableMeta("cookbooks_to_tags", "cookbook_id", "tag_id")`: a record built from literals
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_const_collection(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _const_collection(k) for k in node.keys) and all(
            _const_collection(v) for v in node.values
        )
    return False


def _module_constants(tree: ast.Module) -> tuple[dict[str, Val], set[str]]:
    """Module-level names assigned only constant strings (or constant collections)."""
    consts: dict[str, Val] = {}
    collections: set[str] = set()
    spoiled: set[str] = set()
    probe = _Scope(SqlFacts(), {}, set())
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                name = target.id
                probe.env = dict(consts)
                probe.collections = collections
                val = probe.classify(stmt.value)
                if _const_collection(stmt.value) and not isinstance(stmt.value, ast.Constant):
                    collections.add(name)
                    consts[name] = CONST
                elif val is not None and not val.dynamic and name not in spoiled:
                    consts[name] = val
                else:
                    spoiled.add(name)
                    consts.pop(name, None)
                    collections.discard(name)
    return consts, collections


def _const_helpers(tree: ast.Module, consts: dict[str, Val], collections: set[str], imports: SqlImports) -> None:
    """Functions and methods of this file whose every `return` gives a constant (to a fixed point)."""
    by_name: dict[str, list] = {}
    for fn in of_type(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        by_name.setdefault(fn.name, []).append(fn)
    known = imports.known
    changed = True
    while changed:
        changed = False
        for name, defs in by_name.items():
            if name not in known.const_funcs and all(_returns_constant(fn, consts, collections, imports) for fn in defs):
                known.const_funcs.add(name)
                changed = True


def _returns_constant(fn, consts: dict[str, Val], collections: set[str], imports: SqlImports) -> bool:
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in of_type(fn, ast.Yield, ast.YieldFrom)):
        return False
    scope = _Scope(SqlFacts(), consts, collections, imports)
    for arg in _all_args(fn.args):
        scope.env[arg] = CONST if arg in imports.known.const_params.get(fn.name, ()) else None
    scope.returns = []
    scope.run(fn.body)
    return bool(scope.returns) and all(v is not None and not v.dynamic for v in scope.returns)


def _marked(marks: Suppressions, sink: SqlSink) -> bool:
    """`# noqa: S608` / `# nosec B608` (or DBA501) on a line of the sink's call, or on a line of every
    statement that built the SQL (ruff puts it on the string's closing line)."""
    if marks.suppresses("DBA501", *range(sink.line, max(sink.line, sink.end_line) + 1)):
        return True
    return bool(sink.spans) and all(marks.suppresses("DBA501", *range(a, b + 1)) for a, b in sink.spans)


def _export_members(tree: ast.Module, consts: dict[str, Val], collections: set[str], imports: SqlImports,
                    facts: SqlFacts) -> None:
    """Argument-less methods/properties and class attributes of this file, constant or not, for other files'
    `db.timestamp_now` (DBA501 resolves those project-wide)."""
    const, other = set(imports.known.const_attrs), set()
    for cls in of_type(tree, ast.ClassDef):
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(_all_args(fn.args)) == 1 and (
                not fn.name.startswith("__")
            ):
                if fn.name in imports.known.const_funcs or _returns_constant(fn, consts, collections, imports):
                    const.add(fn.name)
                else:
                    other.add(fn.name)
    facts.const_members = sorted(const - other)
    facts.other_members = sorted(other)


def extract(src: SourceFile) -> SqlFacts | None:
    consts, collections = _module_constants(src.tree)
    facts = SqlFacts()
    imports = SqlImports.of(src.tree)
    imports.known = survey(src.tree, src.relpath)
    _Scope(facts, consts, collections, imports).run(src.tree.body)
    if any(s.how != "literal_binds" for s in facts.sinks):  # look again, knowing the file's constant helpers
        _const_helpers(src.tree, consts, collections, imports)
        for _ in range(3):  # constant parameters feed constant arguments of further private callees
            before = dict(imports.known.const_params)
            const_params(imports.known, src.tree)
            if not imports.known.const_funcs and not imports.known.const_params:
                break
            imports.known.calls.clear()
            facts = SqlFacts()
            _Scope(facts, consts, collections, imports).run(src.tree.body)
            if imports.known.const_params == before or not any(s.how != "literal_binds" for s in facts.sinks):
                break
    _export_members(src.tree, consts, collections, imports, facts)
    if not facts.sinks and not facts.string_executes and not facts.const_members:
        return None
    if facts.sinks:
        marks = scan_suppressions(src.text)
        facts.sinks = [replace(s, marked=_marked(marks, s)) for s in facts.sinks]
    facts.sinks = list({(s.line, s.col, s.sink): s for s in reversed(facts.sinks)}.values())[::-1]
    facts.string_executes = list({(s.line, s.col): s for s in reversed(facts.string_executes)}.values())[::-1]
    return facts
