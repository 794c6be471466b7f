"""Every live rule on real PostgreSQL: its `bad_sql` example produces the finding, its `good_sql` does not.

The cases are generated from the rule modules (installer/dbagents/live/rules/), so a new rule is tested the
moment it exists. Each case gets its own schema in one shared database.
"""

from __future__ import annotations

import itertools

import pytest

from dbagents.live import LIVE_RULES, run_live_checks
from dbagents.live.rules import ALL_RULES

psycopg = pytest.importorskip("psycopg")
_counter = itertools.count()


@pytest.fixture(scope="module")
def live_db(pg_server):
    return pg_server.createdb("live")


def load_schema(url: str, sql: str) -> str:
    """Create a fresh schema, run `sql` in it, flush statistics; return the schema name."""
    schema = f"case_{next(_counter)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(sql)
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    return schema


def check(url: str, rule, schema: str, **extra):
    kwargs = {"settings": rule.test_settings, **rule.test_kwargs, **extra}
    return run_live_checks(url, schemas=[schema], select={rule.id}, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.id for r in ALL_RULES])
def test_bad_example_is_found(live_db, rule):
    schema = load_schema(live_db, rule.bad_sql)
    findings = check(live_db, rule, schema)
    assert findings, f"{rule.id} found nothing in its bad example"
    assert {f.rule_id for f in findings} == {rule.id}
    assert any(f.obj == f"{schema}.{rule.example_obj}" for f in findings), [f.obj for f in findings]
    for f in findings:
        assert (f.path, f.line, f.col) == ("", 0, 0)
        assert f.severity == rule.severity
        assert f.message and f.hint


@pytest.mark.slow
@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.id for r in ALL_RULES])
def test_good_example_is_clean(live_db, rule):
    schema = load_schema(live_db, rule.good_sql)
    assert check(live_db, rule, schema) == []


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.id for r in ALL_RULES])
def test_rule_documentation(rule):
    info = LIVE_RULES[rule.id]
    assert info.name == rule.name and info.name.replace("-", "").isalnum() and info.name == info.name.lower()
    for heading in ("## What it does", "## Why is this bad", "## Example", "## Fix"):
        assert heading in info.help
    assert rule.bad_sql.strip() in info.help and rule.good_sql.strip() in info.help
    assert info.summary and info.severity is rule.severity
