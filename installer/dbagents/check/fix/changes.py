"""What an applied unsafe model fix changes in the database: the record `--emit-revision` turns into a revision."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("add_index", "alter_type", "alter_nullable", "validate_constraint")


@dataclass(frozen=True)
class SchemaChange:
    """One schema change an applied model fix implies (the model now says it; the database does not yet).

    kind: "add_index" | "alter_type" | "alter_nullable" (unsafe model fixes, FixRun.schema_changes), or
    "validate_constraint" (a safe revision fix added a constraint NOT VALID; FixRun.follow_ups: a follow-up
    revision validates `name` on `table`).
    table/column/schema: as the model maps them ("user_account", "customer_id", None).
    new_type/old_type: SQLAlchemy type expressions as source, "sa.DateTime(timezone=True)" / "sa.DateTime()";
    old_type is "" when the model did not say it.
    nullable: for alter_nullable, the new value.
    path/line: the model file (relative to the project root) and line the change comes from.
    name: validate_constraint: the constraint's name.
    """

    kind: str
    table: str
    column: str
    schema: str | None = None
    new_type: str = ""
    old_type: str = ""
    nullable: bool | None = None
    path: str = ""
    line: int = 0
    name: str = ""
