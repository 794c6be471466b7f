"""Read one revision script into plain facts: its ids, and the operations of upgrade()/downgrade() in the order
they run (no AST nodes leave this module). Values: _alembic_values; dialect guards: _alembic_guards;
env.py and timeouts: _alembic_env."""

from __future__ import annotations

import ast
from typing import Any

from dbagents.check.facts._alembic_env import _timeout_is_local, _timeout_line, extract_env
from dbagents.check.facts._alembic_guards import _dialect_of_test
from dbagents.check.facts._alembic_model import Expr, Op, Revision, SqlAction, literal_name
from dbagents.check.facts._alembic_sql import actions
from dbagents.check.facts._alembic_values import (
    _is_update_expression,
    _string_constants,
    _unparse,
    sql_text,
    to_value,
)
from dbagents.check.walk import of_type

# Positional parameter names of alembic.op.* and of batch_op.* (the batch form has no table argument).
OP_SIGNATURES: dict[str, tuple[str, ...]] = {
    "add_column": ("table_name", "column"),
    "drop_column": ("table_name", "column_name"),
    "alter_column": ("table_name", "column_name"),
    "create_index": ("index_name", "table_name", "columns"),
    "drop_index": ("index_name", "table_name"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "create_exclude_constraint": ("constraint_name", "table_name"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "create_table": ("table_name",),
    "drop_table": ("table_name",),
    "rename_table": ("old_table_name", "new_table_name"),
    "execute": ("sqltext",),
    "bulk_insert": ("table", "rows"),
    "create_table_comment": ("table_name", "comment"),
    "drop_table_comment": ("table_name",),
}
BATCH_SIGNATURES: dict[str, tuple[str, ...]] = {
    "add_column": ("column",),
    "drop_column": ("column_name",),
    "alter_column": ("column_name",),
    "create_index": ("index_name", "columns"),
    "drop_index": ("index_name",),
    "create_foreign_key": ("constraint_name", "referent_table", "local_cols", "remote_cols"),
    "create_check_constraint": ("constraint_name", "condition"),
    "create_unique_constraint": ("constraint_name", "columns"),
    "create_primary_key": ("constraint_name", "columns"),
    "create_exclude_constraint": ("constraint_name",),
    "drop_constraint": ("constraint_name", "type_"),
    "execute": ("sqltext",),
    "create_table_comment": ("comment",),
}
TABLE_PARAM = ("table_name", "source_table", "old_table_name")
NOT_OPS = {"get_bind", "get_context", "f", "batch_alter_table", "inline_literal", "implementation_for",
           "register_operation", "invoke", "run_async"}
# Calls outside `op.*` that change the schema: sqlalchemy_searchable's triggers, MetaData/Table create_all.
DDL_HELPERS = {"sync_trigger", "drop_trigger", "create_all", "drop_all"}


class _Collector:
    """Walk upgrade()/downgrade() (and module functions they call) in order, collecting operations."""

    def __init__(self, module: ast.Module, op_names: set[str], phase: str, strings: dict[str, str]):
        self.functions = {n.name: n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        self.op_names = op_names
        self.phase = phase
        self.module_strings = strings
        self.ops: list[Op] = []
        self.committed = False
        self.visiting: set[str] = set()

    def run(self, func: ast.FunctionDef) -> list[Op]:
        self.visiting.add(func.name)
        self._body(func.body, {}, False, None, {**self.module_strings, **_string_constants(func.body)})
        return self.ops

    def _body(self, body, batches, autocommit, dialect, strings):
        for stmt in body:
            self._stmt(stmt, batches, autocommit, dialect, strings)

    def _stmt(self, stmt, batches, autocommit, dialect, strings):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            inner_batches, inner_auto = dict(batches), autocommit
            for item in stmt.items:
                expr = item.context_expr
                if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
                    if expr.func.attr == "autocommit_block":
                        inner_auto = True
                        continue
                    if expr.func.attr == "batch_alter_table":
                        table = to_value(expr.args[0]) if expr.args else None
                        for kw in expr.keywords:
                            if kw.arg == "table_name":
                                table = to_value(kw.value)
                        schema = next((to_value(k.value) for k in expr.keywords if k.arg == "schema"), None)
                        if isinstance(item.optional_vars, ast.Name):
                            inner_batches[item.optional_vars.id] = (
                                table if isinstance(table, str) else None,
                                schema if isinstance(schema, str) else None,
                            )
                        continue
                self._calls(expr, batches, autocommit, dialect, strings)
            self._body(stmt.body, inner_batches, inner_auto, dialect, strings)
            return
        if isinstance(stmt, ast.If):
            self._calls(stmt.test, batches, autocommit, dialect, strings)
            when_true, when_false = _dialect_of_test(stmt.test, self.functions)
            self._body(stmt.body, batches, autocommit, when_true or dialect, strings)
            self._body(stmt.orelse, batches, autocommit, when_false or dialect, strings)
            return
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self._calls(stmt.iter if not isinstance(stmt, ast.While) else stmt.test, batches, autocommit, dialect,
                        strings)
            self._body(stmt.body, batches, autocommit, dialect, strings)
            self._body(stmt.orelse, batches, autocommit, dialect, strings)
            return
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self._body(stmt.body, batches, autocommit, dialect, strings)
            for handler in stmt.handlers:
                self._body(handler.body, batches, autocommit, dialect, strings)
            self._body(stmt.orelse, batches, autocommit, dialect, strings)
            self._body(stmt.finalbody, batches, autocommit, dialect, strings)
            return
        if isinstance(stmt, ast.Match):
            self._calls(stmt.subject, batches, autocommit, dialect, strings)
            for case in stmt.cases:
                self._body(case.body, batches, autocommit, dialect, strings)
            return
        self._calls(stmt, batches, autocommit, dialect, strings)

    def _calls(self, node, batches, autocommit, dialect, strings):
        calls = of_type(node, ast.Call)
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        consumed: set[int] = set()
        for call in calls:
            if id(call) in consumed:
                continue
            func = call.func
            if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.visiting:
                target = self.functions[func.id]
                self.visiting.add(func.id)
                self._body(target.body, batches, autocommit, dialect, {**strings, **_string_constants(target.body)})
                self.visiting.discard(func.id)
                continue
            if not isinstance(func, ast.Attribute):
                continue
            base = func.value
            name = func.attr
            if isinstance(base, ast.Name) and base.id in self.op_names and name not in NOT_OPS:
                op = self._op(call, name, OP_SIGNATURES, "op", autocommit, dialect, strings)
            elif isinstance(base, ast.Name) and base.id in batches and name not in NOT_OPS:
                op = self._op(call, name, BATCH_SIGNATURES, "batch", autocommit, dialect, strings)
                op.batch = True
                op.table, op.schema = batches[base.id]
                if op.schema is None and isinstance(op.params.get("schema"), str):
                    op.schema = op.params["schema"]
            elif name in ("execute", "exec_driver_sql") and call.args:
                op = self._op(call, "execute", OP_SIGNATURES, "bind", autocommit, dialect, strings)
                if op.sql is None and not op.data_change:
                    continue
            else:
                continue
            # nested calls inside an operation's arguments are not operations of their own
            consumed.update(map(id, of_type(call, ast.Call)[1:]))  # (only calls are looked up there)
            self.ops.append(op)
            if any(a.kind == "commit" for a in op.actions):
                self.committed = True

    def _op(self, call: ast.Call, name, signatures, receiver, autocommit, dialect, strings) -> Op:
        names = signatures.get(name, ())
        params: dict[str, Any] = {}
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            key = names[i] if i < len(names) else f"arg{i}"
            params[key] = to_value(arg, strings)
        for kw in call.keywords:
            if kw.arg:
                params[kw.arg] = to_value(kw.value, strings)
        op = Op(
            name=name,
            phase=self.phase,
            line=call.lineno,
            col=call.col_offset + 1,
            end_line=getattr(call, "end_lineno", call.lineno) or call.lineno,
            params=params,
            autocommit=autocommit or self.committed,
            dialect=dialect,
            receiver=receiver,
        )
        for key in TABLE_PARAM:
            value = params.get(key)
            if isinstance(value, str):
                op.table = value.lower()
                break
        schema = params.get("schema")
        op.schema = schema if isinstance(schema, str) else None
        if name == "execute":
            arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "sqltext"), None)
            if arg is not None:
                op.sql = sql_text(arg, strings)
                if op.sql is not None:
                    op.actions = actions(op.sql)
                    op.data_change = any(a.kind == "update" for a in op.actions)
                else:
                    op.data_change = _is_update_expression(arg)
        return op


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def _ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(v) for v in value if v is not None)
    return ()


