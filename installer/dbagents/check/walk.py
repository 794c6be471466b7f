"""Fast shared traversal of the one tree being analysed.

The first request indexes the module once: every node in preorder (parents before children, siblings in
field order, so a def's decorators follow its body; `Load`/`Store` and operator markers left out), where each node's subtree ends, and the
positions of each node type. Then `walk(node)` is a list slice, `of_type(node, ast.Call)` a bisect (and
`skip=SCOPES` leaves out nested functions without looking inside them), and `span(node)` serves custom
scans. Extractors and rules all share it; the engine calls `reset()` around every file. A node that is not
part of the indexed tree, and a leaf (`Name`, `Constant`: its subtree is itself), is indexed on its own, with
the same order.
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
# What the traversal does with a stack item, by its class: a node with several child fields, one, or none; a
# list of children; the end marker of a subtree (an int, its root's position); anything else is skipped.
_MANY, _ONE, _LEAF, _LIST, _END, _SKIP = range(6)
# class -> (what to do, getter of the child fields in reverse order): one C-level attrgetter call per node
_ENTRIES: dict[type, tuple[int, attrgetter | None]] = {}
_LEAF_ENTRY = (_LEAF, None)


def _entry(cls: type) -> tuple[int, attrgetter | None]:
    if cls is list:
        entry = (_LIST, None)
    elif cls is int:
        entry = (_END, None)
    elif not issubclass(cls, AST):
        entry = (_SKIP, None)  # None, a name in a list (`global a, b`), a plain value a newer Python added
    else:
        leaf_value = cls in (ast.Constant, ast.MatchSingleton)  # `value` is a Python constant there
        fields = tuple(f for f in cls._fields if f not in _LEAF_FIELDS and not (leaf_value and f == "value"))
        if not fields:
            entry = _LEAF_ENTRY
        elif len(fields) == 1:
            entry = (_ONE, attrgetter(fields[0]))
        else:
            entry = (_MANY, attrgetter(*reversed(fields)))
    _ENTRIES[cls] = entry
    return entry


class _Index:
    __slots__ = ("nodes", "end", "types", "pos")

    def __init__(self, root: AST) -> None:
        nodes: list[AST] = []
        end: list[int] = []
        types: dict[type, list[int]] = {}
        stack: list = [root]
        push, pop, extend, entries = stack.append, stack.pop, stack.extend, _ENTRIES
        add_node, add_end = nodes.append, end.append
        # this loop runs once per node of every checked file: keep it lean
        while stack:
            item = pop()
            cls = type(item)
            try:
                kind, get = entries[cls]
            except KeyError:
                kind, get = _entry(cls)
            if kind is _END:  # the subtree of nodes[item] is complete
                end[item] = len(nodes)
                continue
            if kind is _LIST:
                extend(reversed(item))
                continue
            if kind is _SKIP:
                continue
            i = len(nodes)
            add_node(item)
            try:
                types[cls].append(i)
            except KeyError:
                types[cls] = [i]
            if kind is _LEAF:
                add_end(i + 1)
                continue
            add_end(0)
            push(i)  # popped once every child below is indexed
            if kind is _MANY:
                extend(get(item))
            else:
                push(get(item))
        self.nodes, self.end, self.types = nodes, end, types
        self.pos: dict[type, dict[AST, int]] = {}  # filled by positions()

    def positions(self, cls: type) -> dict[AST, int]:
        """node -> position, for the nodes of class `cls` (mapped per class, when first asked)."""
        bucket = self.types.get(cls, ())
        pos = self.pos[cls] = dict(zip(map(self.nodes.__getitem__, bucket), bucket))
        return pos


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
    cls = type(node)
    if _ENTRIES.get(cls) is _LEAF_ENTRY:  # its subtree is itself: no need to find it in the tree
        alone = _Index.__new__(_Index)
        alone.nodes, alone.end, alone.types, alone.pos = [node], [1], {cls: [0]}, {}
        return alone, 0
    if _index is not None:
        pos = _index.pos.get(cls) or _index.positions(cls)
        i = pos.get(node)
        if i is not None:
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
