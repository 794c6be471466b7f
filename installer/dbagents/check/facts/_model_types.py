"""Column types and annotations as written: TypeRef for `String(50)`, AnnInfo for `Mapped[Optional[X]]`."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from dbagents.check.facts._model_syntax import COLLECTIONS, dotted, func_name, last, literal, MAPPED, UNKNOWN


@dataclass(frozen=True)
class TypeRef:
    """A SQL type as written: `DateTime`, `sa.DateTime(timezone=True)`, `TIMESTAMP(True)`, `MyType()`."""

    name: str
    called: bool
    args: tuple = ()
    kwargs: tuple = ()  # ((key, literal), ...)
    line: int = 0
    col: int = 0
    inner: "TypeRef | None" = None  # ARRAY(DateTime) / with_variant receiver is resolved by the parser

    def kw(self, key: str, default: Any = None) -> Any:
        for k, v in self.kwargs:
            if k == key:
                return v
        return default


def parse_type(node: ast.AST | None) -> TypeRef | None:
    if node is None:
        return None
    name = dotted(node)
    if name:
        return TypeRef(name, False, line=node.lineno, col=node.col_offset + 1)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call) and not dotted(node.func):
            # DateTime(timezone=True).with_variant(...), String().evaluates_none()
            return parse_type(node.func.value)
        fname = func_name(node)
        if not fname:
            return None
        args = tuple(literal(a) if isinstance(a, (ast.Constant, ast.UnaryOp)) else UNKNOWN for a in node.args)
        kwargs = tuple((k.arg, literal(k.value)) for k in node.keywords if k.arg)
        inner = parse_type(node.args[0]) if node.args and not isinstance(node.args[0], ast.Constant) else None
        return TypeRef(fname, True, args, kwargs, node.lineno, node.col_offset + 1, inner)
    return None


@dataclass
class AnnInfo:
    """What a class-attribute annotation says: `Mapped[Optional[datetime]]`, `Mapped[list["Child"]]`."""

    mapped: bool  # wrapped in Mapped[] / WriteOnlyMapped[] / DynamicMapped[]
    inner: str | None  # dotted name of the Python type (or alias) inside, e.g. "datetime", "intpk"
    optional: bool
    collection: bool
    target: str | None  # class named inside a collection / string annotation (for relationships)


def _unparse_string(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            return node
    return node


def _strip_optional(node: ast.AST) -> tuple[ast.AST, bool]:
    node = _unparse_string(node)
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Optional":
        return _unparse_string(node.slice), True
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Union":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        rest = [e for e in elts if not (isinstance(e, ast.Constant) and e.value is None) and dotted(e) != "None"]
        if len(rest) < len(elts):
            return (_unparse_string(rest[0]) if len(rest) == 1 else node), True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [node.left, node.right]
        rest = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        if len(rest) == 1:
            inner, _ = _strip_optional(rest[0])
            return inner, True
    return node, False


def parse_annotation(node: ast.AST | None) -> AnnInfo | None:
    if node is None:
        return None
    node = _unparse_string(node)
    mapped = False
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) in MAPPED:
        mapped = True
        collection = last(dotted(node.value)) != "Mapped"
        node = node.slice
    else:
        collection = False
    node, optional = _strip_optional(node)
    target = None
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) in COLLECTIONS:
        collection = True
        sl = node.slice
        if isinstance(sl, ast.Tuple) and sl.elts:
            sl = sl.elts[-1]
        sl = _unparse_string(sl)
        target = dotted(sl)
        return AnnInfo(mapped, None, optional, collection, target)
    if isinstance(node, ast.Subscript) and last(dotted(node.value)) == "Annotated":
        sl = node.slice
        first = sl.elts[0] if isinstance(sl, ast.Tuple) and sl.elts else sl
        first, opt2 = _strip_optional(first)
        return AnnInfo(mapped, dotted(first), optional or opt2, collection, dotted(first))
    name = dotted(node)
    return AnnInfo(mapped, name, optional, collection, name)


def _type_map(node: ast.AST | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            name = dotted(key) if key is not None else None
            if name is None and isinstance(key, ast.Subscript):
                name = dotted(key.value)
            ref = parse_type(value)
            if name and ref:
                out[name] = ref
    return out
