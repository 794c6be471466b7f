"""The operations a generated revision performs, as data; each knows its upgrade and downgrade steps.

A step is a few source lines plus whether it must run outside the migration transaction (concurrent index
builds and drops, and VALIDATE CONSTRAINT, go inside `op.get_context().autocommit_block()`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbagents.revisions.source import TypeExpr, call, quote_ident, sql_literal, sql_name

_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b)", re.I)


@dataclass(frozen=True)
class Step:
    lines: tuple[str, ...]  # at function-body indentation (4 spaces); re-indented inside a `with` block
    autocommit: bool = False
    comments: tuple[str, ...] = ()  # written above the lines, without "# "


def concurrent_definition(definition: str) -> str:
    """`CREATE [UNIQUE] INDEX name ON …` (pg_get_indexdef) → the same with CONCURRENTLY."""
    if not _CREATE_INDEX.match(definition):
        raise ValueError(f"not an index definition: {definition[:80]!r}")
    return _CREATE_INDEX.sub(lambda m: f"CREATE {m.group(1) or ''}INDEX CONCURRENTLY ", definition, count=1)


def _execute(sql: str) -> tuple[str, ...]:
    return tuple(call("op.execute", sql_literal(sql)))


def _sql_text(text: str) -> str:
    """`text` inside a single-quoted SQL string."""
    return text.replace("'", "''")


def _drop_index(name: str, table: str, schema: str | None) -> tuple[str, ...]:
    return tuple(call("op.drop_index", name, table_name=table, schema=schema, postgresql_concurrently=True))


def _validate(schema: str | None, table: str, name: str) -> tuple[str, ...]:
    return _execute(f"ALTER TABLE {sql_name(schema, table)} VALIDATE CONSTRAINT {quote_ident(name)}")


@dataclass(frozen=True)
class Operation:
    """Base: `why` says which finding or fix asked for it (first comment line), `review` what a person must check."""

    why: str = field(default="", kw_only=True)
    review: tuple[str, ...] = field(default=(), kw_only=True)

    def upgrade(self) -> list[Step]:
        raise NotImplementedError

    def downgrade(self) -> list[Step]:
        raise NotImplementedError

    @property
    def reversible(self) -> bool:
        """False when downgrade() has nothing to run for it (only a comment saying why)."""
        return any(step.lines for step in self.downgrade())

    def _comments(self) -> tuple[str, ...]:
        return tuple(c for c in (self.why, *(f"REVIEW: {r}" for r in self.review)) if c)


@dataclass(frozen=True)
class CreateIndex(Operation):
    """CREATE INDEX CONCURRENTLY on columns (undone by DROP INDEX CONCURRENTLY)."""

    name: str
    table: str
    columns: tuple[str, ...]
    schema: str | None = None
    unique: bool = False

    def upgrade(self) -> list[Step]:
        return [Step(tuple(call("op.create_index", self.name, self.table, list(self.columns),
                                unique=True if self.unique else None, schema=self.schema,
                                postgresql_concurrently=True)), True, self._comments())]

    def downgrade(self) -> list[Step]:
        return [Step(_drop_index(self.name, self.table, self.schema), True)]


@dataclass(frozen=True)
class DropIndex(Operation):
    """DROP INDEX CONCURRENTLY (undone by running its definition again, concurrently)."""

    name: str
    table: str
    definition: str  # pg_get_indexdef()
    schema: str | None = None

    def upgrade(self) -> list[Step]:
        return [Step(_drop_index(self.name, self.table, self.schema), True, self._comments())]

    def downgrade(self) -> list[Step]:
        return [Step(_execute(concurrent_definition(self.definition)), True)]


@dataclass(frozen=True)
class RebuildIndex(Operation):
    """An invalid index dropped and built again from its definition, both concurrently."""

    name: str
    table: str
    definition: str
    schema: str | None = None

    def upgrade(self) -> list[Step]:
        return [Step(_drop_index(self.name, self.table, self.schema) + _execute(concurrent_definition(self.definition)),
                     True, self._comments())]

    def downgrade(self) -> list[Step]:
        return [Step((), comments=(f"{self.name}: nothing to undo (it was invalid before and is a valid copy of "
                                   "itself now)",))]


@dataclass(frozen=True)
class ValidateConstraint(Operation):
    """ALTER TABLE … VALIDATE CONSTRAINT in its own transaction (SHARE UPDATE EXCLUSIVE: reads and writes go on)."""

    table: str
    name: str
    schema: str | None = None

    def upgrade(self) -> list[Step]:
        return [Step(_validate(self.schema, self.table, self.name), True, self._comments())]

    def downgrade(self) -> list[Step]:
        # every name below sits in one single-quoted SQL string: the regclass literal or the EXECUTE text
        table, name = _sql_text(sql_name(self.schema, self.table)), _sql_text(quote_ident(self.name))
        sql = ("DO $$ DECLARE def text := (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
               f"'{table}'::regclass AND conname = '{_sql_text(self.name)}'); BEGIN IF def NOT LIKE '%NOT VALID' "
               f"THEN EXECUTE 'ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} ' || def || "
               "' NOT VALID'; END IF; END $$")
        return [Step(_execute(sql), False, (f"{self.name} NOT VALID again, as before: dropped and added back from "
                                            "its own definition (no scan, a brief lock)",))]


@dataclass(frozen=True)
class AlterType(Operation):
    """alter_column(type_=…) with existing_type; flagged for review (it usually rewrites the table)."""

    table: str
    column: str
    new_type: TypeExpr
    old_type: TypeExpr
    schema: str | None = None
    # integer widening: the SQL types of the column's sequence (new, old). A serial's sequence stays `AS integer`
    # when only the column changes, and still runs out at 2**31 - 1; an identity's follows the column.
    sequence_types: tuple[str, str] | None = None

    def _alter(self, new: TypeExpr, old: TypeExpr, comments: tuple[str, ...]) -> Step:
        lines = call("op.alter_column", self.table, self.column, type_=new, existing_type=old, schema=self.schema)
        lines[-1] += "  # noqa: DBA207 - see REVIEW above"
        return Step(tuple(lines), False, comments)

    def _sequence(self, sql_type: str) -> Step:
        table, column = _sql_text(sql_name(self.schema, self.table)), _sql_text(self.column)
        sql = (f"DO $$ DECLARE seq text := pg_get_serial_sequence('{table}', '{column}'); BEGIN IF seq IS NOT NULL "
               f"THEN EXECUTE 'ALTER SEQUENCE ' || seq || ' AS {sql_type}'; END IF; END $$")
        return Step(_execute(sql), False, (f"the column's sequence (serial or identity), if it has one, as {sql_type}",))

    def upgrade(self) -> list[Step]:
        steps = [self._alter(self.new_type, self.old_type, self._comments())]
        return steps + ([self._sequence(self.sequence_types[0])] if self.sequence_types else [])

    def downgrade(self) -> list[Step]:
        steps = [self._sequence(self.sequence_types[1])] if self.sequence_types else []
        return steps + [self._alter(self.old_type, self.new_type, ())]


@dataclass(frozen=True)
class SetNullable(Operation):
    """nullable=True is instant; nullable=False goes through a validated CHECK (… IS NOT NULL) so that PostgreSQL
    12+ skips the full-table scan under ACCESS EXCLUSIVE (the recipe DBA206 asks for)."""

    table: str
    column: str
    nullable: bool
    schema: str | None = None

    def _check_name(self) -> str:
        from dbagents.revisions.naming import identifier

        return identifier("ck", self.table, self.column, "not_null")

    def _set(self, nullable: bool, comments: tuple[str, ...]) -> list[Step]:
        if nullable:
            return [Step(tuple(call("op.alter_column", self.table, self.column, nullable=True, schema=self.schema)),
                         False, comments)]
        check = self._check_name()
        add = call("op.create_check_constraint", check, self.table, f"{quote_ident(self.column)} IS NOT NULL",
                   schema=self.schema, postgresql_not_valid=True)
        set_not_null = call("op.alter_column", self.table, self.column, nullable=False, schema=self.schema)
        drop = call("op.drop_constraint", check, self.table, type_="check", schema=self.schema)
        return [Step(tuple(add), False, comments + ("CHECK NOT VALID first: no scan under the strong lock",)),
                Step(_validate(self.schema, self.table, check), True, ("VALIDATE in its own transaction: reads and writes go on",)),
                Step(tuple(set_not_null) + tuple(drop), False,
                     ("PostgreSQL 12+ trusts the valid CHECK: SET NOT NULL does not scan again",))]

    def upgrade(self) -> list[Step]:
        return self._set(self.nullable, self._comments())

    def downgrade(self) -> list[Step]:
        return self._set(not self.nullable, ())


def describe(ops: list[Operation]) -> str:
    """A short message for the revision: what it does, by kind."""
    labels = {CreateIndex: ("create", "index", "indexes"), DropIndex: ("drop", "redundant index", "redundant indexes"),
              RebuildIndex: ("rebuild", "invalid index", "invalid indexes"),
              ValidateConstraint: ("validate", "constraint", "constraints"),
              AlterType: ("change", "column type", "column types"),
              SetNullable: ("change", "nullability", "nullabilities")}
    counts: dict[type, int] = {}
    for op in ops:
        counts[type(op)] = counts.get(type(op), 0) + 1
    parts = []
    for kind, n in counts.items():
        verb, one, many = labels[kind]
        parts.append(f"{verb} {n} {one if n == 1 else many}")
    return ", ".join(parts)


__all__ = ["AlterType", "CreateIndex", "DropIndex", "Operation", "RebuildIndex", "SetNullable", "Step",
           "ValidateConstraint", "concurrent_definition", "describe"]
