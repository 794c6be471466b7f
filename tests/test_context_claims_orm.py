"""Claims of the standards and agents about SQLAlchemy behaviour and catalog queries, run for real.

Each test executes the docs' own code block (found by rule section and a line it contains) against PostgreSQL,
and where the standards correct an older statement, also shows that the old version really fails.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

import pytest

from test_context_docs import ALL_BLOCKS, PG_DOC, PY_DOC, SETUPS, exec_in_module, scratch_schema, split_sql

REPO = Path(__file__).resolve().parents[1]


def block(doc: Path, rule: str | None, contains: str):
    found = [b for b in ALL_BLOCKS if b.doc == doc and b.rule == rule and contains in b.code]
    assert len(found) == 1, f"{doc.name} {rule}: {len(found)} blocks contain {contains!r}"
    return found[0]


@pytest.fixture(scope="module")
def orm_db(pg_server):
    return pg_server.createdb("ormclaims")


@pytest.fixture
def engine(orm_db):
    from sqlalchemy import create_engine

    with scratch_schema(orm_db) as schema:
        eng = create_engine(orm_db.replace("postgresql://", "postgresql+psycopg://", 1),
                            connect_args={"options": schema.options})
        yield eng
        eng.dispose()


def shop(code_edit=None):
    code = SETUPS[(PY_DOC, "shop")].code
    if code_edit:
        code = code_edit(code)
    return exec_in_module([type(SETUPS[(PY_DOC, "shop")])(PY_DOC, 0, "python", code)])


def _delete_parent_with_loaded_children(engine, module, parent, child_cls, fk, collection, **child_kw):
    from sqlalchemy import select
    from sqlalchemy.orm import Session, selectinload

    module.Base.metadata.create_all(engine)
    with Session(engine) as session:
        owner = getattr(module, parent)(**{k: v for k, v in child_kw.items() if k != "child"})
        session.add(owner)
        session.flush()
        for _ in range(2):
            session.add(getattr(module, child_cls)(**{fk: owner.id}, **child_kw.get("child", {})))
        session.commit()
        loaded = session.scalars(select(getattr(module, parent))
                                 .options(selectinload(getattr(getattr(module, parent), collection)))).one()
        session.delete(loaded)
        session.commit()
        assert session.scalar(select(getattr(module, child_cls)).limit(1)) is None


def test_the_shop_model_deletes_a_customer_whose_orders_are_loaded(engine):
    """Point 6: passive_deletes needs the delete cascade once the collection is loaded (e.g. by selectinload)."""
    _delete_parent_with_loaded_children(engine, shop(), "Customer", "Order", "customer_id", "orders",
                                        email="a@example.com", name="A")


def test_without_the_delete_cascade_the_loaded_orders_get_a_null_key(engine):
    from sqlalchemy.exc import IntegrityError

    module = shop(lambda code: code.replace('cascade="all, delete-orphan", ', "", 1))
    with pytest.raises(IntegrityError) as info:
        _delete_parent_with_loaded_children(engine, module, "Customer", "Order", "customer_id", "orders",
                                            email="a@example.com", name="A")
    assert getattr(info.value.orig, "sqlstate", None) == "23502"  # not_null_violation


def agent_model_code() -> str:
    text = (REPO / ".claude" / "agents" / "db-expert.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]


def test_the_db_expert_model_deletes_a_user_whose_posts_are_loaded(engine):
    from test_context_docs import Block

    module = exec_in_module([Block(PY_DOC, 0, "python", agent_model_code())])
    _delete_parent_with_loaded_children(engine, module, "User", "Post", "author_id", "posts",
                                        email="u@example.com", child={"title": "t"})


def test_row_by_row_add_is_batched_by_the_flush(engine):
    """Point 7: 2,500 session.add() calls are 3 INSERT executions (insertmanyvalues), not 2,500."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    module = shop()
    module.Base.metadata.create_all(engine)
    inserts = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cur, statement, *a: inserts.append(statement) if statement.startswith("INSERT") else None)
    with Session(engine) as session:
        customer = module.Customer(email="a@example.com", name="A")
        session.add(customer)
        session.flush()
        inserts.clear()
        for _ in range(2500):
            session.add(module.Order(customer_id=customer.id))
        session.flush()
        session.rollback()
    assert len(inserts) == 3, len(inserts)
    text = PY_DOC.read_text(encoding="utf-8")
    assert "2,500 adds are 3 INSERT executions" in text


@pytest.mark.parametrize("which, expected", [("Bad", 4), ("Good", 2)])
def test_unique_and_index_flags_build_one_index_but_primary_key_and_index_build_two(engine, which, expected):
    """Point 8: unique=True, index=True is one unique index; primary_key=True, index=True is two."""
    from sqlalchemy import text

    section = PY_DOC.read_text(encoding="utf-8").split("## DBA111 ")[1].split("\n## ")[0]
    code = re.search(rf"\*\*{which}\*\*\n```python\n(.*?)```", section, flags=re.S).group(1)
    from test_context_docs import Block

    module = exec_in_module([Block(PY_DOC, 0, "python", code)])
    module.metadata.create_all(engine)
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM pg_indexes WHERE tablename = 'api_key' "
                                 "AND schemaname = current_schema()"))
    assert count == expected


