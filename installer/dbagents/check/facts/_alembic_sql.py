"""Recognise what a raw SQL string passed to op.execute() does (DDL kinds, tables, CONCURRENTLY, NOT VALID).

This is deliberately a recogniser, not a parser: it reads the statements migrations usually contain and
returns nothing for the rest, so an unrecognised statement never produces a finding.
"""

from __future__ import annotations

import re
from dataclasses import replace

from dbagents.check.facts._alembic_model import SqlAction

HOLE = "__dbagents_expr__"  # stands for an interpolated expression of an f-string / format string

_IDENT = r'(?:"[^"]+"|[\w$]+)'
_QNAME = rf"(?P<{{g}}>{_IDENT}(?:\s*\.\s*{_IDENT})*)"


def _q(group: str) -> str:
    return _QNAME.replace("{g}", group)


def _last(qname: str | None) -> str | None:
    if not qname:
        return None
    part = re.split(r"\s*\.\s*", qname)[-1].strip('"')
    return None if HOLE in part else part.lower()


def _schema(qname: str | None) -> str | None:
    if not qname:
        return None
    parts = re.split(r"\s*\.\s*", qname)
    if len(parts) < 2 or HOLE in parts[-2]:
        return None
    return parts[-2].strip('"').lower()


def _with_schema(found: list[SqlAction], qname: str | None) -> list[SqlAction]:
    schema = _schema(qname)
    return [replace(a, schema=schema) for a in found] if schema else found


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r"'(?:[^']|'')*'")


def split_statements(sql: str) -> list[str]:
    """Statements of `sql`, comments removed, whitespace collapsed (semicolons inside quotes respected)."""
    text = _COMMENTS.sub(" ", sql)
    out, buf, quoted = [], [], False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [" ".join(s.split()) for s in out if s.strip()]


_CREATE_INDEX = re.compile(
    rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?P<conc>CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:{_q('name')}\s+)?"
    rf"ON\s+(?:ONLY\s+)?{_q('table')}",
    re.I,
)
_DROP_INDEX = re.compile(rf"^DROP\s+INDEX\s+(?P<conc>CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?{_q('name')}", re.I)
_REINDEX = re.compile(r"^REINDEX\b(?P<rest>.*)$", re.I)
_ALTER_TABLE = re.compile(rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_q('table')}\s+(?P<rest>.*)$", re.I)
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:(?:GLOBAL\s+|LOCAL\s+)?(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"{_q('table')}",
    re.I,
)
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_q('table')}", re.I)
_UPDATE = re.compile(rf"^(?:WITH\b.*?\)\s*)?UPDATE\s+(?:ONLY\s+)?{_q('table')}\s", re.I)
_SET_TIMEOUT = re.compile(r"\b(?:lock_timeout|statement_timeout)\b", re.I)
_VACUUM_FULL = re.compile(r"^VACUUM\s*(?:\(\s*[^)]*\bFULL\b[^)]*\)|\s+FULL\b)", re.I)
_TRUNCATE = re.compile(r"^TRUNCATE\b.*\bCASCADE\b", re.I)
_ENUM_ADD = re.compile(rf"^ALTER\s+TYPE\s+{_q('name')}\s+ADD\s+VALUE\b(?P<rest>.*)$", re.I)
_COMMIT = re.compile(r"^(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?$", re.I)
_CLUSTER = re.compile(r"^CLUSTER\b", re.I)


