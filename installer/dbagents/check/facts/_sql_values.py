"""Raw-SQL facts, the values: whether an expression is a constant string, a dynamic one (and how it was
built), or unknown. `ValueScope` knows what local names hold; `_sql_flow.Scope` moves values through statements."""

from __future__ import annotations

import ast

from dbagents.check.facts._sql_types import (
    CONST, PURE_CALLS, SAFE_CALLS, STRING_METHODS, UPPER_NAME, SqlFacts, SqlImports, Val,
    _is_literal_binds_compile, dotted, func_name,
)


class ValueScope:
    """What local names of one function (or module) body hold, and what an expression built from them is."""

    def __init__(self, facts: SqlFacts, consts: dict[str, Val], collections: set[str],
                 imports: SqlImports | None = None):
        self.facts = facts
        self.imports = imports or SqlImports()
        self.env: dict[str, Val | None] = dict(consts)
        self.collections = set(collections)  # names bound to constant lists/tuples/sets/dicts
        self.keyed: set[str] = set()  # names bound to dict literals whose keys (not values) are constants
        self.returns: list | None = None  # when set, what each `return` gives (constant-helper survey)
        self.typed: dict[str, str] = {}  # parameter -> the CapWords class it is annotated with
        self.got: dict[str, str] = {}  # name -> "X.get()" of the context variable it was read from

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
            inner = type(self)(self.facts, dict(self.env), self.collections, self.imports)
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
                    members = None if members is None or val.members is None else _union(members, val.members)
                elif not self.safe(part.value):
                    first = first or Val(True, "f-string", node.lineno, "".join(text) + _const_tail(node),
                                         spans=_span(node))
                    member = self._member(part.value)
                    members = None if members is None or member is None else _union(members, (member,))
                elif val is not None:
                    text.append(val.sql)
        if first is None:
            return Val(False, sql="".join(text))
        return _with_members(first, members)

    def _member(self, node: ast.AST) -> str | None:
        """`x.attr` or `x.method(<constants>)`: the name another file may define as a constant; `X.get()` of a
        context variable (or a name bound to it) as "X.get()"."""
        if isinstance(node, ast.Name) and node.id in self.got and self.env.get(node.id) is None:
            return self.got[node.id]
        if getter := context_get(node):
            return getter
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


def context_get(node: ast.AST) -> str | None:
    """ "X.get()" for `X.get()` without arguments on a plain name (a module's ContextVar), else None."""
    if (isinstance(node, ast.Call) and not node.args and not node.keywords and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get" and isinstance(node.func.value, ast.Name)):
        return f"{node.func.value.id}.get()"
    return None


def _span(node: ast.AST) -> tuple:
    return ((node.lineno, node.end_lineno or node.lineno),)


def _with_members(val: Val, members: tuple | None) -> Val:
    return Val(val.dynamic, val.how, val.line, val.sql, val.is_str, val.spans, members)


def _union(a: tuple, b: tuple) -> tuple:
    """Names of both, each once: joins repeat at every branch merge, so plain concatenation doubles per `if`."""
    return a + tuple(n for n in b if n not in a)


def _join(a: Val, b: Val) -> Val:
    """Both dynamic: built at the sites of both, member-only if both are."""
    members = None if a.members is None or b.members is None else _union(a.members, b.members)
    return Val(True, a.how, a.line, a.sql, a.is_str, a.spans + tuple(s for s in b.spans if s not in a.spans), members)


def _quote_escape(call: ast.Call) -> bool:
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    return len(call.args) == 2 and args == ["'", "''"]


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