def test_echo_logs_bound_values_and_hide_parameters_hides_them(orm_db):
    """Point 9."""
    from sqlalchemy import create_engine, text

    url = orm_db.replace("postgresql://", "postgresql+psycopg://", 1)
    seen = {}
    for hide in (False, True):
        eng = create_engine(url, echo=True, hide_parameters=hide)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        logging.getLogger("sqlalchemy.engine").addHandler(handler)
        try:
            with eng.connect() as conn:
                conn.execute(text("SELECT :secret"), {"secret": "hunter2-secret"})
        finally:
            logging.getLogger("sqlalchemy.engine").removeHandler(handler)
            eng.dispose()
        seen[hide] = "hunter2-secret" in stream.getvalue()
    assert seen == {False: True, True: False}


def test_set_cannot_take_a_bind_parameter_but_set_config_can(engine):
    """Point 10: the RLS helper of DBA501's good example works; a bound SET is a syntax error."""
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError
    from sqlalchemy.orm import Session

    module = exec_in_module([SETUPS[(PY_DOC, "shop")], block(PY_DOC, "DBA501", "def set_tenant")])
    with Session(engine) as session:
        module.set_tenant(session, 7)
        assert session.scalar(text("SELECT current_setting('app.tenant_id')")) == "7"
        session.commit()
        assert session.scalar(text("SELECT current_setting('app.tenant_id', true)")) in ("", None)  # local
    with Session(engine) as session, pytest.raises(ProgrammingError) as info:
        session.execute(text("SET LOCAL app.tenant_id = :t"), {"t": "7"})
    assert info.value.orig.sqlstate == "42601"


def _run_sql(conn, sql: str):
    rows = None
    for statement in split_sql(sql):
        cur = conn.execute(statement)
        rows = cur.fetchall() if cur.description else rows
    return rows


def test_sequence_headroom_is_measured_against_the_column_type(orm_db):
    """Point 11: a bigint sequence feeding an integer column near 2^31 is reported full; the old query said 0 %."""
    import psycopg

    query = block(PG_DOC, "DBA306", "percent_used").code.split("\n", 4)[-1]
    query = query[query.index("-- headroom"):]
    with scratch_schema(orm_db) as schema, psycopg.connect(orm_db, options=schema.options) as conn:
        conn.execute("CREATE TABLE click (id integer PRIMARY KEY, url text)")
        conn.execute("CREATE SEQUENCE click_id_seq AS bigint")
        conn.execute("ALTER TABLE click ALTER COLUMN id SET DEFAULT nextval('click_id_seq')")
        conn.execute("SELECT setval('click_id_seq', 2147483000)")
        conn.execute("CREATE TABLE ticket (id serial PRIMARY KEY)")
        conn.execute("CREATE TABLE event (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)")
        rows = {(r[2], r[3]): r[-1] for r in _run_sql(conn, query)}
        assert rows[("click", "id")] > 99.9
        assert ("ticket", "id") in rows and ("event", "id") in rows
        old = conn.execute("SELECT round(100.0 * last_value / max_value, 2) FROM pg_sequences "
                           "WHERE sequencename = 'click_id_seq'").fetchone()[0]
        assert old < 1  # what the previous query reported
        # the serial trap: widening the column leaves its sequence AS integer
        conn.execute("ALTER TABLE ticket ALTER COLUMN id TYPE bigint")
        kind = conn.execute("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'ticket_id_seq'").fetchone()
        assert kind[0] == "integer"
        conn.rollback()


def test_the_unused_index_query_keeps_indexes_that_serve_foreign_keys(orm_db):
    import psycopg

    query = block(PG_DOC, "DBA304", "pg_stat_user_indexes AS s").code
    with scratch_schema(orm_db) as schema, psycopg.connect(orm_db, options=schema.options) as conn:
        for statement in split_sql(SETUPS[(PG_DOC, "shop")].code):
            conn.execute(statement)
        conn.execute("ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) "
                     "REFERENCES customer (id)")
        conn.execute("CREATE INDEX ix_orders_customer_id_created ON orders (customer_id, created_at)")
        conn.execute("CREATE INDEX ix_orders_note ON orders (note)")
        conn.commit()
        names = {str(r[0]).split(".")[-1] for r in _run_sql(conn, query)}
        assert "ix_orders_note" in names and "ix_orders_customer_id_created" not in names


def test_ext_declarative_still_imports_with_a_moved_warning():
    from sqlalchemy.exc import MovedIn20Warning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from sqlalchemy.ext.declarative import declarative_base

        declarative_base()
    assert any(issubclass(w.category, MovedIn20Warning) for w in caught)


def test_the_password_hash_recipe_runs_with_owasp_parameters():
    module = exec_in_module([block(PY_DOC, "DBA505", "def hash_password")])
    digest, salt = module.hash_password("correct horse")
    assert len(digest) == 64 and len(salt) == 16
    assert "n=2**17" in block(PY_DOC, "DBA505", "def hash_password").code