def _module_assignments(tree: ast.Module) -> dict[str, tuple[ast.AST, int]]:
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    found[t.id] = (stmt.value, stmt.lineno)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            found[stmt.target.id] = (stmt.value, stmt.lineno)
    return found


def _op_aliases(tree: ast.Module) -> set[str]:
    names = set()
    for node in of_type(tree, ast.ImportFrom, ast.Import):
        if isinstance(node, ast.ImportFrom) and node.module == "alembic":
            for alias in node.names:
                if alias.name == "op":
                    names.add(alias.asname or "op")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "alembic.op" and alias.asname:
                    names.add(alias.asname)
    return names or {"op"}


def _downgrade_kind(func: ast.FunctionDef | None) -> str:
    if func is None:
        return "missing"
    body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body or all(isinstance(s, ast.Pass) for s in body):
        return "pass"
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        return "raise"
    return "real"


def _is_empty(func: ast.FunctionDef | None) -> bool:
    return _downgrade_kind(func) in ("missing", "pass")


def _imports(tree: ast.Module) -> list[tuple[str, tuple[str, ...], int]]:
    out = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                out.append((alias.name, (), stmt.lineno))
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            out.append((stmt.module, tuple(a.name for a in stmt.names), stmt.lineno))
        elif isinstance(stmt, ast.ImportFrom) and stmt.level:
            out.append(("." * stmt.level + (stmt.module or ""), tuple(a.name for a in stmt.names), stmt.lineno))
    return out


