"""Raw-SQL facts: which strings reach SQL sinks, and how they were built (taint through local variables).

A value is *constant* when it is built only from literals, module-level string constants, UPPER_CASE names,
loop variables over constant collections, and sanitisers (`int()`, `len()`, `quote…()`); it is *dynamic*
when an f-string, `%`, `.format()`, `+` or `+=` mixes in anything else. A plain unknown name (a parameter,
a call result) is neither: passing it to `text()` is not reported, since we cannot see what it holds.

Sinks: `text()`, `.execute()`/`.executemany()` (Session, Connection, cursor, `op.execute`),
`.exec_driver_sql()`, `literal_column()`, and string arguments of `.order_by()`/`.filter()`/`.where()`/
`.having()`/`.group_by()`. Output of `.compile(compile_kwargs={"literal_binds": True})` is tracked too, so
that executing it can be reported (DBA506).
"""

from __future__ import annotations

import ast
from dataclasses import replace

from dbagents.check.facts._sql_flow import Scope, _all_args
from dbagents.check.facts._sql_module import const_params, find_private, survey
from dbagents.check.facts._sql_types import (  # noqa: F401  (the public names of the raw-SQL facts)
    KEY, TRIGGERS, CONST, SqlFacts, SqlImports, SqlSink, StringExecute, Val, dotted, func_name,
)
from dbagents.check.facts._sql_values import _const_collection
from dbagents.check.source import SourceFile, Suppressions, scan_suppressions
from dbagents.check.walk import of_type

def _module_constants(tree: ast.Module) -> tuple[dict[str, Val], set[str]]:
    """Module-level names assigned only constant strings (or constant collections)."""
    consts: dict[str, Val] = {}
    collections: set[str] = set()
    spoiled: set[str] = set()
    probe = Scope(SqlFacts(), {}, set())
    for stmt in tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                name = target.id
                probe.env = dict(consts)
                probe.collections = collections
                val = probe.classify(stmt.value)
                if _const_collection(stmt.value) and not isinstance(stmt.value, ast.Constant):
                    collections.add(name)
                    consts[name] = CONST
                elif val is not None and not val.dynamic and name not in spoiled:
                    consts[name] = val
                else:
                    spoiled.add(name)
                    consts.pop(name, None)
                    collections.discard(name)
    return consts, collections


def _const_helpers(tree: ast.Module, consts: dict[str, Val], collections: set[str], imports: SqlImports) -> None:
    """Functions and methods of this file whose every `return` gives a constant (to a fixed point)."""
    by_name: dict[str, list] = {}
    for fn in of_type(tree, ast.FunctionDef, ast.AsyncFunctionDef):
        by_name.setdefault(fn.name, []).append(fn)
    known = imports.known
    changed = True
    while changed:
        changed = False
        for name, defs in by_name.items():
            if name not in known.const_funcs and all(_returns_constant(fn, consts, collections, imports) for fn in defs):
                known.const_funcs.add(name)
                changed = True


def _returns_constant(fn, consts: dict[str, Val], collections: set[str], imports: SqlImports) -> bool:
    if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in of_type(fn, ast.Yield, ast.YieldFrom)):
        return False
    scope = Scope(SqlFacts(), consts, collections, imports)
    for arg in _all_args(fn.args):
        scope.env[arg] = CONST if arg in imports.known.const_params.get(fn.name, ()) else None
    scope.returns = []
    scope.run(fn.body)
    return bool(scope.returns) and all(v is not None and not v.dynamic for v in scope.returns)


def _marked(marks: Suppressions, sink: SqlSink) -> bool:
    """`# noqa: S608` / `# nosec B608` (or DBA501) on a line of the sink's call, or on a line of every
    statement that built the SQL (ruff puts it on the string's closing line)."""
    if marks.suppresses("DBA501", *range(sink.line, max(sink.line, sink.end_line) + 1)):
        return True
    return bool(sink.spans) and all(marks.suppresses("DBA501", *range(a, b + 1)) for a, b in sink.spans)


def _export_members(tree: ast.Module, consts: dict[str, Val], collections: set[str], imports: SqlImports,
                    facts: SqlFacts) -> None:
    """Argument-less methods/properties and class attributes of this file, constant or not, for other files'
    `db.timestamp_now` (DBA501 resolves those project-wide)."""
    const, other = set(imports.known.const_attrs), set()
    for cls in of_type(tree, ast.ClassDef):
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(_all_args(fn.args)) == 1 and (
                not fn.name.startswith("__")
            ):
                if fn.name in imports.known.const_funcs or _returns_constant(fn, consts, collections, imports):
                    const.add(fn.name)
                else:
                    other.add(fn.name)
    facts.const_members = sorted(const - other)
    facts.other_members = sorted(other)


def extract(src: SourceFile) -> SqlFacts | None:
    consts, collections = _module_constants(src.tree)
    facts = SqlFacts()
    imports = SqlImports.of(src.tree)
    imports.known = survey(src.tree, src.relpath)
    # Most files build no SQL: the first pass knows no private callees, so it skips bodies that only call them.
    Scope(facts, consts, collections, imports).run(src.tree.body)
    if any(s.how != "literal_binds" for s in facts.sinks):  # look again, knowing the file's constant helpers
        find_private(imports.known, src.tree, src.relpath)  # their constant arguments may clear a finding
        imports.known.calls.clear()
        facts = SqlFacts()
        Scope(facts, consts, collections, imports).run(src.tree.body)
        _const_helpers(src.tree, consts, collections, imports)
        for _ in range(3):  # constant parameters feed constant arguments of further private callees
            before = dict(imports.known.const_params)
            const_params(imports.known, src.tree)
            if not imports.known.const_funcs and not imports.known.const_params:
                break
            imports.known.calls.clear()
            facts = SqlFacts()
            Scope(facts, consts, collections, imports).run(src.tree.body)
            if imports.known.const_params == before or not any(s.how != "literal_binds" for s in facts.sinks):
                break
    _export_members(src.tree, consts, collections, imports, facts)
    if not facts.sinks and not facts.string_executes and not facts.const_members:
        return None
    if facts.sinks:
        marks = scan_suppressions(src.text)
        facts.sinks = [replace(s, marked=_marked(marks, s)) for s in facts.sinks]
    facts.sinks = list({(s.line, s.col, s.sink): s for s in reversed(facts.sinks)}.values())[::-1]
    facts.string_executes = list({(s.line, s.col): s for s in reversed(facts.string_executes)}.values())[::-1]
    return facts
