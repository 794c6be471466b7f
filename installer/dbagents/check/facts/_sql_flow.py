"""Raw-SQL facts, the flow: an order-aware walk of a function (or module) body that carries values through
assignments, branches and loops to the SQL sinks, recording each dynamic string that reaches one."""

from __future__ import annotations

import ast

from dbagents.check.facts._sql_types import (
    CLAUSE_SINKS, CONST, EXECUTE_SINKS, SINK_NAMES, SQL_WORDS, TEXT_SINKS, _DEFS, SqlSink, StringExecute, Val,
    dotted, func_name,
)
from dbagents.check.facts._sql_module import annotation_kind, record_call
from dbagents.check.facts._sql_values import ValueScope, _const_collection, _span, _target_names
from dbagents.check.walk import of_type, span


class Scope(ValueScope):
    """Statements of one body, in order: what each binds, and which calls are SQL sinks."""

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
            if name in SINK_NAMES or name in aliases or name in known.wrappers:
                return True
            if name in known.private:  # filled only once following them matters (sql.extract)
                return True  # a private callee's calls are walked too: its parameters may be constants
        return False

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, _DEFS) and not self.reaches_sink(stmt):
            return  # its own scope: what it binds does not leak out, and it has no sink to reach
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in stmt.decorator_list:
                self.scan(dec)
            inner = Scope(self.facts, dict(self.env), self.collections, self.imports)
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
            Scope(self.facts, dict(self.env), self.collections, self.imports).run(stmt.body)
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
            if loop and _turned_stringy(start, self.env):
                self.run(body)  # a second pass lets `sql += f"…"` later in the body reach a sink earlier in it
            results.append(self.env)
        merged: dict[str, Val | None] = dict(results[0])
        for env in results[1:]:
            for name, val in env.items():
                old = merged.get(name, _UNSEEN)
                if old is val:
                    continue  # untouched by the branches (most names): merging a value with itself keeps it
                merged[name] = val if old is _UNSEEN else self.merge_names(old, val)
        self.env = merged

    @classmethod
    def merge_names(cls, a: Val | None, b: Val | None) -> Val | None:
        """A name bound to `a` on one path and `b` on another (constant on both: keeps the first)."""
        val = cls.merge(a, b)
        return a if val is not None and not val.dynamic else val

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


_UNSEEN = object()


def _turned_stringy(before: dict, after: dict) -> bool:
    """Whether a pass bound some name to a string (dynamic or not) it did not hold before. If not, a second pass
    over a loop body records nothing new: only strings reaching a sink are recorded."""
    return any(val is not None and (val.dynamic or val.is_str) and before.get(name) is not val
               for name, val in after.items())


def _kw(call: ast.Call, *names: str) -> ast.AST | None:
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    return None


def _built_in(val: Val | None, stmt: ast.stmt) -> Val | None:
    """A dynamic value assigned by `stmt`: the whole statement counts as where it was built."""
    if val is None or not val.dynamic:
        return val
    first, last = _span(stmt)[0]
    outside = tuple(s for s in val.spans if not (first <= s[0] and s[1] <= last))
    return Val(True, val.how, val.line, val.sql, val.is_str, outside + ((first, last),), val.members)


def _items_of(node: ast.AST, keyed: set[str]) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "items"):
        return False
    base = node.func.value
    if isinstance(base, ast.Dict):
        return all(isinstance(k, ast.Constant) for k in base.keys)
    return isinstance(base, ast.Name) and base.id in keyed


def _all_args(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if args.vararg:
        names.append(args.vararg.arg)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names
