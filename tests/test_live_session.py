"""Safety of the live session (read-only, timeouts, name), masking, connection errors, schemas, partitions."""

from __future__ import annotations

import socket

import pytest

from dbagents.errors import InputError
from dbagents.live import mask_url, readonly_session, run_live_checks
from dbagents.live.settings import LiveSettings

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def db(pg_server):
    url = pg_server.createdb("session")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE public.parents (id bigint PRIMARY KEY);
            CREATE SCHEMA billing;
            CREATE TABLE billing.charges (id bigint PRIMARY KEY, parent_id bigint REFERENCES public.parents (id));
            CREATE SCHEMA metrics;
            CREATE TABLE metrics.samples (taken_at timestamptz NOT NULL, parent_id bigint REFERENCES public.parents (id),
                                          value float8) PARTITION BY RANGE (taken_at);
            CREATE TABLE metrics.samples_2024 PARTITION OF metrics.samples
                FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE metrics.samples_2025 PARTITION OF metrics.samples
                FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE INDEX ix_samples_value ON ONLY metrics.samples (value);
            """
        )
    return url


def test_write_inside_the_session_fails(db):
    with readonly_session(db) as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE public.should_not_exist (id int)")
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT to_regclass('public.should_not_exist')").fetchone()[0] is None


def test_session_sets_timeouts_and_application_name(db):
    settings = LiveSettings.from_mapping({"statement_timeout_ms": 1234, "lock_timeout_ms": 567})
    with readonly_session(db, settings) as conn:
        values = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " current_setting('application_name')"
        ).fetchone()
        assert values == ("1234ms", "567ms", "dbagents")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")


def test_lock_timeout_turns_into_one_line_error(db):
    """A migration holding ACCESS EXCLUSIVE on alembic_version must not make the audit queue behind it."""
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS public.alembic_version (version_num varchar(32) PRIMARY KEY)")
    with psycopg.connect(db) as blocker:
        blocker.execute("LOCK TABLE public.alembic_version IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(InputError) as err:
            run_live_checks(db, select={"DBA310"}, expected_heads={"abc"}, settings={"lock_timeout_ms": 100})
        blocker.rollback()
    assert "lock_timeout" in str(err.value) and "\n" not in str(err.value)
    with psycopg.connect(db, autocommit=True) as setup:
        setup.execute("DROP TABLE public.alembic_version")


def test_default_checks_every_user_schema(db):
    findings = run_live_checks(db, select={"DBA301"})
    objs = {f.obj for f in findings}
    assert objs == {"billing.charges.parent_id", "metrics.samples.parent_id"}


def test_schema_selection(db):
    assert {f.obj for f in run_live_checks(db, schemas=["billing"], select={"DBA301"})} == {"billing.charges.parent_id"}
    with pytest.raises(InputError, match="schema nope not found"):
        run_live_checks(db, schemas=["nope"])


def test_partitioned_table_reported_once_on_the_parent(db):
    findings = run_live_checks(db, schemas=["metrics"])
    by_rule = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    assert [f.obj for f in by_rule["DBA301"]] == ["metrics.samples.parent_id"]
    assert [f.obj for f in by_rule["DBA305"]] == ["metrics.samples"]  # partitions are covered by the parent
    assert "partitioned table" in by_rule["DBA305"][0].message
    invalid = by_rule["DBA302"]
    assert len(invalid) == 1 and "partitioned index ix_samples_value" in invalid[0].message
    assert "CONCURRENTLY" not in by_rule["DBA301"][0].hint  # not possible on a partitioned table


def test_duplicate_index_keeps_the_constraint(pg_server):
    url = pg_server.createdb("dup")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text UNIQUE);"
            "CREATE INDEX ix_users_email ON users (email);"
            "CREATE INDEX ix_users_email_lower ON users (lower(email));"
            "CREATE INDEX ix_users_email_lower2 ON users (lower(email));"
            "CREATE INDEX ix_users_email_partial ON users (email) WHERE id > 10;"
        )
    findings = run_live_checks(url, select={"DBA303"})
    messages = sorted(f.message for f in findings)
    assert len(messages) == 2, messages
    assert messages[0].startswith("index ix_users_email on public.users duplicates users_email_key")
    assert messages[1].startswith("index ix_users_email_lower2 on public.users duplicates ix_users_email_lower")
    assert "CREATE INDEX ix_users_email ON public.users USING btree (email)" in messages[0]
    assert all(f.hint.startswith("DROP INDEX CONCURRENTLY public.ix_users_email") for f in findings)


def test_sequence_threshold_is_configurable(pg_server):
    url = pg_server.createdb("seq")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY); SELECT setval('t_id_seq', 1100000000);")
    assert run_live_checks(url, select={"DBA306"}) == []  # 51 % < default 0.8
    findings = run_live_checks(url, select={"DBA306"}, settings={"sequence_threshold": 0.5})
    assert [f.obj for f in findings] == ["public.t.id"]


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="unknown key 'statement_timeout'"):
        LiveSettings.from_mapping({"statement_timeout": 5})
    with pytest.raises(InputError, match="sequence-threshold must be a fraction"):
        LiveSettings.from_mapping({"sequence-threshold": 80})
    assert LiveSettings.from_mapping({"seqscan-min-rows": 5}).seqscan_min_rows == 5


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:hunter2@db.example:5433/prod", "postgresql://app:***@db.example:5433/prod"),
        ("postgresql+psycopg://app:p%40ss@db/prod?sslmode=require", "postgresql+psycopg://app:***@db/prod?sslmode=require"),
        ("postgresql://app@db/prod?password=hunter2&sslmode=verify-full", "postgresql://app@db/prod?password=***&sslmode=verify-full"),
        ("host=db user=app password=hunter2 dbname=prod", "host=db user=app password=*** dbname=prod"),
        ("postgresql://app@db/prod", "postgresql://app@db/prod"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_error_is_one_line_without_password():
    port = _closed_port()
    with pytest.raises(InputError) as err:
        run_live_checks(f"postgresql://app:hunter2@127.0.0.1:{port}/prod", settings={"connect_timeout_s": 2})
    text = str(err.value)
    assert "\n" not in text and "hunter2" not in text
    assert f"host 127.0.0.1, port {port}, database prod" in text
    assert "refused" in text.lower()


def test_wrong_password_error_hides_it(pg_server):
    base = pg_server.uri("postgres")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS pwuser")
        conn.execute("CREATE ROLE pwuser LOGIN PASSWORD 'right-one'")
    # pgserver trusts local sockets; a missing database still gives a server-side error line
    head, _, query = base.partition("?")
    url = head.replace("postgres:@", "pwuser:wr0ngSecret@").rsplit("/", 1)[0] + "/nodb?" + query
    with pytest.raises(InputError) as err:
        run_live_checks(url)
    text = str(err.value)
    assert "wr0ngSecret" not in text and "\n" not in text and "database nodb" in text