def _alter_actions(table: str | None, rest: str) -> list[SqlAction]:
    """The actions of one ALTER TABLE (several may be comma-separated)."""
    out: list[SqlAction] = []
    # split on commas outside parentheses
    parts, depth, buf = [], 0, []
    for ch in rest:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf).strip())
    for part in parts:
        up = _STRINGS.sub("''", part).upper()
        m = re.match(rf"ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?{_q('col')}", part, re.I)
        if up.startswith("ADD CONSTRAINT") or re.match(r"ADD\s+(FOREIGN|CHECK|UNIQUE|PRIMARY)\b", up):
            name = re.match(rf"ADD\s+CONSTRAINT\s+{_q('n')}", part, re.I)
            cname = _last(name.group("n")) if name else None
            not_valid = "NOT VALID" in up
            if "FOREIGN KEY" in up:
                ref = re.search(rf"REFERENCES\s+{_q('r')}", part, re.I)
                out.append(SqlAction("add_fk", table, cname, not_valid=not_valid,
                                     detail=_last(ref.group("r")) or "" if ref else ""))
            elif re.search(r"\bCHECK\b", up):
                out.append(SqlAction("add_check", table, cname, not_valid=not_valid, detail=part))
            elif "USING INDEX" in up:
                out.append(SqlAction("add_using_index", table, cname))
            elif "PRIMARY KEY" in up:
                out.append(SqlAction("add_pk", table, cname))
            elif re.search(r"\bUNIQUE\b", up):
                out.append(SqlAction("add_unique", table, cname))
            elif "EXCLUDE" in up:
                out.append(SqlAction("add_unique", table, cname))
        elif m and not up.startswith("ADD CONSTRAINT"):
            col = _last(m.group("col"))
            not_null = "NOT NULL" in up
            has_default = re.search(r"\bDEFAULT\b", up) is not None
            refs = re.search(r"\bREFERENCES\b", up) is not None
            kind = "add_column"
            out.append(SqlAction(kind, table, col, not_valid=False,
                                 detail=",".join(x for x, on in (("not_null", not_null), ("default", has_default),
                                                                 ("references", refs)) if on)))
        elif up.startswith("VALIDATE CONSTRAINT"):
            n = re.match(rf"VALIDATE\s+CONSTRAINT\s+{_q('n')}", part, re.I)
            out.append(SqlAction("validate", table, _last(n.group("n")) if n else None))
        elif up.startswith("DROP CONSTRAINT"):
            out.append(SqlAction("drop_constraint", table))
        elif re.match(r"DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?", up) and not up.startswith("DROP CONSTRAINT"):
            c = re.match(rf"DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?{_q('c')}", part, re.I)
            out.append(SqlAction("drop_column", table, _last(c.group("c")) if c else None))
        elif up.startswith("ALTER"):
            c = re.match(rf"ALTER\s+(?:COLUMN\s+)?{_q('c')}\s+(?P<what>.*)$", part, re.I)
            col = _last(c.group("c")) if c else None
            what = (c.group("what") if c else "").upper()
            if what.startswith(("TYPE", "SET DATA TYPE")):
                out.append(SqlAction("alter_type", table, col, detail=what.split(None, 1)[-1].replace("DATA TYPE ", "")))
            elif what.startswith("SET NOT NULL"):
                out.append(SqlAction("set_not_null", table, col))
            else:
                out.append(SqlAction("alter_other", table, col))
        elif up.startswith("RENAME"):
            if re.match(r"RENAME\s+TO\b", up):
                out.append(SqlAction("rename_table", table))
            elif up.startswith("RENAME CONSTRAINT"):
                out.append(SqlAction("alter_other", table))
            else:
                c = re.match(rf"RENAME\s+(?:COLUMN\s+)?{_q('c')}\s+TO\b", part, re.I)
                out.append(SqlAction("rename_column", table, _last(c.group("c")) if c else None))
        elif up.startswith(("SET ", "RESET", "OWNER", "ENABLE", "DISABLE", "REPLICA", "CLUSTER", "INHERIT",
                            "NO INHERIT", "OF ", "NOT OF", "FORCE", "NO FORCE")):
            out.append(SqlAction("alter_meta", table))
        elif up.startswith(("ATTACH", "DETACH")):
            out.append(SqlAction("alter_other", table, concurrently="CONCURRENTLY" in up))
        else:
            out.append(SqlAction("alter_other", table))
    return out


def actions(sql: str) -> tuple[SqlAction, ...]:
    """Everything recognisable that `sql` does, in order."""
    out: list[SqlAction] = []
    for stmt in split_statements(sql):
        m = _CREATE_INDEX.match(stmt)
        if m:
            out.extend(_with_schema([SqlAction("create_index", _last(m.group("table")), _last(m.group("name")),
                                               concurrently=bool(m.group("conc")))], m.group("table")))
            continue
        m = _DROP_INDEX.match(stmt)
        if m:
            out.append(SqlAction("drop_index", None, _last(m.group("name")), concurrently=bool(m.group("conc"))))
            continue
        m = _REINDEX.match(stmt)
        if m:
            rest = m.group("rest").upper()
            out.append(SqlAction("reindex", concurrently="CONCURRENTLY" in rest, detail=rest.strip()))
            continue
        m = _ALTER_TABLE.match(stmt)
        if m:
            out.extend(_with_schema(_alter_actions(_last(m.group("table")), m.group("rest")), m.group("table")))
            continue
        m = _CREATE_TABLE.match(stmt)
        if m:
            out.extend(_with_schema([SqlAction("create_table", _last(m.group("table")))], m.group("table")))
            continue
        m = _DROP_TABLE.match(stmt)
        if m:
            out.extend(_with_schema([SqlAction("drop_table", _last(m.group("table")))], m.group("table")))
            continue
        m = _ENUM_ADD.match(stmt)
        if m:
            rest = m.group("rest").upper()
            ordered = re.search(r"\b(BEFORE|AFTER)\b", _STRINGS.sub("''", rest)) is not None
            out.append(SqlAction("enum_add_value", None, _last(m.group("name")), detail="ordered" if ordered else ""))
            continue
        if _UPDATE.match(stmt + " "):
            m = _UPDATE.match(stmt + " ")
            out.append(SqlAction("update", _last(m.group("table"))))
            continue
        if re.match(r"^(?:SET|SELECT\s+set_config)\b", stmt, re.I) and _SET_TIMEOUT.search(stmt):
            out.append(SqlAction("set_timeout"))
            continue
        if _VACUUM_FULL.match(stmt):
            out.append(SqlAction("vacuum_full"))
            continue
        if _TRUNCATE.match(stmt):
            out.append(SqlAction("truncate_cascade"))
            continue
        if _CLUSTER.match(stmt):
            out.append(SqlAction("cluster"))
            continue
        if _COMMIT.match(stmt):
            out.append(SqlAction("commit"))
            continue
    return tuple(out)
