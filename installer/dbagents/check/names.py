"""Dotted names of expressions, shared by every extractor and rule."""

from __future__ import annotations

import ast


def dotted(node: ast.AST | None, calls: bool = True) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None.

    With `calls`, a call at the root of the chain reads as `f().b` (`op.get_bind().execute`).
    """
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif calls and isinstance(node, ast.Call):
        inner = dotted(node.func)
        if not inner:
            return None
        parts.append(inner + "()")
    else:
        return None
    return ".".join(reversed(parts))
