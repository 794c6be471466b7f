"""What a rule's fix() works with: the finding, its file's libcst tree located by position, and the edit it returns.

libcst is imported by this module, which only `dbagents check --fix/--diff` imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

from dbagents.check.fix.changes import SchemaChange
from dbagents.findings import Finding

if TYPE_CHECKING:
    from dbagents.check.project import Project

COLUMN_CALLS = ("mapped_column", "Column", "Field")


@dataclass
class Edit:
    """Replace `old` by `new` (a node, or several statements in place of one statement).

    `imports`: (module, name) pairs the new code needs, added unless the name is already imported.
    `changes`: the schema changes an unsafe model fix implies (one per table a mixin column lands in);
    `follow_up`: a schema step the fix leaves to a new revision (a constraint added NOT VALID still needs
    VALIDATE CONSTRAINT).
    """

    old: cst.CSTNode
    new: cst.CSTNode | list[cst.BaseStatement]
    imports: tuple[tuple[str, str], ...] = ()
    changes: tuple[SchemaChange, ...] = ()
    follow_up: SchemaChange | None = None
    finding: Finding | None = None
    span: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))


class FileView:
    """One file's libcst tree, parsed once per pass, with positions and parents for every node."""

    def __init__(self, relpath: str, text: str, project: "Project", sources: dict[str, bytes] | None = None):
        self.relpath = relpath
        self.text = text
        self.project = project
        self.sources = sources or {}  # every checked file's bytes, for fixes that depend on the whole project
        self.wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.positions: dict[cst.CSTNode, CodeRange] = dict(self.wrapper.resolve(PositionProvider))
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self._lines = text.splitlines()
        self._starts: dict[tuple[int, int], list[cst.CSTNode]] = {}
        for node, where in self.positions.items():
            self._starts.setdefault((where.start.line, where.start.column), []).append(node)
        self._names: set[str] | None = None

    def column_of(self, line: int, col: int) -> int:
        """ast's 1-based byte column on `line` -> libcst's 0-based character column."""
        if not 1 <= line <= len(self._lines):
            return max(col - 1, 0)
        return len(self._lines[line - 1].encode("utf-8")[: max(col - 1, 0)].decode("utf-8", "ignore"))

    def starting_at(self, line: int, col: int) -> list[cst.CSTNode]:
        """Nodes whose code starts at this ast position, outermost first."""
        nodes = self._starts.get((line, self.column_of(line, col)), [])
        return sorted(nodes, key=lambda n: self._size(n), reverse=True)

    def _size(self, node: cst.CSTNode) -> tuple[int, int]:
        r = self.positions[node]
        return (r.end.line - r.start.line, r.end.column - r.start.column)

    def span(self, node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        r = self.positions[node]
        return (r.start.line, r.start.column), (r.end.line, r.end.column)

    @property
    def names(self) -> set[str]:
        """Every identifier written anywhere in the file (a name used here is not free for new code)."""
        if self._names is None:
            self._names = {n.value for n in self.positions if isinstance(n, cst.Name)}
        return self._names


class FixSite:
    """One finding in its file: what a rule's fix() reads and how it builds its Edit."""

    def __init__(self, view: FileView, finding: Finding):
        self.view = view
        self.finding = finding

    @property
    def project(self) -> "Project":
        return self.view.project

    @property
    def module(self) -> cst.Module:
        return self.view.module

    def project_mentions(self, *words: str) -> bool:
        """Does any checked file contain one of these words (a cheap, conservative test across files)?"""
        encoded = [w.encode() for w in words]
        return any(w in data for data in self.view.sources.values() for w in encoded)

    def has_comment(self, node: cst.CSTNode) -> bool:
        """Does `node` hold a comment (a rewrite that rebuilds its whitespace would lose it)?"""
        return any(isinstance(n, cst.Comment) for n in _descendants(node))

    def code(self, node: cst.CSTNode) -> str:
        return self.view.module.code_for_node(node)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.view.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self.parent(node)
        while parent is not None:
            yield parent
            parent = self.parent(parent)

    def nodes(self, *types: type) -> list[cst.CSTNode]:
        """Nodes of `types` starting where the finding points, outermost first (those ending on its end line
        first of all)."""
        f = self.finding
        found = [n for n in self.view.starting_at(f.line, f.col) if isinstance(n, types)]
        if f.end_line:
            found.sort(key=lambda n: self.view.positions[n].end.line != f.end_line)
        return found

    def node(self, *types: type) -> cst.CSTNode | None:
        """The outermost node of one of `types` starting where the finding points (its end line agreeing)."""
        found = self.nodes(*types)
        return found[0] if found else None

    def statement(self) -> cst.SimpleStatementLine | None:
        """The simple statement line the finding starts, when it is one whole statement line."""
        node = self.node(cst.BaseSmallStatement, cst.BaseExpression)
        if node is None:
            return None
        for up in (node, *self.ancestors(node)):
            if isinstance(up, cst.SimpleStatementLine):
                return up if len(up.body) == 1 else None
            if isinstance(up, cst.BaseCompoundStatement):
                return None
        return None

    def column_call(self) -> cst.Call | None:
        """The mapped_column()/Column()/Field() call of the column a model finding points at."""
        node = self.node(cst.AnnAssign, cst.Assign, cst.Call, cst.BaseSmallStatement)
        if node is None:
            return None
        if isinstance(node, cst.Call) and call_name(node) in COLUMN_CALLS:
            return node
        value = getattr(node, "value", None)
        if isinstance(value, cst.Call) and call_name(value) in COLUMN_CALLS:
            return value
        return None

    def table_column(self):
        """(table, column) facts of the models index for a finding whose obj is "table.column", or None."""
        table_name, _, column_name = self.finding.obj.rpartition(".")
        table = self.project.get("models").tables.get(table_name) if table_name else None
        column = table.columns.get(column_name) if table is not None else None
        return (table, column) if column is not None else None

    def type_arg(self, call: cst.Call, names: Iterable[str]) -> cst.Arg | None:
        """The positional argument of a column call that is one of these SQL types (`DateTime`, `sa.Integer()`)."""
        for arg in call.args:
            if arg.keyword is None and not arg.star:
                value = arg.value.func if isinstance(arg.value, cst.Call) else arg.value
                if dotted(value).rpartition(".")[2] in names:
                    return arg
        return None

    def function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The function directly holding `node`'s statement in its body (not in a nested block)."""
        statement = next((a for a in (node, *self.ancestors(node)) if isinstance(a, cst.BaseStatement)), None)
        if statement is None:
            return None
        block = self.parent(statement)
        fn = self.parent(block) if isinstance(block, cst.IndentedBlock) else None
        return fn if isinstance(fn, cst.FunctionDef) else None

    def op_statement(self, *names: str) -> tuple[cst.SimpleStatementLine, cst.Call] | None:
        """The `op.<name>(...)` statement line the finding points at, directly in a revision's upgrade() or
        downgrade() (not in a helper, a batch or a branch), with `op` imported from alembic."""
        stmt = self.statement()
        small = stmt.body[0] if stmt is not None else None
        if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
            return None
        if dotted(small.value.func) not in {f"op.{n}" for n in names} or self.imported_as("alembic", "op") != "op":
            return None
        fn = self.function(stmt)
        if fn is None or fn.name.value not in ("upgrade", "downgrade"):
            return None
        return stmt, small.value

    def imported_as(self, module: str, name: str) -> str | None:
        """The local name of `from module import name` at the top of the file, if imported there."""
        for stmt in self.view.module.body:
            for small in getattr(stmt, "body", ()) if isinstance(stmt, cst.SimpleStatementLine) else ():
                if isinstance(small, cst.ImportFrom) and dotted(small.module) == module and not isinstance(
                        small.names, cst.ImportStar):
                    for alias in small.names:
                        if dotted(alias.name) == name:
                            return alias.evaluated_alias or name
        return None

    def module_alias(self, module: str) -> str | None:
        """The name `import module [as alias]` binds at the top of the file, if any."""
        for stmt in self.view.module.body:
            for small in getattr(stmt, "body", ()) if isinstance(stmt, cst.SimpleStatementLine) else ():
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if dotted(alias.name) == module:
                            return alias.evaluated_alias or (module if "." not in module else None)
        return None

    def sqlalchemy_name(self, name: str, modules: Iterable[str] = ("sqlalchemy",)) -> tuple[str, tuple] | None:
        """How new code spells SQLAlchemy's `name` here: (expression, imports to add), or None when unsure.

        The name as imported already; else through `import sqlalchemy as sa`; else the bare name with a new
        import when no identifier of the file is spelled like it.
        """
        for module in modules:
            local = self.imported_as(module, name)
            if local:
                return local, ()
        alias = next((a for a in map(self.module_alias, modules) if a), None)
        if alias:
            return f"{alias}.{name}", ()
        return (name, ((next(iter(modules)), name),)) if name not in self.view.names else None

    def edit(self, old: cst.CSTNode, new, *, imports=(), change: SchemaChange | list[SchemaChange] | None = None,
             follow_up: SchemaChange | None = None) -> Edit:
        changes = tuple(change) if isinstance(change, list) else ((change,) if change is not None else ())
        return Edit(old, new, tuple(imports), changes, follow_up, self.finding, self.view.span(old))


def _descendants(node: cst.CSTNode):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def dotted(node: cst.CSTNode | None) -> str:
    """`a.b.c` for a Name/Attribute chain, "" otherwise."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr.value}" if head else ""
    return ""


def call_name(call: cst.Call) -> str:
    """The last name of what is called: `sa.Column(...)` -> "Column"."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def expr(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def with_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    """`call` with keyword `name=value`: replaced where given, else added after the other arguments."""
    new_value = expr(value)
    old = keyword(call, name)
    if old is not None:
        return call.with_deep_changes(old, value=new_value)
    args = list(call.args)
    arg = cst.Arg(value=new_value, keyword=cst.Name(name), equal=cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
    if args and args[-1].star == "**":
        index = len(args) - 1  # keywords go before **kwargs
        args.insert(index, arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        return call.with_changes(args=args)
    if args and isinstance(args[-1].comma, cst.Comma):  # a trailing comma: the new last argument takes it over
        between = args[-2].comma if len(args) > 1 else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        args[-1], arg = args[-1].with_changes(comma=between), arg.with_changes(comma=args[-1].comma)
        return call.with_changes(args=[*args, arg])
    if args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(arg)
    return call.with_changes(args=args)


def without_keyword(call: cst.Call, name: str) -> cst.Call:
    """`call` without keyword `name` (the comma layout of the remaining arguments kept)."""
    args = list(call.args)
    old = keyword(call, name)
    if old is None:
        return call
    i = args.index(old)
    del args[i]
    if args and i == len(args):  # removed the last one: its comma (trailing or none) moves to the new last
        args[-1] = args[-1].with_changes(comma=old.comma)
    return call.with_changes(args=args)


def with_first_arg(call: cst.Call, value: str) -> cst.Call:
    """`call` with `value` as a new first positional argument."""
    arg = cst.Arg(value=expr(value))
    if call.args:
        arg = arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[arg, *call.args])


def autocommit_block(stmt: cst.SimpleStatementLine, receiver: str) -> cst.With:
    """`with <receiver>.get_context().autocommit_block():` around one statement line (its comments stay above)."""
    inner = stmt.with_changes(leading_lines=())
    head = cst.parse_statement(f"with {receiver}.get_context().autocommit_block():\n    pass\n")
    assert isinstance(head, cst.With)
    return head.with_changes(body=head.body.with_changes(body=[inner]), leading_lines=stmt.leading_lines)


__all__ = ["Edit", "FileView", "FixSite", "autocommit_block", "call_name", "dotted", "expr", "keyword",
           "with_first_arg", "with_keyword", "without_keyword"]
