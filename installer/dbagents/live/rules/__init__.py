"""One module per live rule (DBA3xx); ALL_RULES lists them in id order."""

from __future__ import annotations

from dbagents.live.rules import (
    dba301_fk_without_index,
    dba302_invalid_index_or_constraint,
    dba303_redundant_index,
    dba304_unused_index,
    dba305_table_without_primary_key,
    dba306_sequence_near_overflow,
    dba307_column_type_smell,
    dba309_seq_scan_heavy_table,
    dba310_alembic_version_not_at_head,
    dba311_nullable_column_with_default,
)
from dbagents.live.rules._base import LiveContext, LiveRule

ALL_RULES: list[LiveRule] = [
    m.RULE
    for m in (
        dba301_fk_without_index,
        dba302_invalid_index_or_constraint,
        dba303_redundant_index,
        dba304_unused_index,
        dba305_table_without_primary_key,
        dba306_sequence_near_overflow,
        dba307_column_type_smell,
        dba309_seq_scan_heavy_table,
        dba310_alembic_version_not_at_head,
        dba311_nullable_column_with_default,
    )
]

__all__ = ["ALL_RULES", "LiveContext", "LiveRule"]
