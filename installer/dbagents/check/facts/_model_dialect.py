"""Which database a file's tables are built for: a module that imports another database's SQLAlchemy
dialect package (ClickHouse, Snowflake, BigQuery, ...) and no PostgreSQL one builds its MetaData for that
database, and PostgreSQL rules do not judge those tables."""

from __future__ import annotations

# module prefix -> dialect name. SQLAlchemy's own mysql/sqlite/... dialect modules are not here: PostgreSQL
# models import them for `with_variant(...)` types.
FOREIGN_DIALECTS = {
    "clickhouse_connect.cc_sqlalchemy": "clickhouse",
    "clickhouse_sqlalchemy": "clickhouse",
    "sqlalchemy_clickhouse": "clickhouse",
    "snowflake.sqlalchemy": "snowflake",
    "sqlalchemy_bigquery": "bigquery",
    "pybigquery": "bigquery",
    "databricks.sqlalchemy": "databricks",
    "duckdb_engine": "duckdb",
    "trino.sqlalchemy": "trino",
    "pyhive": "hive",
}
POSTGRES = ("sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.postgres", "geoalchemy2", "pgvector")
_TOP_LEVEL = frozenset(m.partition(".")[0] for m in (*FOREIGN_DIALECTS, *POSTGRES))


def _module_of(entry: tuple) -> str:
    module, name, _level = entry
    return f"{module}.{name}" if name else module


def foreign_dialect(imports: dict[str, tuple]) -> str | None:
    """The one non-PostgreSQL dialect the file imports, when it imports no PostgreSQL dialect."""
    found = set()
    for entry in imports.values():
        if entry[0].partition(".")[0] not in _TOP_LEVEL:
            continue  # most imports name neither kind of package
        full = _module_of(entry)
        if any(full == p or full.startswith(p + ".") for p in POSTGRES):
            return None
        for prefix, dialect in FOREIGN_DIALECTS.items():
            if full == prefix or full.startswith(prefix + "."):
                found.add(dialect)
    return found.pop() if len(found) == 1 else None
