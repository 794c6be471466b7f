"""DBA214: every kind of model-vs-migrations difference becomes a finding that names the objects and columns.

tests/fixtures/scratch_drift's models differ from its migration in each way Alembic's autogenerate compares
(plus enum values, which the worker compares itself); the worker runs on a real PostgreSQL.
"""

from __future__ import annotations

import importlib.util

import pytest

from test_scratch_worker_support import REPO, FIXTURES, run_both, run_worker, sa_url

pytest.importorskip("alembic")
pytest.importorskip("psycopg")

DRIFT = FIXTURES / "scratch_drift"
EXPECTED = {
    "public.invoices": "model table public.invoices does not exist after the migrations (missing migration)",
    "public.legacy_audit": "table public.legacy_audit exists after the migrations but no model maps it",
    "public.customers.phone": "model column public.customers.phone (VARCHAR(30)) does not exist after the "
                              "migrations (missing migration)",
    "public.customers.legacy_code": "column public.customers.legacy_code exists after the migrations but the model "
                                    "does not map it",
    "public.customers.name": "column public.customers.name is nullable in the migrated schema but NOT NULL in the "
                             "model",
    "public.customers.status": "column public.customers.status has server default 'new'::character varying in the "
                               "migrated schema but server default 'active' in the model",
    "public.customers.note": "column public.customers.note: comment is 'old note' in the migrated schema but "
                             "'customer note' in the model",
    "public.customers.ix_customers_name": "index ix_customers_name on public.customers (name) exists in the "
                                          "migrated schema but not in the models",
    "public.customers.ix_customers_status": "index ix_customers_status on public.customers (status) exists in the "
                                            "models but not in the migrated schema",
    "public.customers.uq_customers_email": "unique constraint uq_customers_email on public.customers (email) "
                                           "exists in the migrated schema but not in the models",
    "public.customers.uq_customers_name_email": "unique constraint uq_customers_name_email on public.customers "
                                                "(name, email) exists in the models but not in the migrated schema",
    "public.orders.total": "column public.orders.total has type NUMERIC(10, 2) in the migrated schema but INTEGER "
                           "in the model",
    "public.orders.kind": "column public.orders.kind has type VARCHAR(20) in the migrated schema but enum "
                          "order_kind ('retail', 'wholesale', 'online') in the model",
    "public.orders.customer_id": "foreign key fk_orders_customer on public.orders (customer_id) -> "
                                        "public.customers (id) exists in the migrated schema but not in the models",
    "public.orders.region_id": "foreign key fk_orders_region on public.orders (region_id) -> public.regions "
                                      "(id) exists in the models but not in the migrated schema",
    "public.regions": "table public.regions: comment is 'Regions' in the migrated schema but 'Sales regions' in the "
                      "model",
    "public.customer_tier": "enum public.customer_tier has values ('free', 'pro') in the migrated schema but "
                            "('free', 'pro', 'enterprise') in the model (used by public.customers.tier)",
}


@pytest.fixture(scope="module")
def drift(pg_server):
    return run_both(DRIFT, sa_url(pg_server.createdb("drift")))


def _by_obj(result: dict) -> dict[str, str]:
    found = {}
    for finding in result["findings"]:
        assert finding["rule"] == "DBA214" and finding["obj"] not in found, finding
        found[finding["obj"]] = finding["message"]
    return found


@pytest.mark.slow
def test_run_completes_with_every_difference(drift):
    up, down = drift
    assert (up["fatal"], up["fatal_kind"], up["applied"]) == (None, None, ["0001"])
    assert down is not None and (down["fatal"], down["checked"], down["findings"]) == (None, 1, [])
    assert set(_by_obj(up)) == set(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("obj", sorted(EXPECTED))
def test_difference_is_described(drift, obj):
    assert _by_obj(drift[0])[obj] == EXPECTED[obj]


@pytest.mark.slow
def test_enum_values_get_a_hand_written_migration_hint(drift):
    (enum,) = [f for f in drift[0]["findings"] if f["obj"] == "public.customer_tier"]
    assert "ALTER TYPE" in enum["hint"] and "autogenerate" in enum["hint"]
    removed = {"public.legacy_audit", "public.customers.legacy_code", "public.customers.ix_customers_name",
               "public.customers.uq_customers_email", "public.orders.customer_id"}
    for finding in drift[0]["findings"]:
        if finding["obj"] in removed:  # only in the database: map it, or drop it
            assert finding["hint"].startswith("map it in the models"), finding
        elif finding is not enum:
            assert "alembic revision --autogenerate" in finding["hint"], finding


@pytest.mark.slow
def test_comparison_failure_is_one_warning_not_a_lost_run(pg_server, tmp_path):
    """A comparison that raises (here: an include_object hook with a bug) is one warning, not a lost run."""
    from test_scratch_worker_support import copy_fixture

    project = copy_fixture(tmp_path / "proj", "scratch_drift")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "compare_server_default=True)",
        "compare_server_default=True,\n                          include_object=lambda *a: a[99])"))
    up = run_worker(project, sa_url(pg_server.createdb("drift_broken")))
    assert up["fatal"] is None and up["applied"] == ["0001"]
    (finding,) = up["findings"]
    assert finding["severity"] == "warning"
    assert finding["message"].startswith("comparing the models with the migrated schema failed: IndexError: tuple "
                                         "index out of range (at migrations/env.py:")


def _diffs_module():
    spec = importlib.util.spec_from_file_location("scratch_diffs", REPO / "installer/dbagents/scratch/_diffs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unbound_constraint_is_described_without_a_truth_test():
    """The crash of issue 16 (`x or y` on a Table): constraints with and without a table are both described."""
    import sqlalchemy as sa

    describe = _diffs_module().describe_diff
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Integer), sa.Column("b", sa.Integer), schema="s")
    bound = sa.UniqueConstraint(table.c.a, table.c.b, name="uq_t_ab")
    table.append_constraint(bound)
    assert describe(("add_constraint", bound)) == (
        "unique constraint uq_t_ab on s.t (a, b) exists in the models but not in the migrated schema", "s.t.uq_t_ab")
    check = sa.CheckConstraint("a > 0", name="ck_t_a")
    table.append_constraint(check)
    assert describe(("remove_constraint", check))[0] == (
        "check constraint ck_t_a on s.t CHECK (a > 0) exists in the migrated schema but not in the models")
    unbound = sa.UniqueConstraint("a", name="uq_loose")
    assert describe(("add_constraint", unbound))[0].startswith("unique constraint uq_loose on ? ")


@pytest.mark.parametrize("diff", [("modify_type",), ("add_fk", object()), ("no_such_kind", 1, 2), "not a tuple"])
def test_odd_differences_still_become_messages(diff):
    message, obj = _diffs_module().describe_diff(diff)
    assert message.startswith("models and migrated schema differ: ") and obj == ""


@pytest.mark.slow
def test_tables_the_env_excludes_are_not_compared(pg_server, tmp_path):
    """include_object leaves customers out: none of its differences, its enum included, is reported."""
    from test_scratch_worker_support import copy_fixture

    project = copy_fixture(tmp_path / "proj", "scratch_drift")
    env_py = project / "migrations" / "env.py"
    env_py.write_text(env_py.read_text().replace(
        "compare_server_default=True)",
        "compare_server_default=True,\n                          include_object=lambda obj, name, kind, reflected, "
        "other: kind != 'table' or name != 'customers')"))
    up = run_worker(project, sa_url(pg_server.createdb("drift_excluded")))
    assert up["fatal"] is None
    assert {f["obj"] for f in up["findings"]} == {o for o in EXPECTED if not o.startswith(("public.customer"))}
