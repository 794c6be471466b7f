"""What one file's own definitions tell the raw-SQL walk (facts/sql.py) about the values it meets.

- *constant helpers*: functions and methods of the file whose every `return` is a constant string or number
  (`def timestamp_now(self): return "now()" if … else "NOW()"`), and properties among them;
- *classes*: class names defined or imported in the file (a class object formatted into SQL is code), and the
  line spans of Enum classes (inside them `self.value`/`self.name` are members defined in code);
- *SQL wrappers*: functions and methods whose parameter reaches a SQL sink (`def fetchall(self, query): …
  self.conn.execute(text(query))`), with that parameter's position, so that calling them with built SQL
  counts as reaching the sink;
- *private callees*: functions a file calls but never hands out (`_helper(…)`, nested functions, any function of
  an Alembic revision), whose parameters are constant when every call passes a constant.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from dbagents.check.names import dotted
from dbagents.check.walk import of_type

ENUM_BASES = {"Enum", "StrEnum", "IntEnum", "Flag", "IntFlag", "ReprEnum"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class ModuleKnowledge:
    const_funcs: set[str] = field(default_factory=set)  # names of functions/methods returning constants
    classes: set[str] = field(default_factory=set)  # CapWords classes defined or imported here
    const_attrs: set[str] = field(default_factory=set)  # class attributes assigned only literals, never rebound
    enum_spans: list[tuple[int, int]] = field(default_factory=list)  # line spans of Enum class bodies
    wrappers: dict[str, int] = field(default_factory=dict)  # SQL wrapper name -> index of its SQL argument
    private: dict[str, list[str]] = field(default_factory=dict)  # callee name -> positional parameter names
    const_params: dict[str, set[str]] = field(default_factory=dict)  # callee name -> constant parameters
    calls: dict[int, dict[str, bool]] = field(default_factory=dict)  # id(call) -> param -> passed a constant

    def in_enum(self, line: int) -> bool:
        return any(a <= line <= b for a, b in self.enum_spans)


def _params(fn: ast.AST, method: bool) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    return names[1:] if method and names and names[0] in ("self", "cls") else names


def _base_name(node: ast.AST) -> str:
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def survey(tree: ast.Module, relpath: str) -> ModuleKnowledge:
    """Classes, Enum spans and SQL wrappers of one file (private callees and constant helpers come later)."""
    known = ModuleKnowledge()
    for node in of_type(tree, ast.ClassDef):
        known.classes.add(node.name)
        if any(_base_name(b) in ENUM_BASES for b in node.bases):
            known.enum_spans.append((node.lineno, node.end_lineno or node.lineno))
    stored = None
    for node in of_type(tree, ast.ClassDef):
        for stmt in node.body:
            target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
                stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None)
            value = getattr(stmt, "value", None)
            if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
                if stored is None:
                    stored = {n.attr for n in of_type(tree, ast.Attribute) if not isinstance(n.ctx, ast.Load)}
                if target.id not in stored:
                    known.const_attrs.add(target.id)
    for node in of_type(tree, ast.ImportFrom):
        for alias in node.names:
            name = alias.asname or alias.name
            if name[:1].isupper() and not name.isupper():
                known.classes.add(name)
    _find_wrappers(tree, known, _methods(tree))
    return known


def _methods(tree: ast.Module) -> set[int]:
    return {id(f) for c in of_type(tree, ast.ClassDef) for f in c.body if isinstance(f, _FUNCS)}


def find_private(known: ModuleKnowledge, tree: ast.Module, relpath: str) -> None:
    """Fill `known.private`: only needed once a dynamic string reached a sink (their constant arguments can
    clear it), so the first pass goes without."""
    revision = "/versions/" in f"/{relpath}"
    funcs = of_type(tree, *_FUNCS)
    methods = _methods(tree)
    nested = {id(f) for outer in funcs for f in of_type(outer, *_FUNCS) if f is not outer}
    defined: dict[str, int] = {}
    for fn in funcs:
        defined[fn.name] = defined.get(fn.name, 0) + 1
    candidates = {fn.name for fn in funcs if defined[fn.name] == 1 and not fn.name.startswith("__")
                  and (fn.name.startswith("_") or id(fn) in nested or revision)}
    handed_out = _referenced_not_called(tree, candidates) if candidates else set()
    for fn in funcs:
        if fn.name in candidates and fn.name not in handed_out:
            known.private[fn.name] = _params(fn, id(fn) in methods)


def _referenced_not_called(tree: ast.Module, names: set[str]) -> set[str]:
    """Which of `names` are used other than as the callee of a call (handed to map(), stored, in __all__)."""
    out = set()
    callees = None
    for node in of_type(tree, ast.Name, ast.Attribute):
        name = node.id if node.__class__ is ast.Name else node.attr
        if name not in names or not isinstance(node.ctx, ast.Load):
            continue
        if callees is None:
            callees = {id(c.func) for c in of_type(tree, ast.Call)}
        if id(node) not in callees:
            out.add(name)
    for node in of_type(tree, ast.Constant):
        if node.value.__class__ is str and node.value in names:
            out.add(node.value)  # __all__ entries, getattr(self, "name")
    return out


SINKS = {"text", "execute", "executemany", "exec_driver_sql"}


def _sql_arg(call: ast.Call) -> ast.AST | None:
    """The statement argument of a sink call, unwrapped through `text(x)` and one-argument rewriters."""
    arg = call.args[0] if call.args else None
    while isinstance(arg, ast.Call) and len(arg.args) == 1 and not arg.keywords:
        arg = arg.args[0]
    return arg


def _find_wrappers(tree: ast.Module, known: ModuleKnowledge, methods: set[int]) -> None:
    funcs = of_type(tree, *_FUNCS)
    reachable = SINKS | {fn.name for fn in funcs}  # a wrapper calls a sink or another wrapper of this file
    todo = []  # (function, its parameters, its calls that could reach a sink), found once
    for fn in funcs:
        params = _params(fn, id(fn) in methods)
        if not params or fn.name.startswith("__"):
            continue  # the SQL must arrive through a parameter
        calls = [(name, call) for call in of_type(fn, ast.Call) if (name := _base_name(call.func)) in reachable]
        if calls:
            todo.append((fn, params, calls))
    changed = True
    while changed:
        changed = False
        for fn, params, calls in todo:
            if fn.name in known.wrappers:
                continue
            for name, call in calls:
                if name not in SINKS and name not in known.wrappers:
                    continue
                index = known.wrappers.get(name, 0)
                arg = call.args[index] if name in known.wrappers and len(call.args) > index else _sql_arg(call)
                if isinstance(arg, ast.Name) and arg.id in params and not _rebound(fn, arg.id):
                    known.wrappers[fn.name] = params.index(arg.id)
                    changed = True
                    break


def _rebound(fn: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in of_type(fn, ast.Name))


def const_params(known: ModuleKnowledge, tree: ast.Module) -> None:
    """Parameters of private callees to which every call in the file passes a constant."""
    calls: dict[str, list[ast.Call]] = {}
    for call in of_type(tree, ast.Call):
        name = _base_name(call.func)
        if name in known.private:
            calls.setdefault(name, []).append(call)
    for name, params in known.private.items():
        seen = calls.get(name)
        if not seen or any(id(c) not in known.calls for c in seen):
            continue  # a call we did not walk (a function without sinks) may pass anything
        const = set(params)
        for c in seen:
            const &= {p for p, ok in known.calls[id(c)].items() if ok}
        if const:
            known.const_params[name] = const


def record_call(known: ModuleKnowledge, call: ast.Call, safe) -> None:
    """Note which parameters of a private callee this call fills with constants (`safe(node)` judges)."""
    params = known.private.get(_base_name(call.func))
    if params is None:
        return
    filled = {p: bool(safe(a)) for p, a in zip(params, call.args) if not isinstance(a, ast.Starred)}
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        filled = {p: False for p in params}
    for k in call.keywords:
        if k.arg in params:
            filled[k.arg] = bool(safe(k.value))
    for p in params:
        filled.setdefault(p, True)  # left to its default, a constant in the signature or None
    prev = known.calls.get(id(call))
    known.calls[id(call)] = {p: ok and (prev is None or prev.get(p, True)) for p, ok in filled.items()}


# Values of these types print as digits, hex, dashes, dots or ISO dates: formatted into SQL they cannot inject.
SAFE_SCALARS = {"int", "float", "bool", "UUID", "uuid.UUID", "UUID4", "datetime", "date", "time", "timedelta",
                "Decimal", "datetime.datetime", "datetime.date", "PositiveInt", "NonNegativeInt", "StrictInt",
                "ZoneInfo"}  # a ZoneInfo's key is a tz database name: ZoneInfo() refuses anything else
COLLECTIONS = {"list", "List", "Sequence", "set", "Set", "frozenset", "FrozenSet", "tuple", "Tuple", "Iterable",
               "Collection", "AbstractSet"}


def _ann_name(node: ast.AST) -> str:
    return dotted(node, calls=False) or ""


def _without_none(node: ast.AST) -> ast.AST | None:
    """`X | None` and `Optional[X]` give X; other unions give None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [s for s in (node.left, node.right) if not (isinstance(s, ast.Constant) and s.value is None)]
        return sides[0] if len(sides) == 1 else None
    if isinstance(node, ast.Subscript) and _ann_name(node.value).split(".")[-1] == "Optional":
        return node.slice
    return node


def annotation_kind(node: ast.AST | None) -> str | None:
    """"scalar" (a safe scalar type), "scalars" (a collection of them), "class:X" (a CapWords class, maybe an
    Enum), or None."""
    node = _without_none(node) if node is not None else None
    if node is None:
        return None
    name = _ann_name(node)
    if name in SAFE_SCALARS:
        return "scalar"
    if isinstance(node, ast.Subscript) and _ann_name(node.value).split(".")[-1] in COLLECTIONS:
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(annotation_kind(e) == "scalar" or (isinstance(e, ast.Constant) and e.value is Ellipsis) for e in inner):
            return "scalars"
        return None
    last = name.split(".")[-1]
    if last[:1].isupper() and not last.isupper() and last not in COLLECTIONS:
        return f"class:{last}"
    return None
