"""The shared node index agrees with ast.walk (minus context/operator markers) and keeps subtrees contiguous."""

from __future__ import annotations

import ast

from dbagents.check import walk

SOURCE = '''
import os, sys as system
from x import (a, b as c)
GLOBAL = {"k": 1, **other}

@decorate(1)
class Thing(Base, metaclass=Meta):
    x: int = 3
    def method(self, *args, key=None, **kw):
        global GLOBAL
        y = [i * 2 for i in args if i] + list({j: j for j in kw})
        f = lambda q: q.attr is not None and not q.other
        match key:
            case {"a": 1, **rest}:
                pass
            case [1, *tail] | None:
                pass
            case Point(x=0) as p:
                pass
        try:
            return f"{y!r:>{width}}" % (a, b)
        except (KeyError, ValueError) as err:
            raise RuntimeError() from err
        finally:
            del y

async def run(session):
    async with session.begin() as tx:
        async for row in await session.stream(select(Thing)):
            yield row.value if row else -1
'''
MARKERS = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)


def reference(node: ast.AST) -> list[ast.AST]:
    return [n for n in ast.walk(node) if not isinstance(n, MARKERS)]


def test_index_matches_ast_walk_and_subtrees_are_slices():
    tree = ast.parse(SOURCE)
    walk.begin(tree)
    try:
        everything = walk.walk(tree)
        assert {id(n) for n in everything} == {id(n) for n in reference(tree)}
        assert len(everything) == len(reference(tree))
        for node in everything:
            sub = walk.walk(node)
            assert sub[0] is node
            assert {id(n) for n in sub} == {id(n) for n in reference(node)}
        calls = walk.of_type(tree, ast.Call)
        # preorder in field order: a class's decorators come after its body
        assert [ast.unparse(c.func) for c in calls] == [
            "list", "RuntimeError", "decorate", "session.begin", "session.stream", "select"]
        position = {id(n): i for i, n in enumerate(everything)}
        for node in everything:  # preorder: every node comes before the nodes below it
            assert all(position[id(n)] > position[id(node)] for n in walk.walk(node)[1:])
    finally:
        walk.reset()


def test_of_type_skips_nested_scopes_and_foreign_nodes_work():
    tree = ast.parse(SOURCE)
    walk.begin(tree)
    try:
        method = walk.of_type(tree, ast.FunctionDef)[0]
        own = {ast.unparse(c.func) for c in walk.of_type(method, ast.Call, skip=walk.SCOPES)}
        assert own == {"list", "RuntimeError"}  # not the lambda's nor anything outside the method
        names = {n.id for n in walk.of_type(method, ast.Name)}
        assert {"args", "q", "kw", "key"} <= names and "session" not in names
        other = ast.parse("def g():\n    h(1)\n")  # not the tree being analysed: indexed on its own
        assert [ast.unparse(c) for c in walk.of_type(other, ast.Call)] == ["h(1)"]
        nodes, end, start, stop = walk.span(method)
        assert nodes[start] is method and all(start < j <= stop for j in end[start + 1:stop])
    finally:
        walk.reset()
