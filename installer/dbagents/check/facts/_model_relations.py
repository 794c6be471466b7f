"""Relationship facts that need more than one keyword: `**literal_dict` arguments, the names given to
`foreign_keys=` and the text of `primaryjoin=`, and which way a relationship points (many-to-one or a
collection) once the project's tables are known."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from dbagents.check.facts._model_syntax import dotted, _kw, _kwlit, last, literal, _truthy
from dbagents.check.facts._model_types import AnnInfo

JOIN_PAIR = re.compile(r"([A-Za-z_][\w]*)\.(?:c\.)?([A-Za-z_]\w*)\s*==\s*([A-Za-z_][\w]*)\.(?:c\.)?([A-Za-z_]\w*)")


def literal_dicts(body: list[ast.stmt]) -> dict[str, ast.Dict]:
    """`NAME = {"key": value, ...}` statements of one module or class body, by name (last one wins)."""
    found: dict[str, ast.Dict] = {}
    for stmt in body:
        target = value = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
            if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys):
                found[target.id] = value
            else:
                found.pop(target.id, None)
        elif isinstance(target, ast.Name):
            found.pop(target.id, None)
    return found


def expanded_keywords(call: ast.Call, dicts: dict[str, ast.Dict] | None) -> tuple[list[ast.keyword], bool]:
    """The call's keywords with `**name` of a literal dict spelled out; True when a `**` stays unknown."""
    out: list[ast.keyword] = []
    hidden = False
    for k in call.keywords:
        if k.arg is not None:
            out.append(k)
            continue
        d = k.value
        if isinstance(d, ast.Name) and dicts and d.id in dicts:
            d = dicts[d.id]
        if isinstance(d, ast.Dict) and all(isinstance(key, ast.Constant) for key in d.keys):
            out.extend(ast.keyword(arg=key.value, value=value) for key, value in zip(d.keys, d.values))
        else:
            hidden = True
    # explicit keywords win over a spread dict (Python would raise on a duplicate; keep the last seen)
    return out, hidden


def key_names(node: ast.AST) -> tuple[str, ...]:
    """Names in `foreign_keys=`: `[user_id]`, `"Child.parent_id"`, `"[a, b]"`, `Child.parent_id`."""
    if isinstance(node, ast.Lambda):
        node = node.body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return tuple(part.strip() for part in node.value.strip("[]() ").split(",") if part.strip())
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return tuple(n for e in node.elts for n in key_names(e))
    try:
        return (ast.unparse(node),)
    except Exception:  # noqa: BLE001 - unparse of odd nodes
        return ()


def join_text(node: ast.AST) -> str:
    if isinstance(node, ast.Lambda):
        node = node.body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return ""


def _key_on(rel, cls, bare: bool) -> bool:
    """A `foreign_keys=` name that is a column of `cls` (bare names count when `bare`: they are the owner's)."""
    for name in rel.fk_names:
        owner, _, attr = name.rpartition(".")
        owner = owner.split(".")[-1] if owner else ""
        if (owner == cls.name or (bare and not owner)) and (
                attr in cls.columns or any(c.name == attr for c in cls.columns.values())):
            return True
    return False


def _join_points_out(rel, cls, target) -> bool | None:
    """From `primaryjoin="A.x == B.y"`: True when our side is a non-key column and theirs a primary key."""
    if not rel.join_text:
        return None
    for a_cls, a_col, b_cls, b_col in JOIN_PAIR.findall(rel.join_text):
        pairs = {a_cls: a_col, b_cls: b_col}
        mine, theirs = pairs.get(cls.name), pairs.get(target.name)
        if mine is None or theirs is None or cls.name == target.name:
            continue
        mine_c, theirs_c = cls.columns.get(mine), target.columns.get(theirs)
        if mine_c is None or theirs_c is None:
            continue
        if theirs_c.primary_key and not mine_c.primary_key:
            return True
        if mine_c.primary_key and not theirs_c.primary_key:
            return False
    return None


def _points_to(table, other: str | None) -> bool:
    return table is not None and other is not None and any(
        t.rpartition(".")[0] == other for fk in table.foreign_keys for t in fk.targets)