def _ddl_calls(func: ast.FunctionDef, functions: dict) -> list[tuple[str, int]]:
    """Schema-changing calls that are not `op.*` in `func` and the module functions it calls: DDL_HELPERS, and
    `X.create(bind)` / `X.drop(bind)` on a type or table (`sa.Enum(...).create(op.get_bind())`)."""
    found, todo, seen = [], [func], {func.name}
    while todo:
        for node in of_type(todo.pop(), ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if isinstance(f, ast.Name) and name in functions and name not in seen:
                seen.add(name)
                todo.append(functions[name])
            elif name in DDL_HELPERS:
                found.append((name, node.lineno))
            elif name in ("create", "drop") and isinstance(f, ast.Attribute) and (
                    any(k.arg in ("bind", "checkfirst") for k in node.keywords)
                    or any("bind" in _unparse(a) or "conn" in _unparse(a) for a in node.args[:1])):
                found.append((name, node.lineno))
    return sorted(found, key=lambda item: item[1])


def extract_revision(tree: ast.Module, relpath: str) -> Revision | None:
    """Facts of a revision script, or None when the module is not one."""
    assigned = _module_assignments(tree)
    if "revision" not in assigned or "down_revision" not in assigned:
        return None
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if "upgrade" not in functions:
        return None
    ok, rev = _literal(assigned["revision"][0])
    if not ok or not isinstance(rev, str) or not rev:
        return None
    ok_down, down = _literal(assigned["down_revision"][0])
    revision = Revision(
        revision=rev,
        down_revisions=_ids(down) if ok_down else (),
        relpath=relpath,
        line=assigned["revision"][1],
        down_line=assigned["down_revision"][1],
        down_unknown=not ok_down,
    )
    for attr, key in (("branch_labels", "branch_labels"), ("depends_on", "depends_on")):
        if key in assigned:
            ok, value = _literal(assigned[key][0])
            if ok:
                setattr(revision, attr, _ids(value))
    up, down_fn = functions.get("upgrade"), functions.get("downgrade")
    revision.upgrade_line = up.lineno
    revision.downgrade_line = down_fn.lineno if down_fn else 0
    revision.downgrade_kind = _downgrade_kind(down_fn)
    revision.upgrade_empty = _is_empty(up)
    op_names = _op_aliases(tree)
    strings = _string_constants(tree.body)
    for phase, func in (("upgrade", up), ("downgrade", down_fn)):
        if func is not None:
            revision.ops.extend(_Collector(tree, op_names, phase, strings).run(func))
    for op in revision.ops:
        if op.phase != "upgrade":
            continue
        if op.name == "create_table" and op.table:
            revision.creates_tables.add(op.table)
        for action in op.actions:
            if action.kind == "create_table" and action.table:
                revision.creates_tables.add(action.table)
    revision.timeout_line = _timeout_line(tree)
    revision.timeout_local = _timeout_is_local(tree)
    revision.imports = _imports(tree)
    revision.ddl_calls = _ddl_calls(up, functions)
    return revision


__all__ = ["extract_revision", "extract_env", "SqlAction", "literal_name", "Expr"]
