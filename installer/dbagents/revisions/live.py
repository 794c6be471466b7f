"""Live findings → operations: DBA301 (index the foreign key), DBA302 (rebuild an invalid index, validate a NOT VALID
constraint), DBA303 (drop the redundant index; downgrade builds it again from its definition).

The findings carry the catalog object in `Finding.detail`; the names of new indexes are checked against the
catalog (one read-only query) so that a new index never takes a name already used in its schema.
"""

from __future__ import annotations

import re

from dbagents.findings import Finding
from dbagents.revisions.naming import identifier, numbered
from dbagents.revisions.ops import (
    CreateIndex,
    DropIndex,
    Operation,
    RebuildIndex,
    ValidateConstraint,
)

RULES = ("DBA301", "DBA302", "DBA303")
_BTREE_COLUMNS = re.compile(r"\bUSING\s+btree\s+\(([^()]*)\)(?:\s+INCLUDE\s+\([^()]*\))?\s*$", re.I)
TAKEN_SQL = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
"""
ALTERNATIVES = 9


def _leading_columns(definition: str) -> list[str]:
    """Plain key columns of a non-partial B-tree index definition (`… USING btree (a, b)`), else []."""
    m = _BTREE_COLUMNS.search(definition or "")
    if not m:
        return []
    cols = []
    for part in m.group(1).split(","):
        word = part.strip()
        if word.startswith('"') and word.endswith('"'):
            word = word[1:-1].replace('""', '"')
        elif not re.fullmatch(r"[a-z_][a-z0-9_$]*", word):
            return cols
        cols.append(word)
    return cols


def _taken(url: str, settings, wanted: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(schema, name) pairs among `wanted` that already name a relation (table, index, sequence, view…)."""
    if not wanted:
        return set()
    from dbagents.live.connection import readonly_session

    with readonly_session(url, settings) as conn:
        rows = conn.execute(TAKEN_SQL, ([s for s, _ in wanted], [n for _, n in wanted])).fetchall()
    return {(r[0], r[1]) for r in rows}


def operations(findings: list[Finding], url: str, settings=None) -> tuple[list[Operation], list[str]]:
    """Operations for the DBA301/302/303 findings that carry a catalog object, and notes on those left out."""
    creates, rebuilds, drops, validates, notes = [], [], [], [], []
    wanted_fks: dict[tuple, dict] = {}
    for f in sorted(findings, key=lambda f: (f.rule_id, f.obj, f.message)):
        d = f.detail or {}
        kind = d.get("kind")
        where = f"{d.get('schema')}.{d.get('table')}"
        if f.rule_id == "DBA301" and kind == "fk_without_index":
            if d["partitioned"]:
                notes.append(f"DBA301 {where}({', '.join(d['columns'])}): partitioned table, CREATE INDEX "
                             "CONCURRENTLY cannot run on it; index each partition, then the parent ON ONLY (not "
                             "in the revision)")
                continue
            wanted_fks.setdefault((d["schema"], d["table"], tuple(d["columns"])), d)
        elif f.rule_id == "DBA302" and kind == "invalid_index":
            if d["partitioned"] or " ON ONLY " in d["definition"]:
                notes.append(f"DBA302 {where}: partitioned index {d['name']} needs its partition indexes attached "
                             "(not in the revision)")
                continue
            review = ("a unique index failed before: check for duplicate keys first",) \
                if d["definition"].upper().startswith("CREATE UNIQUE") else ()
            rebuilds.append(RebuildIndex(d["name"], d["table"], d["definition"], d["schema"], review=review,
                                         why=f"DBA302: {d['name']} on {where} is invalid: drop it and build it again"))
        elif f.rule_id == "DBA302" and kind == "not_valid_constraint":
            validates.append(ValidateConstraint(d["table"], d["name"], d["schema"],
                                                why=f"DBA302: {d['name']} on {where} is NOT VALID ({d['definition']})",
                                                review=("fails if an existing row violates it: fix those rows first",)))
        elif f.rule_id == "DBA303" and kind == "redundant_index":
            if d["backs_constraint"]:
                notes.append(f"DBA303 {where}: {d['name']} backs a constraint; dropping the constraint is left to "
                             "you (not in the revision)")
                continue
            if " ON ONLY " in d["definition"]:
                notes.append(f"DBA303 {where}: {d['name']} is a partitioned index, which cannot be dropped "
                             "CONCURRENTLY (not in the revision)")
                continue
            drops.append(DropIndex(d["name"], d["table"], d["definition"], d["schema"],
                                   why=f"DBA303: {d['name']} on {where} is redundant next to {d['kept']}",
                                   review=(f"remove {d['name']} from the models too (index=True / Index()), or the "
                                           "next autogenerate adds it back",)))
    # a rebuilt invalid index whose leading columns are the foreign key's covers it already
    rebuilt: dict[tuple, list[list[str]]] = {}
    for op in rebuilds:
        rebuilt.setdefault((op.schema, op.table), []).append(_leading_columns(op.definition))
    fks = {}
    for key, d in wanted_fks.items():
        schema, table, cols = key
        if any(len(lead) >= len(cols) and set(lead[:len(cols)]) == set(cols) for lead in rebuilt.get((schema, table), [])):
            notes.append(f"DBA301 {schema}.{table}({', '.join(cols)}): the rebuilt invalid index covers it")
            continue
        fks[key] = d
    bases = {key: identifier("ix", key[1], *key[2]) for key in fks}
    candidates = [(key[0], n) for key, base in bases.items() for n in [base] + [numbered(base, i)
                                                                             for i in range(2, ALTERNATIVES + 1)]]
    taken = _taken(url, settings, candidates)
    for key, d in fks.items():
        schema, table, cols = key
        name = next((n for n in [bases[key]] + [numbered(bases[key], i) for i in range(2, ALTERNATIVES + 1)]
                     if (schema, n) not in taken), None)
        if name is None:
            notes.append(f"DBA301 {schema}.{table}({', '.join(cols)}): {bases[key]} and its alternatives are taken "
                         "(not in the revision)")
            continue
        taken.add((schema, name))
        creates.append(CreateIndex(name, table, cols, schema,
                                   why=f"DBA301: foreign key {d['constraint']} on {schema}.{table}"
                                       f"({', '.join(cols)}) has no index",
                                   review=(f"declare {name} in the models too (index=True or Index(\"{name}\", "
                                           "...)), or the next autogenerate drops it",)))
    return creates + rebuilds + drops + validates, notes
