"""Add `from module import name` to a file's leading imports: into an existing `from module import ...` (kept
sorted when it was), else as a new line after the last leading import."""

from __future__ import annotations

import libcst as cst


def add_imports(module: cst.Module, pairs) -> cst.Module:
    body = list(module.body)
    for module_name, name in pairs:
        body = _add(body, module_name, name)
    return module.with_changes(body=body)


def _dotted(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _imports(stmt) -> list:
    if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
        return list(stmt.body)
    return []


def _docstring(stmt) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _add(body: list, module_name: str, name: str) -> list:
    last = -1
    for i, stmt in enumerate(body):
        found = _imports(stmt)
        if found:
            last = i
            if len(found) == 1 and isinstance(found[0], cst.ImportFrom) and not found[0].relative and not isinstance(
                    found[0].names, cst.ImportStar) and _dotted(found[0].module) == module_name:
                body[i] = stmt.with_changes(body=[_with_name(found[0], name)])
                return body
        elif not (_docstring(stmt) and i == 0) and not isinstance(stmt, (cst.If, cst.Try)):
            break  # the leading imports end at the first other statement
    new = cst.parse_statement(f"from {module_name} import {name}\n")
    if last >= 0:
        return [*body[: last + 1], new, *body[last + 1:]]
    at = 1 if body and _docstring(body[0]) else 0
    rest = body[at:]
    if rest:
        rest[0] = rest[0].with_changes(leading_lines=[cst.EmptyLine(), *rest[0].leading_lines])
    if at:
        new = new.with_changes(leading_lines=[cst.EmptyLine()])
    return [*body[:at], new, *rest]


def _with_name(node: cst.ImportFrom, name: str) -> cst.ImportFrom:
    aliases = list(node.names)
    keys = [_dotted(a.name).lower() for a in aliases]
    at = len(aliases)
    if keys == sorted(keys):
        at = next((i for i, key in enumerate(keys) if key > name.lower()), len(aliases))
    between = aliases[0].comma if len(aliases) > 1 else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    last_comma = aliases[-1].comma
    aliases.insert(at, cst.ImportAlias(name=cst.Name(name)))
    aliases = [a.with_changes(comma=between) for a in aliases[:-1]] + [aliases[-1].with_changes(comma=last_comma)]
    return node.with_changes(names=aliases)
