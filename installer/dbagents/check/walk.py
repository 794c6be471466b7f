"""`walk(node)`: ast.walk, computed once per node while one file is analysed.

Extractors and rules each look at the same tree many times (whole module, each function, each class);
the engine resets this cache around every file, and each entry holds its node so ids cannot be reused.
"""

from __future__ import annotations

import ast

_cache: dict[int, tuple[ast.AST, list[ast.AST]]] = {}


def walk(node: ast.AST) -> list[ast.AST]:
    """Every node below and including `node`, in ast.walk order (do not mutate the list)."""
    entry = _cache.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, list(ast.walk(node)))
        _cache[id(node)] = entry
    return entry[1]


def reset() -> None:
    _cache.clear()
