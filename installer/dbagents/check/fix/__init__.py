"""`dbagents check --fix/--diff`: rewrite files with libcst from the findings of fixable rules."""

from dbagents.check.fix.changes import SchemaChange

__all__ = ["SchemaChange"]