def direction(index, cls, rel) -> str | None:
    """'many-to-one' when the foreign key sits on `cls`'s side, 'collection' for a list on the other side,
    'one-to-one' for a scalar whose key sits on the target; None when the models do not tell."""
    if rel.secondary:
        return "collection" if rel.collection is not False and rel.uselist is not False else "one-to-one"
    target = index.classes.get(rel.target) if rel.target else None
    if rel.fk_names and _key_on(rel, cls, bare=True):
        return "many-to-one"
    if rel.fk_names and target is not None and target is not cls and _key_on(rel, target, bare=False):
        return "collection" if rel.collection is not False and rel.uselist is not False else "one-to-one"
    if target is not None:
        joined = _join_points_out(rel, cls, target)
        if joined is not None:
            if joined:
                return "many-to-one"
            return "collection" if rel.collection is not False and rel.uselist is not False else "one-to-one"
    if rel.collection is True or rel.uselist is True:
        return "collection"
    if target is None:
        return None
    mine = index.tables.get(cls.tablename) if cls.tablename else None
    theirs = index.tables.get(target.tablename) if target.tablename else None
    out, back = _points_to(mine, target.tablename), _points_to(theirs, cls.tablename)
    if out and not back:
        return "many-to-one"
    if back and not out:
        return "one-to-one" if rel.collection is False or rel.uselist is False else "collection"
    if rel.collection is False or rel.uselist is False:
        return None
    return None


@dataclass
class RelFacts:
    attr: str
    line: int
    col: int
    end_line: int
    target: str | None
    lazy: str | None = None
    back_populates: str | None = None
    backref: str | None = None
    backref_line: int = 0
    backref_passive_deletes: bool = False
    viewonly: bool = False
    passive_deletes: Any = None
    secondary: bool = False
    uselist: Any = None
    cascade: str | None = None
    foreign_keys: bool = False
    primaryjoin: bool = False
    collection: bool | None = None
    annotated: bool = False
    backref_cascade: Any = None  # cascade= inside backref(...); None = SQLAlchemy's default (no delete)
    fk_names: tuple = ()  # names given to foreign_keys= ("user_id", "Child.parent_id")
    join_text: str = ""  # primaryjoin= as written
    hidden_kwargs: bool = False  # a **kwargs we cannot read may set back_populates/passive_deletes/...


def parse_relationship(call: ast.Call, attr: str, stmt, ann: AnnInfo | None,
                       dicts: dict[str, ast.Dict] | None = None) -> RelFacts:
    target = None
    if call.args:
        t = call.args[0]
        if isinstance(t, ast.Lambda):
            t = t.body
        if isinstance(t, ast.Constant) and isinstance(t.value, str):
            target = last(t.value.strip())
        else:
            target = last(dotted(t)) or None
    if target is None:
        arg = _kw(call, "argument")
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            target = last(arg.value)
    if target is None and ann is not None and ann.target:
        target = last(ann.target)
    rel = RelFacts(attr, stmt.lineno, stmt.col_offset + 1, stmt.end_lineno or stmt.lineno, target,
                   annotated=ann is not None and ann.mapped)
    if ann is not None and ann.mapped:
        rel.collection = ann.collection
    keywords, rel.hidden_kwargs = expanded_keywords(call, dicts)
    for k in keywords:
        v = literal(k.value)
        if k.arg == "lazy":
            rel.lazy = v if isinstance(v, str) else (str(v) if v in (True, False, None) else None)
        elif k.arg == "back_populates" and isinstance(v, str):
            rel.back_populates = v
        elif k.arg == "backref":
            rel.backref_line = k.value.lineno
            if isinstance(v, str):
                rel.backref = v
            elif isinstance(k.value, ast.Call) and k.value.args:
                rel.backref = literal(k.value.args[0]) if isinstance(literal(k.value.args[0]), str) else "?"
                rel.backref_passive_deletes = _truthy(_kwlit(k.value, "passive_deletes"))
                rel.backref_cascade = _kwlit(k.value, "cascade")
        elif k.arg == "viewonly":
            rel.viewonly = _truthy(v)
        elif k.arg == "passive_deletes":
            rel.passive_deletes = v
        elif k.arg == "secondary":
            rel.secondary = True
        elif k.arg == "uselist":
            rel.uselist = v
        elif k.arg == "cascade" and isinstance(v, str):
            rel.cascade = v
        elif k.arg == "foreign_keys":
            rel.foreign_keys = True
            rel.fk_names = key_names(k.value)
        elif k.arg in ("primaryjoin", "secondaryjoin"):
            rel.primaryjoin = True
            if k.arg == "primaryjoin":
                rel.join_text = join_text(k.value)
        elif k.arg == "sa_relationship_kwargs" and isinstance(k.value, ast.Dict):
            for key, value in zip(k.value.keys, k.value.values):
                if literal(key) == "passive_deletes":
                    rel.passive_deletes = literal(value)
                elif literal(key) == "viewonly":
                    rel.viewonly = _truthy(literal(value))
                elif literal(key) == "lazy" and isinstance(literal(value), str):
                    rel.lazy = literal(value)
    if rel.uselist is False:
        rel.collection = False
    return rel
