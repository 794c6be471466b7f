"""Fast shared traversal of the one tree being analysed.

The first request indexes the module once: every node in preorder (parents before children, siblings in
field order, so a def's decorators follow its body; `Load`/`Store` and operator markers left out), where each node's subtree ends, and the
positions of each node type. Then `walk(node)` is a list slice, `of_type(node, ast.Call)` a bisect (and
`skip=SCOPES` leaves out nested functions without looking inside them), and `span(node)` serves custom
scans. Extractors and rules all share it; the engine calls `reset()` around every file. A node that is not
part of the indexed tree is indexed on its own, with the same order.
"""

from __future__ import annotations

import ast
from bisect import bisect_left
from operator import attrgetter

AST = ast.AST
# Fields that never hold a child node (names, flags, constants) or only context and operator markers
# (`Load`, `Add`, `Is`: read them as `node.ctx`, `node.op`, `node.ops`).
_LEAF_FIELDS = frozenset({
    "ctx", "id", "attr", "arg", "name", "asname", "module", "level", "kind", "type_comment", "conversion",
    "is_async", "simple", "tag", "lineno", "kwd_attrs", "str", "op", "ops",
})
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
# class -> (number of child fields capped at 2, getter): one C-level attrgetter call per node
_GETTERS: dict[type, tuple[int, attrgetter | None] | None] = {}


def _getter(cls: type) -> tuple[int, attrgetter | None] | None:
    if not issubclass(cls, AST):
        return None  # a plain value in a field a newer Python added: not a node
    leaf_value = cls in (ast.Constant, ast.MatchSingleton)  # `value` is a Python constant there
    fields = tuple(f for f in cls._fields if f not in _LEAF_FIELDS and not (leaf_value and f == "value"))
    entry = (min(len(fields), 2), attrgetter(*fields) if fields else None)
    _GETTERS[cls] = entry
    return entry


class _Index:
    __slots__ = ("nodes", "end", "pos", "types")

    def __init__(self, root: AST) -> None:
        nodes: list[AST] = []
        end: list[int] = []
        pos: dict[int, int] = {}
        types: dict[type, list[int]] = {}
        stack: list = [root]
        push, pop, getters = stack.append, stack.pop, _GETTERS
        while stack:
            node = pop()
            cls = node.__class__
            if cls is int:  # post-order marker: the subtree of nodes[marker] is complete
                end[node] = len(nodes)
                continue
            entry = getters.get(cls) or _getter(cls)
            if entry is None:
                continue
            i = len(nodes)
            nodes.append(node)
            end.append(0)
            pos[id(node)] = i
            bucket = types.get(cls)
            if bucket is None:
                types[cls] = bucket = []
            bucket.append(i)
            push(i)
            # this loop runs once per node of every checked file: keep it lean
            arity, get = entry
            if arity == 0:
                continue
            for value in reversed((get(node),) if arity == 1 else get(node)):
                if value is None:
                    continue
                if value.__class__ is list:
                    for item in reversed(value):
                        if item is not None and item.__class__ is not str:
                            push(item)
                else:
                    push(value)
        self.nodes, self.end, self.pos, self.types = nodes, end, pos, types


_root: AST | None = None
_index: _Index | None = None
_foreign: dict[int, tuple[AST, _Index]] = {}


def begin(tree: AST | None) -> None:
    """Make `tree` the tree being analysed (indexed on first use)."""
    global _root, _index
    _root, _index = tree, None
    _foreign.clear()


def reset() -> None:
    begin(None)


def _locate(node: AST) -> tuple[_Index, int]:
    global _index
    if _index is None and _root is not None:
        _index = _Index(_root)
    if _index is not None:
        i = _index.pos.get(id(node))
        if i is not None and _index.nodes[i] is node:
            return _index, i
    entry = _foreign.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, _Index(node))
        _foreign[id(node)] = entry
    return entry[1], 0


def walk(node: AST) -> list[AST]:
    """`node` and every node below it, in preorder (do not mutate the list)."""
    index, i = _locate(node)
    return index.nodes[i:index.end[i]]


def of_type(node: AST, *types: type, skip: tuple[type, ...] = ()) -> list[AST]:
    """The nodes of exactly these classes in `node`'s subtree (node included), in preorder.

    With `skip`, nodes inside a descendant of one of those classes are left out (e.g. `skip=SCOPES`: the
    calls a function makes itself, not those of functions and lambdas nested in it).
    """
    index, i = _locate(node)
    stop = index.end[i]
    found = _positions(index, types, i, stop)
    if skip:
        fences = _positions(index, skip, i + 1, stop)
        if fences:
            found = _outside(found, fences, index.end)
    nodes = index.nodes
    return [nodes[j] for j in found]


def _positions(index: _Index, types: tuple[type, ...], start: int, stop: int) -> list[int]:
    found: list[int] = []
    for cls in types:
        bucket = index.types.get(cls)
        if bucket:
            found.extend(bucket[bisect_left(bucket, start):bisect_left(bucket, stop)])
    if len(types) > 1:
        found.sort()
    return found


def _outside(found: list[int], fences: list[int], end: list[int]) -> list[int]:
    """Positions in `found` not inside the subtree of any position in `fences` (both sorted)."""
    kept: list[int] = []
    covered, k = -1, 0
    for j in found:
        while k < len(fences) and fences[k] < j:
            covered = max(covered, end[fences[k]])
            k += 1
        if j >= covered:
            kept.append(j)
    return kept


def span(node: AST) -> tuple[list[AST], list[int], int, int]:
    """For custom scans: (preorder nodes, subtree-end table, start, stop) with `node` at `start`.

    `end[j]` is the first position after the subtree of `nodes[j]`: jump there to skip that subtree.
    """
    index, i = _locate(node)
    return index.nodes, index.end, i, index.end[i]
