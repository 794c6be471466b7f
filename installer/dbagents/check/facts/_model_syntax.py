"""Small AST readers the model extractors share: dotted names, literals, keyword lookups, call names."""

from __future__ import annotations

import ast
from typing import Any

from dbagents.check.names import dotted as _dotted


COLUMN_FUNCS = {"mapped_column", "Column", "Field", "column"}


WRAPPERS = {"deferred", "column_property", "orm.deferred"}


RELATIONSHIP_FUNCS = {"relationship", "Relationship", "relation"}


NON_TYPE_CALLS = {
    "ForeignKey", "Sequence", "Identity", "Computed", "CheckConstraint", "FetchedValue", "DefaultClause",
    "UniqueConstraint", "text", "func", "literal", "literal_column", "server_default",
}


CONSTRAINTS = {"Index": "index", "UniqueConstraint": "unique", "PrimaryKeyConstraint": "pk",
               "ForeignKeyConstraint": "fk", "CheckConstraint": "check"}


COLLECTIONS = {"list", "List", "set", "Set", "tuple", "Tuple", "Sequence", "Collection", "Iterable",
               "dict", "Dict", "Mapping", "MutableSequence", "MutableSet", "AbstractSet", "InstrumentedList",
               "DynamicMapped", "WriteOnlyMapped", "AppenderQuery", "Query", "WriteOnlyCollection"}


MAPPED = {"Mapped", "WriteOnlyMapped", "DynamicMapped"}


class _Unknown:
    """A value the AST does not give us (a variable, a call); pickles as the module singleton."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self):
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()


def dotted(node: ast.AST | None) -> str | None:
    """`a.b.c` for Name/Attribute chains (no calls), else None."""
    return _dotted(node, calls=False)


def last(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1]


def literal(node: ast.AST | None) -> Any:
    """Python literal for constants (incl. negative numbers), UNKNOWN otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value if isinstance(node.operand.value, (int, float)) else UNKNOWN
    return UNKNOWN


def func_name(call: ast.Call) -> str:
    return dotted(call.func) or ""


def _kw(call: ast.Call, name: str) -> ast.AST | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _kwlit(call: ast.Call, name: str, default: Any = None) -> Any:
    node = _kw(call, name)
    return default if node is None else literal(node)


def _truthy(value: Any) -> bool:
    return value is True or value == 1 and value is not UNKNOWN and not isinstance(value, str)
